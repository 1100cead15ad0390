// Per-class counts on the CPU (OpenMP; per-thread bins merged in thread order). Without CUDA the
// CUDA factory is a stub here.
#include "gp/kernels/class_counts.hpp"
#include "cpu_threads.hpp"

#include "gp/error.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace gp::kernels {
namespace {

class CpuClassCounter final : public ClassCounter {
 public:
  explicit CpuClassCounter(int threads) : threads_(cpu_threads(threads)) {}

  ClassCountTally count(const float* data, std::size_t n, long long lo, long long nbins,
                        std::uint64_t* counts) override {
    const auto nb = static_cast<std::size_t>(nbins);
    std::vector<std::vector<std::uint64_t>> local(static_cast<std::size_t>(threads_));
    std::vector<ClassCountTally> tally(static_cast<std::size_t>(threads_));
    const auto cnt = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel num_threads(threads_)
    {
      const auto t = static_cast<std::size_t>(omp_get_thread_num());
      std::vector<std::uint64_t>& bins = local[t];
      bins.assign(nb, 0);
      ClassCountTally s;
      bool first = true;
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < cnt; ++i) {
        const float v = data[i];
        const long long b = class_bin(v, lo, nbins);
        if (b == -1) continue;
        ++s.valid;
        const double d = static_cast<double>(v);
        if (first) {
          s.min = s.max = d;
          first = false;
        } else {
          s.min = std::min(s.min, d);
          s.max = std::max(s.max, d);
        }
        if (b >= 0) ++bins[static_cast<std::size_t>(b)];
        else if (b == -2) ++s.below;
        else ++s.above;
      }
      tally[t] = s;
    }
    ClassCountTally r;
    bool any = false;
    for (std::size_t t = 0; t < local.size(); ++t) {
      for (std::size_t k = 0; k < local[t].size(); ++k) counts[k] += local[t][k];
      const ClassCountTally& s = tally[t];
      if (s.valid == 0) continue;
      r.min = any ? std::min(r.min, s.min) : s.min;
      r.max = any ? std::max(r.max, s.max) : s.max;
      any = true;
      r.valid += s.valid;
      r.below += s.below;
      r.above += s.above;
    }
    return r;
  }

 private:
  int threads_;
};

}  // namespace

std::unique_ptr<ClassCounter> make_cpu_class_counter(int threads) {
  return std::make_unique<CpuClassCounter>(threads);
}

#ifndef GP_WITH_CUDA
std::unique_ptr<ClassCounter> make_cuda_class_counter(int /*device*/) {
  throw cuda_error("this build has no CUDA backend (built with GP_ENABLE_CUDA=OFF)");
}
#endif

}  // namespace gp::kernels
