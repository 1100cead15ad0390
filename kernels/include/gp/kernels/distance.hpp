#pragma once
// Exact Euclidean distance transform of a binary feature raster (Felzenszwalb & Huttenlocher,
// "Distance Transforms of Sampled Functions", Theory of Computing 8, 2012): a 1-D pass down
// every column, then a 1-D lower envelope of parabolas along every row. Both passes are written
// once here as GP_HD functions over one line; the CPU backend runs them under OpenMP (strips of
// columns, then rows), the CUDA backend one thread per column, then one thread per row.
//
// Cells are rectangles of dx x dy CRS units (anisotropic cells are exact: the column pass counts
// rows, the row pass weighs them by dy and columns by dx). The distance of a cell is the distance
// from its centre to the centre of the nearest feature cell, in CRS units; feature cells are 0.
//
// Memory: the transform holds the whole grid, 4 bytes per cell for the result (which also holds
// the column pass in place) plus 1 byte per cell for the feature mask, plus per-line scratch
// (CPU: one line per thread; CUDA: 16 bytes x line length per line processed at once).

#include "gp/kernels/hd.hpp"

#include <math.h>

#include <cstddef>
#include <cstdint>

namespace gp::kernels {

/// Options of a distance transform.
struct DistanceParams {
  double dx{1.0};            ///< cell width in CRS units (> 0)
  double dy{1.0};            ///< cell height in CRS units (> 0)
  double max_distance{-1.0}; ///< > 0: distances are clamped to it; <= 0: no clamp
};

/// The largest side (rows or columns) the transform supports: the column pass stores row
/// counts in the float result, exact up to 2^24.
inline constexpr std::int64_t distance_max_side = std::int64_t{1} << 24;

namespace detail {

GP_HD inline float dt_inf() { return INFINITY; }
GP_HD inline float dt_nan() { return NAN; }

/// Column pass over columns [c0, c1) of a width x height grid: `g` receives, per cell, the
/// number of rows to the nearest feature cell in the same column (0 on features, +inf when the
/// column has none). Rows run in the outer loop so that a CPU strip reads memory row by row and
/// CUDA threads of neighbouring columns read neighbouring bytes.
GP_HD inline void dt_column_pass(const std::uint8_t* features, float* g, std::int64_t width,
                                 std::int64_t height, std::int64_t c0, std::int64_t c1) {
  for (std::int64_t r = 0; r < height; ++r) {
    const std::uint8_t* f = features + r * width;
    float* out = g + r * width;
    const float* above = r > 0 ? g + (r - 1) * width : nullptr;
    for (std::int64_t c = c0; c < c1; ++c) {
      out[c] = f[c] != 0 ? 0.0f : (above != nullptr ? above[c] + 1.0f : dt_inf());
    }
  }
  for (std::int64_t r = height - 2; r >= 0; --r) {
    float* out = g + r * width;
    const float* below = g + (r + 1) * width;
    for (std::int64_t c = c0; c < c1; ++c) {
      const float b = below[c] + 1.0f;
      if (b < out[c]) out[c] = b;
    }
  }
}

/// Row pass over one row of `n` cells, in place: on entry `line[q]` holds the column pass's row
/// count (or +inf), on exit the distance in CRS units (clamped to max_distance, or +inf when
/// the whole grid has no feature and there is no clamp). Scratch: `v` (n ints), `z` (n + 1
/// doubles), `fv` (n doubles). Squared distances are worked in double in units of dx² (exact
/// integers on square cells), the root taken once and scaled by dx.
GP_HD inline void dt_row_pass(float* line, std::int64_t n, const DistanceParams& p,
                              std::int32_t* v, double* z, double* fv) {
  const double ratio = p.dy / p.dx;
  const double r2 = ratio * ratio;
  std::int64_t k = -1;
  for (std::int64_t q = 0; q < n; ++q) {
    const float gq = line[q];
    if (!(gq < dt_inf())) continue;  // no feature in this column: no parabola
    const double g = static_cast<double>(gq);
    const double fq = r2 * g * g;
    const double qd = static_cast<double>(q);
    if (k < 0) {
      k = 0;
      v[0] = static_cast<std::int32_t>(q);
      fv[0] = fq;
      z[0] = -INFINITY;
      z[1] = INFINITY;
      continue;
    }
    // Abscissa (in cells) where the parabola of q falls below that of v[k]; z[0] = -inf ends
    // the loop at k = 0 at the latest.
    double s = 0.0;
    for (;;) {
      const double vk = static_cast<double>(v[k]);
      s = ((fq + qd * qd) - (fv[k] + vk * vk)) / (2.0 * (qd - vk));
      if (s > z[k]) break;
      --k;
    }
    ++k;
    v[k] = static_cast<std::int32_t>(q);
    fv[k] = fq;
    z[k] = s;
    z[k + 1] = INFINITY;
  }
  const bool clamp = p.max_distance > 0.0;
  if (k < 0) {  // no feature anywhere in the grid
    const float fill = clamp ? static_cast<float>(p.max_distance) : dt_inf();
    for (std::int64_t x = 0; x < n; ++x) line[x] = fill;
    return;
  }
  std::int64_t j = 0;
  for (std::int64_t x = 0; x < n; ++x) {
    const double xd = static_cast<double>(x);
    while (z[j + 1] < xd) ++j;
    const double a = xd - static_cast<double>(v[j]);
    double d = p.dx * sqrt(a * a + fv[j]);
    if (clamp && d > p.max_distance) d = p.max_distance;
    line[x] = static_cast<float>(d);
  }
}

/// Replaces +inf (no feature in the grid and no clamp) by NaN, the nodata of kernels.
GP_HD inline float dt_finish(float d) { return d < dt_inf() ? d : dt_nan(); }

}  // namespace detail

/// Distance transform on the CPU (OpenMP; `threads` <= 0 uses every core).
/// `features`: width x height host bytes, row-major, non-zero = feature cell.
/// `out`: width x height host floats: distance in CRS units to the nearest feature cell centre,
/// clamped to max_distance when > 0. When there is no feature at all every cell is
/// max_distance when given, else NaN (nodata). Throws gp::config_error on a bad size or cell.
void distance_transform_cpu(const std::uint8_t* features, std::int64_t width, std::int64_t height,
                            const DistanceParams& params, float* out, int threads = 0);

/// The same on CUDA device `device` (host pointers in and out; the grid, the mask and the
/// scratch are staged on the device). Results are bit-identical to the CPU's. Throws
/// gp::cuda_error when the build has no CUDA or the device fails.
void distance_transform_cuda(const std::uint8_t* features, std::int64_t width,
                             std::int64_t height, const DistanceParams& params, float* out,
                             int device);

/// Bytes the transform holds for a width x height grid (result + mask), for memory limits.
inline std::uint64_t distance_transform_bytes(std::int64_t width, std::int64_t height) {
  return static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height) * 5u;
}

/// Density of a per-cell quantity within a disc: for every cell, the sum of `values` over the
/// cells whose centres lie within `radius` (CRS units) of its centre, divided by the area of
/// those cells (count x dx x dy), times `scale` (e.g. 1e6 for "per km²" with metre units).
/// Cells of the disc beyond the grid count as zero but still count in the area, so the edge
/// does not inflate densities. CPU only (OpenMP).
void disc_density_cpu(const float* values, std::int64_t width, std::int64_t height, double dx,
                      double dy, double radius, double scale, float* out, int threads = 0);

}  // namespace gp::kernels
