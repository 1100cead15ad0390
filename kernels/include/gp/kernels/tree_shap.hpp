#pragma once
// Path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized feature
// attribution for tree ensembles", Algorithm 2) per cell, written once for the CPU and CUDA
// backends: what XGBoost 1.7's pred_contribs computes (RegTree::TreeShap with condition 0), in
// the same float operations in the same order, iteratively (an explicit stack bounded by the
// deepest tree the project takes, tree_shap_max_depth, instead of recursion).
//
// It needs each tree as XGBoost built it, with its node covers (sum_hessian): the complete
// layout of trees.hpp pads the trees and drops the covers. So flatten_model
// (cli/train/trees.cpp) also stores, in the program's aux array, a node table per tree:
//   aux[g.aux_nodes + t], t < g.aux_count: the aux index of tree t's node table;
//   the table: XGBoost's nodes in XGBoost's order, tree_node_words doubles each (tree_word bits):
//     word 0: high 32 bits the split input k (bit 31 set when a missing value goes left), low
//             32 bits the split condition (a float), or for a leaf the leaf value (a float);
//     word 1: high 32 bits the left child, low 32 bits the right child (tree_node_none: a leaf);
//     word 2: the node's cover (XGBoost's sum_hessian, a float) as a double.

#include "gp/kernels/trees.hpp"

namespace gp::kernels {

/// The deepest tree TreeSHAP takes: flatten_model refuses deeper trees for the map's kernel too.
inline constexpr int tree_shap_max_depth = 20;
/// Doubles per node of a node table.
inline constexpr int tree_node_words = 3;
/// A leaf's children.
inline constexpr unsigned int tree_node_none = 0xffffffffu;

/// One element of TreeSHAP's unique path (XGBoost's PathElement): the feature split on, the
/// fractions of zero and one extensions, and the permutation weight.
struct ShapPathElement {
  int feature;
  float zero_fraction;
  float one_fraction;
  float pweight;
};

/// Path elements of every level of one tree's walk: level r's path starts at (r+1)(r+2)/2 and
/// holds at most r + 1 elements, so a leaf at depth D ends at (D+1)(D+4)/2; XGBoost allocates
/// m(m+1)/2 with m = D + 2 (one more).
inline constexpr int tree_shap_path_slots = (tree_shap_max_depth + 2) * (tree_shap_max_depth + 3) / 2;

/// XGBoost's ExtendPath: the path of `depth` elements extended by a split on `feature` with
/// the given zero and one fractions.
GP_HD GP_INLINE void shap_extend_path(ShapPathElement* path, int depth, float zero_fraction,
                                      float one_fraction, int feature) {
  path[depth].feature = feature;
  path[depth].zero_fraction = zero_fraction;
  path[depth].one_fraction = one_fraction;
  path[depth].pweight = depth == 0 ? 1.0f : 0.0f;
  for (int i = depth - 1; i >= 0; --i) {
    path[i + 1].pweight += one_fraction * path[i].pweight * static_cast<float>(i + 1) /
                           static_cast<float>(depth + 1);
    path[i].pweight = zero_fraction * path[i].pweight * static_cast<float>(depth - i) /
                      static_cast<float>(depth + 1);
  }
}

/// XGBoost's UnwindPath: undoes the extension at `index` of a path of depth `depth`.
GP_HD GP_INLINE void shap_unwind_path(ShapPathElement* path, int depth, int index) {
  const float one_fraction = path[index].one_fraction;
  const float zero_fraction = path[index].zero_fraction;
  float next_one_portion = path[depth].pweight;
  for (int i = depth - 1; i >= 0; --i) {
    if (one_fraction != 0.0f) {
      const float tmp = path[i].pweight;
      path[i].pweight = next_one_portion * static_cast<float>(depth + 1) /
                        (static_cast<float>(i + 1) * one_fraction);
      next_one_portion = tmp - path[i].pweight * zero_fraction * static_cast<float>(depth - i) /
                                   static_cast<float>(depth + 1);
    } else {
      path[i].pweight = (path[i].pweight * static_cast<float>(depth + 1)) /
                        (zero_fraction * static_cast<float>(depth - i));
    }
  }
  for (int i = index; i < depth; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

/// XGBoost's UnwoundPathSum: the total permutation weight if the extension at `index` were
/// undone.
GP_HD GP_INLINE float shap_unwound_path_sum(const ShapPathElement* path, int depth, int index) {
  const float one_fraction = path[index].one_fraction;
  const float zero_fraction = path[index].zero_fraction;
  float next_one_portion = path[depth].pweight;
  float total = 0.0f;
  for (int i = depth - 1; i >= 0; --i) {
    if (one_fraction != 0.0f) {
      const float tmp = next_one_portion * static_cast<float>(depth + 1) /
                        (static_cast<float>(i + 1) * one_fraction);
      total += tmp;
      next_one_portion = path[i].pweight - tmp * zero_fraction *
                                               (static_cast<float>(depth - i) / static_cast<float>(depth + 1));
    } else if (zero_fraction != 0.0f) {
      total += (path[i].pweight / zero_fraction) /
               (static_cast<float>(depth - i) / static_cast<float>(depth + 1));
    }
  }
  return total;
}

/// Word `w` (0..2) of node `i` of a node table.
GP_HD GP_INLINE unsigned long long tree_node_word(const double* nodes, int i, int w) {
  return tree_bits(nodes[i * tree_node_words + w]);
}
GP_HD GP_INLINE float tree_node_cover(const double* nodes, int i) {
  return static_cast<float>(nodes[i * tree_node_words + 2]);
}

/// A call of XGBoost's recursive TreeShap still to make: the node, the unique path's depth, where
/// the caller's path starts in the path array, and what the call extends the path with.
struct ShapCall {
  int node;
  int depth;
  int parent;
  float zero_fraction;
  float one_fraction;
  int feature;
};

/// TreeSHAP of one tree (node table `nodes`) for the cell whose input k is feature(k) (NaN when
/// missing): adds each input's share to phi[k], in XGBoost's order (the hot child's subtree
/// before the cold one's). The tree must be at most tree_shap_max_depth deep.
template <class Feature>
GP_HD GP_INLINE void tree_shap(const double* nodes, const Feature& feature, float* phi) {
  ShapPathElement path[tree_shap_path_slots];
  ShapCall calls[tree_shap_max_depth + 2];
  path[0] = ShapPathElement{-1, 1.0f, 1.0f, 1.0f};
  int n_calls = 0;
  calls[n_calls++] = ShapCall{0, 0, 0, 1.0f, 1.0f, -1};
  while (n_calls > 0) {
    const ShapCall c = calls[--n_calls];
    const ShapPathElement* parent = path + c.parent;
    int depth = c.depth;
    const int here = c.parent + depth + 1;
    ShapPathElement* up = path + here;
    for (int i = 0; i <= depth; ++i) up[i] = parent[i];
    shap_extend_path(up, depth, c.zero_fraction, c.one_fraction, c.feature);
    const unsigned long long w0 = tree_node_word(nodes, c.node, 0);
    const unsigned long long w1 = tree_node_word(nodes, c.node, 1);
    const auto left = static_cast<unsigned int>(w1 >> 32);
    if (left == tree_node_none) {
      const float leaf = tree_float(static_cast<unsigned int>(w0));
      for (int i = 1; i <= depth; ++i) {
        const float w = shap_unwound_path_sum(up, depth, i);
        phi[up[i].feature] += w * (up[i].one_fraction - up[i].zero_fraction) * leaf * 1.0f;
      }
      continue;
    }
    const auto right = static_cast<unsigned int>(w1);
    const int split = tree_input(w0);
    const unsigned int hot = tree_right(w0, feature(split)) != 0 ? right : left;
    const unsigned int cold = hot == left ? right : left;
    const float cover = tree_node_cover(nodes, c.node);
    const float hot_zero_fraction = tree_node_cover(nodes, static_cast<int>(hot)) / cover;
    const float cold_zero_fraction = tree_node_cover(nodes, static_cast<int>(cold)) / cover;
    float incoming_zero_fraction = 1.0f;
    float incoming_one_fraction = 1.0f;
    int index = 0;
    while (index <= depth && up[index].feature != split) ++index;
    if (index != depth + 1) {
      incoming_zero_fraction = up[index].zero_fraction;
      incoming_one_fraction = up[index].one_fraction;
      shap_unwind_path(up, depth, index);
      depth -= 1;
    }
    // Last in, first out: the hot call runs (with its whole subtree) before the cold one.
    calls[n_calls++] = ShapCall{static_cast<int>(cold), depth + 1, here,
                                cold_zero_fraction * incoming_zero_fraction, 0.0f, split};
    calls[n_calls++] = ShapCall{static_cast<int>(hot), depth + 1, here,
                                hot_zero_fraction * incoming_zero_fraction, incoming_one_fraction,
                                split};
  }
}

/// The SHAP values of the ensemble of tree_ensemble group `g` (trees at aux, node tables at
/// g.aux_nodes) into phi[0 .. n_inputs): per tree into a zeroed float array, then added to phi in
/// tree order, as XGBoost's PredictContribution sums them.
template <class Feature>
GP_HD GP_INLINE void tree_ensemble_shap(const double* aux, int aux_nodes, int n_trees,
                                        int n_inputs, const Feature& feature, float* phi) {
  float tree_phi[max_layers];
  for (int k = 0; k < n_inputs; ++k) phi[k] = 0.0f;
  for (int t = 0; t < n_trees; ++t) {
    for (int k = 0; k < n_inputs; ++k) tree_phi[k] = 0.0f;
    tree_shap(aux + static_cast<long long>(aux[aux_nodes + t]), feature, tree_phi);
    for (int k = 0; k < n_inputs; ++k) phi[k] += tree_phi[k];
  }
}

/// XGBoost's FillNodeMeanValues at node `i` of a node table: the cover-weighted mean of the
/// leaves below, in float (the tree's expected value at the root). Host only (recursive).
inline float tree_node_mean(const double* nodes, int i) {
  const unsigned long long w1 = tree_node_word(nodes, i, 1);
  const auto left = static_cast<unsigned int>(w1 >> 32);
  if (left == tree_node_none) return tree_float(static_cast<unsigned int>(tree_node_word(nodes, i, 0)));
  const auto right = static_cast<int>(static_cast<unsigned int>(w1));
  float result = tree_node_mean(nodes, static_cast<int>(left)) * tree_node_cover(nodes, static_cast<int>(left));
  result += tree_node_mean(nodes, right) * tree_node_cover(nodes, right);
  result /= tree_node_cover(nodes, i);
  return result;
}

/// The leaves below node `i` of a node table. Host only (recursive).
inline int tree_node_leaves(const double* nodes, int i) {
  const unsigned long long w1 = tree_node_word(nodes, i, 1);
  const auto left = static_cast<unsigned int>(w1 >> 32);
  if (left == tree_node_none) return 1;
  return tree_node_leaves(nodes, static_cast<int>(left)) +
         tree_node_leaves(nodes, static_cast<int>(static_cast<unsigned int>(w1)));
}

/// The base value of a tree_ensemble group: its base margin plus each tree's expected value,
/// summed in float as XGBoost's bias column (trees in order, the base margin last). Host only.
inline float tree_ensemble_base_value(const double* aux, int aux_nodes, int n_trees,
                                      float base_margin) {
  float bias = 0.0f;
  for (int t = 0; t < n_trees; ++t) {
    bias += tree_node_mean(aux + static_cast<long long>(aux[aux_nodes + t]), 0);
  }
  return bias + base_margin;
}

}  // namespace gp::kernels
