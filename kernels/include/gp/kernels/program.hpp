#pragma once
// The model "program": small trivially-copyable structs describing, per layer, how a raw value
// becomes a favourability, and an inference network of groups that combine layers and other
// groups. Copied as-is to CUDA constant memory; large tables (percentile knots) live in a
// separate "aux" array of doubles (host memory for the CPU backend, device memory for CUDA).

#include <cstdint>
#include <type_traits>

namespace gp::kernels {

inline constexpr int max_layers = 32;  ///< evidence layers per program (plus an optional mask)
inline constexpr int max_groups = 32;  ///< groups of the inference network
inline constexpr int max_inputs = 128; ///< group inputs, all groups together
inline constexpr int max_bands = 128;  ///< output bands (contribution bands: one per group input)
inline constexpr int max_rules = 256;  ///< reclass rules, all layers together
inline constexpr int max_nodes = max_layers + max_groups;

/// Per-layer transform kinds (ArcGIS Pro Fuzzy Membership parameterisation where one exists).
enum class TransformKind : std::int32_t {
  identity = 0,    ///< x
  linear = 1,      ///< clamp((x - a) / (b - a)); a = min, b = max; a > b inverts
  large = 2,       ///< 1 / (1 + (x / a)^-b); a = midpoint, b = spread; x <= 0 -> 0
  small = 3,       ///< 1 / (1 + (x / a)^b);  a = midpoint, b = spread; x <= 0 -> 1
  gaussian = 4,    ///< exp(-b (x - a)^2)
  near = 5,        ///< 1 / (1 + b (x - a)^2)
  ms_large = 6,    ///< x > c*a: 1 - d*b / (x - c*a + d*b), else 0; a = mean, b = std, c, d multipliers
  ms_small = 7,    ///< x > c*a: d*b / (x - c*a + d*b), else 1
  reclass = 8,     ///< table of values / half-open ranges -> score (program.rules)
  minmax = 9,      ///< (x - a) / (b - a), a = min, b = max of the layer (no clamping needed)
  zscore = 10,     ///< (x - a) / b, a = mean, b = std
  percentile = 11, ///< rank of x among the layer's valid cells, from aux knots
  log10 = 12,      ///< log10(x + a); x + a <= 0 -> nodata
  clamp = 13,      ///< min(max(x, a), b)
};

/// Parameters of one layer's transform. Unused fields are ignored by the kind.
struct TransformParams {
  TransformKind kind{TransformKind::identity};
  std::int32_t invert{0};        ///< 1: result is 1 - x
  double a{0.0};
  double b{1.0};
  double c{1.0};
  double d{1.0};
  std::int32_t first{0};         ///< reclass: first rule; percentile: first aux knot
  std::int32_t count{0};         ///< reclass: rule count; percentile: knot count
  std::int32_t has_default{0};   ///< reclass: unmatched values get `fallback` (else nodata);
                                 ///< percentile: bins of the knots start table over [a, b]
  double fallback{0.0};
};

/// One reclass rule: a value (lo == hi, is_value) or the half-open range [lo, hi).
struct ReclassRule {
  double lo{0.0};
  double hi{0.0};
  double score{0.0};
  std::int32_t is_value{0};
};

/// Combination operators.
enum class CombineMethod : std::int32_t {
  weighted_sum = 0,   ///< sum w_i mu_i with weights normalised to 1
  fuzzy_and = 1,      ///< min
  fuzzy_or = 2,       ///< max
  fuzzy_product = 3,  ///< prod mu_i
  fuzzy_sum = 4,      ///< 1 - prod (1 - mu_i)
  fuzzy_gamma = 5,    ///< fuzzy_sum^gamma * fuzzy_product^(1 - gamma)
  index_overlay = 6,  ///< weighted mean of class scores (as weighted_sum)
  logistic = 7,       ///< 1 / (1 + exp(-(bias + sum w_i x_i))): WofE posterior, logistic regression
  wofe_std = 8,       ///< x_0 * sqrt(bias + sum_{i>=1} x_i): s(P) = P sqrt(1/N(D) + sum s^2(W))
  ratio = 9,          ///< x_0 / x_1 (nodata where x_1 == 0): e.g. confidence P / s(P)
  tree_ensemble = 10, ///< XGBoost binary:logistic trees over the inputs, nodes in aux (trees.hpp)
};

/// One layer of the program.
struct LayerOp {
  TransformParams transform{};
  std::int32_t input{-1};        ///< input buffer this layer reads (-1: its own index), so
                                 ///< one raster can feed several transforms
  double weight{1.0};            ///< simple form only (kept for reports)
  std::int32_t skip_missing{0};  ///< 1: where nodata, the layer drops out of every group using it
};

/// One group of the inference network: combines `n_inputs` nodes starting at `first_input`.
struct GroupOp {
  CombineMethod method{CombineMethod::weighted_sum};
  std::int32_t first_input{0};
  std::int32_t n_inputs{0};
  std::int32_t skip_missing{0};  ///< 1: where nodata, the group drops out of groups using it
  double gamma{0.9};
  double bias{0.0};              ///< logistic: intercept (prior logit); wofe_std: 1 / N(D);
                                 ///< tree_ensemble: the base margin (a float)
  std::int32_t aux_first{0};     ///< tree_ensemble: first aux value of the trees (trees.hpp)
  std::int32_t aux_count{0};     ///< tree_ensemble: number of trees
  std::int32_t aux_nodes{-1};    ///< tree_ensemble: first aux value of the node tables that
                                 ///< TreeSHAP reads (tree_shap.hpp); -1: none
};

/// The whole per-cell program. Node numbering: layers 0..n_layers-1, then groups
/// n_layers..n_layers+n_groups-1 (groups in evaluation order: inputs before users).
struct Program {
  std::int32_t n_layers{0};
  std::int32_t n_inputs{-1};     ///< input buffers read per cell (-1: n_layers)
  std::int32_t n_groups{0};
  std::int32_t n_bands{1};
  std::int32_t mask_layer{-1};   ///< layer index whose nodata masks every band (-1: none)
  float out_nodata{-9999.0f};    ///< value written where a band is nodata
  LayerOp layers[max_layers + 1]{};
  GroupOp groups[max_groups]{};
  std::int32_t inputs[max_inputs]{};  ///< node index of each group input
  double input_weights[max_inputs]{}; ///< normalised within each group
  std::int32_t bands[max_bands]{};    ///< node index written to each output band
  /// Per output band: 0 writes node bands[b]'s value; k + 1 writes the contribution of group
  /// input k (an index into `inputs`) to the group whose node is bands[b] (input_contribution
  /// in cell_ops.hpp). Zero by default, so every existing program writes node values.
  /// -(s + 1): the TreeSHAP value of input buffer s (tree_shap_sources in cell_ops.hpp), where
  /// node bands[b] (the score) holds a value.
  std::int32_t band_contribution[max_bands]{};
  ReclassRule rules[max_rules]{};
};

static_assert(std::is_trivially_copyable_v<Program>, "Program is copied byte-wise to the device");
static_assert(sizeof(Program) < 60 * 1024, "Program must fit CUDA constant memory (64 KiB)");

}  // namespace gp::kernels
