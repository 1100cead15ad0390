// The distance transform on CUDA: the same GP_HD line passes as the CPU (distance.hpp), one
// thread per column for the column pass, then one thread per row for the row pass, each with
// its own slice of global scratch. Rows are processed in batches so that scratch stays bounded.

#include "gp/error.hpp"
#include "gp/kernels/cuda_device.cuh"
#include "gp/kernels/device_buffer.cuh"
#include "gp/kernels/distance.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <string>

namespace gp::kernels {

namespace detail {
void check_distance_args(const std::uint8_t* features, std::int64_t width, std::int64_t height,
                         const DistanceParams& p, const float* out);
}  // namespace detail

namespace {

__global__ void column_kernel(const std::uint8_t* __restrict__ features, float* g,
                              std::int64_t width, std::int64_t height) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= width) return;
  detail::dt_column_pass(features, g, width, height, c, c + 1);
}

__global__ void row_kernel(float* g, std::int64_t width, std::int64_t row0, std::int64_t rows,
                           DistanceParams p, std::int32_t* v, double* z, double* fv) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows) return;
  float* line = g + (row0 + i) * width;
  detail::dt_row_pass(line, width, p, v + i * width, z + i * (width + 1), fv + i * width);
  for (std::int64_t c = 0; c < width; ++c) line[c] = detail::dt_finish(line[c]);
}

}  // namespace

void distance_transform_cuda(const std::uint8_t* features, std::int64_t width,
                             std::int64_t height, const DistanceParams& params, float* out,
                             int device) {
  detail::check_distance_args(features, width, height, params, out);
  if (width == 0 || height == 0) return;
  require_cuda_device(device, "distance transform on CUDA");
  GP_CUDA_TRY(cudaSetDevice(device), "selecting the device");
  const auto cells = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  device_buffer<std::uint8_t> d_feat;
  device_buffer<float> d_g;
  d_feat.reserve(cells);
  d_g.reserve(cells);
  GP_CUDA_TRY(cudaMemcpy(d_feat.data(), features, cells, cudaMemcpyHostToDevice),
              "uploading the feature mask");
  const int threads = 128;
  column_kernel<<<static_cast<unsigned>((width + threads - 1) / threads), threads>>>(
      d_feat.data(), d_g.data(), width, height);
  GP_CUDA_TRY(cudaGetLastError(), "launching the distance column pass");
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
    row_kernel<<<static_cast<unsigned>((rows + threads - 1) / threads), threads>>>(
        d_g.data(), width, r0, rows, params, d_v.data(), d_z.data(), d_fv.data());
    GP_CUDA_TRY(cudaGetLastError(), "launching the distance row pass");
  }
  GP_CUDA_TRY(cudaMemcpy(out, d_g.data(), cells * sizeof(float), cudaMemcpyDeviceToHost),
              "downloading the distances");
}

}  // namespace gp::kernels
