#pragma once
// The runner's hook for data-driven methods ([combine] method = "wofe" | "logistic"):
// a training pass over the grid's windows turns the deposits and the layers into a per-cell
// program; the runner then maps it with its usual window loop and writer, shows each scored
// window to the method (for the conditional-independence sums), and lets it add its report
// sections and side files (weights tables) around the output finishing.

#include "model/model.hpp"
#include "gp/geo/grid.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/program.hpp"
#include "outputs/staged_files.hpp"
#include "plan/device.hpp"
#include "plan/windows.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gp::cli {

struct RunResult;

/// Cross-validation (analysis/crossval.hpp): what one fold's training leaves out, so that the
/// fold's model never sees its held-out deposits. training::place drops the training deposits
/// whose cell is a held-out cell or lies within `buffer_m` of one; with a buffer,
/// training::for_each_window also blanks (to nodata, in every layer) the cells within it, so
/// no trainer counts them. Distances are between cell centres, in metres.
struct FoldExclusion {
  std::vector<std::pair<std::int64_t, std::int64_t>> held_out;  ///< (col, row) of held-out cells
  double buffer_m{0.0};
  double cell_dx_m{1.0};  ///< a cell's width and height in metres
  double cell_dy_m{1.0};
  /// True when cell (col, row) is a held-out cell or within the buffer of one.
  [[nodiscard]] bool excludes(std::int64_t col, std::int64_t row) const;
  /// Sets to NaN the cells of `win` that excludes() (buf[l]: win.rows x win.cols, row-major).
  void blank(const geo::Window& win, std::vector<std::vector<float>>& buf) const;
};

/// What a training step may use.
struct TrainingContext {
  const model::Model& model;
  const geo::Grid& grid;
  std::vector<std::unique_ptr<geo::RasterSource>>& sources;  ///< one per model layer
  kernels::Backend& backend;
  std::filesystem::path output;  ///< the map's final path (side files go beside it)
  StagedFiles& files;            ///< the run's outputs: side files are staged here
  /// The runner's windows (plan/windows.hpp), so memory stays bounded by the window whatever
  /// the width and the training pass reads what the scoring pass reads.
  const WindowPlan& windows;
  EngineDevice device;  ///< where the training engines run (plan/device.hpp)
  /// Null for the run's model; a cross-validation fold's exclusions otherwise.
  const FoldExclusion* fold{nullptr};
};

/// A trained model, ready for the runner's mapping pass.
class Trained {
 public:
  virtual ~Trained() = default;
  kernels::Program program{};
  std::vector<double> aux;
  std::vector<std::string> band_names;  ///< band 1 first
  /// Each scored window, in window order, on rank 0 only under mpirun (the rank that writes
  /// the outputs): `bands[b]` holds `n` values (program.out_nodata where nodata).
  virtual void on_window(const float* const* bands, std::size_t n) { (void)bands; (void)n; }
  /// After the map is written and its band statistics known, before the outputs are finished:
  /// adds report sections to res.report and stages its side files (moved with the map).
  virtual void before_outputs(RunResult& res) { (void)res; }
  /// The trained table (weights, coefficients) as the report gives it, for cross-validation's
  /// per-fold report; null when a method does not give one. Writes nothing.
  [[nodiscard]] virtual nlohmann::ordered_json trained_table() const { return nullptr; }
};

/// True for [combine] methods that train on deposits.
inline bool is_trained_method(const model::Model& m) {
  return model::is_trained(m.combine.method);
}

/// Runs the training pass of the model's method. Throws gp::input_error / gp::config_error
/// (one line) before any output is written. Under mpirun every rank calls it (it is
/// collective): each reads its own windows, and all return the same program, bit for bit the
/// one of a single process.
std::unique_ptr<Trained> train_model(const TrainingContext& ctx);

}  // namespace gp::cli
