#pragma once
// Tree ensembles (XGBoost's binary:logistic boosters: gradient-boosted trees and random
// forests) evaluated per cell, written once for the CPU and CUDA backends. The trees live in
// the program's aux array (they do not fit the constant-memory Program):
//   aux[first + t], t < n_trees: the aux index of tree t's root node;
//   each node is tree_node_size doubles {code, value, left, right}:
//     code 0: a leaf, `value` its leaf value;
//     code +-(k + 1): a split on the group's input k, `value` the split condition; a present
//       feature x goes left when x < value, a missing one (nodata) goes left when code < 0
//       (XGBoost's default_left), right otherwise; left/right are the children's aux indices.
// XGBoost 1.7 predicts in single precision: features are floats, split conditions and leaves
// are floats, the margin starts at the base margin and adds each tree's leaf in tree order in
// float, and the probability is its float sigmoid. The same float operations in the same order
// here give XGBoost's own prediction (tests/kernels/trees_test.cpp compares them).

#include "gp/kernels/hd.hpp"

#include <math.h>

namespace gp::kernels {

inline constexpr int tree_node_size = 4;

/// The leaf value reached from root `node` (an aux index); `feature(k)` returns input k as a
/// float (NaN when missing).
template <class Feature>
GP_HD GP_INLINE float tree_leaf(const double* aux, long long node, const Feature& feature) {
  for (;;) {
    const double* n = aux + node;
    const int code = static_cast<int>(n[0]);
    if (code == 0) return static_cast<float>(n[1]);
    const float x = feature(code > 0 ? code - 1 : -code - 1);
    // NaN fails x < split: test missing first (XGBoost's default direction).
    const bool left = x != x ? code < 0 : x < static_cast<float>(n[1]);
    node = static_cast<long long>(left ? n[2] : n[3]);
  }
}

/// XGBoost 1.7's common::Sigmoid (binary:logistic's PredTransform), in float as there: the
/// exponent capped at 88.7 (expf overflows above) and 1e-16 guarding the division.
GP_HD GP_INLINE float xgb_sigmoid(float x) {
  const float e = -x < 88.7f ? -x : 88.7f;
  const float denom = expf(e) + 1.0f + 1e-16f;
  return 1.0f / denom;
}

/// The probability of the ensemble of `n_trees` trees at aux[first..] with base margin
/// `base_margin`: sigmoid(base_margin + sum of the leaves), summed in float in tree order.
template <class Feature>
GP_HD GP_INLINE float tree_ensemble_probability(const double* aux, int first, int n_trees,
                                                float base_margin, const Feature& feature) {
  float margin = base_margin;
  for (int t = 0; t < n_trees; ++t) {
    margin += tree_leaf(aux, static_cast<long long>(aux[first + t]), feature);
  }
  return xgb_sigmoid(margin);
}

}  // namespace gp::kernels
