#pragma once
// Per-cell math, written once for the CPU (OpenMP) and CUDA backends.
// Nodata convention inside kernels: a non-finite input (NaN, +-inf) is nodata. geo/ turns every
// source nodata value into NaN before a window reaches a kernel. Plain <math.h> functions only
// (exp, pow, log10 have device overloads); no host-only std:: calls.

#include "gp/kernels/hd.hpp"
#include "gp/kernels/program.hpp"
#include "gp/kernels/tree_shap.hpp"
#include "gp/kernels/trees.hpp"

#include <math.h>

#include <cstddef>

namespace gp::kernels {

GP_HD inline double nan_value() { return 0.0 / 0.0; }

/// True when `v` is a usable number (not NaN, not infinite). NaN fails every comparison,
/// infinities fail the bound check.
GP_HD inline bool is_valid(double v) {
  return v == v && v <= 1.7976931348623157e308 && v >= -1.7976931348623157e308;
}

GP_HD inline double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

/// Percentile rank of x from `count` knots (values ascending at aux[first..], cumulative
/// fractions at aux[first+count..]): linear interpolation between knots, 0 below, 1 above.
/// When `bins` > 0, aux[first+2*count ..] holds, for each of `bins` equal bins over [lo, hi]
/// plus one, the index of the first knot at or after the bin's left edge: the search starts
/// there instead of bisecting every knot (same knots found, so the same result).
GP_HD inline double percentile_rank(const double* aux, int first, int count, double x,
                                    double lo = 0.0, double hi = 0.0, int bins = 0) {
  const double* v = aux + first;
  const double* f = aux + first + count;
  if (count <= 0) return nan_value();
  if (x <= v[0]) return x < v[0] ? 0.0 : f[0];
  if (x >= v[count - 1]) return 1.0;
  int a = 0;          // v[a] <= x
  int b = count - 1;  // x < v[b]
  if (bins > 0 && hi > lo) {
    const double* start = aux + first + 2 * count;
    long long bin = static_cast<long long>((x - lo) / ((hi - lo) / bins));
    if (bin < 0) bin = 0;
    if (bin >= bins) bin = bins - 1;
    int k = static_cast<int>(start[bin]);
    const int k_end = static_cast<int>(start[bin + 1]);
    // Rounding at bin edges: step back or forward to the knot pair around x.
    while (k > 0 && v[k] > x) --k;
    while (k + 1 < count && v[k + 1] <= x && k < k_end + 1) ++k;
    if (v[k] <= x && k + 1 < count && x < v[k + 1]) {
      a = k;
      b = k + 1;
    }
  }
  while (b - a > 1) {  // v[a] <= x < v[b]
    const int mid = (a + b) / 2;
    if (v[mid] <= x) a = mid;
    else b = mid;
  }
  const double span = v[b] - v[a];
  const double t = span > 0.0 ? (x - v[a]) / span : 1.0;
  return f[a] + t * (f[b] - f[a]);
}

/// Reclass: the score of the first matching rule, the fallback, or nodata.
GP_HD inline double reclass_value(const Program& p, const TransformParams& t, double x) {
  for (int r = t.first; r < t.first + t.count; ++r) {
    const ReclassRule& rule = p.rules[r];
    if (rule.is_value != 0 ? x == rule.lo : (x >= rule.lo && x < rule.hi)) return rule.score;
  }
  return t.has_default != 0 ? t.fallback : nan_value();
}

/// (x / a)^e for x > 0, a > 0 (the model refuses midpoint <= 0), as exp(e log(x / a)): one
/// log and one exp cost about two thirds of a pow, and the result differs by a few units in the
/// last place of a double, far below the float the map stores. e = 0 gives exactly 1 (pow's
/// value), also where x / a overflows to infinity.
GP_HD inline double ratio_power(double x, double a, double e) {
  return e == 0.0 ? 1.0 : exp(e * log(x / a));
}

/// Applies transform kind `k` (t.kind, or a constant in a per-kind loop) to a valid raw value,
/// without `invert`. Returns NaN when the result is undefined (e.g. log of a non-positive
/// number, an unmatched reclass value without default).
GP_HD GP_INLINE double transform_as(TransformKind k, const Program& p, const TransformParams& t,
                                    double x, const double* aux) {
  double y = nan_value();
  switch (k) {
    case TransformKind::identity:
      y = x;
      break;
    case TransformKind::linear:
    case TransformKind::minmax: {
      const double range = t.b - t.a;
      // A constant layer carries no information: every cell gets 0 (the runner warns).
      // min > max gives a negative range: 1 at max, 0 at min (inverted).
      // Times the reciprocal: constant over a layer, so the CPU's block loop computes it once
      // instead of dividing every cell (a double rounding differs from (x - a) / range by at most
      // an ulp of a double; CUDA evaluates the same expression, so the backends still agree).
      y = range == 0.0 ? 0.0 : clamp01((x - t.a) * (1.0 / range));
      break;
    }
    case TransformKind::large:
      // Undefined for x <= 0 by the formula; the limit as x -> 0+ is 0 (for spread > 0).
      y = x <= 0.0 ? 0.0 : 1.0 / (1.0 + ratio_power(x, t.a, -t.b));
      break;
    case TransformKind::small:
      y = x <= 0.0 ? 1.0 : 1.0 / (1.0 + ratio_power(x, t.a, t.b));
      break;
    case TransformKind::gaussian:
      y = exp(-t.b * (x - t.a) * (x - t.a));
      break;
    case TransformKind::near:
      y = 1.0 / (1.0 + t.b * (x - t.a) * (x - t.a));
      break;
    case TransformKind::ms_large: {
      const double am = t.c * t.a;
      const double bs = t.d * t.b;
      y = x > am ? 1.0 - bs / (x - am + bs) : 0.0;
      break;
    }
    case TransformKind::ms_small: {
      const double am = t.c * t.a;
      const double bs = t.d * t.b;
      // ArcGIS documents 0 below a*m, which breaks continuity (the formula tends to 1 there);
      // small values are the favourable ones, so they get 1.
      y = x > am ? bs / (x - am + bs) : 1.0;
      break;
    }
    case TransformKind::reclass:
      y = reclass_value(p, t, x);
      break;
    case TransformKind::zscore:
      y = t.b > 0.0 ? (x - t.a) / t.b : 0.0;
      break;
    case TransformKind::percentile:
      y = percentile_rank(aux, t.first, t.count, x, t.a, t.b, t.has_default);
      break;
    case TransformKind::log10:
      y = x + t.a > 0.0 ? log10(x + t.a) : nan_value();
      break;
    case TransformKind::clamp:
      y = x < t.a ? t.a : (x > t.b ? t.b : x);
      break;
  }
  return y;
}

/// Applies a layer transform (and its `invert`) to a valid raw value.
GP_HD inline double apply_transform(const Program& p, const TransformParams& t, double x,
                                    const double* aux) {
  double y = transform_as(t.kind, p, t, x, aux);
  if (t.invert != 0 && is_valid(y)) y = 1.0 - y;
  return y;
}

/// The fuzzy gamma operator from the fuzzy sum and product of the inputs:
/// fsum^gamma * prod^(1 - gamma), as one exp of two logs (two pows cost three times as much).
/// gamma 0 and 1 are the plain product and sum (pow(0, 0) = 1 is the limit wanted there); a
/// zero sum or product gives log -inf and exp(-inf) = 0, as pow would; NaN stays NaN.
GP_HD GP_INLINE double gamma_of(double fsum, double prod, double gamma) {
  const double v = exp(gamma * log(fsum) + (1.0 - gamma) * log(prod));
  return gamma == 0.0 ? prod : (gamma == 1.0 ? fsum : v);
}

/// sum of w_i x_i over the inputs of `g` with their raw (un-normalised) weights `w` (indexed as
/// p.input_weights); inputs are valid.
template <class NodeAt>
GP_HD GP_INLINE double acc_raw(const Program& p, const GroupOp& g, NodeAt node, const double* w) {
  double s = 0.0;
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) {
    const double v = node(p.inputs[k]);
    if (is_valid(v)) s += w[k] * v;
  }
  return s;
}

/// Combines the inputs of group `g` by method `m` (g.method, or a constant in a per-method
/// loop) with input weights `w` (p.input_weights, or a Monte Carlo draw's, indexed alike);
/// `node(i)` returns node i's value computed so far (NaN = nodata) and `skip[i]` says whether
/// node i may drop out when nodata.
template <class NodeAt>
GP_HD GP_INLINE double combine_weighted_as(CombineMethod m, const Program& p, const GroupOp& g,
                                           NodeAt node, const unsigned char* skip,
                                           const double* w) {
  double acc = 0.0;
  double wsum = 0.0;
  double prod = 1.0;
  double co_prod = 1.0;  // prod (1 - mu)
  double mn = 0.0;
  double mx = 0.0;
  int used = 0;
  bool skipped = false;
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) {
    const int id = p.inputs[k];
    const double v = node(id);
    if (!is_valid(v)) {
      if (skip[id] != 0) {
        skipped = true;
        continue;
      }
      return nan_value();
    }
    acc += w[k] * v;
    wsum += w[k];
    prod *= v;
    co_prod *= 1.0 - v;
    mn = used == 0 ? v : (v < mn ? v : mn);
    mx = used == 0 ? v : (v > mx ? v : mx);
    ++used;
  }
  if (used == 0) return nan_value();
  switch (m) {
    case CombineMethod::weighted_sum:
    case CombineMethod::index_overlay:
      if (!(wsum > 0.0)) return nan_value();
      // Weights sum to 1 within the group; when a skip input is absent, dividing by the weight
      // of the inputs present renormalises them for this cell.
      return skipped ? acc / wsum : acc;
    case CombineMethod::fuzzy_and:
      return mn;
    case CombineMethod::fuzzy_or:
      return mx;
    case CombineMethod::fuzzy_product:
      return prod;
    case CombineMethod::fuzzy_sum:
      return 1.0 - co_prod;
    case CombineMethod::fuzzy_gamma: {
      return gamma_of(1.0 - co_prod, prod, g.gamma);
    }
    case CombineMethod::logistic:
      // Raw weights (not renormalised): sum w_i x_i is a logit contribution.
      return 1.0 / (1.0 + exp(-(g.bias + acc_raw(p, g, node, w))));
    case CombineMethod::wofe_std: {
      const double p0 = node(p.inputs[g.first_input]);
      double var = g.bias;
      for (int k = g.first_input + 1; k < g.first_input + g.n_inputs; ++k) {
        // A skipped (missing) evidence layer adds no variance, as it adds no weight.
        const double v = node(p.inputs[k]);
        if (is_valid(v)) var += v;
      }
      return var >= 0.0 ? p0 * sqrt(var) : nan_value();
    }
    case CombineMethod::ratio: {
      if (g.n_inputs < 2) return nan_value();
      const double den = node(p.inputs[g.first_input + 1]);
      return den != 0.0 ? node(p.inputs[g.first_input]) / den : nan_value();
    }
    case CombineMethod::tree_ensemble:
      return nan_value();  // needs the aux trees: group_value / tree_ensemble_value
  }
  return nan_value();
}

/// combine_weighted_as with the program's own input weights.
template <class NodeAt>
GP_HD GP_INLINE double combine_as(CombineMethod m, const Program& p, const GroupOp& g,
                                  NodeAt node, const unsigned char* skip) {
  return combine_weighted_as(m, p, g, node, skip, p.input_weights);
}

/// Node values of one cell, in an array indexed by node.
struct NodeArray {
  const double* v;
  GP_HD double operator()(int i) const { return v[i]; }
};

/// Combines the inputs of group `g`; `node` holds every node value computed so far (NaN =
/// nodata) and `skip[i]` whether node i may drop out when nodata.
GP_HD inline double combine_group(const Program& p, const GroupOp& g, const double* node,
                                  const unsigned char* skip) {
  return combine_as(g.method, p, g, NodeArray{node}, skip);
}

/// Input k of group `g` as the float feature XGBoost sees (NaN where nodata).
template <class NodeAt>
struct TreeFeature {
  const Program& p;
  const GroupOp& g;
  const NodeAt& node;
  GP_HD float operator()(int k) const {
    const double v = node(p.inputs[g.first_input + k]);
    return is_valid(v) ? static_cast<float>(v) : static_cast<float>(nan_value());
  }
};

/// A tree_ensemble group's value (trees.hpp): nodata where every input is nodata (outside the
/// evidence), else XGBoost's probability with missing inputs sent the trees' default way.
template <class NodeAt>
GP_HD GP_INLINE double tree_ensemble_value(const Program& p, const GroupOp& g, const NodeAt& node,
                                           const double* aux) {
  bool any = false;
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) {
    any = any || is_valid(node(p.inputs[k]));
  }
  if (!any) return nan_value();
  const TreeFeature<NodeAt> feature{p, g, node};
  return static_cast<double>(tree_ensemble_probability(aux, g.aux_first, g.aux_count,
                                                       static_cast<float>(g.bias), feature));
}

/// The input buffer layer node `n` reads (a one-hot class indicator reads its layer's).
GP_HD GP_INLINE int node_source(const Program& p, int n) {
  return p.layers[n].input >= 0 ? p.layers[n].input : n;
}

/// Whether some output band holds a TreeSHAP value (band_contribution < 0).
GP_HD GP_INLINE bool has_tree_shap(const Program& p) {
  bool any = false;
  for (int b = 0; b < p.n_bands; ++b) any = any || p.band_contribution[b] < 0;
  return any;
}

/// TreeSHAP per input buffer, in margin units: out[s] (s <= max_layers) is, averaged over the
/// program's tree_ensemble groups (pu-bagging's bags; one group otherwise), the sum of the SHAP
/// values (tree_shap.hpp, XGBoost's pred_contribs) of the group's inputs that read buffer s (a
/// categorical layer's class indicators add up into their layer's). NaN everywhere when a
/// group has no node tables.
template <class NodeAt>
GP_HD GP_INLINE void tree_shap_sources(const Program& p, const NodeAt& node, const double* aux,
                                       double* out) {
  for (int s = 0; s <= max_layers; ++s) out[s] = 0.0;
  int n_groups = 0;
  for (int gi = 0; gi < p.n_groups; ++gi) {
    const GroupOp& g = p.groups[gi];
    if (g.method != CombineMethod::tree_ensemble) continue;
    if (g.aux_nodes < 0 || g.n_inputs > max_layers) {
      for (int s = 0; s <= max_layers; ++s) out[s] = nan_value();
      return;
    }
    float phi[max_layers];
    tree_ensemble_shap(aux, g.aux_nodes, g.aux_count, g.n_inputs, TreeFeature<NodeAt>{p, g, node},
                       phi);
    for (int k = 0; k < g.n_inputs; ++k) {
      const int n = p.inputs[g.first_input + k];
      if (n < p.n_layers) out[node_source(p, n)] += static_cast<double>(phi[k]);
    }
    ++n_groups;
  }
  if (n_groups > 1) {
    for (int s = 0; s <= max_layers; ++s) out[s] /= static_cast<double>(n_groups);
  }
}

/// Group `g`'s value: combine_group, or the trees of a tree_ensemble (they live in aux).
GP_HD inline double group_value(const Program& p, const GroupOp& g, const double* node,
                                const unsigned char* skip, const double* aux) {
  return g.method == CombineMethod::tree_ensemble ? tree_ensemble_value(p, g, NodeArray{node}, aux)
                                                  : combine_group(p, g, node, skip);
}

/// What input k (an index into p.inputs) of group `g` contributes to the group's value
/// `value` in one cell (`node(i)`: node i's value, NaN = nodata), the reasons a cell scores
/// high: nodata where the group is nodata or for a method with no per-input share (wofe_std,
/// ratio, tree_ensemble). Additive methods give shares that add up to the value:
///   weighted_sum, index_overlay: w_k x_k, divided by the weight of the inputs present where a
///     skipped input is absent (combine_as's renormalisation); 0 for a skipped input;
///   logistic: w_k x_k (raw weights): the bias plus the shares is the logit of the value; 0 for
///     a skipped input (weights of evidence: the weight applied in the cell; logistic
///     regression: beta x with the standardisation in x);
/// and the fuzzy operators give the input's membership x_k itself (not additive).
template <class NodeAt>
GP_HD GP_INLINE double input_contribution(const Program& p, const GroupOp& g, int k, double value,
                                          NodeAt node) {
  if (!is_valid(value)) return nan_value();
  const double x = node(p.inputs[k]);
  const double w = p.input_weights[k];
  switch (g.method) {
    case CombineMethod::weighted_sum:
    case CombineMethod::index_overlay: {
      if (!is_valid(x)) return 0.0;
      double present = 0.0;
      bool skipped = false;
      for (int j = g.first_input; j < g.first_input + g.n_inputs; ++j) {
        const bool ok = is_valid(node(p.inputs[j]));
        present += ok ? p.input_weights[j] : 0.0;
        skipped = skipped || !ok;
      }
      return skipped ? w * x / present : w * x;
    }
    case CombineMethod::logistic:
      return is_valid(x) ? w * x : 0.0;
    case CombineMethod::fuzzy_and:
    case CombineMethod::fuzzy_or:
    case CombineMethod::fuzzy_product:
    case CombineMethod::fuzzy_sum:
    case CombineMethod::fuzzy_gamma:
      return x;
    case CombineMethod::wofe_std:
    case CombineMethod::ratio:
    case CombineMethod::tree_ensemble:
      break;
  }
  return nan_value();
}

/// Output band b's value from the cell's node values: node bands[b], or the contribution of the
/// input band_contribution[b] - 1 to that node's group.
/// A TreeSHAP band (band_contribution < 0) takes its value from `shap` (tree_shap_sources of the
/// cell; nullptr: not computed, nodata).
template <class NodeAt>
GP_HD GP_INLINE double band_value(const Program& p, int b, NodeAt node,
                                  const double* shap = nullptr) {
  const double v = node(p.bands[b]);
  if (p.band_contribution[b] < 0) {
    return is_valid(v) && shap != nullptr ? shap[-p.band_contribution[b] - 1] : nan_value();
  }
  const int k = p.band_contribution[b] - 1;
  if (k < 0) return v;
  return input_contribution(p, p.groups[p.bands[b] - p.n_layers], k, v, node);
}

/// Evaluates the whole network for one cell. `raw_at(l)` returns the raw value of layer l
/// (NaN = nodata); `store(b, v)` receives each output band's value (NaN = nodata). With Shap
/// false, TreeSHAP bands are nodata and TreeSHAP's arrays stay out of the caller's frame (the
/// CUDA kernel of a program without them).
template <bool Shap, class RawAt, class Store>
GP_HD inline void eval_cell_as(const Program& p, const double* aux, RawAt raw_at, Store store) {
  double node[max_nodes];
  unsigned char skip[max_nodes];
  if (p.mask_layer >= 0 && !is_valid(static_cast<double>(raw_at(p.mask_layer)))) {
    for (int b = 0; b < p.n_bands; ++b) store(b, nan_value());
    return;
  }
  for (int l = 0; l < p.n_layers; ++l) {
    const int in = p.layers[l].input >= 0 ? p.layers[l].input : l;
    const double raw = static_cast<double>(raw_at(in));
    node[l] = is_valid(raw) ? apply_transform(p, p.layers[l].transform, raw, aux) : nan_value();
    skip[l] = static_cast<unsigned char>(p.layers[l].skip_missing);
  }
  for (int g = 0; g < p.n_groups; ++g) {
    node[p.n_layers + g] = group_value(p, p.groups[g], node, skip, aux);
    skip[p.n_layers + g] = static_cast<unsigned char>(p.groups[g].skip_missing);
  }
  if constexpr (Shap) {
    double shap[max_layers + 1];
    const bool any = has_tree_shap(p);
    if (any) tree_shap_sources(p, NodeArray{node}, aux, shap);
    for (int b = 0; b < p.n_bands; ++b) {
      store(b, band_value(p, b, NodeArray{node}, any ? shap : nullptr));
    }
  } else {
    for (int b = 0; b < p.n_bands; ++b) store(b, band_value(p, b, NodeArray{node}));
  }
}

/// eval_cell_as with every band, TreeSHAP's included.
template <class RawAt, class Store>
GP_HD inline void eval_cell(const Program& p, const double* aux, RawAt raw_at, Store store) {
  eval_cell_as<true>(p, aux, raw_at, store);
}

/// Result value to store for a cell: the value as float, or the program's nodata value.
GP_HD inline float store_value(const Program& p, double v) {
  return is_valid(v) ? static_cast<float>(v) : p.out_nodata;
}

}  // namespace gp::kernels
