// The distance transform on the device: the same GP_HD line passes as the CPU (distance.hpp),
// one functor per column for the column pass, then one per row for the row pass, each with
// its own slice of scratch. Rows are processed in batches so that scratch stays bounded. The
// same source runs in the device-on-host build.

#include "gp/error.hpp"
#include "gp/kernels/device_system.hpp"
#include "gp/kernels/distance.hpp"

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <string>

namespace gp::kernels {

namespace detail {
void check_distance_args(const std::uint8_t* features, std::int64_t width, std::int64_t height,
                         const DistanceParams& p, const float* out);
}  // namespace detail

namespace {

struct ColumnPass {
  const std::uint8_t* features;
  float* g;
  std::int64_t width;
  std::int64_t height;
  GP_HD void operator()(std::int64_t c) const {
    detail::dt_column_pass(features, g, width, height, c, c + 1);
  }
};

struct RowPass {
  float* g;
  std::int64_t width;
  std::int64_t row0;
  DistanceParams p;
  std::int32_t* v;
  double* z;
  double* fv;
  GP_HD void operator()(std::int64_t i) const {
    float* line = g + (row0 + i) * width;
    detail::dt_row_pass(line, width, p, v + i * width, z + i * (width + 1), fv + i * width);
    for (std::int64_t c = 0; c < width; ++c) line[c] = detail::dt_finish(line[c]);
  }
};

template <class Fn>
void for_each_index(device_stream stream, std::int64_t n, Fn fn) {
  thrust::for_each(dev::policy(stream), thrust::counting_iterator<std::int64_t>(0),
                   thrust::counting_iterator<std::int64_t>(n), fn);
}

}  // namespace

void distance_transform_cuda(const std::uint8_t* features, std::int64_t width,
                             std::int64_t height, const DistanceParams& params, float* out,
                             int device) {
  detail::check_distance_args(features, width, height, params, out);
  if (width == 0 || height == 0) return;
  require_cuda_device(device, "distance transform on CUDA");
  const CudaDevice dev(device);
  const auto cells = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  device_buffer<std::uint8_t> d_feat;
  device_buffer<float> d_g;
  d_feat.reserve(cells);
  d_g.reserve(cells);
  dev::to_device(d_feat.data(), features, cells, dev.stream(), "uploading the feature mask");
  dev::run("running the distance column pass", [&] {
    for_each_index(dev.stream(), width, ColumnPass{d_feat.data(), d_g.data(), width, height});
  });
  // Scratch of 20 bytes per cell of a row (v, z, fv), for up to ~1 GiB of rows at once.
  const std::size_t per_row = static_cast<std::size_t>(width) * 20 + 8;
  const std::int64_t batch = std::max<std::int64_t>(
      1, std::min<std::int64_t>(height, static_cast<std::int64_t>((std::size_t{1} << 30) / per_row)));
  device_buffer<std::int32_t> d_v;
  device_buffer<double> d_z;
  device_buffer<double> d_fv;
  d_v.reserve(static_cast<std::size_t>(batch * width));
  d_z.reserve(static_cast<std::size_t>(batch * (width + 1)));
  d_fv.reserve(static_cast<std::size_t>(batch * width));
  for (std::int64_t r0 = 0; r0 < height; r0 += batch) {
    const std::int64_t rows = std::min(batch, height - r0);
    dev::run("running the distance row pass", [&] {
      for_each_index(dev.stream(), rows,
                     RowPass{d_g.data(), width, r0, params, d_v.data(), d_z.data(), d_fv.data()});
    });
  }
  dev::to_host(out, d_g.data(), cells, dev.stream(), "downloading the distances");
  dev::synchronize(dev.stream(), "downloading the distances");
}

}  // namespace gp::kernels
