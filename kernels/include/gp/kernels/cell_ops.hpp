#pragma once
// Per-cell math, written once for the CPU (OpenMP) and CUDA backends.
// Nodata convention inside kernels: a non-finite input (NaN, +-inf) is nodata. geo/ turns every
// source nodata value into NaN before a window reaches a kernel.

#include "gp/kernels/hd.hpp"
#include "gp/kernels/program.hpp"

#include <cstddef>

namespace gp::kernels {

/// True when `v` is a usable number (not NaN, not infinite). Written without <cmath> so that
/// host and device share it: NaN fails every comparison, infinities fail the bound check.
GP_HD inline bool is_valid(double v) {
  return v == v && v <= 1.7976931348623157e308 && v >= -1.7976931348623157e308;
}

GP_HD inline double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

/// Applies a layer transform to a valid raw value. Returns a favourability (NaN when the
/// parameters make it undefined, e.g. min == max for linear).
GP_HD inline double apply_transform(const TransformParams& t, double x) {
  switch (t.kind) {
    case TransformKind::identity:
      return x;
    case TransformKind::linear: {
      const double range = t.max - t.min;
      if (range == 0.0) return 0.0 / 0.0;
      // Works for min > max as well: the ratio is then 1 at max and 0 at min (inverted).
      return clamp01((x - t.min) / range);
    }
  }
  return 0.0 / 0.0;
}

/// Scores one cell. `raw(l)` returns the raw value of layer l at the cell (NaN = nodata); the
/// accessor lets the CPU use an array of layer pointers and CUDA one strided device buffer.
/// Returns NaN when the cell is nodata in the result.
template <class RawAt>
GP_HD inline double score_cell(const Program& p, RawAt raw_at) {
  double acc = 0.0;
  double wsum = 0.0;
  bool skipped = false;
  for (int l = 0; l < p.n_layers; ++l) {
    const LayerOp& op = p.layers[l];
    const double raw = static_cast<double>(raw_at(l));
    double fav = 0.0 / 0.0;
    if (is_valid(raw)) fav = apply_transform(op.transform, raw);
    if (!is_valid(fav)) {
      if (op.skip_missing != 0) {
        skipped = true;
        continue;
      }
      return 0.0 / 0.0;
    }
    acc += op.weight * fav;
    wsum += op.weight;
  }
  if (!(wsum > 0.0)) return 0.0 / 0.0;
  switch (p.combine) {
    case CombineMethod::weighted_sum:
      // Weights are normalised to sum 1 over all layers; when a `missing = "skip"` layer is
      // absent, dividing by the weight of the layers present renormalises them for this cell.
      return skipped ? acc / wsum : acc;
  }
  return 0.0 / 0.0;
}

/// Result value to store for a cell: the score as float, or the program's nodata value.
GP_HD inline float store_value(const Program& p, double score) {
  return is_valid(score) ? static_cast<float>(score) : p.out_nodata;
}

}  // namespace gp::kernels
