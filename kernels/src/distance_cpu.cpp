// The distance transform and disc density on the CPU (OpenMP). The CUDA stub lives here too
// when the build has no CUDA (GP_WITH_CUDA undefined), as cuda_stub.cpp does for the backend.

#include "gp/error.hpp"
#include "cpu_threads.hpp"
#include "gp/kernels/distance.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace gp::kernels {

namespace detail {
void check_distance_args(const std::uint8_t* features, std::int64_t width, std::int64_t height,
                         const DistanceParams& p, const float* out) {
  if (width < 0 || height < 0 || width >= distance_max_side || height >= distance_max_side) {
    throw config_error("distance transform: grid of " + std::to_string(width) + " x " +
                       std::to_string(height) + " cells (expected sides below 2^24)");
  }
  if (!(p.dx > 0.0) || !(p.dy > 0.0) || !std::isfinite(p.dx) || !std::isfinite(p.dy)) {
    throw config_error("distance transform: cell size must be positive");
  }
  if (width * height > 0 && (features == nullptr || out == nullptr)) {
    throw config_error("distance transform: null buffer");
  }
}
}  // namespace detail

namespace {

// The column pass selects on a byte mask per float: baseline x86-64 (SSE2) does not vectorise
// that, AVX2 does (about 3x faster here). GCC's target_clones picks the variant at load time;
// AVX2 without FMA keeps results bit-identical to the default path (no contraction).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define GP_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GP_CPU_CLONES
#endif

GP_CPU_CLONES void column_strip(const std::uint8_t* features, float* out, std::int64_t width,
                                std::int64_t height, std::int64_t c0, std::int64_t c1) {
  detail::dt_column_pass(features, out, width, height, c0, c1);
}

GP_CPU_CLONES void row_line(float* line, std::int64_t width, const DistanceParams& params,
                            std::int32_t* v, double* z, double* fv) {
  detail::dt_row_pass(line, width, params, v, z, fv);
  for (std::int64_t c = 0; c < width; ++c) line[c] = detail::dt_finish(line[c]);
}

}  // namespace

void distance_transform_cpu(const std::uint8_t* features, std::int64_t width, std::int64_t height,
                            const DistanceParams& params, float* out, int threads) {
  detail::check_distance_args(features, width, height, params, out);
  if (width == 0 || height == 0) return;
  const int nt = cpu_threads(threads);
  // Column pass in strips of columns: each thread sweeps its strip down and up, row by row,
  // so memory is read in contiguous runs (a column at a time would stride by the width).
  constexpr std::int64_t strip = 512;
  const std::int64_t n_strips = (width + strip - 1) / strip;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (std::int64_t s = 0; s < n_strips; ++s) {
    column_strip(features, out, width, height, s * strip, std::min(width, (s + 1) * strip));
  }
#pragma omp parallel num_threads(nt)
  {
    std::vector<std::int32_t> v(static_cast<std::size_t>(width));
    std::vector<double> z(static_cast<std::size_t>(width) + 1);
    std::vector<double> fv(static_cast<std::size_t>(width));
    // Dynamic chunks of rows: a thread the OS parks for a while does not hold the others up.
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t r = 0; r < height; ++r) {
      row_line(out + r * width, width, params, v.data(), z.data(), fv.data());
    }
  }
}

void disc_density_cpu(const float* values, std::int64_t width, std::int64_t height, double dx,
                      double dy, double radius, double scale, float* out, int threads) {
  if (width <= 0 || height <= 0) return;
  if (!(dx > 0.0) || !(dy > 0.0) || !(radius > 0.0)) {
    throw config_error("density: cell size and radius must be positive");
  }
  const int nt = cpu_threads(threads);
  // Half-widths (in columns) of the disc at each row offset: cell centres within radius.
  const auto rr = static_cast<std::int64_t>(std::floor(radius / dy));
  std::vector<std::int64_t> half(static_cast<std::size_t>(2 * rr + 1));
  std::int64_t disc_cells = 0;
  for (std::int64_t d = -rr; d <= rr; ++d) {
    const double ry = static_cast<double>(d) * dy;
    const double rem = radius * radius - ry * ry;
    const auto h = rem < 0.0 ? std::int64_t{-1}
                             : static_cast<std::int64_t>(std::floor(std::sqrt(rem) / dx + 1e-9));
    half[static_cast<std::size_t>(d + rr)] = h;
    disc_cells += h >= 0 ? 2 * h + 1 : 0;
  }
  const double norm = scale / (static_cast<double>(disc_cells) * dx * dy);
  // Row prefix sums (double) make each disc row segment O(1).
  std::vector<double> prefix(static_cast<std::size_t>((width + 1) * height));
#pragma omp parallel for schedule(static) num_threads(nt)
  for (std::int64_t r = 0; r < height; ++r) {
    double* p = prefix.data() + r * (width + 1);
    p[0] = 0.0;
    for (std::int64_t c = 0; c < width; ++c) {
      const float v = values[r * width + c];
      p[c + 1] = p[c] + (std::isfinite(v) ? static_cast<double>(v) : 0.0);
    }
  }
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> acc(static_cast<std::size_t>(width));
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < height; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::int64_t d = -rr; d <= rr; ++d) {
        const std::int64_t row = r + d;
        const std::int64_t h = half[static_cast<std::size_t>(d + rr)];
        if (row < 0 || row >= height || h < 0) continue;
        const double* p = prefix.data() + row * (width + 1);
        for (std::int64_t c = 0; c < width; ++c) {
          const std::int64_t a = std::max<std::int64_t>(0, c - h);
          const std::int64_t b = std::min<std::int64_t>(width, c + h + 1);
          acc[static_cast<std::size_t>(c)] += p[b] - p[a];
        }
      }
      for (std::int64_t c = 0; c < width; ++c) {
        out[r * width + c] = static_cast<float>(acc[static_cast<std::size_t>(c)] * norm);
      }
    }
  }
}

#if !defined(GP_WITH_CUDA)
void distance_transform_cuda(const std::uint8_t* /*features*/, std::int64_t /*width*/,
                             std::int64_t /*height*/, const DistanceParams& /*params*/,
                             float* /*out*/, int /*device*/) {
  throw cuda_error("distance transform on CUDA: this build has no CUDA backend "
                   "(built with GP_ENABLE_CUDA=OFF)");
}
#endif

}  // namespace gp::kernels
