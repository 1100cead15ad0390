#pragma once
// The model "program": small trivially-copyable structs describing, per layer, how a raw value
// becomes a favourability and how layers combine. Copied as-is to CUDA constant memory.

#include <cstdint>
#include <type_traits>

namespace gp::kernels {

/// Maximum number of evidence layers in one fused kernel (sizes the constant-memory program).
inline constexpr int max_layers = 32;

/// Per-layer transform kinds. Values are stable: they appear in reports.
enum class TransformKind : std::int32_t {
  identity = 0,  ///< favourability = raw value
  linear = 1,    ///< (x - min) / (max - min), clamped to [0, 1]; min > max inverts
};

/// Parameters of one layer's transform. Unused fields are ignored by the kind.
struct TransformParams {
  TransformKind kind{TransformKind::identity};
  double min{0.0};  ///< linear: value mapped to 0
  double max{1.0};  ///< linear: value mapped to 1
};

/// Combination operators.
enum class CombineMethod : std::int32_t {
  weighted_sum = 0,  ///< sum of normalised weight x favourability
};

/// One layer of the program.
struct LayerOp {
  TransformParams transform{};
  double weight{1.0};     ///< normalised so that the weights of a program sum to 1
  std::int32_t skip_missing{0};  ///< 1: a nodata cell drops this layer and renormalises weights
};

/// The whole per-cell program. `n_layers` <= max_layers.
struct Program {
  std::int32_t n_layers{0};
  CombineMethod combine{CombineMethod::weighted_sum};
  float out_nodata{-9999.0f};  ///< value written where the result is nodata
  LayerOp layers[max_layers]{};
};

static_assert(std::is_trivially_copyable_v<Program>, "Program is copied byte-wise to the device");

}  // namespace gp::kernels
