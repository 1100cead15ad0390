#pragma once
// Validation of a prospectivity map against known deposits: success-rate and
// prediction-rate curves, their AUC, the ROC AUC and capture efficiency, computed exactly.
//
// Exactness. The map's valid cells are streamed once, window by window, and each finite score
// is counted by its order-preserving 32-bit key into the slots between and at the distinct
// deposit-cell scores (kernels/rank.hpp, OpenMP or CUDA). For every deposit this gives, as
// exact integers, G = cells scoring strictly higher and E = cells scoring the same (its own
// cell included). Everything below follows from N (valid cells) and (G, E) per deposit, with
// no binning, so the AUCs are exact up to double rounding (~1e-15) for any map size. Scores
// are compared as the Float32 values of the band (Float64 maps are rounded to Float32).
//
// Ties. Cells of equal score are ranked together: along a tie group the curves run linearly
// (the expected curve over random orderings of the tied cells). Hence
//   success-rate AUC = 1 - mean over deposits of (G + E / 2) / N,
//   capture(p)       = mean over deposits of clamp((p N - G) / E, 0, 1),
//   ROC AUC          = Mann-Whitney U / (P Q) over deposit cells (P) vs the other valid
//                      cells (Q = N - P), a tie counting one half.
//
// Deposits. Deposits outside the map or on nodata cells are reported by name and left out.
// Deposits sharing a cell each count in the success-rate curve and capture (a cell with two
// deposits captures two), but the cell is one positive in the ROC (a cell is either a deposit
// cell or not); shared cells are listed by name, and a random split keeps them in one fold.

#include "model/analysis_spec.hpp"
#include "run/runner.hpp"
#include "gp/geo/deposits.hpp"
#include "gp/geo/point_writer.hpp"
#include "gp/kernels/rank.hpp"
#include "plan/device.hpp"
#include "outputs/staged_files.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gp::cli {

/// A placed deposit with the exact rank of its cell's score.
struct RankedDeposit {
  std::string name;
  std::int64_t col{0};
  std::int64_t row{0};
  double x{0.0};  ///< position in the map's CRS (as read, before placing on a cell)
  double y{0.0};
  float score{0.0f};
  std::uint64_t above{0};  ///< valid cells scoring strictly higher
  std::uint64_t equal{0};  ///< valid cells scoring the same (its own cell included)
  std::string group;       ///< split_by value, or "block X,Y" for spatial blocks (else empty)
  int fold{-1};            ///< held-out fold (k-fold: 0..k-1; hold-out: 0; -1: never held out)
};

struct CurvePoint {
  double x{0.0};      ///< area fraction (success / prediction rate) or false-positive rate (ROC)
  double y{0.0};      ///< deposit fraction or true-positive rate
  double score{0.0};  ///< the score at this point (NaN at the ends)
};

/// Curves and figures for one set of deposits.
struct RateSummary {
  std::size_t deposits{0};
  std::size_t cells{0};         ///< distinct deposit cells (ROC positives)
  double auc{0.0};              ///< success- (or prediction-) rate AUC
  double roc_auc{0.0};          ///< NaN when there are no positives or no negatives
  std::vector<std::pair<double, double>> capture;  ///< (top % of area, fraction of deposits)
  std::vector<CurvePoint> curve;  ///< (0,0) .. (1,1)
  std::vector<CurvePoint> roc;    ///< (0,0) .. (1,1)
};

/// One point of the prediction-area curves: of the deposits and of the valid area, the shares
/// (in %) with a score >= `threshold` (see PredictionArea for the two rows at a deposit score).
struct PaPoint {
  double threshold{0.0};
  double deposits_pct{0.0};
  double area_pct{0.0};
};

/// The prediction-area (P-A) plot of Yousefi & Carranza: against the threshold t, the share of
/// deposits predicted (score >= t) and the share of the valid area occupied (score >= t); the
/// two curves cross where deposits_pct = 100 - area_pct, and that point is the summary.
///
/// The curve is the success-rate curve read by threshold, from the same counts: ascending t,
/// the map's lowest valid score (100 %, 100 %), then for each distinct deposit score s two rows,
/// score >= s and score > s (the tie at s; a line through them draws the step), then the map's
/// highest score (0 %, 0 %) when it is above every deposit. Repeated points are left out.
struct PredictionArea {
  std::vector<PaPoint> curve;
  double threshold{0.0};             ///< t at the crossing
  double threshold_normalised{0.0};  ///< (t - lowest) / (highest - lowest); 0 on a flat map
  double deposits_pct{0.0};          ///< P at the crossing
  double area_pct{0.0};              ///< A at the crossing (= 100 - P)
  double normalised_density{0.0};    ///< P / A
};

/// The P-A curve and crossing from the success-rate curve of all deposits (`all.curve`) and
/// the map's lowest and highest valid score (pure).
PredictionArea prediction_area(const RateSummary& all, double score_min, double score_max);

/// One sentence, the one place saying it: a split re-scores the same finished map on each
/// fold (the map is not retrained; it cannot be from a finished map), so the prediction-rate
/// figures only show how the AUC varies across deposit subsets; what that means depends on
/// `model_kind` ("knowledge-driven", "data-driven" or empty when not known, as in `validate`).
std::string rescoring_note(const std::string& model_kind);

/// The figures for `deps` on a map with `valid_cells` valid cells (pure; exact as described).
RateSummary summarise_ranks(std::uint64_t valid_cells,
                            const std::vector<const RankedDeposit*>& deps,
                            const std::vector<double>& capture_percent);

/// Fills above/equal of each deposit from its score and the slot counts of a RankCounter
/// built on `edges` (kernels::edge_keys of the scores).
void rank_from_counts(std::vector<RankedDeposit>& deps, const std::vector<std::uint32_t>& edges,
                      const std::vector<std::uint64_t>& counts);

/// Assigns folds: units are distinct deposit cells, or with `use_groups` the distinct
/// `group` values; units are shuffled by a hash of (seed, unit) and dealt round robin into k
/// folds (kfold), or taken in that order until at least holdout x deposits are held out
/// (fold 0). Returns the number of folds (0 when neither is asked).
int assign_folds(std::vector<RankedDeposit>& deps, double holdout, int kfold, std::uint64_t seed,
                 bool use_groups);

struct FoldResult {
  int fold{0};
  RateSummary prediction;  ///< the held-out deposits
  RateSummary training;    ///< the rest
  // Retrained folds only (ValidationResult::retrained):
  nlohmann::ordered_json trained;  ///< the fold model's trained table (Trained::trained_table())
  std::string error;               ///< why this fold could not be trained (empty: it was)
  std::uint64_t valid_cells{0};    ///< valid cells of the fold model's map
  std::size_t unscored{0};         ///< deposits on cells the fold model leaves nodata
  double seconds_train{0.0};
  double seconds_score{0.0};       ///< the two rank-only passes
};

/// Mean and population standard deviation over the folds of one figure (folds where it is
/// not a number left out); n: the folds counted.
struct FoldSpread {
  double mean{0.0};
  double sd{0.0};
  int n{0};
};

/// What to validate and how; the split (holdout, kfold, seed, split_by, capture_percent) as
/// `[validation]` gives it.
struct ValidateOptions : model::SplitSpec {
  std::filesystem::path map;
  int band{1};
  geo::DepositSpec deposits;
  DeviceChoice device{DeviceChoice::automatic};
  std::vector<int> devices;  ///< the run's --devices (the rank counter uses the first)
  int threads{0};
  std::int64_t window_cells{1 << 22};
  /// "knowledge-driven", "data-driven" or empty (not known): said with a split, in the JSON
  /// (`model_kind`, the split's `note`) and on stderr (rescoring_note).
  std::string model_kind;
  /// Set by a run that retrains each fold afterwards (analysis/crossval.hpp): validate_map
  /// then leaves the split's stderr line to it.
  bool retrain{false};
  /// A run's [training] deposits, placed on the map too for <stem>_deposits.gpkg (none in
  /// `validate`).
  std::optional<geo::DepositSpec> training_deposits;
};

struct ValidationResult {
  std::filesystem::path map;
  int band{1};
  std::string device;
  std::uint64_t valid_cells{0};
  std::uint64_t nodata_cells{0};
  double score_min{0.0};  ///< the lowest valid score (Float32, as compared)
  double score_max{0.0};  ///< the highest valid score
  std::vector<RankedDeposit> deposits;
  std::vector<geo::RejectedDeposit> rejected;
  /// The run's [training] deposits on the map (ranked like `deposits`, fold -1) and those
  /// that fall outside it or on its nodata (ValidateOptions::training_deposits).
  std::vector<RankedDeposit> training;
  std::vector<geo::RejectedDeposit> training_rejected;
  std::vector<std::vector<std::string>> shared_cells;  ///< deposit names per shared cell
  RateSummary all;
  PredictionArea prediction_area;  ///< of all deposits
  std::string split{"none"};  ///< none | holdout | kfold (folds drawn at random, seeded)
  double holdout{0.0};
  int kfold{0};
  std::uint64_t seed{0};
  std::string split_by;
  double block_km{0.0};   ///< spatial blocks' side (0: random folds)
  double buffer_km{0.0};  ///< retrained folds' training buffer
  std::string model_kind;
  bool retrained{false};  ///< each fold's figures come from a model trained without it
  std::vector<FoldResult> folds;
  double seconds{0.0};
  std::string crs_wkt;  ///< the map's CRS (the deposits' positions)
  /// The deposits' stated states against their coordinates (run/deposit_checks.hpp), when the
  /// caller checked them (`geoprospect validate`); null otherwise.
  nlohmann::ordered_json deposit_checks;
};

/// The split in words, saying how its folds are drawn: "random 5-fold split", "5-fold split in
/// spatial blocks of 25 km", "random 30 % hold-out", ", grouped by <split_by>", " (seed S)".
std::string split_words(const ValidationResult& r);

/// The JSON's fold_assignment: "random", "random, grouped by <attr>" or "spatial blocks of N km".
std::string fold_assignment(const ValidationResult& r);

/// The sentence a retrained split says instead of rescoring_note (JSON note, stderr, report).
std::string retraining_note(const ValidationResult& r);

/// Mean and sd over the folds of `figure` of their held-out deposits' summary.
FoldSpread fold_spread(const ValidationResult& r, double (*figure)(const RateSummary&, std::size_t),
                       std::size_t index = 0);

/// A rank counter on `edges` on the engine device of (device, devices), falling back to the
/// CPU when out of device memory (the validation pass and each retrained fold's pass).
std::unique_ptr<kernels::RankCounter> make_rank_counter(const std::vector<std::uint32_t>& edges,
                                                        DeviceChoice device,
                                                        const std::vector<int>& devices,
                                                        int threads);

/// Places each deposit in a spatial block of `block_km` on `grid` (projected CRS; blocks from
/// the CRS origin) and tags it "block X,Y" in `group`. Throws gp::input_error for a
/// geographic CRS.
void tag_blocks(std::vector<RankedDeposit>& deps, const geo::Grid& grid, double block_km);

/// Reads the deposits, places them on the map's grid, streams the map once and computes
/// everything. With a split, says once on stderr that the folds are re-scored, not retrained
/// (rescoring_note: a warning, or information for a knowledge-driven map). Throws gp::input_error (unreadable map, no CRS, no deposit on valid cells),
/// gp::config_error, gp::cuda_error.
ValidationResult validate_map(const ValidateOptions& opt);

/// A run's [training] deposits alone (a trained run without [validation]): placed on the map
/// and ranked among its valid cells for <stem>_deposits.gpkg, in `training` and
/// `training_rejected`; no figures, no split. `opt.training_deposits` must be set (`deposits`
/// is not read). A set with no deposit on a valid cell is no error here: the GeoPackage then
/// lists why each was left out. Throws gp::input_error (unreadable map).
ValidationResult place_training_deposits(const ValidateOptions& opt);

/// The numbers as JSON (for <stem>_validation.json and the run report).
nlohmann::ordered_json validation_json(const ValidationResult& r);

/// The plot: success-rate (and prediction-rate) curves and ROC, each with the diagonal and the
/// AUCs in the legend, and the prediction-area plot with its crossing, as a standalone SVG
/// document; with a split, the subtitle says the folds are random and re-scored, not retrained.
std::string validation_svg(const ValidationResult& r, const std::string& title);

/// Writes <dir>/<stem>_validation.json, <stem>_success_rate.csv, <stem>_roc.csv,
/// <stem>_prediction_area.csv, <stem>_validation.svg, <stem>_folds.csv (one row per fold
/// with its figures, then mean and sd; only the all-deposits row without a split) and
/// <stem>_deposits.gpkg (deposits_table): staged in `files` (checked, written under hidden names), moved into
/// place when the caller commits the set, all or nothing. Returns the paths.
std::vector<std::filesystem::path> write_validation_outputs(const ValidationResult& r,
                                                            const std::filesystem::path& dir,
                                                            const std::string& stem,
                                                            const std::string& title,
                                                            StagedFiles& files,
                                                            bool with_deposits_gpkg = true);

/// Stages <stem>_deposits.gpkg (deposits_table) as `path` in `files`; with `class_thresholds`
/// (a run's class raster's), each used deposit's class in column `class`.
void write_deposits_gpkg(const ValidationResult& r, const std::filesystem::path& path,
                         StagedFiles& files, const std::vector<double>* class_thresholds = nullptr);

/// Every deposit given to validation (and a run's training) as a point layer "deposits": name,
/// role (validation | training), status (used | rejected), reason, map_value (the map's
/// Float32 score at its cell), percentile (% of valid cells scoring lower, ties counting half),
/// fold (1..k held out in that fold, 0 never held out; a training deposit's fold is the one
/// whose held-out cells include its cell, so that fold's retrained model never saw it), col,
/// row (-1 when not placed);
/// rejected deposits have no geometry.
/// With `class_thresholds` a column `class` follows `map_value`: the class the class raster gives
/// the deposit's cell (1 + the thresholds at or below its Float32 score, compared in Float32 as
/// geo::classify_band does; 0 for a rejected deposit).
geo::PointTable deposits_table(const ValidationResult& r, const std::string& crs_wkt,
                               const std::vector<double>* class_thresholds = nullptr);

/// <dir>/<stem>_deposits.gpkg: one of validation_output_paths.
std::filesystem::path deposits_gpkg_path(const std::filesystem::path& dir, const std::string& stem);

/// <dir>/<stem>_training_deposits.gpkg: a trained run without [validation] (its training
/// deposits alone; another name than validation's, so that `geoprospect validate` on the map
/// can still write its own <stem>_deposits.gpkg beside it).
std::filesystem::path training_deposits_gpkg_path(const std::filesystem::path& dir,
                                                  const std::string& stem);

/// The deposits of deposits_table as the quicklooks draw them (RunResult::deposit_points): the
/// used ones at their positions, the rejected ones whose position is known (on nodata, outside
/// the grid); [validation] and [training] kinds.
std::vector<geo::QuicklookPoint> deposit_points(const ValidationResult& r);

/// The paths write_validation_outputs writes.
std::vector<std::filesystem::path> validation_output_paths(const std::filesystem::path& dir,
                                                           const std::string& stem);

}  // namespace gp::cli
