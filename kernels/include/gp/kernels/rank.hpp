#pragma once
// Exact ranking of a raster's valid values against a small set of "edge" values (the scores of
// the deposit cells), for validation curves. Every valid value is mapped to the
// float's order-preserving 32-bit key and counted into one of 2m + 1 slots for m distinct,
// ascending edge keys e[0] < ... < e[m-1]:
//   slot 2i     : e[i-1] < key < e[i]   (slot 0: below e[0]; slot 2m: above e[m-1])
//   slot 2i + 1 : key == e[i]
// The counts are exact integers whatever the map size, so the number of cells scoring above,
// equal to and below each deposit's score is exact, and so are the curves and AUCs built on
// them. The CPU counter runs an OpenMP loop with per-thread counts; the CUDA counter a
// grid-stride kernel with per-block shared-memory counts (global atomics when 2m + 1 is large).

#include "gp/kernels/hd.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gp::kernels {

/// Order-preserving key of a float: a < b (as floats) <=> key(a) < key(b) for non-NaN values.
/// -0 and +0 get the same key (they compare equal).
GP_HD inline std::uint32_t sortable_key(float v) {
  if (v == 0.0f) v = 0.0f;  // -0 -> +0
  std::uint32_t b = 0;
  memcpy(&b, &v, sizeof b);
  return (b & 0x80000000u) != 0u ? ~b : (b | 0x80000000u);
}

/// The float of a key (inverse of sortable_key).
GP_HD inline float key_to_float(std::uint32_t k) {
  const std::uint32_t b = (k & 0x80000000u) != 0u ? (k & 0x7fffffffu) : ~k;
  float v = 0.0f;
  memcpy(&v, &b, sizeof v);
  return v;
}

/// True when a float is a usable score (finite).
GP_HD inline bool finite_score(float v) {
  return v == v && v <= 3.402823466e38f && v >= -3.402823466e38f;
}

/// Slot of `key` among `m` ascending distinct `edges` (see the file comment), when every
/// edge below `key` lies before index `lo` and every edge above it at or after `hi` (the
/// whole array: lo = 0, hi = m; the CPU counter narrows the range with a bucket table first).
GP_HD inline int edge_slot_in(std::uint32_t key, const std::uint32_t* edges, int m, int lo, int hi) {
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (edges[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return (lo < m && edges[lo] == key) ? 2 * lo + 1 : 2 * lo;
}

/// Slot of `key` among `m` ascending distinct `edges` (see the file comment).
GP_HD inline int edge_slot(std::uint32_t key, const std::uint32_t* edges, int m) {
  int lo = 0;
  int hi = m;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (edges[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return (lo < m && edges[lo] == key) ? 2 * lo + 1 : 2 * lo;
}

/// Counts valid values by slot. Not thread-safe; one per pass.
class RankCounter {
 public:
  virtual ~RankCounter() = default;
  /// Adds `n` host floats (non-finite values: counted as invalid).
  virtual void add(const float* data, std::size_t n) = 0;
  /// Counts per slot (2m + 1 entries), after every add().
  [[nodiscard]] virtual std::vector<std::uint64_t> counts() = 0;
  /// Non-finite values seen.
  [[nodiscard]] virtual std::uint64_t invalid() = 0;
  [[nodiscard]] virtual std::string name() const = 0;
};

/// Distinct ascending keys of the finite values in `values` (NaN/inf dropped).
std::vector<std::uint32_t> edge_keys(const std::vector<float>& values);

/// OpenMP counter; `threads` <= 0: every core.
std::unique_ptr<RankCounter> make_rank_counter_cpu(std::vector<std::uint32_t> edges,
                                                   int threads = 0);
/// CUDA counter on `device` (host pointers in). Throws gp::cuda_error when unavailable.
std::unique_ptr<RankCounter> make_rank_counter_cuda(std::vector<std::uint32_t> edges,
                                                    int device);
/// `primary` (a device counter), retried in smaller chunks when the device runs out of memory;
/// when even 64 Ki cells do not fit, `warn` is called once and the rest of the pass is counted
/// by the counter `make_fallback` returns (the CPU), its counts added to the device's so far.
std::unique_ptr<RankCounter> make_fallback_rank_counter(
    std::unique_ptr<RankCounter> primary,
    std::function<std::unique_ptr<RankCounter>()> make_fallback,
    std::function<void(const std::string&)> warn);

}  // namespace gp::kernels
