#pragma once
// Work split into chunks that shrink when the device runs out of memory: a window
// that does not fit is processed in halves, quarters, ... down to a floor, then the error goes
// up to the fallback (device_fallback.hpp), which moves the work to the CPU.
// Host-only and CUDA-free, so that its logic is tested on machines without a GPU.

#include "gp/error.hpp"

#include <algorithm>
#include <cstddef>

namespace gp::kernels {

/// Runs fn(first, count) over [0, n) in order, in chunks of at most `capacity` units (0: no
/// limit yet). When fn throws gp::device_out_of_memory, the same chunk is retried at half its
/// size (`capacity` keeps the smaller size for later calls) and `on_shrink(count)` is called
/// first, so the caller can free its buffers; when the chunk is already at or below `min_units`,
/// the exception propagates. Every unit is processed exactly once, in increasing order; fn must
/// not leave partial results that a retry would count twice (scores are overwritten; a
/// histogram chunk must add to its output only after it succeeded).
template <class Fn, class OnShrink>
void for_each_chunk(std::size_t n, std::size_t& capacity, std::size_t min_units, Fn fn,
                    OnShrink on_shrink) {
  std::size_t first = 0;
  while (first < n) {
    std::size_t count = n - first;
    if (capacity > 0) count = std::min(count, capacity);
    try {
      fn(first, count);
    } catch (const device_out_of_memory&) {
      if (count <= std::max<std::size_t>(min_units, 1)) throw;
      on_shrink(count);
      capacity = std::max<std::size_t>(count / 2, std::max<std::size_t>(min_units, 1));
      continue;
    }
    first += count;
  }
}

}  // namespace gp::kernels
