#pragma once
// Pieces shared by the data-driven methods: deposits on the grid, the window loop of
// the training pass, side files written safely. Private to cli/train.
//
// Under mpirun every rank trains: each reads only the windows it owns (bands of rows,
// as in the runner's passes), integer counts are summed across ranks, floating-point sums are
// folded from per-window partials in window order (cluster::fold_in_window_order), so every
// rank ends with the same trained program, bit for bit the one a single process trains.

#include "run/cluster.hpp"
#include "train/trained.hpp"

#include "gp/geo/deposits.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gp::cli::training {

/// What every trainer is: `[combine] method = "..."` maps to one of these (train_model's table
/// in training.cpp, the one list of trained methods).
using Trainer = std::unique_ptr<Trained> (*)(const TrainingContext& ctx);

/// What every trainer works out before reading a window: the territory mask, the evidence
/// layers and the unit-cell areas.
struct Setup {
  std::chrono::steady_clock::time_point start;  ///< for the report's training_seconds
  int mask{-1};                 ///< model index of the territory / boundary mask, or -1
  std::vector<std::size_t> ev;  ///< model indices of the evidence layers (all but the mask)
  double unit_km2{1.0};         ///< [training] unit_cell_km2
  double cell_km2{1.0};         ///< area of one grid cell
  double cell_units{1.0};       ///< unit cells per grid cell
  /// Seconds since the set-up.
  [[nodiscard]] double seconds() const;
};

/// The set-up of `ctx`'s model. Throws gp::config_error when the unit cell is larger than the
/// whole grid.
Setup set_up(const TrainingContext& ctx);

/// A side file's path beside the map: the map's stem followed by `suffix` (e.g. "_logistic.csv").
std::filesystem::path beside_output(const TrainingContext& ctx, const std::string& suffix);

/// The deposits placed on the grid, one entry per grid cell (a deposit counts once per cell).
struct DepositCells {
  std::vector<std::int64_t> col;
  std::vector<std::int64_t> row;
  std::vector<std::string> name;             ///< the first deposit of each cell
  /// Cross-validation: deposits left out of this fold's training (held out or in the buffer).
  std::vector<std::string> fold_excluded;
  std::size_t read{0};                       ///< deposits read (after filters)
  std::vector<geo::RejectedDeposit> rejected;  ///< outside the grid, the mask or the data
  nlohmann::ordered_json shared = nlohmann::ordered_json::array();    ///< {name, same_cell_as}
  [[nodiscard]] std::size_t size() const { return col.size(); }
};

/// Reads `[training]` deposits and places them on the grid (cells sorted by row, then column);
/// rejected points are kept for keep_deposits_on_data's one warning. Throws gp::input_error
/// when none is inside the grid.
DepositCells place(const TrainingContext& ctx);

/// Calls `fn(d, i)` for every deposit cell d inside `win`, in order, with i its cell's index in
/// the window's buffers (row-major, win.cols wide).
template <class Fn>
void for_each_deposit_in(const DepositCells& dep, const geo::Window& win, Fn&& fn);

/// Drops the deposit cells where `keep` is false, moving them to `rejected` with `reason`.
void drop_where(DepositCells& d, const std::vector<bool>& keep, const std::string& reason);

/// Keeps the deposit cells where `on_data` is set; the others are rejected as lying "on a cell
/// where <nodata_rule>" (or outside the mask, when `s` has one). Throws gp::input_error
/// "[training] deposits: <none_left>" when no deposit is left.
void keep_deposits_on_data(DepositCells& d, const std::vector<bool>& on_data, const Setup& s,
                           const std::string& nodata_rule, const std::string& none_left);

/// Fewer deposit cells than this train unstable weights / coefficients (a rule of thumb of the
/// weights-of-evidence literature; one deposit more or less moves them a lot).
inline constexpr std::size_t few_deposits = 10;

/// Warns once when fewer than `few_deposits` deposit cells (those left after placement on the
/// grid and the mask) train the model: `what` ("the weights of evidence", "the logistic-regression
/// coefficients") rest on them and are unstable.
void warn_few_deposits(const DepositCells& d, const std::string& what);

/// The study area in unit cells: `cells` grid cells. Throws gp::config_error unless it holds
/// more unit cells than there are deposit cells.
double study_unit_cells(std::uint64_t cells, const Setup& s, const DepositCells& d);

/// The report's "deposits" entry: the file, how many were read and used, which were rejected
/// and which share a cell.
nlohmann::ordered_json deposits_report(const model::Model& m, const DepositCells& d);

/// Model indices of the evidence layers: every layer but the mask.
std::vector<std::size_t> evidence_layers(const model::Model& m);

/// Calls `fn(index, window, buffers)` for every window of ctx.windows this rank owns, in
/// order, after reading every layer into `buffers[l]` (window.rows x window.cols cells, NaN =
/// nodata); with a mask layer, cells outside it are set to NaN in every evidence layer first.
template <class Fn>
void for_each_window(const TrainingContext& ctx, Fn&& fn);

/// Cells (or deposits) per integer class, summed over the ranks: every rank ends with the
/// whole grid's counts (exact; the ranks' classes need not be the same).
void sum_over_ranks(std::map<long long, std::uint64_t>& counts);

/// Flags (one per deposit) set on any rank: a deposit's cell lies in one rank's window, where
/// its flag is decided; every rank ends with every deposit's flag.
void or_over_ranks(std::vector<bool>& flags);

/// A training warning, logged once for the run (by rank 0; every rank trains the same way).
void warning(const std::string& msg);

/// A text side file beside the map (a weights table), staged with the run's other outputs:
/// checked when made, moved into place with the map, all or nothing.
class SideFile {
 public:
  /// Checks up front that `path` may be written (gp::io_error otherwise).
  SideFile(StagedFiles& files, std::filesystem::path path);
  /// Stages the text (written under a hidden name now, moved into place with the map).
  void write(const std::string& text);
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  StagedFiles& files_;
  std::filesystem::path path_;
};

/// Standard normal upper tail, 1 - Phi(z).
double normal_upper_tail(double z);

}  // namespace gp::cli::training

#include "gp/geo/grid.hpp"

namespace gp::cli::training {

template <class Fn>
void for_each_deposit_in(const DepositCells& dep, const geo::Window& win, Fn&& fn) {
  // Cells are sorted by row: the window's rows are one run of them.
  std::size_t d = static_cast<std::size_t>(
      std::lower_bound(dep.row.begin(), dep.row.end(), win.row) - dep.row.begin());
  for (; d < dep.size() && dep.row[d] < win.row + win.rows; ++d) {
    if (dep.col[d] < win.col || dep.col[d] >= win.col + win.cols) continue;
    fn(d, static_cast<std::size_t>((dep.row[d] - win.row) * win.cols + (dep.col[d] - win.col)));
  }
}

template <class Fn>
void for_each_window(const TrainingContext& ctx, Fn&& fn) {
  const std::size_t n_layers = ctx.sources.size();
  std::vector<std::vector<float>> buf(n_layers, std::vector<float>(ctx.windows.max_cells()));
  const int mask = model::mask_layer(ctx.model);
  for (std::int64_t w = 0; w < ctx.windows.count(); ++w) {
    if (!ctx.windows.owned(w)) continue;  // each MPI rank reads only its own bands of rows
    const geo::Window win = ctx.windows.at(w);
    for (std::size_t l = 0; l < n_layers; ++l) ctx.sources[l]->read(win, buf[l].data());
    if (mask >= 0) {
      const float* mk = buf[static_cast<std::size_t>(mask)].data();
      const auto n = static_cast<std::ptrdiff_t>(win.cells());
      for (std::size_t l = 0; l < n_layers; ++l) {
        if (static_cast<int>(l) == mask) continue;
        float* b = buf[l].data();
#pragma omp parallel for schedule(static)
        for (std::ptrdiff_t i = 0; i < n; ++i) {
          if (mk[i] != mk[i]) b[i] = mk[i];
        }
      }
    }
    if (ctx.fold != nullptr) ctx.fold->blank(win, buf);  // a fold's buffer: not training cells
    fn(w, win, buf);
  }
}

}  // namespace gp::cli::training
