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

/// Cells per partial of Backend::stats without rows (the partials are folded in order).
constexpr std::size_t stats_chunk_cells = std::size_t{65536};
/// The partials Backend::stats folds in order: rows, or stats_chunk_cells cells.
GP_HD inline std::size_t stats_chunk(std::size_t row_length) {
  return row_length > 0 ? row_length : stats_chunk_cells;
}

/// Lanes of the row statistics: cell first + 8k + j goes to lane j (first: the first usable
/// cell, whose value is the shift of every lane's sums).
constexpr int stats_lanes = 8;

/// Partial sums of one lane of a row (see row_stats_lane).
struct LaneSums {
  double s1{0.0};
  double s2{0.0};
  double mn{0.0};
  double mx{0.0};
  std::uint64_t count{0};
};

GP_HD inline bool usable_cell(double v, bool exclude, double excluded) {
  return is_valid(v) && !(exclude && v == excluded);
}

/// Index of the first usable cell of data[0, n) (n when none).
GP_HD inline std::size_t first_usable(const float* data, std::size_t n, bool exclude,
                                      double excluded) {
  std::size_t first = 0;
  while (first < n && !usable_cell(data[first], exclude, excluded)) ++first;
  return first;
}

/// Lane `lane` of the statistics of data[0, n) whose first usable cell is `first` (< n): the
/// same IEEE operations in the same order as the CPU backend's vector loop
/// (chunk_stats_excluding in cpu_backend.cpp), one lane at a time, so that a device thread per
/// lane gives the CPU's bits.
GP_HD inline LaneSums row_stats_lane(const float* data, std::size_t n, std::size_t first,
                                     int lane, bool exclude, double excluded) {
  const double shift = data[first];
  LaneSums s;
  s.mn = shift;
  s.mx = shift;
  for (std::size_t i = first + static_cast<std::size_t>(lane); i < n; i += stats_lanes) {
    const double v = data[i];
    const bool ok = usable_cell(v, exclude, excluded);
    const double d = ok ? v - shift : 0.0;
    s.s1 += d;
    s.s2 += d * d;
    s.mn = ok && v < s.mn ? v : s.mn;
    s.mx = ok && v > s.mx ? v : s.mx;
    s.count += ok ? 1 : 0;
  }
  return s;
}

/// Folds the lanes of data[0, n) in lane order, as the CPU backend does.
GP_HD inline LayerStats fold_lanes(const LaneSums* lanes, std::size_t n, double shift) {
  double t1 = 0.0;
  double t2 = 0.0;
  std::uint64_t valid = 0;
  double lo = shift;
  double hi = shift;
  for (int j = 0; j < stats_lanes; ++j) {
    t1 += lanes[j].s1;
    t2 += lanes[j].s2;
    valid += lanes[j].count;
    lo = lanes[j].mn < lo ? lanes[j].mn : lo;
    hi = lanes[j].mx > hi ? lanes[j].mx : hi;
  }
  LayerStats s;
  s.valid = valid;
  s.invalid = n - valid;
  const double c = static_cast<double>(valid);
  s.min = lo;
  s.max = hi;
  s.mean = shift + t1 / c;
  s.m2 = t2 - t1 * t1 / c;
  if (s.m2 < 0.0) s.m2 = 0.0;
  return s;
}

/// The statistics of data[0, n) with the CPU backend's bits, lane after lane on one thread.
GP_HD inline LayerStats row_stats_sequential(const float* data, std::size_t n, bool exclude,
                                             double excluded) {
  const std::size_t first = first_usable(data, n, exclude, excluded);
  if (first == n) {
    LayerStats s;
    s.invalid = n;
    return s;
  }
  LaneSums lanes[stats_lanes];
  for (int j = 0; j < stats_lanes; ++j) lanes[j] = row_stats_lane(data, n, first, j, exclude, excluded);
  return fold_lanes(lanes, n, data[first]);
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
