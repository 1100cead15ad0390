#pragma once
// Model-file keys of the data-driven methods: `[combine] method = "wofe" | "logistic"`,
// the `[training]` table (the deposit point set, the unit cell) and each layer's `wofe` or
// `logistic` block. Parsed in model.cpp with the other keys; used by cli/train/wofe.cpp and
// cli/train/logistic.cpp.

#include "model/deposit_source.hpp"

#include <cstdint>
#include <filesystem>
#include <utility>
#include <optional>
#include <string>
#include <vector>

namespace gp::model {

/// A layer's `wofe = { type = ..., breaks = [...], threshold = t, min_studc = s, groups = [...] }`.
struct WofeLayerSpec {
  /// categorical (each class against the rest) | ascending (cumulative, class <= threshold is
  /// favourable) | descending (cumulative, class >= threshold); empty: no block given.
  std::string type;
  /// Continuous layers: ascending class breaks b_1 < ... < b_k; classes are (-inf, b_1),
  /// [b_1, b_2), ..., [b_k, inf), numbered 0..k. Empty: classes are the layer's integer values.
  std::vector<double> breaks;
  std::optional<double> threshold;  ///< cumulative: a user threshold (a class value)
  std::optional<double> min_studc;  ///< cumulative: max contrast among studentised C >= this
  /// categorical: generalised classes 1..k, each a list of class values; the classes not
  /// listed form class k+1. Empty: each class keeps its own weight.
  std::vector<std::vector<double>> groups;
  [[nodiscard]] bool given() const { return !type.empty(); }
};

/// A layer's `logistic = { type = "continuous" | "categorical" }`.
struct LogisticLayerSpec {
  std::string type;  ///< continuous (standardised) | categorical (one indicator per class
                     ///< but the most common, which is the reference); empty: not given
  [[nodiscard]] bool given() const { return !type.empty(); }
};

/// `[training]`: the known deposits (the shared deposit-source keys) and the unit of area.
struct TrainingSpec : DepositSourceSpec {
  bool given{false};
  double unit_cell_km2{1.0};       ///< ArcSDM's unit cell: areas and counts in these units
  int max_iterations{50};          ///< logistic: IRLS iterations at most
  double tolerance{1e-8};          ///< logistic: stop when the largest coefficient change is below
};

/// `[trees]`: the tree ensembles (`[combine] method = "boosted-trees" | "random-forest"`),
/// trained with XGBoost (names follow its parameters).
struct TreesSpec {
  bool given{false};
  int n_trees{100};            ///< boosting rounds, or the forest's trees
  int max_depth{6};
  double learning_rate{0.1};   ///< boosted-trees only (a forest uses 1)
  bool learning_rate_given{false};  ///< set in the model (a forest refuses any value but 1)
  double subsample{0.8};       ///< rows per tree
  double colsample{0.8};       ///< layers per tree (boosted) or per split (forest)
  std::uint64_t seed{0};
  double negatives_ratio{20.0};   ///< background cells per deposit cell
  double negatives_buffer_km{2.0};  ///< no background cell within this of a deposit
  /// negatives.method = "pu-bagging": positive-unlabelled bagging, `bags` models each on its
  /// own seeded background draw, the map their mean probability (false: one draw, one model).
  bool pu_bagging{false};
  int bags{1};                      ///< pu-bagging: models (1 .. max_bags)
  static constexpr int max_bags = 31;  ///< a tree_ensemble group per bag and the mean's, in max_groups
  /// `xgboost = { name = value, ... }`: further XGBoost parameters, as text.
  std::vector<std::pair<std::string, std::string>> xgboost;
};

}  // namespace gp::model
