#pragma once
// Compute backends: the CPU (OpenMP) and CUDA run the same per-cell functions of cell_ops.hpp.
// Host pointers everywhere in this interface; a CUDA backend stages through its own device
// buffers, sized to the largest window seen and reused.

#include "gp/kernels/program.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gp::kernels {

/// Whole-grid statistics of one layer's valid (finite) raw values; mergeable across windows.
struct LayerStats {
  std::uint64_t valid{0};    ///< number of finite cells
  std::uint64_t invalid{0};  ///< number of non-finite cells (nodata)
  double min{0.0};           ///< meaningful when valid > 0
  double max{0.0};
  double sum{0.0};
  double sum_sq{0.0};

  /// Folds `o` into this (order-independent for counts, min and max).
  void merge(const LayerStats& o);
};

/// A compute backend. Not thread-safe: one per runner.
class Backend {
 public:
  virtual ~Backend() = default;
  /// Human-readable description, e.g. "cpu (OpenMP, 2 threads)" or "cuda:0 (NVIDIA H100)".
  [[nodiscard]] virtual std::string name() const = 0;
  /// Scores `n` cells. `layers[l]` points to `n` host floats of layer l (NaN = nodata);
  /// `out` receives `n` host floats (program.out_nodata where the result is nodata).
  virtual void score(const Program& program, const float* const* layers, std::size_t n,
                     float* out) = 0;
  /// Statistics of `n` host floats (non-finite values count as invalid).
  [[nodiscard]] virtual LayerStats stats(const float* data, std::size_t n) = 0;
};

/// The OpenMP backend; `threads` <= 0 uses every core.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

/// True when this build contains the CUDA backend.
bool cuda_compiled();
/// Number of usable CUDA devices; 0 when not compiled, no driver, or no device.
int cuda_device_count();
/// The CUDA backend on `device`. Throws gp::cuda_error when unavailable.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);

}  // namespace gp::kernels
