// Shared pieces of the data-driven methods and the runner's entry point.

#include "training_common.hpp"

#include "train/logistic.hpp"
#include "plan/deposit_source.hpp"
#include "run/runner.hpp"
#include "train/trees.hpp"
#include "train/wofe.hpp"
#include "gp/error.hpp"
#include "gp/geo/cell_area.hpp"
#include "gp/geo/deposits.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string_view>

namespace gp::cli {
namespace {

/// The trained [combine] methods (model::is_trained), each with its trainer (one signature:
/// training::Trainer).
struct TrainedMethod {
  model::Method method;
  training::Trainer train;
};
constexpr std::array<TrainedMethod, 4> trained_methods{{
    {model::Method::wofe, &wofe::train},
    {model::Method::logistic, &logistic::train},
    {model::Method::boosted_trees, &trees::train},
    {model::Method::random_forest, &trees::train},
}};

}  // namespace

std::unique_ptr<Trained> train_model(const TrainingContext& ctx) {
  for (const TrainedMethod& method : trained_methods) {
    if (method.method == ctx.model.combine.method) return method.train(ctx);
  }
  throw config_error("[combine] method '" + model::name_str(ctx.model.combine.method) +
                     "' is not trained");
}

namespace training {

namespace fs = std::filesystem;

double Setup::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Setup set_up(const TrainingContext& ctx) {
  Setup s;
  s.start = std::chrono::steady_clock::now();
  s.mask = model::mask_layer(ctx.model);
  s.ev = evidence_layers(ctx.model);
  // Areas: unit cells per grid cell; the unit cell must fit the grid.
  s.unit_km2 = ctx.model.training.unit_cell_km2;
  s.cell_km2 = geo::cell_area_km2(ctx.grid, "[training] unit_cell_km2");
  s.cell_units = s.cell_km2 / s.unit_km2;
  const double grid_km2 = static_cast<double>(ctx.grid.cells()) * s.cell_km2;
  if (s.unit_km2 > grid_km2) {
    throw config_error("[training] unit_cell_km2: " + text::significant(s.unit_km2, 12) +
                       " km² is larger than the whole grid (" + text::significant(grid_km2, 12) +
                       " km²; expected a unit cell smaller than the study area)");
  }
  return s;
}

fs::path beside_output(const TrainingContext& ctx, const std::string& suffix) {
  const fs::path out = fs::absolute(ctx.output);
  return out.parent_path() / (out.stem().string() + suffix);
}

void sum_over_ranks(std::map<long long, std::uint64_t>& counts) {
  if (cluster::size() == 1) return;
  struct Entry {
    long long cls;
    std::uint64_t count;
  };
  std::vector<Entry> mine;
  mine.reserve(counts.size());
  for (const auto& [cls, count] : counts) mine.push_back({cls, count});
  // Summed into a new map that then replaces `counts`: clearing `counts` before the exchange
  // made GCC 12 at -O3 report -Wfree-nonheap-object on the gathered vector (a false positive of
  // that warning: the vector's storage always comes from operator new).
  // Integer sums: the same whatever order the ranks' entries are added in.
  std::map<long long, std::uint64_t> sum;
  for (const Entry& e : cluster::allgather(mine)) sum[e.cls] += e.count;
  counts.swap(sum);
}

void or_over_ranks(std::vector<bool>& flags) {
  if (cluster::size() == 1) return;
  std::vector<unsigned char> bytes(flags.begin(), flags.end());
  cluster::allreduce_bor(bytes.data(), bytes.size());
  for (std::size_t i = 0; i < flags.size(); ++i) flags[i] = bytes[i] != 0;
}

void warning(const std::string& msg) {
  if (cluster::is_root()) gp::log::warning(msg);
}

std::vector<std::size_t> evidence_layers(const model::Model& m) {
  const int mask = model::mask_layer(m);
  std::vector<std::size_t> ev;
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    if (static_cast<int>(l) != mask) ev.push_back(l);
  }
  return ev;
}

DepositCells place(const TrainingContext& ctx) {
  const model::TrainingSpec& t = ctx.model.training;
  const geo::DepositSpec spec = deposit_spec(t, "[training] deposits");
  const geo::DepositPlacement placed = geo::place_deposits(spec, ctx.grid);
  DepositCells d;
  d.read = placed.placed.size() + placed.rejected.size();
  d.rejected = placed.rejected;
  // One entry per grid cell, in row-major order of the cells.
  std::vector<std::size_t> order(placed.placed.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& pa = placed.placed[a];
    const auto& pb = placed.placed[b];
    return pa.row != pb.row ? pa.row < pb.row : pa.col < pb.col;
  });
  for (std::size_t k : order) {
    const auto& p = placed.placed[k];
    if (ctx.fold != nullptr && ctx.fold->excludes(p.col, p.row)) {
      d.fold_excluded.push_back(p.name);  // held out of this fold, or in its buffer
      continue;
    }
    if (!d.col.empty() && d.row.back() == p.row && d.col.back() == p.col) {
      d.shared.push_back({{"name", p.name}, {"same_cell_as", d.name.back()}});
      continue;
    }
    d.col.push_back(p.col);
    d.row.push_back(p.row);
    d.name.push_back(p.name);
  }
  if (!d.shared.empty()) {
    gp::log::info("[training] deposits: " + std::to_string(d.shared.size()) +
                  " share a grid cell with another and count once");
  }
  if (d.col.empty()) {
    throw input_error("[training] deposits: " + t.deposits.string() + ": none of the " +
                      std::to_string(d.read) +
                      " deposits read lies inside the grid (expected at least one; check the "
                      "file, its CRS, the filters and [grid] extent)");
  }
  return d;
}

void drop_where(DepositCells& d, const std::vector<bool>& keep, const std::string& reason) {
  DepositCells out;
  out.read = d.read;
  out.rejected = d.rejected;
  out.shared = d.shared;
  out.fold_excluded = d.fold_excluded;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (keep[i]) {
      out.col.push_back(d.col[i]);
      out.row.push_back(d.row[i]);
      out.name.push_back(d.name[i]);
    } else {
      out.rejected.push_back({d.name[i], reason});
    }
  }
  d = std::move(out);
}

void keep_deposits_on_data(DepositCells& d, const std::vector<bool>& on_data, const Setup& s,
                           const std::string& nodata_rule, const std::string& none_left) {
  drop_where(d, on_data,
             (s.mask >= 0 ? "outside the territory / boundary mask, or on a cell where "
                          : "on a cell where ") +
                 nodata_rule);
  // One line for all the deposits left out here and by place() (outside the grid).
  if (!d.rejected.empty()) {
    warning("[training] deposits: " +
            geo::rejected_summary(d.rejected, "not used", "the run report's \"deposits\""));
  }
  if (d.size() == 0) throw input_error("[training] deposits: " + none_left);
}

void warn_few_deposits(const DepositCells& d, const std::string& what) {
  if (d.size() >= few_deposits) return;
  warning("[training] deposits: " + what + " rest on " + std::to_string(d.size()) + " deposit" +
          (d.size() == 1 ? "" : "s") + " (fewer than " + std::to_string(few_deposits) +
          "; a deposit counts once per grid cell): they are unstable, read the map as indicative");
}

double study_unit_cells(std::uint64_t cells, const Setup& s, const DepositCells& d) {
  const double n_t = static_cast<double>(cells) * s.cell_units;
  const double n_d = static_cast<double>(d.size());
  if (!(n_t > n_d)) {
    throw config_error("[training] unit_cell_km2: the study area is " + text::significant(n_t, 12) +
                       " unit cells for " + text::significant(n_d, 12) +
                       " deposits (expected more unit cells than deposits: lower unit_cell_km2)");
  }
  return n_t;
}

nlohmann::ordered_json deposits_report(const model::Model& m, const DepositCells& d) {
  nlohmann::ordered_json rejected = nlohmann::ordered_json::array();
  for (const auto& r : d.rejected) rejected.push_back({{"name", r.name}, {"reason", r.reason}});
  nlohmann::ordered_json j = {{"file", m.training.deposits.string()},
                              {"read", d.read},
                              {"used_cells", d.size()},
                              {"rejected", rejected},
                              {"sharing_a_cell", d.shared}};
  if (!d.fold_excluded.empty()) j["fold_excluded"] = d.fold_excluded;  // a fold's training only
  return j;
}

}  // namespace training

bool FoldExclusion::excludes(std::int64_t col, std::int64_t row) const {
  const double r2 = buffer_m * buffer_m;
  for (const auto& [c, r] : held_out) {
    if (c == col && r == row) return true;
    const double ex = static_cast<double>(col - c) * cell_dx_m;
    const double ey = static_cast<double>(row - r) * cell_dy_m;
    if (buffer_m > 0.0 && ex * ex + ey * ey <= r2) return true;
  }
  return false;
}

void FoldExclusion::blank(const geo::Window& win, std::vector<std::vector<float>>& buf) const {
  if (!(buffer_m > 0.0)) return;
  const auto reach_c = static_cast<std::int64_t>(std::floor(buffer_m / cell_dx_m));
  const auto reach_r = static_cast<std::int64_t>(std::floor(buffer_m / cell_dy_m));
  const double r2 = buffer_m * buffer_m;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Only the buffer's bounding box around each held-out cell, clipped to the window.
  for (const auto& [c, r] : held_out) {
    const std::int64_t r0 = std::max(win.row, r - reach_r);
    const std::int64_t r1 = std::min(win.row + win.rows - 1, r + reach_r);
    const std::int64_t c0 = std::max(win.col, c - reach_c);
    const std::int64_t c1 = std::min(win.col + win.cols - 1, c + reach_c);
    for (std::int64_t y = r0; y <= r1; ++y) {
      const double ey = static_cast<double>(y - r) * cell_dy_m;
      for (std::int64_t x = c0; x <= c1; ++x) {
        const double ex = static_cast<double>(x - c) * cell_dx_m;
        if (ex * ex + ey * ey > r2) continue;
        const auto i = static_cast<std::size_t>((y - win.row) * win.cols + (x - win.col));
        for (auto& b : buf) b[i] = nan;
      }
    }
  }
}

namespace training {

SideFile::SideFile(StagedFiles& files, fs::path path)
    : files_(files), path_(fs::absolute(std::move(path))) {
  files_.check(path_);
}

void SideFile::write(const std::string& text) { files_.write_text(path_, text, "csv"); }

double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

}  // namespace training
}  // namespace gp::cli
