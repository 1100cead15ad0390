// Exact rank counting on CUDA: a grid-stride kernel maps each valid value to its slot among the
// deposit-score edges (rank.hpp) and counts it, in per-block shared memory when the slots fit
// (flushed to global 64-bit counters once per block), else straight into global counters.

#include "gp/error.hpp"
#include "gp/kernels/cuda_device.cuh"
#include "gp/kernels/device_buffer.cuh"
#include "gp/kernels/rank.hpp"

#include <cuda_runtime.h>

#include <string>

namespace gp::kernels {
namespace {

constexpr int threads_per_block = 256;
constexpr int max_shared_slots = 8192;  // 32 KiB of 32-bit counters per block

/// This thread's grid-stride share of data[0, n): each valid value counted in its slot of
/// `slots` (shared or global counters), invalid values added to `invalid` once per thread.
template <class Count>
__device__ void count_slots(const float* __restrict__ data, std::size_t n,
                            const std::uint32_t* __restrict__ edges, int m, Count* slots,
                            unsigned long long* __restrict__ invalid) {
  unsigned long long bad = 0;
  const std::size_t step = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    const float v = data[i];
    if (!finite_score(v)) {
      ++bad;
      continue;
    }
    atomicAdd(slots + edge_slot(sortable_key(v), edges, m), Count{1});
  }
  if (bad != 0) atomicAdd(invalid, bad);
}

__global__ void rank_shared_kernel(const float* __restrict__ data, std::size_t n,
                                   const std::uint32_t* __restrict__ edges, int m,
                                   unsigned long long* __restrict__ counts,
                                   unsigned long long* __restrict__ invalid) {
  __shared__ unsigned int local[max_shared_slots];
  const int slots = 2 * m + 1;
  for (int k = threadIdx.x; k < slots; k += blockDim.x) local[k] = 0u;
  __syncthreads();
  count_slots(data, n, edges, m, local, invalid);
  __syncthreads();
  for (int k = threadIdx.x; k < slots; k += blockDim.x) {
    if (local[k] != 0u) atomicAdd(counts + k, static_cast<unsigned long long>(local[k]));
  }
}

__global__ void rank_global_kernel(const float* __restrict__ data, std::size_t n,
                                   const std::uint32_t* __restrict__ edges, int m,
                                   unsigned long long* __restrict__ counts,
                                   unsigned long long* __restrict__ invalid) {
  count_slots(data, n, edges, m, counts, invalid);
}

class CudaRankCounter final : public RankCounter {
 public:
  CudaRankCounter(std::vector<std::uint32_t> edges, int device)
      : dev_(device), m_(static_cast<int>(edges.size())) {
    const std::size_t slots = 2 * edges.size() + 1;
    d_edges_.reserve(edges.size() + 1);
    d_counts_.reserve(slots + 1);  // the last one counts invalid values
    if (!edges.empty()) {
      GP_CUDA_TRY(cudaMemcpyAsync(d_edges_.data(), edges.data(),
                                  edges.size() * sizeof(std::uint32_t), cudaMemcpyHostToDevice,
                                  dev_.stream()),
                  "uploading the rank edges");
    }
    GP_CUDA_TRY(cudaMemsetAsync(d_counts_.data(), 0, (slots + 1) * sizeof(unsigned long long),
                                dev_.stream()),
                "clearing the rank counts");
  }
  CudaRankCounter(const CudaRankCounter&) = delete;
  CudaRankCounter& operator=(const CudaRankCounter&) = delete;

  void add(const float* data, std::size_t n) override {
    if (n == 0) return;
    dev_.make_current();
    d_data_.reserve(n);
    GP_CUDA_TRY(cudaMemcpyAsync(d_data_.data(), data, n * sizeof(float), cudaMemcpyHostToDevice,
                                dev_.stream()),
                "uploading a map window");
    const std::size_t slots = 2 * static_cast<std::size_t>(m_) + 1;
    unsigned long long* inv = d_counts_.data() + slots;
    const std::size_t wanted = (n + threads_per_block - 1) / threads_per_block;
    const std::size_t cap = static_cast<std::size_t>(dev_.sm_count()) * 8;
    const auto blocks = static_cast<unsigned>(wanted < cap ? wanted : cap);
    if (slots <= static_cast<std::size_t>(max_shared_slots)) {
      rank_shared_kernel<<<blocks, threads_per_block, 0, dev_.stream()>>>(
          d_data_.data(), n, d_edges_.data(), m_, d_counts_.data(), inv);
    } else {
      rank_global_kernel<<<blocks, threads_per_block, 0, dev_.stream()>>>(
          d_data_.data(), n, d_edges_.data(), m_, d_counts_.data(), inv);
    }
    GP_CUDA_TRY(cudaGetLastError(), "launching the rank kernel");
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "counting ranks");
  }

  std::vector<std::uint64_t> counts() override {
    download();
    return std::vector<std::uint64_t>(host_.begin(), host_.end() - 1);
  }
  std::uint64_t invalid() override {
    download();
    return host_.back();
  }
  [[nodiscard]] std::string name() const override { return dev_.name(); }

 private:
  void download() {
    const std::size_t slots = 2 * static_cast<std::size_t>(m_) + 1;
    std::vector<unsigned long long> h(slots + 1);
    GP_CUDA_TRY(cudaMemcpyAsync(h.data(), d_counts_.data(), h.size() * sizeof(unsigned long long),
                                cudaMemcpyDeviceToHost, dev_.stream()),
                "downloading the rank counts");
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "downloading the rank counts");
    host_.assign(h.begin(), h.end());
  }

  CudaDevice dev_;
  int m_;
  device_buffer<std::uint32_t> d_edges_;
  device_buffer<unsigned long long> d_counts_;
  device_buffer<float> d_data_;
  std::vector<std::uint64_t> host_;
};

}  // namespace

std::unique_ptr<RankCounter> make_rank_counter_cuda(std::vector<std::uint32_t> edges,
                                                    int device) {
  require_cuda_device(device, "exact ranking on CUDA");
  return std::make_unique<CudaRankCounter>(std::move(edges), device);
}

}  // namespace gp::kernels
