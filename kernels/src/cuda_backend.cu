// The CUDA backend: the same per-cell functions as the CPU backend, in a grid-stride kernel, with
// the model program in constant memory and Thrust (CCCL) for reductions.

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/chunking.hpp"
#include "gp/kernels/cuda_device.cuh"
#include "gp/kernels/device_buffer.cuh"
#include "gp/kernels/reduce_ops.hpp"

#include <thrust/execution_policy.h>
#include <thrust/transform_reduce.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>

#include <cuda_runtime.h>

#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace gp::kernels {
namespace {

__constant__ Program c_program;

/// `layers` holds program_inputs rows of `stride` floats; `bands` n_bands rows of `stride`.
__global__ void score_kernel(const float* __restrict__ layers, const double* __restrict__ aux,
                             std::size_t stride, std::size_t n, float* __restrict__ bands) {
  const std::size_t step = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    eval_cell(
        c_program, aux,
        [&](int l) { return layers[static_cast<std::size_t>(l) * stride + i]; },
        [&](int b, double v) {
          bands[static_cast<std::size_t>(b) * stride + i] = store_value(c_program, v);
        });
  }
}

__global__ void histogram_kernel(const float* __restrict__ data, std::size_t n, double lo,
                                 double hi, int nbins, const std::int32_t* __restrict__ slot_of_bin,
                                 int sub_bins, unsigned long long* __restrict__ counts) {
  const std::size_t step = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    const long long k = histogram_index(data[i], lo, hi, nbins, slot_of_bin, sub_bins);
    if (k >= 0) atomicAdd(counts + k, 1ULL);
  }
}

/// One block per row: each thread folds a strided share of the row (shifted sums), then the
/// block merges the threads' partials in a fixed tree order (deterministic for a block size).
__global__ void row_stats_kernel(const float* __restrict__ data, std::size_t row_length,
                                 LayerStats* __restrict__ out) {
  __shared__ LayerStats part[256];
  const float* row = data + static_cast<std::size_t>(blockIdx.x) * row_length;
  LayerStats s;
  for (std::size_t i = threadIdx.x; i < row_length; i += blockDim.x) {
    s = merge_stats(s, single_stats(row[i]));
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) part[threadIdx.x] = merge_stats(part[threadIdx.x], part[threadIdx.x + stride]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

struct ToStats {
  const float* data;
  __host__ __device__ LayerStats operator()(std::size_t i) const { return single_stats(data[i]); }
};

struct MergeStats {
  __host__ __device__ LayerStats operator()(const LayerStats& a, const LayerStats& b) const {
    return merge_stats(a, b);
  }
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : dev_(device) {}
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  [[nodiscard]] std::string name() const override { return dev_.name(); }

  /// Pinned (page-locked) host memory: cudaMemcpyAsync then needs no staging copy and runs at
  /// full bus speed. If the system refuses pinned memory, ordinary memory (slower, correct).
  [[nodiscard]] HostFloats host_floats(std::size_t n) override {
    if (n == 0) return {};
    void* p = nullptr;
    if (cudaSetDevice(dev_.id()) != cudaSuccess || cudaMallocHost(&p, n * sizeof(float)) != cudaSuccess) {
      cudaGetLastError();
      return plain_host_floats(n);
    }
    return HostFloats(static_cast<float*>(p), n, [](float* q) { cudaFreeHost(q); });
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    dev_.make_current();
    program_ = program;
    GP_CUDA_TRY(cudaMemcpyToSymbolAsync(c_program, &program, sizeof(Program), 0,
                                        cudaMemcpyHostToDevice, dev_.stream()),
                "uploading the model program");
    d_aux_.reserve(aux.size() + 1);
    if (!aux.empty()) {
      GP_CUDA_TRY(cudaMemcpyAsync(d_aux_.data(), aux.data(), aux.size() * sizeof(double),
                                  cudaMemcpyHostToDevice, dev_.stream()),
                  "uploading the percentile tables");
    }
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "uploading the model program");
  }

  // Every entry point works in chunks (for_each_chunk): a whole window when it fits, halves,
  // quarters, ... after an out-of-memory, down to min_chunk cells; then the error goes up to
  // the fallback wrapper, which continues on the CPU. Chunks only change where the work is
  // split, never a cell's arithmetic (scores) or what is counted (histograms, row statistics).

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    if (n == 0) return;
    dev_.make_current();
    const auto n_in = static_cast<std::size_t>(program_inputs(program_));
    const auto n_out = static_cast<std::size_t>(program_.n_bands);
    for_each_chunk(
        n, chunk_cells_, min_chunk,
        [&](std::size_t first, std::size_t m) {
          d_layers_.reserve(n_in * m);
          d_out_.reserve(n_out * m);
          for (std::size_t l = 0; l < n_in; ++l) {
            GP_CUDA_TRY(cudaMemcpyAsync(d_layers_.data() + l * m, layers[l] + first,
                                        m * sizeof(float), cudaMemcpyHostToDevice, dev_.stream()),
                        "uploading a layer window");
          }
          score_kernel<<<blocks_for(m), threads_per_block, 0, dev_.stream()>>>(
              d_layers_.data(), d_aux_.data(), m, m, d_out_.data());
          GP_CUDA_TRY(cudaGetLastError(), "launching the scoring kernel");
          for (std::size_t b = 0; b < n_out; ++b) {
            GP_CUDA_TRY(cudaMemcpyAsync(bands[b] + first, d_out_.data() + b * m,
                                        m * sizeof(float), cudaMemcpyDeviceToHost, dev_.stream()),
                        "downloading the scores");
          }
          GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "running the scoring kernel");
        },
        [&](std::size_t) { free_buffers(); });
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t /*row_length*/) override {
    LayerStats total;
    for_each_chunk(
        n, chunk_cells_, min_chunk,
        [&](std::size_t first, std::size_t m) {
          upload_single(data + first, m);
          const float* d = d_layers_.data();
          LayerStats r;
          try {
            r = thrust::transform_reduce(thrust::cuda::par.on(dev_.stream()),
                                         thrust::counting_iterator<std::size_t>(0),
                                         thrust::counting_iterator<std::size_t>(m), ToStats{d},
                                         LayerStats{}, MergeStats{});
          } catch (const std::bad_alloc&) {  // Thrust's temporary storage
            cudaGetLastError();
            throw device_out_of_memory("CUDA error while reducing layer statistics: out of memory");
          } catch (const thrust::system_error& e) {
            cudaGetLastError();
            throw cuda_error(std::string("CUDA error while reducing layer statistics: ") + e.what());
          }
          GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "reducing layer statistics");
          total.merge(r);
        },
        [&](std::size_t) { free_buffers(); });
    return total;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    if (rows == 0 || row_length == 0) return;
    // Chunks of whole rows: capacity in rows, derived from the cell capacity.
    std::size_t row_cap = chunk_cells_ > 0 ? std::max<std::size_t>(chunk_cells_ / row_length, 1) : 0;
    for_each_chunk(
        rows, row_cap, 1,
        [&](std::size_t first, std::size_t m) {
          upload_single(data + first * row_length, m * row_length);
          d_rows_.reserve(m);
          row_stats_kernel<<<static_cast<unsigned>(m), 256, 0, dev_.stream()>>>(
              d_layers_.data(), row_length, d_rows_.data());
          GP_CUDA_TRY(cudaGetLastError(), "launching the row statistics kernel");
          GP_CUDA_TRY(cudaMemcpyAsync(out + first, d_rows_.data(), m * sizeof(LayerStats),
                                      cudaMemcpyDeviceToHost, dev_.stream()),
                      "downloading row statistics");
          GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "reducing row statistics");
        },
        [&](std::size_t m) {
          free_buffers();
          chunk_cells_ = std::max<std::size_t>(m / 2, 1) * row_length;
        });
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    if (n == 0) return;
    const std::size_t total_bins = histogram_size(nbins, slot_of_bin, sub_bins);
    if (total_bins == 0) return;
    std::vector<unsigned long long> host(total_bins);
    for_each_chunk(
        n, chunk_cells_, min_chunk,
        [&](std::size_t first, std::size_t m) {
          if (slot_of_bin != nullptr) {
            d_slots_.reserve(static_cast<std::size_t>(nbins));
            GP_CUDA_TRY(cudaMemcpyAsync(d_slots_.data(), slot_of_bin,
                                        static_cast<std::size_t>(nbins) * sizeof(std::int32_t),
                                        cudaMemcpyHostToDevice, dev_.stream()),
                        "uploading histogram slots");
          }
          upload_single(data + first, m);
          d_counts_.reserve(total_bins);
          GP_CUDA_TRY(cudaMemsetAsync(d_counts_.data(), 0,
                                      total_bins * sizeof(unsigned long long), dev_.stream()),
                      "clearing a histogram");
          histogram_kernel<<<blocks_for(m), threads_per_block, 0, dev_.stream()>>>(
              d_layers_.data(), m, lo, hi, nbins,
              slot_of_bin != nullptr ? d_slots_.data() : nullptr, sub_bins, d_counts_.data());
          GP_CUDA_TRY(cudaGetLastError(), "launching the histogram kernel");
          GP_CUDA_TRY(cudaMemcpyAsync(host.data(), d_counts_.data(),
                                      total_bins * sizeof(unsigned long long),
                                      cudaMemcpyDeviceToHost, dev_.stream()),
                      "downloading a histogram");
          GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "computing a histogram");
          // Added only once the chunk succeeded: a retried chunk is never counted twice.
          for (std::size_t k = 0; k < total_bins; ++k) counts[k] += host[k];
        },
        [&](std::size_t) { free_buffers(); });
  }

 private:
  static constexpr int threads_per_block = 256;

  unsigned blocks_for(std::size_t n) const {
    const std::size_t wanted = (n + threads_per_block - 1) / threads_per_block;
    const std::size_t cap = static_cast<std::size_t>(dev_.sm_count()) * 32;
    return static_cast<unsigned>(wanted < cap ? wanted : cap);
  }

  /// Smallest chunk tried after an out-of-memory (64 Ki cells, 256 KiB per layer); below it the
  /// device is unusable for this run and the fallback wrapper takes over.
  static constexpr std::size_t min_chunk = std::size_t{1} << 16;

  /// Frees every window buffer (not the program's aux table) before a smaller retry.
  void free_buffers() {
    d_layers_.clear();
    d_out_.clear();
    d_counts_.clear();
    d_rows_.clear();
  }

  void upload_single(const float* data, std::size_t n) {
    dev_.make_current();
    d_layers_.reserve(n);
    GP_CUDA_TRY(cudaMemcpyAsync(d_layers_.data(), data, n * sizeof(float),
                                cudaMemcpyHostToDevice, dev_.stream()),
                "uploading a layer window");
  }

  CudaDevice dev_;
  std::size_t chunk_cells_{0};  ///< cells per chunk after an out-of-memory (0: whole windows)
  Program program_{};
  device_buffer<float> d_layers_;
  device_buffer<float> d_out_;
  device_buffer<double> d_aux_;
  device_buffer<std::int32_t> d_slots_;
  device_buffer<unsigned long long> d_counts_;
  device_buffer<LayerStats> d_rows_;
};

}  // namespace

bool cuda_compiled() { return true; }

std::unique_ptr<Backend> make_cuda_backend(int device) {
  require_cuda_device(device, "--device cuda");
  return std::make_unique<CudaBackend>(device);
}

}  // namespace gp::kernels
