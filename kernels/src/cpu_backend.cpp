#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/reduce_ops.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace gp::kernels {

void LayerStats::merge(const LayerStats& o) { *this = merge_stats(*this, o); }

double LayerStats::stddev() const {
  return valid > 1 ? std::sqrt(m2 / static_cast<double>(valid)) : 0.0;
}

namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}

  [[nodiscard]] std::string name() const override {
    return "cpu (OpenMP, " + std::to_string(threads_) + " thread" + (threads_ == 1 ? "" : "s") +
           ")";
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    program_ = program;
    aux_ = aux;
  }

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    const auto count = static_cast<std::ptrdiff_t>(n);
    const Program& p = program_;
    const double* aux = aux_.data();
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::ptrdiff_t i = 0; i < count; ++i) {
      const auto idx = static_cast<std::size_t>(i);
      eval_cell(
          p, aux, [&](int l) { return layers[l][idx]; },
          [&](int b, double v) { bands[b][idx] = store_value(p, v); });
    }
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t row_length) override {
    // Fixed chunks (the rows, or 65536 cells) reduced sequentially, then merged in chunk order:
    // deterministic for any thread count.
    const std::size_t chunk = row_length > 0 ? row_length : std::size_t{65536};
    const std::size_t n_chunks = (n + chunk - 1) / chunk;
    std::vector<LayerStats> partial(n_chunks);
    const auto count = static_cast<std::ptrdiff_t>(n_chunks);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::ptrdiff_t c = 0; c < count; ++c) {
      const std::size_t b = static_cast<std::size_t>(c) * chunk;
      partial[static_cast<std::size_t>(c)] = chunk_stats(data + b, std::min(chunk, n - b));
    }
    LayerStats total;
    for (const auto& p : partial) total.merge(p);
    return total;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    const auto count = static_cast<std::ptrdiff_t>(rows);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::ptrdiff_t r = 0; r < count; ++r) {
      const std::size_t b = static_cast<std::size_t>(r) * row_length;
      out[r] = chunk_stats(data + b, row_length);
    }
  }

  /// One chunk, sequentially. Shifted sums (shift = the first valid value): no division per
  /// cell, and accurate when values sit far from zero (the shift is close to the mean).
  static LayerStats chunk_stats(const float* data, std::size_t n) {
    LayerStats s;
    double shift = 0.0;
    double s1 = 0.0;
    double s2 = 0.0;
    double mn = 0.0;
    double mx = 0.0;
    std::uint64_t valid = 0;
    std::uint64_t invalid = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = data[i];
      if (!is_valid(v)) {
        ++invalid;
        continue;
      }
      if (valid == 0) {
        shift = v;
        mn = mx = v;
      }
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
      const double d = v - shift;
      s1 += d;
      s2 += d * d;
      ++valid;
    }
    s.valid = valid;
    s.invalid = invalid;
    if (valid > 0) {
      const double cnt = static_cast<double>(valid);
      s.min = mn;
      s.max = mx;
      s.mean = shift + s1 / cnt;
      s.m2 = s2 - s1 * s1 / cnt;
      if (s.m2 < 0.0) s.m2 = 0.0;
    }
    return s;
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    std::size_t total_bins = static_cast<std::size_t>(nbins);
    if (slot_of_bin != nullptr) {
      int slots = 0;
      for (int b = 0; b < nbins; ++b) slots = std::max(slots, slot_of_bin[b] + 1);
      total_bins = static_cast<std::size_t>(slots) * static_cast<std::size_t>(sub_bins);
    }
    const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel num_threads(threads_)
    {
      std::vector<std::uint64_t> local(total_bins, 0);
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < count; ++i) {
        const long long k = histogram_index(data[i], lo, hi, nbins, slot_of_bin, sub_bins);
        if (k >= 0) ++local[static_cast<std::size_t>(k)];
      }
#pragma omp critical
      for (std::size_t k = 0; k < total_bins; ++k) counts[k] += local[k];
    }
  }

 private:
  int threads_;
  Program program_{};
  std::vector<double> aux_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace gp::kernels
