#pragma once
// Monte Carlo uncertainty of a knowledge-driven map, and the runner's hook that runs
// validation and uncertainty after the map is made.
//
// Draws. Each draw perturbs the model's numbers, generated on the host from a counter-based
// random number generator: every variate is a hash (splitmix64) of (seed, draw, stream, index,
// attempt), so a draw's numbers depend on nothing else (not on the thread count, the device or
// the other draws) and the same seed gives the same draws bit for bit.
//   weights = { dirichlet = c }: each weighted-sum / index-overlay group's normalised weights w
//       become a Dirichlet(c w) draw (mean w, variance w (1 - w) / (c + 1)), by normalised
//       Gamma(c w_i) variates (Marsaglia-Tsang);
//   weights = { uniform = f }: w_i (1 + f U(-1, 1)), renormalised to sum 1;
//   membership = { midpoint = fm, spread = fs }: large / small / gaussian / near transforms get
//       midpoint a (1 + fm U(-1, 1)) and spread b (1 + fs U(-1, 1)); linear transforms (min,
//       max) get their centre moved by fm U(-1, 1) |max - min| and their width scaled by
//       (1 + fs U(-1, 1)). Other transforms are not perturbed.
// A zero fraction perturbs nothing, so every draw equals the deterministic map bit for bit.
//
// Outputs. <base>_uncertainty.tif (Float32, same grid and nodata as the map) with bands mean,
// std (population), p05, p95 (exact order statistics of the cell's draws, type 7
// interpolation: no estimator error), p_top (fraction of draws in which the cell is in that
// draw's top X % of the valid area). The per-draw threshold comes from a histogram of the draw's
// scores in 16384 bins over the map's score range (values outside go to the end bins): the
// cells counted in the top are those whose bin is at or above the bin where the top X % starts,
// so a draw's top holds X % of the area plus at most the cells of one bin; the report gives
// that excess (max over draws) and the bin width.

#include "outputs/staged_files.hpp"
#include "plan/windows.hpp"
#include "model/model.hpp"
#include "run/cell_capture.hpp"
#include "run/runner.hpp"
#include "gp/geo/grid.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/kernels/montecarlo.hpp"
#include "gp/kernels/percentile.hpp"
#include "gp/kernels/program.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace gp::cli {

/// Uniform variate in [0, 1) for (seed, draw, stream, index, attempt): a pure function.
double counter_uniform(std::uint64_t seed, std::uint64_t draw, std::uint64_t stream,
                       std::uint64_t index, std::uint64_t attempt = 0);

/// Gamma(alpha, 1) variate from the counter-based generator (Marsaglia-Tsang; alpha > 0).
double counter_gamma(double alpha, std::uint64_t seed, std::uint64_t draw, std::uint64_t stream,
                     std::uint64_t index);

/// The draws of a program: which layers and groups change, and draws x stride parameters.
struct UncertaintyPlan {
  kernels::McSetup setup;
  std::vector<double> params;
  std::vector<std::string> perturbed;  ///< human-readable list ("layer 'k': midpoint, spread")
};

/// Generates the draws for `program` (names: layer names in program order, then group names in
/// program order; used in messages). Throws gp::config_error.
UncertaintyPlan plan_uncertainty(const kernels::Program& program,
                                 const model::UncertaintySpec& spec,
                                 const std::vector<std::string>& node_names = {});

/// Per-draw top-X % thresholds from the draws' histograms (draws x mc_bins): the bin where the
/// top `top_percent` % of each draw's valid cells starts. `excess[d]` receives the fraction of
/// the valid cells counted in the top beyond X %.
std::vector<std::int32_t> top_thresholds(const std::vector<std::uint64_t>& hist, int draws,
                                         double top_percent, std::vector<double>* excess = nullptr);

struct UncertaintyResult {
  std::filesystem::path output;
  std::string device;
  int draws{0};
  std::uint64_t seed{0};
  double top_percent{0.0};
  double hist_lo{0.0};
  double hist_hi{1.0};
  double max_top_excess{0.0};
  std::vector<std::string> perturbed;
  std::vector<BandStats> bands;  ///< mean, std, p05, p95, p_top
  double seconds_histogram{0.0};
  double seconds_cells{0.0};
  double cpu_seconds_histogram{0.0};  ///< process CPU time (all threads) of each pass
  double cpu_seconds_cells{0.0};
  std::uint64_t cells{0};
};

/// What the runner hands over once the map is committed.
struct AnalysisContext {
  const geo::Grid& grid;
  const kernels::Program& program;
  const std::vector<double>& aux;
  /// One per model layer (cross-validation retrains on them).
  std::vector<std::unique_ptr<geo::RasterSource>>& sources;
  const WindowPlan& windows;  ///< the run's windows (plan/windows.hpp)
  std::filesystem::path map;  ///< the committed map (temporary name until outputs finish)
  StagedFiles& files;  ///< the run's outputs: the analyses' files are staged here
  /// The statistics pass's layer statistics and percentile knots (the sweep builds each
  /// variant's program from them as the run built its own); null where not given.
  const std::vector<kernels::LayerStats>* stats{nullptr};
  const std::vector<kernels::PercentileBuilder>* percentiles{nullptr};
  /// The inputs at the [validation] deposits' cells, kept by the scoring pass
  /// (analysis_capture); null, or missing a cell, where the analyses read its window again.
  const CellCapture* captured{nullptr};
  /// [output] format = "cog": the analyses' rasters are Cloud-Optimized GeoTIFFs too
  /// (outputs/staged_raster.hpp).
  bool cog{false};
};

/// The program inputs of one window at a time, read from the run's sources into buffers of the
/// runner's largest window, so memory is bounded by the window whatever the width (the
/// uncertainty passes and cross-validation's fold scoring).
class WindowInputs {
 public:
  WindowInputs(const std::vector<std::unique_ptr<geo::RasterSource>>& sources,
               const WindowPlan& windows, int n_inputs);
  geo::Window read(std::int64_t w);
  [[nodiscard]] const float* const* layers() const { return ptrs_.data(); }

 private:
  const std::vector<std::unique_ptr<geo::RasterSource>>& sources_;
  const WindowPlan& windows_;
  std::vector<std::vector<float>> buf_;
  std::vector<const float*> ptrs_;
};

/// Runs the Monte Carlo passes and writes `out` (a multi-band GeoTIFF). `score_lo`/`score_hi`:
/// the deterministic map's range (the histograms' range; [0, 1] when inside it).
UncertaintyResult run_uncertainty(const model::UncertaintySpec& spec, const AnalysisContext& ctx,
                                  double score_lo, double score_hi, const std::filesystem::path& out,
                                  const RunOptions& opt, double nodata, const std::string& compress,
                                  const std::vector<std::string>& node_names = {});

nlohmann::ordered_json uncertainty_json(const UncertaintyResult& r);

/// The runner's hook: [validation] and [uncertainty] of `m`, if any, on the committed map;
/// their files beside the output (<base>_validation.*, <base>_uncertainty.tif) and their numbers
/// into res.report. Throws like the steps it runs.
void run_analyses(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                  RunResult& res);

}  // namespace gp::cli
