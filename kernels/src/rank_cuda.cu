// Exact rank counting on the device: one functor per cell maps each valid value to its slot
// among the deposit-score edges (rank.hpp) and counts it with a 64-bit libcu++ atomic; invalid
// values are counted in the slot after the last. The same source runs in the device-on-host
// build.

#include "gp/error.hpp"
#include "gp/kernels/device_system.hpp"
#include "gp/kernels/rank.hpp"

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cuda/atomic>

#include <string>

namespace gp::kernels {
namespace {

/// counts[0, 2m+1) the slots, counts[2m+1] the invalid values.
struct RankCell {
  const float* data;
  const std::uint32_t* edges;
  int m;
  unsigned long long* counts;
  GP_HD void operator()(std::size_t i) const {
    const float v = data[i];
    const std::size_t slot = finite_score(v)
                                 ? static_cast<std::size_t>(edge_slot(sortable_key(v), edges, m))
                                 : 2 * static_cast<std::size_t>(m) + 1;
    cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> c(counts[slot]);
    c.fetch_add(1ULL, cuda::memory_order_relaxed);
  }
};

class CudaRankCounter final : public RankCounter {
 public:
  CudaRankCounter(std::vector<std::uint32_t> edges, int device)
      : dev_(device), m_(static_cast<int>(edges.size())), slots_(2 * edges.size() + 1) {
    d_edges_.reserve(edges.size() + 1);
    d_counts_.reserve(slots_ + 1);  // the last one counts invalid values
    dev::to_device(d_edges_.data(), edges.data(), edges.size(), dev_.stream(),
                   "uploading the rank edges");
    dev::zero(d_counts_.data(), slots_ + 1, dev_.stream(), "clearing the rank counts");
  }
  CudaRankCounter(const CudaRankCounter&) = delete;
  CudaRankCounter& operator=(const CudaRankCounter&) = delete;

  void add(const float* data, std::size_t n) override {
    if (n == 0) return;
    dev_.make_current();
    d_data_.reserve(n);
    dev::to_device(d_data_.data(), data, n, dev_.stream(), "uploading a map window");
    const RankCell cell{d_data_.data(), d_edges_.data(), m_, d_counts_.data()};
    dev::run("counting ranks", [&] {
      thrust::for_each(dev::policy(dev_.stream()), thrust::counting_iterator<std::size_t>(0),
                       thrust::counting_iterator<std::size_t>(n), cell);
    });
    dev::synchronize(dev_.stream(), "counting ranks");
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
    dev_.make_current();
    std::vector<unsigned long long> h(slots_ + 1);
    dev::to_host(h.data(), d_counts_.data(), h.size(), dev_.stream(),
                 "downloading the rank counts");
    dev::synchronize(dev_.stream(), "downloading the rank counts");
    host_.assign(h.begin(), h.end());
  }

  CudaDevice dev_;
  int m_;
  std::size_t slots_;  ///< 2 m + 1
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
