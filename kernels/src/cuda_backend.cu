// The CUDA backend: the same per-cell functions as the CPU backend, in a grid-stride kernel, with
// the model program in constant memory and Thrust (CCCL) for reductions.

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/device_buffer.cuh"

#include <thrust/execution_policy.h>
#include <thrust/transform_reduce.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>

#include <cuda_runtime.h>

#include <string>

namespace gp::kernels {
namespace {

__constant__ Program c_program;

/// `layers` holds n_layers rows of `stride` floats; `out` n floats.
__global__ void score_kernel(const float* __restrict__ layers, std::size_t stride, std::size_t n,
                             float* __restrict__ out) {
  const std::size_t step = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    const double s =
        score_cell(c_program, [&](int l) { return layers[static_cast<std::size_t>(l) * stride + i]; });
    out[i] = store_value(c_program, s);
  }
}

struct ToStats {
  const float* data;
  __host__ __device__ LayerStats operator()(std::size_t i) const {
    LayerStats s;
    const double v = data[i];
    if (is_valid(v)) {
      s.valid = 1;
      s.min = v;
      s.max = v;
      s.sum = v;
      s.sum_sq = v * v;
    } else {
      s.invalid = 1;
    }
    return s;
  }
};

struct MergeStats {
  __host__ __device__ LayerStats operator()(const LayerStats& a, const LayerStats& b) const {
    LayerStats r;
    r.valid = a.valid + b.valid;
    r.invalid = a.invalid + b.invalid;
    r.sum = a.sum + b.sum;
    r.sum_sq = a.sum_sq + b.sum_sq;
    if (a.valid == 0) {
      r.min = b.min;
      r.max = b.max;
    } else if (b.valid == 0) {
      r.min = a.min;
      r.max = a.max;
    } else {
      r.min = a.min < b.min ? a.min : b.min;
      r.max = a.max > b.max ? a.max : b.max;
    }
    return r;
  }
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    GP_CUDA_TRY(cudaSetDevice(device_), "selecting the device");
    cudaDeviceProp prop{};
    GP_CUDA_TRY(cudaGetDeviceProperties(&prop, device_), "reading device properties");
    name_ = "cuda:" + std::to_string(device_) + " (" + prop.name + ")";
    sm_count_ = prop.multiProcessorCount;
    GP_CUDA_TRY(cudaStreamCreate(&stream_), "creating a stream");
  }
  ~CudaBackend() override { cudaStreamDestroy(stream_); }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  [[nodiscard]] std::string name() const override { return name_; }

  void score(const Program& program, const float* const* layers, std::size_t n,
             float* out) override {
    if (n == 0) return;
    GP_CUDA_TRY(cudaSetDevice(device_), "selecting the device");
    const auto n_layers = static_cast<std::size_t>(program.n_layers);
    d_layers_.reserve(n_layers * n);
    d_out_.reserve(n);
    GP_CUDA_TRY(cudaMemcpyToSymbolAsync(c_program, &program, sizeof(Program), 0,
                                        cudaMemcpyHostToDevice, stream_),
                "uploading the model program");
    for (std::size_t l = 0; l < n_layers; ++l) {
      GP_CUDA_TRY(cudaMemcpyAsync(d_layers_.data() + l * n, layers[l], n * sizeof(float),
                                  cudaMemcpyHostToDevice, stream_),
                  "uploading a layer window");
    }
    const int threads = 256;
    const std::size_t wanted = (n + threads - 1) / threads;
    const auto blocks =
        static_cast<unsigned>(wanted < static_cast<std::size_t>(sm_count_) * 32
                                  ? wanted
                                  : static_cast<std::size_t>(sm_count_) * 32);
    score_kernel<<<blocks, threads, 0, stream_>>>(d_layers_.data(), n, n, d_out_.data());
    GP_CUDA_TRY(cudaGetLastError(), "launching the scoring kernel");
    GP_CUDA_TRY(cudaMemcpyAsync(out, d_out_.data(), n * sizeof(float), cudaMemcpyDeviceToHost,
                                stream_),
                "downloading the scores");
    GP_CUDA_TRY(cudaStreamSynchronize(stream_), "running the scoring kernel");
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n) override {
    if (n == 0) return {};
    GP_CUDA_TRY(cudaSetDevice(device_), "selecting the device");
    d_layers_.reserve(n);
    GP_CUDA_TRY(cudaMemcpyAsync(d_layers_.data(), data, n * sizeof(float),
                                cudaMemcpyHostToDevice, stream_),
                "uploading a layer window for statistics");
    const float* d = d_layers_.data();
    LayerStats r = thrust::transform_reduce(
        thrust::cuda::par.on(stream_), thrust::counting_iterator<std::size_t>(0),
        thrust::counting_iterator<std::size_t>(n), ToStats{d}, LayerStats{}, MergeStats{});
    GP_CUDA_TRY(cudaStreamSynchronize(stream_), "reducing layer statistics");
    return r;
  }

 private:
  int device_;
  int sm_count_{1};
  std::string name_;
  cudaStream_t stream_{};
  device_buffer<float> d_layers_;
  device_buffer<float> d_out_;
};

}  // namespace

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  const int n = cuda_device_count();
  if (device < 0 || device >= n) {
    throw cuda_error("--device cuda: no CUDA device " + std::to_string(device) + " (found " +
                     std::to_string(n) + ")");
  }
  return std::make_unique<CudaBackend>(device);
}

}  // namespace gp::kernels
