#pragma once
// Per-class cell counts of integer-class layers in one pass (weights of evidence and
// logistic regression training). A cell's class is floor(value); nodata (non-finite) cells are
// skipped. Counts land in bins lo .. lo + nbins - 1; values below or above are counted apart so
// that the caller can widen the range and count the window again (the first window, or a class
// never seen before, costs one extra pass; every other window one).

#include "gp/kernels/hd.hpp"

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace gp::kernels {

/// What count() saw besides the bins.
struct ClassCountTally {
  std::uint64_t valid{0};  ///< finite cells
  std::uint64_t below{0};  ///< finite cells with class < lo
  std::uint64_t above{0};  ///< finite cells with class >= lo + nbins
  double min{0.0};         ///< smallest / largest finite value (meaningful when valid > 0)
  double max{0.0};
};

/// Bin of a value: 0..nbins-1, -1 nodata, -2 below, -3 above.
GP_HD inline long long class_bin(float v, long long lo, long long nbins) {
  if (!(v == v) || v > 3.4028235e38f || v < -3.4028235e38f) return -1;
  const double c = floor(static_cast<double>(v));
  if (c < static_cast<double>(lo)) return -2;
  if (c >= static_cast<double>(lo + nbins)) return -3;
  return static_cast<long long>(c) - lo;
}

class ClassCounter {
 public:
  virtual ~ClassCounter() = default;
  /// Adds to `counts[nbins]` (host memory) the classes of `n` host floats. Returns the tally
  /// of this call (min/max over every finite value, also those outside the bins).
  virtual ClassCountTally count(const float* data, std::size_t n, long long lo, long long nbins,
                                std::uint64_t* counts) = 0;
};

/// OpenMP counter; `threads` <= 0 uses every core.
std::unique_ptr<ClassCounter> make_cpu_class_counter(int threads = 0);
/// CUDA counter on `device` (shared-memory histograms, one upload per call). Throws
/// gp::cuda_error when the build has no CUDA or the device is unusable.
std::unique_ptr<ClassCounter> make_cuda_class_counter(int device);
/// `primary` (a device counter), retried in smaller chunks when the device runs out of memory;
/// when even 64 Ki cells do not fit, `warn` is called once and that call's remaining cells and
/// every later call are counted by the counter `make_fallback` returns (the CPU).
std::unique_ptr<ClassCounter> make_fallback_class_counter(
    std::unique_ptr<ClassCounter> primary,
    std::function<std::unique_ptr<ClassCounter>()> make_fallback,
    std::function<void(const std::string&)> warn);

}  // namespace gp::kernels
