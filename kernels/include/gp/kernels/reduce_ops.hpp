#pragma once
// Reductions shared by the backends: statistics merging and histogram bin lookup.

#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/hd.hpp"

namespace gp::kernels {

/// Chan et al.'s parallel combination of two partial statistics.
GP_HD inline LayerStats merge_stats(const LayerStats& a, const LayerStats& b) {
  if (a.valid == 0) {
    LayerStats r = b;
    r.invalid += a.invalid;
    return r;
  }
  if (b.valid == 0) {
    LayerStats r = a;
    r.invalid += b.invalid;
    return r;
  }
  LayerStats r;
  r.valid = a.valid + b.valid;
  r.invalid = a.invalid + b.invalid;
  r.min = a.min < b.min ? a.min : b.min;
  r.max = a.max > b.max ? a.max : b.max;
  const double na = static_cast<double>(a.valid);
  const double nb = static_cast<double>(b.valid);
  const double n = na + nb;
  const double delta = b.mean - a.mean;
  r.mean = a.mean + delta * (nb / n);
  r.m2 = a.m2 + b.m2 + delta * delta * (na * nb / n);
  return r;
}

/// Statistics of one value.
GP_HD inline LayerStats single_stats(double v) {
  LayerStats s;
  if (is_valid(v)) {
    s.valid = 1;
    s.min = v;
    s.max = v;
    s.mean = v;
  } else {
    s.invalid = 1;
  }
  return s;
}

/// Histogram slot of a value: coarse bin in [lo, hi] with `nbins` bins, or -1 when outside
/// or invalid. With `slot_of_bin`, the index into the refined counts (or -1).
GP_HD inline long long histogram_index(double v, double lo, double hi, int nbins,
                                       const std::int32_t* slot_of_bin, int sub_bins) {
  if (!is_valid(v) || v < lo || v > hi || !(hi > lo)) return -1;
  const double width = (hi - lo) / nbins;
  long long bin = static_cast<long long>((v - lo) / width);
  if (bin >= nbins) bin = nbins - 1;
  if (slot_of_bin == nullptr) return bin;
  const int slot = slot_of_bin[bin];
  if (slot < 0) return -1;
  const double blo = lo + static_cast<double>(bin) * width;
  long long sub = static_cast<long long>((v - blo) / (width / sub_bins));
  if (sub < 0) sub = 0;
  if (sub >= sub_bins) sub = sub_bins - 1;
  return static_cast<long long>(slot) * sub_bins + sub;
}

}  // namespace gp::kernels
