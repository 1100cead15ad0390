// Per-class counts on the device: one grid-stride pass, per-block shared-memory bins (32-bit)
// flushed to 64-bit global bins, min/max and the out-of-range tallies by block reductions.
#include "gp/kernels/class_counts.hpp"

#include "gp/error.hpp"
#include "gp/kernels/cuda_device.cuh"
#include "gp/kernels/device_buffer.cuh"

#include <cuda_runtime.h>

#include <vector>

namespace gp::kernels {
namespace {

constexpr int threads_per_block = 256;
constexpr long long max_shared_bins = 8192;  // 32 KiB of 32-bit counters

/// tallies[0] valid, [1] below, [2] above (64-bit atomics); minmax[2*block] min, +1 max.
__global__ void class_count_kernel(const float* __restrict__ data, std::size_t n, long long lo,
                                   long long nbins, unsigned long long* __restrict__ counts,
                                   unsigned long long* __restrict__ tallies,
                                   float* __restrict__ minmax) {
  extern __shared__ unsigned int sh[];
  __shared__ float smin[threads_per_block];
  __shared__ float smax[threads_per_block];
  __shared__ unsigned int st[3];
  const bool shared_bins = nbins <= max_shared_bins;
  if (shared_bins) {
    for (long long k = threadIdx.x; k < nbins; k += blockDim.x) sh[k] = 0;
  }
  if (threadIdx.x < 3) st[threadIdx.x] = 0;
  __syncthreads();
  float mn = 3.4028235e38f;
  float mx = -3.4028235e38f;
  unsigned int valid = 0, below = 0, above = 0;
  const std::size_t step = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    const float v = data[i];
    const long long b = class_bin(v, lo, nbins);
    if (b == -1) continue;
    ++valid;
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
    if (b >= 0) {
      if (shared_bins) atomicAdd(sh + b, 1u);
      else atomicAdd(counts + b, 1ULL);
    } else if (b == -2) {
      ++below;
    } else {
      ++above;
    }
  }
  smin[threadIdx.x] = mn;
  smax[threadIdx.x] = mx;
  atomicAdd(st + 0, valid);
  atomicAdd(st + 1, below);
  atomicAdd(st + 2, above);
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      smin[threadIdx.x] = fminf(smin[threadIdx.x], smin[threadIdx.x + s]);
      smax[threadIdx.x] = fmaxf(smax[threadIdx.x], smax[threadIdx.x + s]);
    }
    __syncthreads();
  }
  if (shared_bins) {
    for (long long k = threadIdx.x; k < nbins; k += blockDim.x) {
      if (sh[k] != 0) atomicAdd(counts + k, static_cast<unsigned long long>(sh[k]));
    }
  }
  if (threadIdx.x < 3) atomicAdd(tallies + threadIdx.x, static_cast<unsigned long long>(st[threadIdx.x]));
  if (threadIdx.x == 0) {
    minmax[2 * blockIdx.x] = smin[0];
    minmax[2 * blockIdx.x + 1] = smax[0];
  }
}

class CudaClassCounter final : public ClassCounter {
 public:
  explicit CudaClassCounter(int device) : dev_(device) {}

  ClassCountTally count(const float* data, std::size_t n, long long lo, long long nbins,
                        std::uint64_t* counts) override {
    ClassCountTally r;
    if (n == 0) return r;
    dev_.make_current();
    const auto nb = static_cast<std::size_t>(nbins);
    d_data_.reserve(n);
    d_counts_.reserve(nb + 3);
    int blocks = static_cast<int>((n + threads_per_block - 1) / threads_per_block);
    blocks = blocks > 4096 ? 4096 : blocks;
    d_minmax_.reserve(2 * static_cast<std::size_t>(blocks));
    GP_CUDA_TRY(cudaMemcpyAsync(d_data_.data(), data, n * sizeof(float), cudaMemcpyHostToDevice,
                                dev_.stream()),
                "uploading a layer for class counts");
    GP_CUDA_TRY(cudaMemsetAsync(d_counts_.data(), 0, (nb + 3) * sizeof(unsigned long long), dev_.stream()),
                "clearing class counts");
    const std::size_t shmem =
        nbins <= max_shared_bins ? nb * sizeof(unsigned int) : std::size_t{0};
    class_count_kernel<<<blocks, threads_per_block, shmem, dev_.stream()>>>(
        d_data_.data(), n, lo, nbins, d_counts_.data(), d_counts_.data() + nb, d_minmax_.data());
    GP_CUDA_TRY(cudaGetLastError(), "launching the class-count kernel");
    host_.resize(nb + 3);
    mm_.resize(2 * static_cast<std::size_t>(blocks));
    GP_CUDA_TRY(cudaMemcpyAsync(host_.data(), d_counts_.data(),
                                (nb + 3) * sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                                dev_.stream()),
                "downloading class counts");
    GP_CUDA_TRY(cudaMemcpyAsync(mm_.data(), d_minmax_.data(), mm_.size() * sizeof(float),
                                cudaMemcpyDeviceToHost, dev_.stream()),
                "downloading class ranges");
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "counting classes");
    for (std::size_t k = 0; k < nb; ++k) counts[k] += host_[k];
    r.valid = host_[nb];
    r.below = host_[nb + 1];
    r.above = host_[nb + 2];
    if (r.valid > 0) {
      float mn = 3.4028235e38f;
      float mx = -3.4028235e38f;
      for (int b = 0; b < blocks; ++b) {
        mn = mm_[2 * b] < mn ? mm_[2 * b] : mn;
        mx = mm_[2 * b + 1] > mx ? mm_[2 * b + 1] : mx;
      }
      r.min = mn;
      r.max = mx;
    }
    return r;
  }

 private:
  CudaDevice dev_;
  device_buffer<float> d_data_;
  device_buffer<unsigned long long> d_counts_;
  device_buffer<float> d_minmax_;
  std::vector<unsigned long long> host_;
  std::vector<float> mm_;
};

}  // namespace

std::unique_ptr<ClassCounter> make_cuda_class_counter(int device) {
  require_cuda_device(device, "class counts on CUDA");
  return std::make_unique<CudaClassCounter>(device);
}

}  // namespace gp::kernels
