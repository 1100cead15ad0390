#pragma once
// Tree ensembles (XGBoost's binary:logistic boosters: gradient-boosted trees and random
// forests) evaluated per cell, written once for the CPU and CUDA backends. The trees live in
// the program's aux array (they do not fit the constant-memory Program):
//   aux[first + t], t < n_trees: the aux index of tree t's first slot;
//   aux[first + n_trees + t]: tree t's depth D (the most splits from its root to a leaf);
//   the tree itself: a complete binary tree of depth D in heap order, 2^(D+1) - 1 slots of one
//   double each holding bits, not numbers (tree_word). Slot s's children are 2s + 1 (left) and
//   2s + 2 (right), so a node needs no child pointers and a step is s = 2s + 1 + right. Slots
//   below 2^D - 1 are splits: high 32 bits the input's index k with bit 31 set when a missing
//   value goes left (XGBoost's default_left), low 32 bits the split condition (a float); a
//   present input x goes left when x < condition. The 2^D slots from 2^D - 1 are the leaves:
//   low 32 bits the leaf value. A leaf of XGBoost's tree above depth D is copied into every
//   leaf slot below it (the splits between, on input 0, lead to the same value either way), so
//   every cell takes exactly D steps through a tree (no branch on the path's length: the CPU's
//   block loop steps every cell of a block level by level, GPU threads stay together).
// XGBoost 1.7 predicts in single precision: features are floats, split conditions and leaves
// are floats, the margin starts at the base margin and adds each tree's leaf in tree order in
// float, and the probability is its float sigmoid. The same float operations in the same order
// here give XGBoost's own prediction (tests/cli/trees_test.cpp compares them).

#include "gp/kernels/hd.hpp"

#include <math.h>
#include <string.h>

namespace gp::kernels {

/// Two 32-bit fields as the bits of one aux double (high, low).
GP_HD GP_INLINE double tree_word(unsigned int high, unsigned int low) {
  const unsigned long long u = (static_cast<unsigned long long>(high) << 32) | low;
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}
GP_HD GP_INLINE unsigned long long tree_bits(double d) {
  unsigned long long u;
  memcpy(&u, &d, sizeof u);
  return u;
}
GP_HD GP_INLINE float tree_float(unsigned int bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/// Bit 31 of a split's high word: a missing input goes left.
inline constexpr unsigned int tree_default_left = 0x80000000u;

/// The input a split slot's word `w` reads.
GP_HD GP_INLINE int tree_input(unsigned long long w) {
  return static_cast<int>(static_cast<unsigned int>(w >> 32) & ~tree_default_left);
}

/// 1 when input value `x` (NaN when missing) goes right at the split with word `w`, else 0.
/// A present x goes right when x >= condition (XGBoost: left when x < condition). NaN fails
/// both x < condition and x >= condition: then it goes right unless the split's default is
/// left. In integer arithmetic on the two comparisons rather than a test for NaN or a select:
/// the directions are data (a branch would be mispredicted), and the CPU's level loop
/// vectorises only without a select (GCC 12 if-converts neither).
GP_HD GP_INLINE unsigned int tree_right(unsigned long long w, float x) {
  const float condition = tree_float(static_cast<unsigned int>(w));
  const auto default_left = static_cast<unsigned int>(w >> 63);
  const auto lt = static_cast<unsigned int>(x < condition);
  const auto ge = static_cast<unsigned int>(x >= condition);
  return ge | ((lt ^ 1u) & (default_left ^ 1u));
}

/// The slot after slot `s` of a tree when the input at s goes right (1) or left (0).
GP_HD GP_INLINE unsigned int tree_child(unsigned int s, unsigned int right) { return 2 * s + 1 + right; }

/// The leaf value of tree t of the ensemble at aux[first..] (n_trees trees).
/// `feature(k)` returns input k as a float (NaN when missing).
template <class Feature>
GP_HD GP_INLINE float tree_leaf(const double* aux, int first, int n_trees, int t,
                                const Feature& feature) {
  const double* tree = aux + static_cast<long long>(aux[first + t]);
  const int depth = static_cast<int>(aux[first + n_trees + t]);
  unsigned int s = 0;
  for (int d = 0; d < depth; ++d) {
    const unsigned long long w = tree_bits(tree[s]);
    s = tree_child(s, tree_right(w, feature(tree_input(w))));
  }
  return tree_float(static_cast<unsigned int>(tree_bits(tree[s])));
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
