#pragma once
// Parameter sweeps scored in one read: `[[sweep]]` varies parameters of a knowledge-driven
// model (a membership's midpoint or spread, a linear transform's min or max, a layer's or a
// group input's weight, a group's gamma), each over a list or a range; the variants are every
// combination. Each variant is the model with those numbers, built into its own per-cell
// program exactly as a run of that model would be (plan/program.hpp, with the run's layer
// statistics), so a variant's map is, bit for bit, the map a run of the edited model writes.
//
// Cost. One pass over the windows for all variants together, each window's inputs read once
// and scored by every variant's program in turn (analysis/program_scorer.hpp), each variant's
// cells counted by the exact rank counter between its deposit scores (validation.hpp). The
// deposit scores come first, from the inputs at the deposits' cells that the run's own scoring
// pass kept (run/cell_capture.hpp; under mpirun, where it keeps none, from a pass over the
// windows holding a deposit). So every variant's success-rate and ROC AUCs and capture figures
// are the exact ones validation gives for that variant's map, at the cost of one read of the
// inputs, not N. With write_best, another pass writes the best variant's map.

#include "analysis/uncertainty.hpp"
#include "analysis/validation.hpp"
#include "model/model.hpp"
#include "run/runner.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace gp::cli {

/// The values of every variant, one per [[sweep]] table, in table order; the first table's
/// values change slowest.
std::vector<std::vector<double>> sweep_variants(const model::SweepSpec& s);

/// A parameter's name in the CSV and report: "magnetics.midpoint", "geophysics.gamma",
/// "geophysics.weight[magnetics]".
std::string sweep_parameter(const model::SweepAxis& a);

/// The model with one variant's values: each table's parameter set as a model file would set
/// it (a layer's weight in every group that takes the layer; a simple-form gamma in [combine]
/// and its one group).
model::Model sweep_model(const model::Model& m, const model::SweepSpec& s,
                         const std::vector<double>& values);

struct SweepVariant {
  std::vector<double> values;
  RateSummary summary;            ///< all deposits on this variant's map
  std::uint64_t valid_cells{0};
  std::size_t unscored{0};        ///< deposits on cells this variant leaves nodata
  std::string error;              ///< why the variant has no figures (empty: it has)
  std::size_t rank{0};            ///< 1: the best by rank_by (ties: the earlier variant)
};

struct SweepResult {
  std::vector<std::string> parameters;
  std::vector<SweepVariant> variants;
  std::string rank_by;
  std::size_t best{0};  ///< index of the best variant
  std::size_t deposits{0};
  std::vector<double> capture_percent;
  std::filesystem::path csv;
  std::filesystem::path best_map;  ///< empty without write_best
  std::string device;
  double seconds_deposits{0.0};
  bool deposits_from_scoring_pass{false};  ///< the run's scoring pass kept their inputs
  double seconds_cells{0.0};
  double seconds_best{0.0};
};

/// Runs `m`'s [[sweep]] against the placed validation deposits `deposits` (validate_map's),
/// writes <stem>_sweep.csv (and <stem>_sweep_best.tif with write_best) into `dir`, staged in
/// ctx.files. Throws like the validation pass (gp::cuda_error, gp::io_error).
SweepResult run_sweep(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                      const std::vector<RankedDeposit>& deposits, const std::filesystem::path& dir,
                      const std::string& stem);

/// The sweep as JSON (the run report's "sweep").
nlohmann::ordered_json sweep_json(const SweepResult& r);

/// <stem>_sweep.csv's text: a row per variant in variant order: variant, each parameter,
/// success_auc, roc_auc, capture_top<p> for each capture percentage, deposits, unscored,
/// valid_cells, rank, error.
std::string sweep_csv(const SweepResult& r);

}  // namespace gp::cli
