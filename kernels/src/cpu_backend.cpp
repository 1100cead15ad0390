#include <math.h>
#include "cpu_threads.hpp"

// glibc's vector math library (libmvec): declaring exp and log with GCC's simd attribute lets
// the per-kind loops below call their vector variants (_ZGVbN2v_exp, ...; at most 4 ulp in
// double, far below the float a map stores) instead of one scalar call per cell. The scoring
// loop's transcendental functions (large, small, gaussian, logistic) are most of its cost.
// glibc declares these only under -ffast-math, which this code cannot use (NaN is nodata).
// GP_CPU_CLONES builds the block evaluation three times, for AVX-512 (8 doubles per vector
// call), AVX2 (4) and baseline x86-64 (2), picked at load time (AVX-512 made the weighted sum
// 1.23x and the issue-3 network 1.13x faster per core than AVX2, bench/README.md). No FMA in
// any (-ffp-contract=off; the arithmetic is the same IEEE operations in the same order), only
// the vector exp/log of the libmvec variants may round differently (by an ulp of a double), so
// output bytes are reproducible on one machine type, not necessarily between CPU generations.
#if defined(GP_HAVE_LIBMVEC)
extern "C" __attribute__((simd("notinbranch"))) double exp(double) noexcept;
extern "C" __attribute__((simd("notinbranch"))) double log(double) noexcept;
#define GP_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GP_CPU_CLONES
#endif

#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/reduce_ops.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace gp::kernels {

void LayerStats::merge(const LayerStats& o) { *this = merge_stats(*this, o); }

HostFloats plain_host_floats(std::size_t n) {
  // Not zeroed (see HostFloats): page faults come on first use, in the pipeline's threads.
  return HostFloats(n > 0 ? new float[n] : nullptr, n, [](float* p) { delete[] p; });
}

double LayerStats::stddev() const {
  return valid > 1 ? std::sqrt(m2 / static_cast<double>(valid)) : 0.0;
}

namespace {

/// Cells evaluated together, node by node, in CpuBackend::score.
constexpr std::size_t score_block = 512;
/// How far ahead score_cells asks for its inputs, in floats (two blocks: 8 KiB per layer). The
/// window buffers are far larger than the caches, and a block's six or more input streams
/// switch every 2 KiB, too soon for the hardware prefetchers: asking two blocks ahead made the
/// weighted sum 1.40x faster per core on 4096 x 4096 windows (bench/README.md).
constexpr std::size_t prefetch_ahead = 2 * score_block;

/// Asks for the cache lines of the score_block floats that start `ahead` floats after `p`.
/// Prefetches never fault; the address is formed in integers, as it may lie past the buffer.
inline void prefetch_block(const float* p, std::size_t ahead) {
  const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p) + ahead * sizeof(float);
  for (std::size_t k = 0; k < score_block * sizeof(float); k += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(a + k));
  }
}

/// Node values of cell `i` of a block: node k at nodes[k * score_block + i].
struct BlockNode {
  const double* nodes;
  std::size_t i;
  double operator()(int k) const { return nodes[static_cast<std::size_t>(k) * score_block + i]; }
};

/// One layer over m cells with transform kind K fixed at compile time: the same arithmetic as
/// eval_cell's apply_transform, without a per-cell switch.
template <TransformKind K>
[[gnu::always_inline]] inline void transform_cells(const Program& p, const TransformParams& t_in, const double* aux,
                     const float* raw, std::size_t m, double* out) {
  // A local copy of the parameters: stores to `out` cannot alias it, so the loops vectorise.
  const TransformParams t = t_in;
  // Widened first, in a loop of its own: tested as floats, the validity masks would need
  // shuffling from 32-bit to 64-bit lanes for every cell (more work than the transform).
#pragma omp simd
  for (std::size_t i = 0; i < m; ++i) out[i] = static_cast<double>(raw[i]);
  if (t.invert != 0) {
#pragma omp simd
    for (std::size_t i = 0; i < m; ++i) {
      const double x = out[i];
      const double y = is_valid(x) ? transform_as(K, p, t, x, aux) : nan_value();
      out[i] = is_valid(y) ? 1.0 - y : y;
    }
  } else {
#pragma omp simd
    for (std::size_t i = 0; i < m; ++i) {
      const double x = out[i];
      out[i] = is_valid(x) ? transform_as(K, p, t, x, aux) : nan_value();
    }
  }
}

/// Methods combine_cells evaluates input by input over the block (vectorised).
template <CombineMethod M>
inline constexpr bool input_major =
    M == CombineMethod::weighted_sum || M == CombineMethod::index_overlay ||
    M == CombineMethod::fuzzy_and || M == CombineMethod::fuzzy_or ||
    M == CombineMethod::fuzzy_product || M == CombineMethod::fuzzy_sum ||
    M == CombineMethod::fuzzy_gamma;

/// What an input-major method keeps per cell in combine_cells: `a` (sum w x, min, max or
/// product) and `b` (sum of the weights present, or product of (1 - x)).
template <CombineMethod M>
struct InputMajor {
  static constexpr bool sums = M == CombineMethod::weighted_sum || M == CombineMethod::index_overlay;
  static constexpr bool prod = M == CombineMethod::fuzzy_product || M == CombineMethod::fuzzy_gamma;
  static constexpr bool co_prod = M == CombineMethod::fuzzy_sum || M == CombineMethod::fuzzy_gamma;
  /// Whether the method keeps `a` and `b` at all.
  static constexpr bool uses_a = M != CombineMethod::fuzzy_sum;
  static constexpr bool uses_b = sums || co_prod;
  static constexpr double a0 = prod ? 1.0 : 0.0;
  static constexpr double b0 = co_prod ? 1.0 : 0.0;
};

/// True when a nodata value of one of group g's inputs may drop out (combine_as's `skip`).
[[gnu::always_inline]] inline bool any_input_skipped(const Program& p, const GroupOp& g,
                                                     const unsigned char* skip) {
  bool any_skip = false;
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) {
    any_skip = any_skip || skip[p.inputs[k]] != 0;
  }
  return any_skip;
}

/// `a` after input value x (weight w; `ok`: x is valid; `first_used`: no input was used before).
template <CombineMethod M>
[[gnu::always_inline]] inline double next_a(double a, double x, double w, bool ok,
                                            bool first_used) {
  if constexpr (InputMajor<M>::sums) return a + (ok ? w * x : 0.0);
  if constexpr (M == CombineMethod::fuzzy_and) return ok ? (first_used ? x : (x < a ? x : a)) : a;
  if constexpr (M == CombineMethod::fuzzy_or) return ok ? (first_used ? x : (x > a ? x : a)) : a;
  if constexpr (InputMajor<M>::prod) return ok ? a * x : a;
  return a;
}

/// `b` after input value x (weight w; `ok`: x is valid).
template <CombineMethod M>
[[gnu::always_inline]] inline double next_b(double b, double x, double w, bool ok) {
  if constexpr (InputMajor<M>::sums) return b + (ok ? w : 0.0);
  if constexpr (InputMajor<M>::co_prod) return ok ? b * (1.0 - x) : b;
  return b;
}

/// The cell's value from its `a`, `b` and state bits (combine_cells); `gamma_value` is the
/// fuzzy gamma already computed from a and b (unused by the other methods).
template <CombineMethod M>
[[gnu::always_inline]] inline double input_major_value(double a, double b, std::uint64_t state,
                                                       double gamma_value) {
  bool nodata = (state & 2) != 0 || (state & 4) == 0;
  double r = a;
  if constexpr (InputMajor<M>::sums) {
    nodata = nodata || !(b > 0.0);
    r = (state & 1) != 0 ? a / b : a;
  } else if constexpr (M == CombineMethod::fuzzy_sum) {
    r = 1.0 - b;
  } else if constexpr (M == CombineMethod::fuzzy_gamma) {
    r = gamma_value;
  }
  return nodata ? nan_value() : r;
}

/// A weighted sum (or index overlay) none of whose inputs may be skipped, the usual case: any
/// nodata input makes the cell nodata, so the weights present always add up to the sum of all
/// weights (taken in the same order, so the same bits as combine_inputs' general loop) and
/// there is nothing to renormalise: one running sum and one nodata flag per cell.
[[gnu::always_inline]] inline void sum_required_inputs(const Program& p, const GroupOp& g,
                                                       const double* nodes, std::size_t m,
                                                       double* out) {
  double a[score_block];
  std::uint64_t bad[score_block];
  for (std::size_t i = 0; i < m; ++i) {
    a[i] = 0.0;
    bad[i] = 0;
  }
  double weights = 0.0;
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) {
    const double* v = nodes + static_cast<std::size_t>(p.inputs[k]) * score_block;
    const double w = p.input_weights[k];
    weights += w;
#pragma omp simd
    for (std::size_t i = 0; i < m; ++i) {
      const bool ok = is_valid(v[i]);
      a[i] += ok ? w * v[i] : 0.0;
      bad[i] |= ok ? 0 : 1;
    }
  }
  const bool none = g.n_inputs == 0 || !(weights > 0.0);
#pragma omp simd
  for (std::size_t i = 0; i < m; ++i) out[i] = (bad[i] != 0 || none) ? nan_value() : a[i];
}

/// An input-major method M over the block, input by input, with combine_as's rules: a nodata
/// input that may not be skipped makes the cell nodata, skipped inputs drop out (weighted sums
/// renormalise the weights present), no input present gives nodata. Sums, products, minima and
/// maxima are taken in input order with the same operations as combine_as, so every value is
/// bit-identical; fuzzy gamma's exp/log run as vector calls (gamma_of, the formula combine_as
/// uses).
template <CombineMethod M>
[[gnu::always_inline]] inline void combine_inputs(const Program& p, const GroupOp& g,
                                                  const double* nodes, const unsigned char* skip,
                                                  std::size_t m, double* out) {
  using Op = InputMajor<M>;
  double a[score_block];
  double b[score_block];
  // bit 0: an input skipped, bit 1: nodata, bit 2: one used. As wide as a double, so that the
  // vector loops need no byte packing and unpacking (which cost more than the arithmetic).
  std::uint64_t state[score_block];
  for (std::size_t i = 0; i < m; ++i) {
    a[i] = Op::a0;
    b[i] = Op::b0;
    state[i] = 0;
  }
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) {
    const int id = p.inputs[k];
    const double* v = nodes + static_cast<std::size_t>(id) * score_block;
    const double w = p.input_weights[k];
    const std::uint64_t missing = skip[id] != 0 ? 1 : 2;
#pragma omp simd
    for (std::size_t i = 0; i < m; ++i) {
      const double x = v[i];
      const bool ok = is_valid(x);
      if constexpr (Op::uses_a) a[i] = next_a<M>(a[i], x, w, ok, (state[i] & 4) == 0);
      if constexpr (Op::uses_b) b[i] = next_b<M>(b[i], x, w, ok);
      state[i] |= ok ? 4 : missing;
    }
  }
  // The value first, then nodata over it, in separate loops: fuzzy gamma's exp and log stay
  // vector calls only in a loop that does not also test the state bits.
  constexpr bool gamma = M == CombineMethod::fuzzy_gamma;
  const double gamma_exponent = g.gamma;
  if constexpr (gamma) {
#pragma omp simd
    for (std::size_t i = 0; i < m; ++i) out[i] = gamma_of(1.0 - b[i], a[i], gamma_exponent);
  }
#pragma omp simd
  for (std::size_t i = 0; i < m; ++i) {
    out[i] = input_major_value<M>(a[i], b[i], state[i], gamma ? out[i] : 0.0);
  }
}

/// One group over m cells with method M fixed at compile time (eval_cell's combine_group).
/// The weighted sums and fuzzy operators go input by input over the block (combine_inputs, or
/// sum_required_inputs when no input may be skipped); other methods call combine_as per cell.
template <CombineMethod M>
[[gnu::always_inline]] inline void combine_cells(const Program& p, const GroupOp& g,
                                                 const double* nodes, const unsigned char* skip,
                                                 std::size_t m, double* out) {
  if constexpr (InputMajor<M>::sums) {
    if (!any_input_skipped(p, g, skip)) {
      sum_required_inputs(p, g, nodes, m, out);
      return;
    }
  }
  if constexpr (input_major<M>) {
    combine_inputs<M>(p, g, nodes, skip, m, out);
  } else {
    for (std::size_t i = 0; i < m; ++i) out[i] = combine_as(M, p, g, BlockNode{nodes, i}, skip);
  }
}

/// One tree of depth `depth` (trees.hpp's complete layout, slots from `tree`) over m cells:
/// adds each cell's leaf to its margin. Level by level over the block: the cells' paths are
/// independent, so the loop over them is vector gathers (the slots' words, then the inputs)
/// and compares instead of one cell's chain of loads. The same steps as tree_leaf.
[[gnu::always_inline]] inline void add_tree_leaves(const double* tree, int depth,
                                                   const float* feat, std::size_t m,
                                                   float* margin) {
  // int indices: the gathers then take 32-bit lanes (16 per AVX-512 vector), not 64-bit ones.
  const auto n = static_cast<int>(m);
  constexpr auto block = static_cast<int>(score_block);
  int slot[score_block];
  if (depth == 0) {
    const float leaf = tree_float(static_cast<unsigned int>(tree_bits(tree[0])));
    for (int i = 0; i < n; ++i) margin[i] += leaf;
    return;
  }
  // Every cell starts at the root: one word, one input read straight through.
  const unsigned long long root = tree_bits(tree[0]);
  const float* x0 = feat + tree_input(root) * block;
#pragma omp simd
  for (int i = 0; i < n; ++i) slot[i] = static_cast<int>(tree_child(0, tree_right(root, x0[i])));
  for (int d = 1; d < depth; ++d) {
#pragma omp simd
    for (int i = 0; i < n; ++i) {
      const unsigned long long w = tree_bits(tree[slot[i]]);
      const float x = feat[tree_input(w) * block + i];
      slot[i] = static_cast<int>(tree_child(static_cast<unsigned int>(slot[i]), tree_right(w, x)));
    }
  }
#pragma omp simd
  for (int i = 0; i < n; ++i) {
    margin[i] += tree_float(static_cast<unsigned int>(tree_bits(tree[slot[i]])));
  }
}

static_assert(max_layers + max_groups <= 64, "feature block below sized for at most 64 inputs");

/// A block's inputs as floats (NaN when missing), input k at feat[k * score_block + i], and
/// the cells' margins.
struct TreeBlock {
  float feat[64 * score_block];
  float margin[score_block];
};

#if defined(GP_HAVE_LIBMVEC)
/// The trees of a block with AVX-512 gathers. GCC 12's generic tuning emits no gather
/// instructions (slow on some Intel parts), so target_clones' avx512f clone would keep the
/// level loop scalar; Skylake-AVX512's tuning lets GCC vectorise it.
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512cd,tune=skylake-avx512,prefer-vector-width=512")))
void add_trees_avx512(const double* aux, const GroupOp& g, std::size_t m, TreeBlock& b) {
  for (int t = 0; t < g.aux_count; ++t) {
    const double* tree = aux + static_cast<std::size_t>(aux[g.aux_first + t]);
    add_tree_leaves(tree, static_cast<int>(aux[g.aux_first + g.aux_count + t]), b.feat, m, b.margin);
  }
}
#endif

/// The trees of a block, each cell's leaves added to its margin in tree order.
/// (The block by reference: the inputs past g.n_inputs are never written nor read.)
GP_CPU_CLONES void add_trees(const double* aux, const GroupOp& g, std::size_t m, TreeBlock& b) {
#if defined(GP_HAVE_LIBMVEC)
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  if (avx512) {
    add_trees_avx512(aux, g, m, b);
    return;
  }
#endif
  for (int t = 0; t < g.aux_count; ++t) {
    const double* tree = aux + static_cast<std::size_t>(aux[g.aux_first + t]);
    add_tree_leaves(tree, static_cast<int>(aux[g.aux_first + g.aux_count + t]), b.feat, m, b.margin);
  }
}

/// A tree_ensemble group over m cells (tree_ensemble_value per cell), tree by tree so that a
/// tree's slots stay in cache for the whole block: each cell still adds its leaves in tree
/// order in float, the same operations as tree_ensemble_value, so the same bits.
void tree_ensemble_cells(const Program& p, const GroupOp& g, const double* aux,
                         const double* nodes, std::size_t m, double* out) {
  TreeBlock b;
  float* feat = b.feat;
  float* margin = b.margin;
  bool any[score_block];
  const int n_in = g.n_inputs < 64 ? g.n_inputs : 64;
  for (std::size_t i = 0; i < m; ++i) {
    margin[i] = static_cast<float>(g.bias);
    any[i] = false;
  }
  for (int k = 0; k < n_in; ++k) {
    const double* v = nodes + static_cast<std::size_t>(p.inputs[g.first_input + k]) * score_block;
    float* f = feat + static_cast<std::size_t>(k) * score_block;
    for (std::size_t i = 0; i < m; ++i) {
      const bool ok = is_valid(v[i]);
      f[i] = ok ? static_cast<float>(v[i]) : static_cast<float>(nan_value());
      any[i] = any[i] || ok;
    }
  }
  add_trees(aux, g, m, b);
  for (std::size_t i = 0; i < m; ++i) {
    out[i] = any[i] ? static_cast<double>(xgb_sigmoid(margin[i])) : nan_value();
  }
}

/// The TreeSHAP bands (band_contribution < 0) of the block's m cells: tree_shap_sources once
/// per cell for all of them, then band_value, as eval_cell.
void store_tree_shap_bands(const Program& p, const double* aux, const float* mask,
                           std::size_t first, std::size_t m, const double* nodes,
                           float* const* bands) {
  double shap[max_layers + 1];
  for (std::size_t i = 0; i < m; ++i) {
    const BlockNode node{nodes, i};
    const bool masked = mask != nullptr && !is_valid(static_cast<double>(mask[i]));
    if (!masked) tree_shap_sources(p, node, aux, shap);
    for (int b = 0; b < p.n_bands; ++b) {
      if (p.band_contribution[b] >= 0) continue;
      bands[b][first + i] = store_value(p, masked ? nan_value() : band_value(p, b, node, shap));
    }
  }
}

/// score_cells' last step: each output band of the block's m cells from `nodes` (a node's value,
/// or a contribution band's band_value), masked, as floats.
[[gnu::always_inline]] inline void store_bands(const Program& p, const double* aux,
                                               const float* const* layers, std::size_t first,
                                               std::size_t m, const double* nodes,
                                               float* const* bands) {
  const float* mask = p.mask_layer >= 0 ? layers[p.mask_layer] + first : nullptr;
  if (has_tree_shap(p)) store_tree_shap_bands(p, aux, mask, first, m, nodes, bands);
  for (int b = 0; b < p.n_bands; ++b) {
    const double* v = nodes + static_cast<std::size_t>(p.bands[b]) * score_block;
    float* dst = bands[b] + first;
    if (p.band_contribution[b] < 0) continue;  // store_tree_shap_bands
    if (p.band_contribution[b] != 0) {
      // A contribution band ([output] contributions): band_value per cell, as eval_cell.
      for (std::size_t i = 0; i < m; ++i) {
        const bool masked = mask != nullptr && !is_valid(static_cast<double>(mask[i]));
        dst[i] = store_value(p, masked ? nan_value() : band_value(p, b, BlockNode{nodes, i}));
      }
      continue;
    }
    if (mask == nullptr) {
      // store_value with the nodata value held locally: a store to dst could otherwise alias
      // p.out_nodata, and the loop would stay scalar.
      const float nd = p.out_nodata;
#pragma omp simd
      for (std::size_t i = 0; i < m; ++i) dst[i] = is_valid(v[i]) ? static_cast<float>(v[i]) : nd;
      continue;
    }
    for (std::size_t i = 0; i < m; ++i) {
      const bool masked = !is_valid(static_cast<double>(mask[i]));
      dst[i] = store_value(p, masked ? nan_value() : v[i]);
    }
  }
}

/// eval_cell for the m cells from `first`, evaluated node by node over the block instead of
/// cell by cell: every value comes from the same per-cell functions (transform_as,
/// combine_as, store_value) in the same order of operations, so the result is bit-identical to
/// eval_cell (and to the CUDA kernel up to its math library); the interpreter's switches run
/// once per block instead of once per cell. `nodes` holds (layers + groups) x score_block.
GP_CPU_CLONES void score_cells(const Program& p, const double* aux, const float* const* layers,
                 std::size_t first, std::size_t m, double* nodes, float* const* bands) {
  unsigned char skip[max_nodes];
  for (int l = 0; l < p.n_layers; ++l) {
    const LayerOp& op = p.layers[l];
    const float* raw = layers[op.input >= 0 ? op.input : l] + first;
    prefetch_block(raw, prefetch_ahead);
    double* out = nodes + static_cast<std::size_t>(l) * score_block;
    skip[l] = static_cast<unsigned char>(op.skip_missing);
    const TransformParams& t = op.transform;
    switch (t.kind) {
#define GP_TRANSFORM_CASE(K)                               \
  case TransformKind::K:                                   \
    transform_cells<TransformKind::K>(p, t, aux, raw, m, out); \
    break;
      GP_TRANSFORM_CASE(identity)
      GP_TRANSFORM_CASE(linear)
      GP_TRANSFORM_CASE(large)
      GP_TRANSFORM_CASE(small)
      GP_TRANSFORM_CASE(gaussian)
      GP_TRANSFORM_CASE(near)
      GP_TRANSFORM_CASE(ms_large)
      GP_TRANSFORM_CASE(ms_small)
      GP_TRANSFORM_CASE(reclass)
      GP_TRANSFORM_CASE(minmax)
      GP_TRANSFORM_CASE(zscore)
      GP_TRANSFORM_CASE(percentile)
      GP_TRANSFORM_CASE(log10)
      GP_TRANSFORM_CASE(clamp)
#undef GP_TRANSFORM_CASE
      default:
        for (std::size_t i = 0; i < m; ++i) out[i] = nan_value();
    }
  }
  for (int g = 0; g < p.n_groups; ++g) {
    const GroupOp& G = p.groups[g];
    const int id = p.n_layers + g;
    double* out = nodes + static_cast<std::size_t>(id) * score_block;
    switch (G.method) {
#define GP_COMBINE_CASE(M)                                      \
  case CombineMethod::M:                                        \
    combine_cells<CombineMethod::M>(p, G, nodes, skip, m, out); \
    break;
      GP_COMBINE_CASE(weighted_sum)
      GP_COMBINE_CASE(fuzzy_and)
      GP_COMBINE_CASE(fuzzy_or)
      GP_COMBINE_CASE(fuzzy_product)
      GP_COMBINE_CASE(fuzzy_sum)
      GP_COMBINE_CASE(fuzzy_gamma)
      GP_COMBINE_CASE(index_overlay)
      GP_COMBINE_CASE(logistic)
      GP_COMBINE_CASE(wofe_std)
      GP_COMBINE_CASE(ratio)
#undef GP_COMBINE_CASE
      case CombineMethod::tree_ensemble:
        tree_ensemble_cells(p, G, aux, nodes, m, out);
        break;
      default:
        for (std::size_t i = 0; i < m; ++i) out[i] = nan_value();
    }
    skip[id] = static_cast<unsigned char>(G.skip_missing);
  }
  store_bands(p, aux, layers, first, m, nodes, bands);
}

/// One chunk. Shifted sums (shift = the first valid value): no division per cell, and accurate
/// when values sit far from zero (the shift is close to the mean). With `exclude`, cells equal to
/// `excluded` count as invalid too (the same bits as replacing them by NaN first).
/// Eight interleaved partial sums (cell i goes to lane i % 8 counted from the first valid
/// cell), added up in lane order at the end: the loop vectorises (one running sum would chain
/// every addition to the one before, about four cycles a cell), and the order is fixed by this
/// code, not by the compiler or the vector width, so the bits are the same on every build.
GP_CPU_CLONES LayerStats chunk_stats_excluding(const float* data, std::size_t n, bool exclude,
                                               float excluded) {
  // Every test in double (the float-to-double conversion is exact), so that masks and values
  // share one lane width and the loop vectorises.
  const double ex = excluded;
  auto usable = [ex, exclude](double v) { return usable_cell(v, exclude, ex); };
  LayerStats s;
  const std::size_t first = first_usable(data, n, exclude, ex);
  if (first == n) {
    s.invalid = n;
    return s;
  }
  constexpr std::size_t lanes = stats_lanes;
  const double shift = data[first];
  // GCC vector extensions: eight lanes whatever the target's vector width (the compiler did not
  // if-convert the equivalent loop over arrays), the same IEEE operations per lane. The lane
  // tests are integer and float compares and the selections bitwise or blends: GCC 12 turned
  // double compares whose results were combined as 64-bit masks into one scalar compare per
  // lane (5x slower); these forms vectorise (vpcmpeqd, vcmpneqps, vblendmpd, vminpd).
  using v8d = double __attribute__((vector_size(lanes * sizeof(double))));
  using v8l = std::int64_t __attribute__((vector_size(lanes * sizeof(double))));
  using v8f = float __attribute__((vector_size(lanes * sizeof(float))));
  using v8i = std::int32_t __attribute__((vector_size(lanes * sizeof(float))));
  constexpr std::int32_t exponent = 0x7f800000;  // all ones: infinity or NaN
  v8d vs1 = {};
  v8d vs2 = {};
  v8d vmn = v8d{} + shift;
  v8d vmx = vmn;
  v8l vcnt = {};
  const v8i keep_equal = v8i{} - (exclude ? 0 : 1);  // all ones: cells equal to `excluded` stay
  std::size_t i = first;
  const std::size_t full = first + (n - first) / lanes * lanes;
  for (; i < full; i += lanes) {
    v8f f;
    std::memcpy(&f, data + i, sizeof f);
    v8i bits;
    std::memcpy(&bits, &f, sizeof bits);
    // is_valid (finite: exponent not all ones) and not the excluded value (the float compare
    // equals the double one, the conversion being exact), lane by lane.
    const v8i ok32 = ((bits & exponent) != exponent) & ((f != excluded) | keep_equal);
    const v8l ok = __builtin_convertvector(ok32, v8l);
    const v8d v = __builtin_convertvector(f, v8d);
    v8d d = v - shift;
    v8l d_bits;
    std::memcpy(&d_bits, &d, sizeof d_bits);
    d_bits &= ok;  // +0.0 where not ok
    std::memcpy(&d, &d_bits, sizeof d);
    vs1 += d;
    vs2 += d * d;
    const v8d lo = ok ? v : vmn;
    const v8d hi = ok ? v : vmx;
    vmn = lo < vmn ? lo : vmn;
    vmx = hi > vmx ? hi : vmx;
    vcnt -= ok;  // true lanes are -1
  }
  // The lanes' sums, the tail added lane by lane, folded in lane order by reduce_ops.hpp's
  // fold_lanes: the device backend computes its lanes one thread each and folds them there too.
  LaneSums sums[lanes];
  for (std::size_t j = 0; j < lanes; ++j) {
    sums[j].s1 = vs1[j];
    sums[j].s2 = vs2[j];
    sums[j].mn = vmn[j];
    sums[j].mx = vmx[j];
    sums[j].count = static_cast<std::uint64_t>(vcnt[j]);
  }
  for (std::size_t j = 0; i + j < n; ++j) {
    const double v = data[i + j];
    const bool ok = usable(v);
    const double d = ok ? v - shift : 0.0;
    sums[j].s1 += d;
    sums[j].s2 += d * d;
    sums[j].mn = ok && v < sums[j].mn ? v : sums[j].mn;
    sums[j].mx = ok && v > sums[j].mx ? v : sums[j].mx;
    sums[j].count += ok ? 1 : 0;
  }
  s = fold_lanes(sums, n, shift);
  return s;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(cpu_threads(threads)) {}

  [[nodiscard]] std::string name() const override {
    return cpu_engine_name(threads_);
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    program_ = program;
    aux_ = aux;
  }

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    const double* aux = aux_.data();
    const std::size_t n_blocks = (n + score_block - 1) / score_block;
    for_each_in_parallel(n_blocks, [&](std::size_t b, double* nodes) {
      const std::size_t first = b * score_block;
      score_cells(program_, aux, layers, first, std::min(score_block, n - first), nodes, bands);
    });
  }

  /// Row by row: each row is scored, then its bands' segments reduced while they are in cache
  /// (one pass over the window's memory instead of two). Blocks of score_block cells start at
  /// each row; per-cell results do not depend on the blocking.
  void score_with_stats(const float* const* layers, std::size_t rows, std::size_t cols,
                        float* const* bands, std::size_t n_bands, float excluded,
                        std::size_t segment, LayerStats* stats, int /*threads*/) override {
    const double* aux = aux_.data();
    const std::size_t n_seg = (cols + segment - 1) / segment;
    for_each_in_parallel(rows, [&](std::size_t r, double* nodes) {
      const std::size_t row0 = r * cols;
      for (std::size_t first = row0; first < row0 + cols; first += score_block) {
        score_cells(program_, aux, layers, first, std::min(score_block, row0 + cols - first),
                    nodes, bands);
      }
      for (std::size_t b = 0; b < n_bands; ++b) {
        LayerStats* out = stats + (b * rows + r) * n_seg;
        for (std::size_t k = 0; k < n_seg; ++k) {
          out[k] = chunk_stats_excluding(bands[b] + row0 + k * segment,
                                         std::min(segment, cols - k * segment), true, excluded);
        }
      }
    });
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t row_length) override {
    // Fixed chunks (the rows, or 65536 cells) reduced sequentially, then merged in chunk order:
    // deterministic for any thread count.
    const std::size_t chunk = stats_chunk(row_length);
    const std::size_t n_chunks = (n + chunk - 1) / chunk;
    std::vector<LayerStats> partial(n_chunks);
    const auto count = static_cast<std::ptrdiff_t>(n_chunks);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::ptrdiff_t c = 0; c < count; ++c) {
      const std::size_t b = static_cast<std::size_t>(c) * chunk;
      partial[static_cast<std::size_t>(c)] = chunk_stats(data + b, std::min(chunk, n - b));
    }
    LayerStats total;
    for (const auto& p : partial) total.merge(p);
    return total;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    const auto count = static_cast<std::ptrdiff_t>(rows);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::ptrdiff_t r = 0; r < count; ++r) {
      const std::size_t b = static_cast<std::size_t>(r) * row_length;
      out[r] = chunk_stats(data + b, row_length);
    }
  }

  static LayerStats chunk_stats(const float* data, std::size_t n) {
    return chunk_stats_excluding(data, n, false, 0.0f);
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    const std::size_t total_bins = histogram_size(nbins, slot_of_bin, sub_bins);
    const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel num_threads(threads_)
    {
      std::vector<std::uint64_t> local(total_bins, 0);
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < count; ++i) {
        const long long k = histogram_index(data[i], lo, hi, nbins, slot_of_bin, sub_bins);
        if (k >= 0) ++local[static_cast<std::size_t>(k)];
      }
#pragma omp critical
      for (std::size_t k = 0; k < total_bins; ++k) counts[k] += local[k];
    }
  }

 private:
  /// body(i, nodes) for i in [0, count), shared statically among the threads; `nodes` is the
  /// thread's score_cells scratch, (layers + groups) x score_block doubles.
  template <class Body>
  void for_each_in_parallel(std::size_t count, Body&& body) {
    const auto n = static_cast<std::ptrdiff_t>(count);
    const auto n_nodes = static_cast<std::size_t>(program_.n_layers + program_.n_groups);
#pragma omp parallel num_threads(threads_)
    {
      std::vector<double> nodes(n_nodes * score_block);
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < n; ++i) body(static_cast<std::size_t>(i), nodes.data());
    }
  }

  int threads_;
  Program program_{};
  std::vector<double> aux_;
};

}  // namespace

void segment_stats_excluding(const float* data, std::size_t rows, std::size_t cols,
                             std::size_t segment, float excluded, LayerStats* out, int threads) {
  const std::size_t n_seg = (cols + segment - 1) / segment;
  const auto count = static_cast<std::ptrdiff_t>(rows);
  const int nt = cpu_threads(threads);
#pragma omp parallel for schedule(static) num_threads(nt)
  for (std::ptrdiff_t r = 0; r < count; ++r) {
    const float* row = data + static_cast<std::size_t>(r) * cols;
    for (std::size_t k = 0; k < n_seg; ++k) {
      out[static_cast<std::size_t>(r) * n_seg + k] = chunk_stats_excluding(
          row + k * segment, std::min(segment, cols - k * segment), true, excluded);
    }
  }
}

void Backend::score_with_stats(const float* const* layers, std::size_t rows, std::size_t cols,
                               float* const* bands, std::size_t n_bands, float excluded,
                               std::size_t segment, LayerStats* stats, int threads) {
  score(layers, rows * cols, bands);
  const std::size_t n_seg = (cols + segment - 1) / segment;
  for (std::size_t b = 0; b < n_bands; ++b) {
    segment_stats_excluding(bands[b], rows, cols, segment, excluded, stats + b * rows * n_seg,
                            threads);
  }
}

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace gp::kernels
