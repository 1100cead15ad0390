// Monte Carlo uncertainty on the CPU (OpenMP): per cell, the layers' transforms no draw
// changes are computed once, then every draw in a loop; pass 1 counts into per-thread
// per-draw histograms, pass 2 keeps the cell's draws in a per-thread buffer and summarises them.
#include "gp/error.hpp"
#include "cpu_threads.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/montecarlo.hpp"

#include <omp.h>

#include <algorithm>
#include <string>

namespace gp::kernels {
namespace {

class CpuMonteCarlo final : public MonteCarlo {
 public:
  explicit CpuMonteCarlo(int threads) : threads_(cpu_threads(threads)) {}

  [[nodiscard]] std::string name() const override {
    return cpu_engine_name(threads_);
  }

  void set(const Program& program, const std::vector<double>& aux, const McSetup& setup,
           const std::vector<double>& params) override {
    mc_require_setup(setup, params.size());
    program_ = program;
    aux_ = aux;
    setup_ = setup;
    params_ = params;
  }

  void histogram(const float* const* layers, std::size_t n, std::uint64_t* hist) override {
    // Per-thread copies of the histograms pay off only when there are many more increments
    // than bins; a small call runs on one thread straight into `hist`.
    const auto draws = static_cast<std::uint64_t>(setup_.draws);
    const std::uint64_t increments = static_cast<std::uint64_t>(n) * draws;
    const std::uint64_t per_copy = draws * mc_bins;
    const int threads = static_cast<int>(std::min<std::uint64_t>(
        static_cast<std::uint64_t>(threads_), std::max<std::uint64_t>(1, increments / (4 * per_copy))));
    if (threads == 1) {
      histogram_one_thread(layers, n, hist);
      return;
    }
    // Draws in blocks so that the per-thread 32-bit copies stay under hist_budget_bytes; every
    // draw is still evaluated once per cell (only mc_base repeats per block).
    const int block = std::max(
        1, static_cast<int>(hist_budget_bytes /
                            (static_cast<std::size_t>(threads) * mc_bins * sizeof(std::uint32_t))));
    for (int d0 = 0; d0 < setup_.draws; d0 += block) {
      histogram_draws(layers, n, d0, std::min(setup_.draws, d0 + block), threads, hist);
    }
  }

  void cell_stats(const float* const* layers, std::size_t n,
                  const std::vector<std::int32_t>& thresholds, float nodata,
                  float* const* out) override {
    mc_require_thresholds(setup_, thresholds.size());
    const Program& p = program_;
    const McSetup& s = setup_;
    const double* aux = aux_.data();
    const double* par = params_.data();
    const std::int32_t* thr = thresholds.data();
    const int draws = s.draws;
    const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> vals(static_cast<std::size_t>(draws));
      CellScratch c;
      float o[mc_outputs];
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < count; ++i) {
        const auto idx = static_cast<std::size_t>(i);
        if (!c.base(p, aux, s, layers, idx)) {
          for (int k = 0; k < mc_outputs; ++k) out[k][idx] = nodata;
          continue;
        }
        mc_draw_scores(p, aux, s, par, true, c.raw, c.base_value, c.skip, c.node, 0, draws,
                       vals.data(), 1);
        mc_summarise(vals.data(), 1, draws, thr, s.hist_lo, s.hist_hi, nodata, o);
        for (int k = 0; k < mc_outputs; ++k) out[k][idx] = o[k];
      }
    }
  }

 private:
  static constexpr std::size_t hist_budget_bytes = std::size_t{256} << 20;
  static constexpr std::size_t tile = 256;  ///< cells per tile in the histogram pass

  /// One thread's scratch for a cell: mc_base's results and mc_draw's nodes.
  struct CellScratch {
    double raw[max_layers + 1];
    double base_value[max_nodes];
    double node[max_nodes];
    unsigned char skip[max_nodes];

    /// mc_base for cell `idx` of `layers`.
    bool base(const Program& p, const double* aux, const McSetup& s, const float* const* layers,
              std::size_t idx) {
      return mc_base(p, aux, s, [&](int l) { return layers[l][idx]; }, raw, base_value, skip);
    }
  };

  /// Histogram bin of a valid draw score, as the score is stored (a float).
  [[nodiscard]] std::size_t bin_of(double v) const {
    return static_cast<std::size_t>(
        mc_bin(static_cast<double>(static_cast<float>(v)), setup_.hist_lo, setup_.hist_hi));
  }

  /// histogram() on the calling thread, straight into `hist`.
  void histogram_one_thread(const float* const* layers, std::size_t n, std::uint64_t* hist) {
    const Program& p = program_;
    const McSetup& s = setup_;
    const double* aux = aux_.data();
    const double* par = params_.data();
    CellScratch c;
    for (std::size_t idx = 0; idx < n; ++idx) {
      if (!c.base(p, aux, s, layers, idx)) continue;
      for (int d = 0; d < s.draws; ++d) {
        const double v = mc_draw(p, aux, s, par + static_cast<std::size_t>(d) * s.stride, c.raw,
                                 c.base_value, c.skip, c.node);
        if (is_valid(v)) ++hist[static_cast<std::size_t>(d) * mc_bins + bin_of(v)];
      }
    }
  }

  /// Draws [d0, d1) of histogram() on `threads` threads, each into its own 32-bit copy of
  /// those draws' histograms (a call sees at most 2^32 - 1 cells: the runner's windows are far
  /// smaller), merged into the 64-bit totals in `hist` at the end.
  void histogram_draws(const float* const* layers, std::size_t n, int d0, int d1, int threads,
                       std::uint64_t* hist) {
    const std::size_t nd = static_cast<std::size_t>(d1 - d0);
    const std::size_t total = nd * mc_bins;
    const auto tiles = static_cast<std::ptrdiff_t>((n + tile - 1) / tile);
#pragma omp parallel num_threads(threads)
    {
      std::vector<std::uint32_t> local(total, 0u);
      // Scores of a tile of cells, draw-major: each draw's tile is counted in one go, so the
      // increments stay within one draw's histogram (64 KiB) instead of hopping across all.
      std::vector<float> sc(nd * tile);
      CellScratch c;
#pragma omp for schedule(static)
      for (std::ptrdiff_t t = 0; t < tiles; ++t) {
        const std::size_t i0 = static_cast<std::size_t>(t) * tile;
        const std::size_t m = std::min(tile, n - i0);
        for (std::size_t j = 0; j < m; ++j) {
          const bool ok = c.base(program_, aux_.data(), setup_, layers, i0 + j);
          mc_draw_scores(program_, aux_.data(), setup_, params_.data(), ok, c.raw, c.base_value,
                         c.skip, c.node, d0, d1, sc.data() + j, tile);
        }
        count_tile(sc.data(), nd, m, local.data());
      }
      std::uint64_t* out = hist + static_cast<std::size_t>(d0) * mc_bins;
#pragma omp critical
      for (std::size_t k = 0; k < total; ++k) out[k] += local[k];
    }
  }

  /// Adds the valid scores of a tile (`nd` draws of `m` cells, draw-major at stride `tile`) to
  /// the draws' histograms in `h` (mc_bins counts per draw).
  void count_tile(const float* sc, std::size_t nd, std::size_t m, std::uint32_t* h) const {
    for (std::size_t k = 0; k < nd; ++k) {
      const float* row = sc + k * tile;
      std::uint32_t* hk = h + k * mc_bins;
      for (std::size_t j = 0; j < m; ++j) {
        if (row[j] == row[j]) ++hk[mc_bin(static_cast<double>(row[j]), setup_.hist_lo, setup_.hist_hi)];
      }
    }
  }

  int threads_;
  Program program_{};
  std::vector<double> aux_;
  McSetup setup_{};
  std::vector<double> params_;
};

}  // namespace

void mc_require_setup(const McSetup& setup, std::size_t n_params) {
  GP_EXPECTS(setup.draws >= 1 && setup.draws <= mc_max_draws, error,
             "Monte Carlo: draws out of range");
  GP_EXPECTS(n_params == static_cast<std::size_t>(setup.draws) *
                             static_cast<std::size_t>(setup.stride),
             error, "Monte Carlo: parameter array does not match draws x stride");
}

void mc_require_thresholds(const McSetup& setup, std::size_t n_thresholds) {
  GP_EXPECTS(n_thresholds == static_cast<std::size_t>(setup.draws), error,
             "Monte Carlo: one threshold per draw expected");
}

std::unique_ptr<MonteCarlo> make_montecarlo_cpu(int threads) {
  return std::make_unique<CpuMonteCarlo>(threads);
}

#if !defined(GP_WITH_CUDA)
std::unique_ptr<MonteCarlo> make_montecarlo_cuda(int /*device*/) {
  throw cuda_error("Monte Carlo on CUDA: this build has no CUDA backend "
                   "(built with GP_ENABLE_CUDA=OFF)");
}
#endif

}  // namespace gp::kernels
