#pragma once
// Tree ensembles (XGBoost's binary:logistic boosters: gradient-boosted trees and random
// forests) evaluated per cell, written once for the CPU and CUDA backends. The trees live in
// the program's aux array (they do not fit the constant-memory Program):
//   aux[first + t], t < n_trees: the aux index of tree t's root node;
//   aux[first + n_trees + t]: tree t's depth (the most splits from its root to a leaf);
//   each node is tree_node_size doubles holding bits, not numbers (tree_word): the first the
//   node's code (high 32 bits, an int32) and value (low 32 bits, a float), the second the aux
//   indices of its left (high) and right (low) children. Bits, because a step then converts
//   nothing (a double -> int conversion per field made a step three times XGBoost's own).
//     code 0: a leaf, `value` its leaf value, left = right = the leaf itself, so that every
//       cell takes exactly `depth` steps through a tree (no branch on the path's length: the
//       CPU's block loop steps every cell of a block level by level, GPU threads stay together);
//     code +-(k + 1): a split on the group's input k, `value` the split condition; a present
//       feature x goes left when x < value, a missing one (nodata) goes left when code < 0
//       (XGBoost's default_left), right otherwise.
// XGBoost 1.7 predicts in single precision: features are floats, split conditions and leaves
// are floats, the margin starts at the base margin and adds each tree's leaf in tree order in
// float, and the probability is its float sigmoid. The same float operations in the same order
// here give XGBoost's own prediction (tests/cli/trees_test.cpp compares them).

#include "gp/kernels/hd.hpp"

#include <math.h>
#include <string.h>

namespace gp::kernels {

inline constexpr int tree_node_size = 2;

/// Two 32-bit fields as the bits of one aux double (high, low).
GP_HD inline double tree_word(unsigned int high, unsigned int low) {
  const unsigned long long u = (static_cast<unsigned long long>(high) << 32) | low;
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}
GP_HD inline unsigned long long tree_bits(double d) {
  unsigned long long u;
  memcpy(&u, &d, sizeof u);
  return u;
}
GP_HD inline float tree_float(unsigned int bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/// One step down a tree from node `node` (an aux index); a leaf stays where it is.
/// `feature(k)` returns input k as a float (NaN when missing).
template <class Feature>
GP_HD GP_INLINE long long tree_step(const double* aux, long long node, const Feature& feature) {
  const unsigned long long w = tree_bits(aux[node]);
  const auto code = static_cast<int>(static_cast<unsigned int>(w >> 32));
  const int a = code < 0 ? -code : code;
  const float x = feature(a - (a > 0 ? 1 : 0));  // a leaf reads input 0 and stays
  // NaN fails x < split: a missing value goes the default way (XGBoost's default_left). In
  // bit operations rather than branches: the directions are data, and mispredicted branches
  // cost more than the whole step.
  const bool missing = !(x == x);
  const bool left = (missing & (code < 0)) |
                    (!missing & (x < tree_float(static_cast<unsigned int>(w))));
  const unsigned long long c = tree_bits(aux[node + 1]);
  return static_cast<long long>(left ? (c >> 32) : (c & 0xffffffffULL));
}

/// The leaf value of tree t of the ensemble at aux[first..] (n_trees trees).
template <class Feature>
GP_HD GP_INLINE float tree_leaf(const double* aux, int first, int n_trees, int t,
                                const Feature& feature) {
  auto node = static_cast<long long>(aux[first + t]);
  const int depth = static_cast<int>(aux[first + n_trees + t]);
  for (int d = 0; d < depth; ++d) node = tree_step(aux, node, feature);
  return tree_float(static_cast<unsigned int>(tree_bits(aux[node])));
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
    margin += tree_leaf(aux, first, n_trees, t, feature);
  }
  return xgb_sigmoid(margin);
}

}  // namespace gp::kernels
