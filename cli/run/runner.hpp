#pragma once
// The streaming runner: model -> plan (plan/: grid, windows, device, program) -> statistics
// pass -> training -> scoring pass -> analyses -> outputs (outputs/), as a list of named steps
// in run/runner.cpp.

#include "model/model.hpp"
#include "plan/device.hpp"
#include "run/progress_callback.hpp"

#include "gp/geo/grid.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/kernels/backend.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gp::cli {

struct RunOptions {
  std::filesystem::path output;  ///< overrides [output] path when not empty
  DeviceChoice device{DeviceChoice::automatic};
  bool overwrite{false};
  bool progress{true};
  /// Called with every progress update (also when the bar is off); may throw to stop the run.
  ProgressCallback on_progress;
  std::int64_t window_cells{1 << 21};  ///< cells per window (rows: a multiple of the tile height)
  std::int64_t window_rows{0};         ///< when > 0, rows per window (overrides window_cells)
  int threads{0};                      ///< CPU threads (0: every core)
  std::vector<int> devices;  ///< CUDA devices to share the windows (empty: every visible one)
  int pipeline_depth{2};  ///< window slots in flight (read / score / write overlap); 1: serial
  /// Vector distance/density layers hold the whole grid in memory; above this they are refused.
  std::uint64_t vector_memory_mib{8192};
};

/// Statistics of one output band, over its valid cells.
struct BandStats {
  std::string name;
  std::uint64_t valid{0};
  std::uint64_t nodata{0};
  double min{0.0};
  double max{0.0};
  double mean{0.0};
  double stddev{0.0};
};

struct RunResult {
  std::filesystem::path output;
  geo::Grid grid;
  std::string device;
  std::uint64_t valid_cells{0};   ///< band 1
  std::uint64_t nodata_cells{0};  ///< band 1
  double min{0.0};                ///< band 1
  double max{0.0};
  double mean{0.0};
  std::vector<BandStats> bands;
  /// Per layer: whole-grid statistics of its raw values when a transform needed them
  /// (valid == 0 and invalid == 0 otherwise), and the transform parameters used.
  std::vector<kernels::LayerStats> layer_stats;
  double seconds_stats{0.0};
  double seconds_score{0.0};
  std::vector<std::string> layer_modes;  ///< per layer: "direct" or "warped"
  // Output finishing and the run report (outputs/outputs.hpp).
  /// Band 1 cells made nodata because the math gave no finite value (0 until the kernels
  /// count them separately; they are included in nodata_cells).
  std::uint64_t invalid_cells{0};
  /// Per layer: cells whose raw value was NaN or +-infinity although not the layer's nodata
  /// value (treated as nodata). See geo::RasterSource::invalid_cells for warped layers.
  std::vector<std::uint64_t> layer_invalid;
  double seconds_outputs{0.0};                                 ///< COG, classes, styles, ...
  std::vector<std::pair<std::string, double>> output_seconds;  ///< per finishing stage
  std::vector<std::filesystem::path> files;                    ///< every file written, map last
  /// Sections for the JSON run report from other steps (weights tables, validation,
  /// uncertainty, ...): set before the outputs are finished; each key becomes a section.
  nlohmann::ordered_json report;
  /// Called once by the outputs when the map's classes are known, before the files are listed
  /// and moved into place: with the class thresholds (ascending lower bounds of classes 2..N),
  /// or null when the run writes no classes. Side files that carry each deposit's class
  /// (<base>_deposits.gpkg) are staged here.
  std::vector<std::function<void(const std::vector<double>*)>> on_classes;
  /// Deposits drawn on the quicklooks: the [validation] and [training] deposits as validation
  /// placed them on the map (used, or rejected on nodata / outside the grid with a position).
  std::vector<geo::QuicklookPoint> deposit_points;
};

/// Runs the model end to end. The output is complete and in place when this returns.
RunResult run_model(const model::Model& m, const RunOptions& opt);

}  // namespace gp::cli
