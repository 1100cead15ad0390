// Exact rank counting on the CPU (OpenMP), and the CUDA stub when the build has no CUDA.
#include "gp/error.hpp"
#include "cpu_threads.hpp"
#include "gp/kernels/rank.hpp"

#include <omp.h>

#include <algorithm>

namespace gp::kernels {

std::vector<std::uint32_t> edge_keys(const std::vector<float>& values) {
  std::vector<std::uint32_t> keys;
  keys.reserve(values.size());
  for (float v : values) {
    if (finite_score(v)) keys.push_back(sortable_key(v));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

namespace {

class CpuRankCounter final : public RankCounter {
 public:
  CpuRankCounter(std::vector<std::uint32_t> edges, int threads)
      : edges_(std::move(edges)),
        threads_(cpu_threads(threads)),
        counts_(2 * edges_.size() + 1, 0),
        first_(bucket_count + 1) {
    // first_[b]: the first edge whose top 16 bits are >= b. A key's edges below it then lie
    // before first_[b], those above it from first_[b + 1] on, so its binary search runs over
    // the edges of its own bucket only (usually none or one): several times faster than a
    // search over every deposit score, for the same slot.
    for (std::size_t b = 0; b <= bucket_count; ++b) {
      const auto at = std::lower_bound(edges_.begin(), edges_.end(),
                                       static_cast<std::uint64_t>(b) << bucket_shift,
                                       [](std::uint32_t e, std::uint64_t v) { return e < v; });
      first_[b] = static_cast<int>(at - edges_.begin());
    }
  }

  void add(const float* data, std::size_t n) override {
    const int m = static_cast<int>(edges_.size());
    const std::uint32_t* e = edges_.data();
    const int* first = first_.data();
    const std::size_t slots = counts_.size();
    const auto count = static_cast<std::ptrdiff_t>(n);
    std::uint64_t bad = 0;
#pragma omp parallel num_threads(threads_) reduction(+ : bad)
    {
      std::vector<std::uint64_t> local(slots, 0);
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < count; ++i) {
        const float v = data[i];
        if (!finite_score(v)) {
          ++bad;
          continue;
        }
        const std::uint32_t key = sortable_key(v);
        const std::uint32_t b = key >> bucket_shift;
        ++local[static_cast<std::size_t>(edge_slot_in(key, e, m, first[b], first[b + 1]))];
      }
#pragma omp critical
      for (std::size_t k = 0; k < slots; ++k) counts_[k] += local[k];
    }
    invalid_ += bad;
  }

  std::vector<std::uint64_t> counts() override { return counts_; }
  std::uint64_t invalid() override { return invalid_; }
  [[nodiscard]] std::string name() const override {
    return cpu_engine_name(threads_);
  }

 private:
  static constexpr int bucket_shift = 16;
  static constexpr std::size_t bucket_count = std::size_t{1} << (32 - bucket_shift);
  std::vector<std::uint32_t> edges_;
  int threads_;
  std::vector<std::uint64_t> counts_;
  std::vector<int> first_;
  std::uint64_t invalid_{0};
};

}  // namespace

std::unique_ptr<RankCounter> make_rank_counter_cpu(std::vector<std::uint32_t> edges,
                                                   int threads) {
  return std::make_unique<CpuRankCounter>(std::move(edges), threads);
}

#if !defined(GP_WITH_CUDA)
std::unique_ptr<RankCounter> make_rank_counter_cuda(std::vector<std::uint32_t> /*edges*/,
                                                    int /*device*/) {
  throw cuda_error("exact ranking on CUDA: this build has no CUDA backend "
                   "(built with GP_ENABLE_CUDA=OFF)");
}
#endif

}  // namespace gp::kernels
