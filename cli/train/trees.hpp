#pragma once
// Tree ensembles on known deposits: `[combine] method = "boosted-trees" | "random-forest"`.
// A training table of deposit cells (label 1, a cell counts once) and background cells
// (label 0) drawn, seeded, from the valid cells farther than `negatives.buffer_km` from every
// deposit; each layer's value after its transform is a feature (a layer marked `categorical =
// true`: one indicator feature per class of the training table, one-hot). XGBoost (its C API) trains the
// trees; they are flattened into the program's aux array and every cell is scored by the
// fused per-cell kernel (gp/kernels/trees.hpp), on the CPU or the GPU, equal to XGBoost's own
// prediction. Beside the map: <base>_model.json (XGBoost's JSON model), <base>_training.csv and
// <base>_importance.csv.
//
// Background cells are the cells with the smallest keys hash(seed, global cell index): the
// draw depends on the seed and the grid only, not on the windows, the threads or the MPI ranks.

#include "model/model.hpp"
#include "train/trained.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace gp::cli::trees {

/// The training table: rows of `n_features` float features (NaN = missing), one label each.
struct Table {
  std::size_t n_features{0};
  std::vector<std::string> names;  ///< one per feature
  std::vector<float> x;            ///< row-major
  std::vector<float> label;        ///< 1 deposit, 0 background
  std::vector<std::int64_t> col;   ///< grid cell of each row
  std::vector<std::int64_t> row;
  [[nodiscard]] std::size_t rows() const { return label.size(); }
};

/// What XGBoost trained.
struct Booster {
  std::string model_json;             ///< XGBoost's JSON model (XGBoosterSaveModelToBuffer)
  std::vector<double> gain;           ///< per feature: mean gain of its splits (0: unused)
  std::vector<double> total_gain;     ///< per feature: total gain
  std::vector<std::pair<std::string, std::string>> params;  ///< the parameters it was given
};

/// The XGBoost parameters of `spec` for `method` with class weight `scale_pos_weight` (used
/// unless spec.xgboost sets one), and the number of boosting rounds.
std::vector<std::pair<std::string, std::string>> xgboost_params(model::Method method,
                                                                const model::TreesSpec& spec,
                                                                double scale_pos_weight,
                                                                int& rounds);

/// Trains with XGBoost on `t` (single-threaded: the same trees whatever the machine).
Booster train_booster(const Table& t, model::Method method, const model::TreesSpec& spec);

/// The trees of an XGBoost JSON model appended to `aux` in gp/kernels/trees.hpp's layout, then
/// their node tables with covers for TreeSHAP (gp/kernels/tree_shap.hpp, group.aux_nodes);
/// returns the group that evaluates them (its inputs left to the caller). Throws
/// gp::config_error for what the kernel does not evaluate (another objective, categorical
/// splits, several classes).
kernels::GroupOp flatten_model(const std::string& model_json, std::vector<double>& aux);

/// Permutation importance of each feature: the drop in ROC AUC (validation's exact one,
/// analysis/validation.hpp's summarise_ranks) when the feature's column is shuffled.
///
/// The set it is measured on: a seeded hold-out of the training table, permutation_holdout of
/// the deposit rows and of the background rows (each class apart), scored by a model trained
/// with the same parameters on the other rows only (the map's model trained on every row, so
/// its own AUC on them would measure fit, not prediction). Not the [validation] deposits: in
/// these models they are usually the training deposits themselves (README, cross-validation).
/// Each feature's hold-out column is shuffled permutation_repeats times (Fisher-Yates with
/// cell_key as its generator, keyed by the seed, the feature and the repeat), the rows
/// predicted by XGBoost's own predict; drop = AUC - shuffled AUC, its mean and population sd
/// over the repeats. Same seed, same numbers.
inline constexpr double permutation_holdout = 0.25;
inline constexpr int permutation_repeats = 5;

struct PermutationImportance {
  std::size_t train_rows{0};    ///< rows the hold-out model trained on
  std::size_t positives{0};     ///< hold-out deposit rows
  std::size_t negatives{0};     ///< hold-out background rows
  int repeats{0};
  double auc{0.0};              ///< hold-out ROC AUC with nothing shuffled
  std::vector<double> drop;     ///< per feature: mean over the repeats of AUC - shuffled AUC
  std::vector<double> drop_sd;  ///< per feature: population sd over the repeats
  std::string skipped;          ///< why it was not measured (empty: measured; drops NaN)
};

/// Permutation importance on the hold-out of `t` (see above).
PermutationImportance permutation_importance(const Table& t, model::Method method,
                                             const model::TreesSpec& spec);

/// XGBoost's own prediction (the probability) of `model_json` on the rows `x` (row-major,
/// `n_features` per row, NaN = missing).
std::vector<float> xgboost_predict(const std::string& model_json, const std::vector<float>& x,
                                   std::size_t n_features);

/// ROC AUC of `score` against `label` (1 positive, 0 negative), ties counting one half: the
/// exact one of validation (summarise_ranks over the rows' rank counts). NaN without positives
/// or negatives.
double roc_auc(const std::vector<float>& score, const std::vector<float>& label);

/// splitmix64 of the seed and a global cell index: the key that draws background cells.
std::uint64_t cell_key(std::uint64_t seed, std::uint64_t cell);

/// Trains a tree ensemble (see train/trained.hpp).
std::unique_ptr<Trained> train(const TrainingContext& ctx);

}  // namespace gp::cli::trees
