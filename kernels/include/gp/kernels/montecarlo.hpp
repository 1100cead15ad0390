#pragma once
// Monte Carlo uncertainty of a knowledge-driven program: N perturbed versions
// ("draws") of the program are evaluated on every cell in the same pass over a window (the
// layers are read once, the draws loop inside the kernel). A draw changes only numbers:
//   - per layer: the transform's a and b (linear: min, max; large/small/gaussian/near:
//     midpoint, spread), for layers flagged in McSetup::perturbed_layer;
//   - per group input: the normalised weight, for groups flagged in McSetup::perturbed_group
//     (weighted-sum and index-overlay groups).
// The draws' numbers are generated on the host (cli/uncertainty.cpp, counter-based RNG) and
// handed in as one array of doubles, `stride` per draw: a[n_layers], b[n_layers],
// w[n_inputs]. Everything else (kinds, network, rules, aux tables) is the base Program.
//
// Two passes: histogram() adds every draw's scores to a per-draw histogram (mc_bins equal
// bins over [hist_lo, hist_hi], values outside clamped into the end bins), from which the
// host picks per draw the bin where the top X % of the area starts; cell_stats() then writes
// per cell the mean and population standard deviation over the valid draws, the 5th and 95th
// percentiles (exact order statistics of the cell's draws, linear interpolation between them,
// h = (N - 1) p: the "type 7" definition of R and numpy), and the fraction of draws in which
// the cell is in its draw's top X % (bin >= threshold bin).

#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/hd.hpp"
#include "gp/kernels/program.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gp::kernels {

inline constexpr int mc_bins = 16384;     ///< bins of each draw's score histogram
inline constexpr int mc_max_draws = 10000;
inline constexpr int mc_outputs = 5;      ///< mean, std, p05, p95, p_top

/// What the draws change, and the histogram range. Trivially copyable (device constant).
struct McSetup {
  std::int32_t draws{0};
  std::int32_t stride{0};  ///< doubles per draw: 2 * n_layers + n_inputs (of the program)
  std::int32_t perturbed_layer[max_layers]{};
  std::int32_t perturbed_group[max_groups]{};
  double hist_lo{0.0};
  double hist_hi{1.0};
};

/// Offsets inside one draw's parameters.
GP_HD inline int mc_param_a(int layer) { return layer; }
GP_HD inline int mc_param_b(const Program& p, int layer) { return p.n_layers + layer; }
GP_HD inline int mc_param_w(const Program& p, int input) { return 2 * p.n_layers + input; }

/// Histogram bin of a valid score (clamped into [0, mc_bins - 1]); monotone in v.
GP_HD inline int mc_bin(double v, double lo, double hi) {
  const double x = (v - lo) / (hi - lo) * static_cast<double>(mc_bins);
  if (!(x > 0.0)) return 0;
  if (x >= static_cast<double>(mc_bins)) return mc_bins - 1;
  return static_cast<int>(x);
}

/// Per cell, once: the raw values' transforms for layers no draw changes (NaN = nodata) and
/// skip flags. Returns false when the mask layer is nodata (every draw is nodata).
template <class RawAt>
GP_HD inline bool mc_base(const Program& p, const double* aux, const McSetup& s, RawAt raw_at,
                          double* raw, double* base, unsigned char* skip) {
  if (p.mask_layer >= 0 && !is_valid(static_cast<double>(raw_at(p.mask_layer)))) return false;
  for (int l = 0; l < p.n_layers; ++l) {
    const int in = p.layers[l].input >= 0 ? p.layers[l].input : l;
    raw[l] = static_cast<double>(raw_at(in));
    skip[l] = static_cast<unsigned char>(p.layers[l].skip_missing);
    base[l] = (s.perturbed_layer[l] == 0 && is_valid(raw[l]))
                  ? apply_transform(p, p.layers[l].transform, raw[l], aux)
                  : nan_value();
  }
  for (int g = 0; g < p.n_groups; ++g) {
    skip[p.n_layers + g] = static_cast<unsigned char>(p.groups[g].skip_missing);
  }
  return true;
}

/// A weighted-sum group with this draw's weights `w`: combine_group's arithmetic, in the same
/// order, so that unchanged weights give the deterministic value bit for bit.
GP_HD inline double mc_weighted_sum(const Program& p, const GroupOp& g, const double* node,
                                    const unsigned char* skip, const double* w) {
  return combine_weighted_as(CombineMethod::weighted_sum, p, g, NodeArray{node}, skip, w);
}

/// Score (band 1) of one draw for a cell prepared by mc_base; NaN = nodata. `node` is scratch
/// of max_nodes doubles.
GP_HD inline double mc_draw(const Program& p, const double* aux, const McSetup& s,
                            const double* par, const double* raw, const double* base,
                            const unsigned char* skip, double* node) {
  for (int l = 0; l < p.n_layers; ++l) {
    if (s.perturbed_layer[l] == 0) {
      node[l] = base[l];
    } else if (!is_valid(raw[l])) {
      node[l] = nan_value();
    } else {
      TransformParams t = p.layers[l].transform;
      t.a = par[mc_param_a(l)];
      t.b = par[mc_param_b(p, l)];
      node[l] = apply_transform(p, t, raw[l], aux);
    }
  }
  for (int g = 0; g < p.n_groups; ++g) {
    const GroupOp& G = p.groups[g];
    node[p.n_layers + g] = s.perturbed_group[g] != 0
                               ? mc_weighted_sum(p, G, node, skip, par + mc_param_w(p, 0))
                               : combine_group(p, G, node, skip);
  }
  return node[p.bands[0]];
}

/// Scores of draws [d0, d1) of one cell as floats (NaN = nodata), draw d at
/// out[(d - d0) * out_stride]; `ok` is mc_base's result for the cell (false: every draw is
/// nodata). `node` is scratch of max_nodes doubles.
GP_HD inline void mc_draw_scores(const Program& p, const double* aux, const McSetup& s,
                                 const double* par, bool ok, const double* raw,
                                 const double* base, const unsigned char* skip, double* node,
                                 int d0, int d1, float* out, std::size_t out_stride) {
  for (int d = d0; d < d1; ++d) {
    float f = static_cast<float>(nan_value());
    if (ok) {
      const double v = mc_draw(p, aux, s, par + static_cast<std::size_t>(d) * s.stride, raw,
                               base, skip, node);
      if (is_valid(v)) f = static_cast<float>(v);
    }
    out[static_cast<std::size_t>(d - d0) * out_stride] = f;
  }
}

/// The k-th smallest (0-based) of n floats at x[0], x[s], x[2s], ... (Wirth's selection, in
/// place, deterministic). Afterwards every element after position k is >= the result.
GP_HD inline float mc_select(float* x, std::size_t s, int n, int k) {
  int lo = 0;
  int hi = n - 1;
  while (hi > lo) {
    const float a = x[static_cast<std::size_t>(lo) * s];
    const float b = x[static_cast<std::size_t>((lo + hi) / 2) * s];
    const float c = x[static_cast<std::size_t>(hi) * s];
    const float mn = a < b ? a : b;
    const float mx = a < b ? b : a;
    const float piv = c < mn ? mn : (c > mx ? mx : c);  // median of three
    int i = lo;
    int j = hi;
    while (i <= j) {
      while (x[static_cast<std::size_t>(i) * s] < piv) ++i;
      while (x[static_cast<std::size_t>(j) * s] > piv) --j;
      if (i <= j) {
        const float t = x[static_cast<std::size_t>(i) * s];
        x[static_cast<std::size_t>(i) * s] = x[static_cast<std::size_t>(j) * s];
        x[static_cast<std::size_t>(j) * s] = t;
        ++i;
        --j;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return x[static_cast<std::size_t>(k) * s];
}

/// Percentile p (0..1) of n floats (type 7); permutes them.
GP_HD inline float mc_percentile(float* x, std::size_t s, int n, double p) {
  const double h = static_cast<double>(n - 1) * p;
  const int k = static_cast<int>(h);
  const float lo = mc_select(x, s, n, k);
  if (k + 1 >= n) return lo;
  float next = x[static_cast<std::size_t>(k + 1) * s];
  for (int i = k + 2; i < n; ++i) {
    const float v = x[static_cast<std::size_t>(i) * s];
    next = v < next ? v : next;
  }
  const double frac = h - static_cast<double>(k);
  return static_cast<float>(static_cast<double>(lo) +
                            frac * (static_cast<double>(next) - static_cast<double>(lo)));
}

/// Summary of one cell's draws: `x` holds `draws` scores at stride `s` (NaN = nodata) and is
/// reused as scratch; `thr[d]` is draw d's top-X % bin. Writes mean, std, p05, p95, p_top to
/// out[0..4] (`nodata` when no draw is valid).
GP_HD inline void mc_summarise(float* x, std::size_t s, int draws, const std::int32_t* thr,
                               double lo, double hi, float nodata, float* out) {
  int n = 0;
  int top = 0;
  double sum = 0.0;
  for (int d = 0; d < draws; ++d) {
    const float v = x[static_cast<std::size_t>(d) * s];
    if (!(v == v)) continue;
    sum += static_cast<double>(v);
    top += mc_bin(static_cast<double>(v), lo, hi) >= thr[d] ? 1 : 0;
    x[static_cast<std::size_t>(n) * s] = v;  // compact the valid draws to the front
    ++n;
  }
  if (n == 0) {
    for (int k = 0; k < mc_outputs; ++k) out[k] = nodata;
    return;
  }
  const double mean = sum / static_cast<double>(n);
  double m2 = 0.0;
  for (int d = 0; d < n; ++d) {
    const double e = static_cast<double>(x[static_cast<std::size_t>(d) * s]) - mean;
    m2 += e * e;
  }
  out[0] = static_cast<float>(mean);
  out[1] = static_cast<float>(sqrt(m2 / static_cast<double>(n)));
  out[2] = mc_percentile(x, s, n, 0.05);
  out[3] = mc_percentile(x, s, n, 0.95);
  out[4] = static_cast<float>(static_cast<double>(top) / static_cast<double>(n));
}

/// A Monte Carlo engine (CPU or CUDA). Host pointers in and out. Not thread-safe.
class MonteCarlo {
 public:
  virtual ~MonteCarlo() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  /// The base program, its aux table, the setup and the draws' parameters
  /// (setup.draws x setup.stride doubles).
  virtual void set(const Program& program, const std::vector<double>& aux, const McSetup& setup,
                   const std::vector<double>& params) = 0;
  /// Pass 1: adds each draw's valid scores of `n` cells to `hist` (draws x mc_bins counts,
  /// draw-major). `layers` as Backend::score.
  virtual void histogram(const float* const* layers, std::size_t n, std::uint64_t* hist) = 0;
  /// Pass 2: per cell mean, std, p05, p95, p_top into out[0..4] (n floats each; `nodata`
  /// where no draw is valid). `thresholds[d]`: draw d's top-X % bin.
  virtual void cell_stats(const float* const* layers, std::size_t n,
                          const std::vector<std::int32_t>& thresholds, float nodata,
                          float* const* out) = 0;
};

/// MonteCarlo::set's precondition, for every engine: draws in [1, mc_max_draws] and
/// draws x stride parameters. Throws gp::error otherwise.
void mc_require_setup(const McSetup& setup, std::size_t n_params);
/// MonteCarlo::cell_stats's precondition: one threshold per draw. Throws gp::error otherwise.
void mc_require_thresholds(const McSetup& setup, std::size_t n_thresholds);

std::unique_ptr<MonteCarlo> make_montecarlo_cpu(int threads = 0);
/// Throws gp::cuda_error when the build has no CUDA or the device is missing.
std::unique_ptr<MonteCarlo> make_montecarlo_cuda(int device);

}  // namespace gp::kernels
