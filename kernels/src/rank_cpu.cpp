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
        counts_(2 * edges_.size() + 1, 0) {}

  void add(const float* data, std::size_t n) override {
    const int m = static_cast<int>(edges_.size());
    const std::uint32_t* e = edges_.data();
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
        ++local[static_cast<std::size_t>(edge_slot(sortable_key(v), e, m))];
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
  std::vector<std::uint32_t> edges_;
  int threads_;
  std::vector<std::uint64_t> counts_;
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
