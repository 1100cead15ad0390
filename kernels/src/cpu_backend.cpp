#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"

#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

namespace gp::kernels {

void LayerStats::merge(const LayerStats& o) {
  if (o.valid > 0) {
    if (valid == 0) {
      min = o.min;
      max = o.max;
    } else {
      min = std::min(min, o.min);
      max = std::max(max, o.max);
    }
  }
  valid += o.valid;
  invalid += o.invalid;
  sum += o.sum;
  sum_sq += o.sum_sq;
}

namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}

  [[nodiscard]] std::string name() const override {
    return "cpu (OpenMP, " + std::to_string(threads_) + " thread" + (threads_ == 1 ? "" : "s") +
           ")";
  }

  void score(const Program& program, const float* const* layers, std::size_t n,
             float* out) override {
    const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::ptrdiff_t i = 0; i < count; ++i) {
      const auto idx = static_cast<std::size_t>(i);
      out[idx] = store_value(program, score_cell(program, [&](int l) { return layers[l][idx]; }));
    }
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n) override {
    // Per-thread partials merged in thread order: deterministic for a given thread count.
    std::vector<LayerStats> partial(static_cast<std::size_t>(threads_));
    const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel num_threads(threads_)
    {
      LayerStats s;
      const int t = omp_get_thread_num();
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < count; ++i) {
        const double v = data[i];
        if (!is_valid(v)) {
          ++s.invalid;
          continue;
        }
        if (s.valid == 0) {
          s.min = v;
          s.max = v;
        } else {
          s.min = v < s.min ? v : s.min;
          s.max = v > s.max ? v : s.max;
        }
        ++s.valid;
        s.sum += v;
        s.sum_sq += v * v;
      }
      partial[static_cast<std::size_t>(t)] = s;
    }
    LayerStats total;
    for (const auto& p : partial) total.merge(p);
    return total;
  }

 private:
  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace gp::kernels
