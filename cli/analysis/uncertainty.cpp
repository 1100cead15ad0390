// Monte Carlo uncertainty and the runner's validation/uncertainty hook; see
// gp/cli/uncertainty.hpp.
#include "analysis/uncertainty.hpp"

#include "analysis/crossval.hpp"
#include "analysis/sweep.hpp"

#include "model/groups.hpp"
#include "plan/deposit_source.hpp"
#include "train/trained.hpp"

#include "analysis/validation.hpp"
#include "outputs/contributions.hpp"
#include "outputs/outputs.hpp"
#include "outputs/staged_raster.hpp"
#include "outputs/qml.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/error.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/device_fallback.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <limits>
#include <tuple>
#include <utility>

namespace gp::cli {
namespace fs = std::filesystem;
namespace {

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t stream_weights = 1;
constexpr std::uint64_t stream_midpoint = 2;
constexpr std::uint64_t stream_spread = 3;

double symmetric(std::uint64_t seed, std::uint64_t draw, std::uint64_t stream, std::uint64_t idx) {
  return 2.0 * counter_uniform(seed, draw, stream, idx) - 1.0;
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

double counter_uniform(std::uint64_t seed, std::uint64_t draw, std::uint64_t stream,
                       std::uint64_t index, std::uint64_t attempt) {
  const std::uint64_t h =
      mix(seed ^ mix(draw ^ mix(stream ^ mix(index ^ mix(attempt ^ 0x5eedULL)))));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

double counter_gamma(double alpha, std::uint64_t seed, std::uint64_t draw, std::uint64_t stream,
                     std::uint64_t index) {
  GP_EXPECTS(alpha > 0.0, error, "gamma variate: alpha must be > 0");
  // alpha < 1: Gamma(alpha) = Gamma(alpha + 1) U^(1 / alpha) (Marsaglia-Tsang's boost).
  const bool boost = alpha < 1.0;
  const double a = boost ? alpha + 1.0 : alpha;
  const double d = a - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  // Attempts use counters 1, 2, ...: each needs two uniforms for the normal and one to accept.
  for (std::uint64_t attempt = 1;; attempt += 3) {
    const double u1 = counter_uniform(seed, draw, stream, index, attempt);
    const double u2 = counter_uniform(seed, draw, stream, index, attempt + 1);
    const double x = std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * M_PI * u2);
    const double v0 = 1.0 + c * x;
    if (v0 <= 0.0) continue;
    const double v = v0 * v0 * v0;
    const double u = counter_uniform(seed, draw, stream, index, attempt + 2);
    if (std::log1p(-u) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      double g = d * v;
      if (boost) {
        const double ub = counter_uniform(seed, draw, stream, index, 0);
        g *= std::pow(1.0 - ub, 1.0 / alpha);
      }
      return g;
    }
  }
}

namespace {

/// A node's name in messages: the given name, else "layer #n" / "group #n" (1-based).
std::string node_name(const kernels::Program& p, const std::vector<std::string>& names, int node) {
  if (node < static_cast<int>(names.size())) return names[static_cast<std::size_t>(node)];
  return (node < p.n_layers ? "layer #" : "group #") +
         std::to_string(node < p.n_layers ? node + 1 : node - p.n_layers + 1);
}

/// Membership perturbation applies to shaped transforms, and to linear ones with a range.
void mark_perturbed_layers(const kernels::Program& p, const model::UncertaintySpec& spec,
                           const std::vector<std::string>& names, UncertaintyPlan& plan) {
  using kernels::TransformKind;
  const bool membership = spec.midpoint_fraction > 0.0 || spec.spread_fraction > 0.0;
  for (int l = 0; l < p.n_layers; ++l) {
    const TransformKind k = p.layers[l].transform.kind;
    const bool shaped = k == TransformKind::large || k == TransformKind::small ||
                        k == TransformKind::gaussian || k == TransformKind::near;
    const bool linear = (k == TransformKind::linear || k == TransformKind::minmax) &&
                        p.layers[l].transform.a != p.layers[l].transform.b;
    plan.setup.perturbed_layer[l] = membership && (shaped || linear) ? 1 : 0;
    if (plan.setup.perturbed_layer[l] != 0) {
      plan.perturbed.push_back("layer '" + node_name(p, names, l) + "': " +
                               (linear ? "min/max centre and width" : "midpoint and spread"));
    }
  }
}

/// Weight perturbation applies to weighted-sum and index-overlay groups of two inputs or more.
void mark_perturbed_groups(const kernels::Program& p, const model::UncertaintySpec& spec,
                           const std::vector<std::string>& names, UncertaintyPlan& plan) {
  using kernels::CombineMethod;
  const bool weights = (spec.weights_mode == "dirichlet") ||
                       (spec.weights_mode == "uniform" && spec.uniform_fraction > 0.0);
  for (int g = 0; g < p.n_groups; ++g) {
    const CombineMethod m = p.groups[g].method;
    plan.setup.perturbed_group[g] =
        weights && p.groups[g].n_inputs >= 2 &&
                (m == CombineMethod::weighted_sum || m == CombineMethod::index_overlay)
            ? 1
            : 0;
    if (plan.setup.perturbed_group[g] != 0) {
      plan.perturbed.push_back("group '" + node_name(p, names, p.n_layers + g) + "': weights (" +
                               spec.weights_mode + ")");
    }
  }
}

/// One draw's transform parameters (a, b) of every layer: the model's, or perturbed.
void draw_transforms(const kernels::Program& p, const model::UncertaintySpec& spec,
                     const kernels::McSetup& s, std::uint64_t draw, double* par) {
  using kernels::TransformKind;
  for (int l = 0; l < p.n_layers; ++l) {
    const kernels::TransformParams& t = p.layers[l].transform;
    double a = t.a;
    double b = t.b;
    if (s.perturbed_layer[l] != 0) {
      const double um = symmetric(spec.seed, draw, stream_midpoint, static_cast<std::uint64_t>(l));
      const double us = symmetric(spec.seed, draw, stream_spread, static_cast<std::uint64_t>(l));
      if (t.kind == TransformKind::linear || t.kind == TransformKind::minmax) {
        const double mid = 0.5 * (t.a + t.b) + spec.midpoint_fraction * um * std::abs(t.b - t.a);
        const double half = 0.5 * (t.b - t.a) * (1.0 + spec.spread_fraction * us);
        a = mid - half;
        b = mid + half;
      } else {
        a = t.a * (1.0 + spec.midpoint_fraction * um);
        b = t.b * (1.0 + spec.spread_fraction * us);
      }
    }
    par[kernels::mc_param_a(l)] = a;
    par[kernels::mc_param_b(p, l)] = b;
  }
}

/// One draw's weights of group `g`: Dirichlet or uniform variates of the given weights,
/// normalised to sum 1; the given weights when every Gamma variate underflowed (tiny
/// concentrations).
void draw_group_weights(const kernels::Program& p, const model::UncertaintySpec& spec, int g,
                        std::uint64_t draw, double* par) {
  const kernels::GroupOp& G = p.groups[g];
  double sum = 0.0;
  for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) {
    const double w = p.input_weights[k];
    double v = 0.0;
    if (w > 0.0) {
      v = spec.weights_mode == "dirichlet"
              ? counter_gamma(spec.dirichlet_concentration * w, spec.seed, draw, stream_weights,
                              static_cast<std::uint64_t>(k))
              : w * (1.0 + spec.uniform_fraction *
                               symmetric(spec.seed, draw, stream_weights,
                                         static_cast<std::uint64_t>(k)));
    }
    par[kernels::mc_param_w(p, k)] = v;
    sum += v;
  }
  if (!(sum > 0.0)) {
    for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) {
      par[kernels::mc_param_w(p, k)] = p.input_weights[k];
    }
    return;
  }
  for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) par[kernels::mc_param_w(p, k)] /= sum;
}

}  // namespace

UncertaintyPlan plan_uncertainty(const kernels::Program& p, const model::UncertaintySpec& spec,
                                 const std::vector<std::string>& names) {
  GP_EXPECTS(spec.draws >= 1 && spec.draws <= kernels::mc_max_draws, config_error,
             "[uncertainty] draws: expected 1 .. " + std::to_string(kernels::mc_max_draws));
  int n_inputs = 0;
  for (int g = 0; g < p.n_groups; ++g) {
    n_inputs = std::max(n_inputs, p.groups[g].first_input + p.groups[g].n_inputs);
  }
  UncertaintyPlan plan;
  kernels::McSetup& s = plan.setup;
  s.draws = spec.draws;
  s.stride = 2 * p.n_layers + n_inputs;
  mark_perturbed_layers(p, spec, names, plan);
  mark_perturbed_groups(p, spec, names, plan);
  plan.params.assign(static_cast<std::size_t>(s.draws) * static_cast<std::size_t>(s.stride), 0.0);
  for (int d = 0; d < s.draws; ++d) {
    double* par = plan.params.data() + static_cast<std::size_t>(d) * static_cast<std::size_t>(s.stride);
    const auto draw = static_cast<std::uint64_t>(d);
    draw_transforms(p, spec, s, draw, par);
    for (int k = 0; k < n_inputs; ++k) par[kernels::mc_param_w(p, k)] = p.input_weights[k];
    for (int g = 0; g < p.n_groups; ++g) {
      if (s.perturbed_group[g] != 0) draw_group_weights(p, spec, g, draw, par);
    }
  }
  return plan;
}

std::vector<std::int32_t> top_thresholds(const std::vector<std::uint64_t>& hist, int draws,
                                         double top_percent, std::vector<double>* excess) {
  std::vector<std::int32_t> thr(static_cast<std::size_t>(draws), 0);
  if (excess != nullptr) excess->assign(static_cast<std::size_t>(draws), 0.0);
  for (int d = 0; d < draws; ++d) {
    const std::uint64_t* h = hist.data() + static_cast<std::size_t>(d) * kernels::mc_bins;
    std::uint64_t valid = 0;
    for (int b = 0; b < kernels::mc_bins; ++b) valid += h[b];
    if (valid == 0) {
      thr[static_cast<std::size_t>(d)] = kernels::mc_bins;  // nothing is in the top
      continue;
    }
    const double want = top_percent / 100.0 * static_cast<double>(valid);
    std::uint64_t cum = 0;
    int b = kernels::mc_bins - 1;
    for (; b > 0; --b) {
      cum += h[b];
      if (static_cast<double>(cum) >= want) break;
    }
    if (b == 0) cum += h[0];
    thr[static_cast<std::size_t>(d)] = b;
    if (excess != nullptr) {
      (*excess)[static_cast<std::size_t>(d)] = (static_cast<double>(cum) - want) / static_cast<double>(valid);
    }
  }
  return thr;
}

namespace {

using McEngine = kernels::DeviceFallback<kernels::MonteCarlo>;

/// Histogram range: [0, 1] for maps inside it (fuzzy scores), else the map's range widened by
/// a fifth on each side for draws beyond it.
std::pair<double, double> histogram_range(double score_lo, double score_hi) {
  if (score_lo >= 0.0 && score_hi <= 1.0) return {0.0, 1.0};
  const double r = score_hi > score_lo ? score_hi - score_lo : 1.0;
  return {score_lo - 0.2 * r, score_hi + 0.2 * r};
}

double cpu_seconds_since(std::clock_t c) {
  return static_cast<double>(std::clock() - c) / CLOCKS_PER_SEC;
}

/// The Monte Carlo engine on `device` with the draws uploaded; `engine_name` receives its name.
/// When the device runs out of memory, warns once and runs that call, and every later one, on
/// the CPU engine with the same set-up. Calls are self-contained (a histogram call counts into
/// a zeroed buffer the caller adds), so redoing one on the CPU counts nothing twice.
McEngine make_engine(const AnalysisContext& ctx, const RunOptions& opt, const UncertaintyPlan& plan,
                     const EngineDevice& device, std::string& engine_name) {
  McEngine mc(
      device.cuda ? kernels::make_montecarlo_cuda(device.id) : kernels::make_montecarlo_cpu(opt.threads),
      [&opt] { return kernels::make_montecarlo_cpu(opt.threads); },
      [&ctx, &plan, &engine_name](kernels::MonteCarlo& dev, kernels::MonteCarlo& cpu,
                                  const char* stage, const gp::device_out_of_memory& e) {
        gp::log::warning(std::string("uncertainty: ") + dev.name() + " ran out of memory while " +
                         stage + " (" + e.what() + "); continuing on the CPU");
        cpu.set(ctx.program, ctx.aux, plan.setup, plan.params);
        engine_name = cpu.name() + " (after the device ran out of memory)";
      });
  engine_name = mc.primary().name();
  mc.run("uploading the draws", [&](kernels::MonteCarlo& m) {
    m.set(ctx.program, ctx.aux, plan.setup, plan.params);
  });
  return mc;
}


/// Pass 1: the draws' histograms (draws x mc_bins), summed over the windows. On the device each
/// window counts into a zeroed buffer, added once the call completed.
std::vector<std::uint64_t> histogram_pass(McEngine& mc, bool cuda, WindowInputs& inputs,
                                          const WindowPlan& windows, int draws) {
  std::vector<std::uint64_t> hist(static_cast<std::size_t>(draws) * kernels::mc_bins, 0);
  std::vector<std::uint64_t> part;
  for (std::int64_t w = 0; w < windows.count(); ++w) {
    const geo::Window win = inputs.read(w);
    if (!cuda || mc.switched()) {
      mc.current().histogram(inputs.layers(), win.cells(), hist.data());
      continue;
    }
    part.assign(hist.size(), 0);
    mc.run("counting the draws' histograms", [&](kernels::MonteCarlo& m) {
      std::fill(part.begin(), part.end(), 0);
      m.histogram(inputs.layers(), win.cells(), part.data());
    });
    for (std::size_t k = 0; k < hist.size(); ++k) hist[k] += part[k];
  }
  return hist;
}

/// The summary bands' writer options: the map's nodata and compression, the draws in metadata.
geo::WriterOptions summary_writer_options(const model::UncertaintySpec& spec, double nodata,
                                          const std::string& compress, int threads) {
  geo::WriterOptions wopt;
  wopt.compress = compress;
  wopt.predictor = predictor_for(compress);
  wopt.nodata = nodata;
  wopt.threads = threads;
  wopt.band_descriptions = {"mean", "std", "p05", "p95", "p_top"};
  wopt.metadata["GP_UNCERTAINTY_DRAWS"] = std::to_string(spec.draws);
  wopt.metadata["GP_UNCERTAINTY_SEED"] = std::to_string(spec.seed);
  wopt.metadata["GP_UNCERTAINTY_TOP_PERCENT"] = text::shortest_plain(spec.top_percent);
  return wopt;
}

/// Pass 2's output buffers (one window of each summary band) and the bands' statistics,
/// accumulated window by window.
class SummaryBands {
 public:
  SummaryBands(std::size_t win_cells, float nodata, int threads)
      : bufs_(kernels::mc_outputs, std::vector<float>(win_cells)),
        ptrs_(kernels::mc_outputs),
        acc_(kernels::mc_outputs),
        nodata_count_(kernels::mc_outputs, 0),
        nodata_(nodata),
        cpu_(kernels::make_cpu_backend(threads)),
        scratch_(win_cells) {
    for (std::size_t k = 0; k < bufs_.size(); ++k) ptrs_[k] = bufs_[k].data();
  }
  [[nodiscard]] float* const* bands() const { return ptrs_.data(); }
  /// Adds the first `n` cells of each band to its statistics (nodata counted apart).
  void count(std::size_t n) {
    for (std::size_t k = 0; k < ptrs_.size(); ++k) {
      const float* v = ptrs_[k];
      for (std::size_t i = 0; i < n; ++i) {
        const bool isnd = v[i] == nodata_;
        nodata_count_[k] += isnd ? 1 : 0;
        scratch_[i] = isnd ? std::numeric_limits<float>::quiet_NaN() : v[i];
      }
      acc_[k].merge(cpu_->stats(scratch_.data(), n));
    }
  }
  /// The bands' statistics, named as `names`, also set on the writer's bands that have data.
  std::vector<BandStats> finish(geo::RasterWriter& writer, const std::vector<std::string>& names) const {
    std::vector<BandStats> out;
    for (std::size_t k = 0; k < acc_.size(); ++k) {
      const kernels::LayerStats& a = acc_[k];
      BandStats bs;
      bs.name = names[k];
      bs.valid = a.valid;
      bs.nodata = nodata_count_[k];
      bs.min = a.min;
      bs.max = a.max;
      bs.mean = a.mean;
      bs.stddev = a.stddev();
      if (a.valid > 0) writer.set_statistics(static_cast<int>(k) + 1, bs.min, bs.max, bs.mean, bs.stddev);
      out.push_back(bs);
    }
    return out;
  }

 private:
  std::vector<std::vector<float>> bufs_;
  std::vector<float*> ptrs_;
  std::vector<kernels::LayerStats> acc_;
  std::vector<std::uint64_t> nodata_count_;
  float nodata_;
  std::unique_ptr<kernels::Backend> cpu_;
  std::vector<float> scratch_;
};

/// What pass 2 writes: the staged file published as `out`, with these writer options.
struct SummaryOutput {
  const fs::path& out;
  const geo::WriterOptions& options;
};

/// Pass 2: per-cell summaries of the draws against the per-draw top thresholds `thr`, written
/// as they come; fills res.bands and res.cells and publishes the file.
void summary_pass(McEngine& mc, WindowInputs& inputs, const AnalysisContext& ctx,
                  const std::vector<std::int32_t>& thr, const SummaryOutput& dst,
                  UncertaintyResult& res) {
  const geo::WriterOptions& wopt = dst.options;
  StagedRaster out(ctx.files, dst.out, ctx.grid, wopt, ctx.cog);
  const auto ndf = static_cast<float>(wopt.nodata);
  SummaryBands bands(ctx.windows.max_cells(), ndf, wopt.threads);
  for (std::int64_t w = 0; w < ctx.windows.count(); ++w) {
    const geo::Window win = inputs.read(w);
    mc.run("summarising the draws per cell", [&](kernels::MonteCarlo& m) {
      m.cell_stats(inputs.layers(), win.cells(), thr, ndf, bands.bands());
    });
    bands.count(win.cells());
    out.write(bands.bands(), win);
    res.cells += win.cells();
  }
  res.bands = bands.finish(out.writer(), wopt.band_descriptions);
  ctx.files.publish(out.finish(), dst.out, true);
}

}  // namespace

UncertaintyResult run_uncertainty(const model::UncertaintySpec& spec, const AnalysisContext& ctx,
                                  double score_lo, double score_hi, const fs::path& out,
                                  const RunOptions& opt, double nodata, const std::string& compress,
                                  const std::vector<std::string>& node_names) {
  UncertaintyResult res;
  res.output = out;
  res.draws = spec.draws;
  res.seed = spec.seed;
  res.top_percent = spec.top_percent;
  UncertaintyPlan plan = plan_uncertainty(ctx.program, spec, node_names);
  res.perturbed = plan.perturbed;
  if (plan.perturbed.empty()) {
    gp::log::warning("[uncertainty]: nothing is perturbed (zero fractions, or no weighted-sum "
                     "group or shaped transform): every draw equals the map");
  }
  std::tie(res.hist_lo, res.hist_hi) = histogram_range(score_lo, score_hi);
  plan.setup.hist_lo = res.hist_lo;
  plan.setup.hist_hi = res.hist_hi;

  const EngineDevice device = engine_device(opt.device, opt.devices);
  McEngine mc = make_engine(ctx, opt, plan, device, res.device);
  gp::log::info("uncertainty: " + std::to_string(spec.draws) + " draws on " + res.device);
  WindowInputs inputs(ctx.sources, ctx.windows, kernels::program_inputs(ctx.program));

  const auto t1 = Clock::now();
  const std::clock_t c1 = std::clock();
  const std::vector<std::uint64_t> hist = histogram_pass(mc, device.cuda, inputs, ctx.windows, spec.draws);
  std::vector<double> excess;
  const std::vector<std::int32_t> thr = top_thresholds(hist, spec.draws, spec.top_percent, &excess);
  res.max_top_excess = excess.empty() ? 0.0 : *std::max_element(excess.begin(), excess.end());
  res.seconds_histogram = since(t1);
  res.cpu_seconds_histogram = cpu_seconds_since(c1);

  const auto t2 = Clock::now();
  const std::clock_t c2 = std::clock();
  const geo::WriterOptions wopt = summary_writer_options(spec, nodata, compress, opt.threads);
  summary_pass(mc, inputs, ctx, thr, SummaryOutput{out, wopt}, res);
  res.seconds_cells = since(t2);
  res.cpu_seconds_cells = cpu_seconds_since(c2);
  return res;
}

nlohmann::ordered_json uncertainty_json(const UncertaintyResult& r) {
  nlohmann::ordered_json j;
  j["output"] = r.output.string();
  j["device"] = r.device;
  j["draws"] = r.draws;
  j["seed"] = r.seed;
  j["perturbed"] = r.perturbed;
  j["rng"] = "counter-based: splitmix64 hash of (seed, draw, stream, index, attempt)";
  j["percentiles"] = "exact order statistics of each cell's draws, type-7 interpolation";
  j["top_percent"] = r.top_percent;
  j["top_threshold"] = {{"method", "per-draw histogram, 16384 bins"},
                        {"range", {r.hist_lo, r.hist_hi}},
                        {"bin_width", (r.hist_hi - r.hist_lo) / kernels::mc_bins},
                        {"max_excess_area_fraction", r.max_top_excess}};
  nlohmann::ordered_json bands = nlohmann::ordered_json::array();
  for (const auto& b : r.bands) {
    bands.push_back({{"name", b.name}, {"valid", b.valid}, {"nodata", b.nodata}, {"min", b.min},
                     {"max", b.max}, {"mean", b.mean}, {"stddev", b.stddev}});
  }
  j["bands"] = bands;
  j["seconds_histogram_pass"] = r.seconds_histogram;
  j["seconds_cell_pass"] = r.seconds_cells;
  j["cpu_seconds_histogram_pass"] = r.cpu_seconds_histogram;
  j["cpu_seconds_cell_pass"] = r.cpu_seconds_cells;
  const double s = r.seconds_histogram + r.seconds_cells;
  if (s > 0.0) {
    j["draw_cells_per_second"] = static_cast<double>(r.draws) * static_cast<double>(r.cells) / s;
  }
  return j;
}

WindowInputs::WindowInputs(const std::vector<std::unique_ptr<geo::RasterSource>>& sources,
                           const WindowPlan& windows, int n_inputs)
    : sources_(sources), windows_(windows) {
  GP_EXPECTS(static_cast<int>(sources.size()) >= n_inputs, error,
             "analysis: fewer sources than program inputs");
  buf_.assign(static_cast<std::size_t>(n_inputs), std::vector<float>(windows.max_cells()));
  ptrs_.resize(static_cast<std::size_t>(n_inputs));
}

geo::Window WindowInputs::read(std::int64_t w) {
  const geo::Window win = windows_.at(w);
  for (std::size_t l = 0; l < buf_.size(); ++l) {
    sources_[l]->read(win, buf_[l].data());
    ptrs_[l] = buf_[l].data();
  }
  return win;
}

namespace {

/// The stderr summary of a split: mean +- sd over the folds of the held-out figures.
void log_fold_summary(const ValidationResult& vr) {
  auto pm = [](const FoldSpread& f) {
    return text::significant(f.mean, 4) + " +- " + text::significant(f.sd, 3);
  };
  const FoldSpread auc = fold_spread(vr, [](const RateSummary& s, std::size_t) { return s.auc; });
  const FoldSpread roc = fold_spread(vr, [](const RateSummary& s, std::size_t) { return s.roc_auc; });
  std::string capture;
  for (std::size_t i = 0; i < vr.all.capture.size(); ++i) {
    const FoldSpread c = fold_spread(
        vr,
        [](const RateSummary& s, std::size_t k) {
          return k < s.capture.size() ? s.capture[k].second : std::nan("");
        },
        i);
    capture += (i == 0 ? "" : ", ") + std::string("top ") +
               text::shortest_plain(vr.all.capture[i].first) + " % " + pm(c);
  }
  gp::log::info("validation: held-out deposits over " + std::to_string(auc.n) + " folds (" +
                (vr.retrained ? "retrained" : "re-scored, not retrained") +
                "): success-rate AUC " + pm(auc) + ", ROC AUC " + pm(roc) + "; capture " + capture);
}

/// <stem>_deposits.gpkg waits for the classes (its column `class`): staged by the outputs once
/// the class thresholds are known, before anything is moved into place.
void stage_deposits_gpkg(const ValidationResult& vr, const fs::path& gpkg, StagedFiles& staged,
                         RunResult& res) {
  res.on_classes.push_back([vr, gpkg, &staged](const std::vector<double>* thr) {
    write_deposits_gpkg(vr, gpkg, staged, thr);
  });
}

/// A trained run without [validation]: its training deposits on the map, for
/// <stem>_training_deposits.gpkg (what each deposit scores, and why any was left out of training).
void place_training(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                    const fs::path& dir, const std::string& stem, RunResult& res) {
  ValidateOptions vo;
  vo.map = ctx.map;
  vo.band = 1;
  vo.device = opt.device;
  vo.devices = opt.devices;
  vo.threads = opt.threads;
  vo.training_deposits = deposit_spec(m.training, "[training] deposits " + m.training.deposits.string());
  ValidationResult vr = place_training_deposits(vo);
  vr.map = res.output;
  stage_deposits_gpkg(vr, training_deposits_gpkg_path(dir, stem), ctx.files, res);
  res.deposit_points = deposit_points(vr);  // drawn on the quicklook
}

/// [validation] of `m` on the committed map: its files beside the output, its numbers into
/// res.report["validation"].
ValidationResult run_validation(const model::Model& m, const RunOptions& opt,
                                const AnalysisContext& ctx, const fs::path& dir,
                                const std::string& stem, RunResult& res) {
  const model::ValidationSpec& v = m.validation;
  const std::string kind = is_trained_method(m) ? "data-driven" : "knowledge-driven";
  ValidateOptions vo;
  static_cast<model::SplitSpec&>(vo) = v;
  vo.map = ctx.map;
  vo.band = 1;
  vo.deposits = deposit_spec(v, "[validation] deposits " + v.deposits.string());
  vo.device = opt.device;
  vo.devices = opt.devices;
  vo.threads = opt.threads;
  vo.model_kind = kind;
  if (!m.training.deposits.empty()) {
    vo.training_deposits = deposit_spec(m.training, "[training] deposits " + m.training.deposits.string());
  }
  // A trained method retrains each fold (analysis/crossval.hpp); the others are re-scored.
  vo.retrain = is_trained_method(m) && (v.kfold > 0 || v.holdout > 0.0);
  ValidationResult vr = validate_map(vo);
  if (vo.retrain) {
    retrain_folds(m, opt, ctx, vr);
    if (vr.retrained) gp::log::info("validation: " + split_words(vr) + ": " + retraining_note(vr));
  }
  vr.map = res.output;
  // The deposits' GeoPackage waits for the classes (their column `class`): staged by the
  // outputs once the class thresholds are known, before anything is moved into place.
  const auto files = write_validation_outputs(vr, dir, stem, "Validation of " + m.name, ctx.files, false);
  stage_deposits_gpkg(vr, deposits_gpkg_path(dir, stem), ctx.files, res);
  res.deposit_points = deposit_points(vr);
  nlohmann::ordered_json j = validation_json(vr);
  nlohmann::ordered_json fl = nlohmann::ordered_json::array();
  for (const auto& f : files) fl.push_back(f.string());
  j["files"] = fl;
  res.report["validation"] = j;
  gp::log::info("validation: success-rate AUC " + text::shortest_plain(vr.all.auc) + ", ROC AUC " +
                text::shortest_plain(vr.all.roc_auc) + " (" + std::to_string(vr.deposits.size()) +
                " deposits)");
  if (!vr.folds.empty()) log_fold_summary(vr);
  return vr;
}

/// The uncertainty raster's side files: <stem>_uncertainty.qml (band 1, the mean, over its
/// min..max) and a quicklook of each band of interest (mean, std, p_top) from the staged
/// raster, <stem>_uncertainty_<band>.png, with the run's deposits.
void picture_uncertainty(const model::Model& m, const AnalysisContext& ctx, const fs::path& out,
                         const UncertaintyResult& ur, const RunResult& res) {
  const fs::path dir = out.parent_path();
  const std::string stem = out.stem().string();
  if (m.output.style && !ur.bands.empty() && ur.bands[0].valid > 0) {
    ctx.files.write_text(dir / (stem + ".qml"),
                         score_qml(m.output.colormap, ur.bands[0].min, ur.bands[0].max, 1), "qml");
  }
  const fs::path tif = ctx.files.staged(out);
  if (!m.output.quicklook || tif.empty()) return;
  for (std::size_t k = 0; k < ur.bands.size(); ++k) {
    const BandStats& b = ur.bands[k];
    if (b.valid == 0 || (b.name != "mean" && b.name != "std" && b.name != "p_top")) continue;
    geo::QuicklookOptions qo = quicklook_options(m, m.output.colormap, b.min, b.max);
    qo.title = m.name + ": uncertainty, " + b.name + " of " + std::to_string(ur.draws) + " draws";
    qo.legend_label = b.name == "p_top" ? "P(in the top " + text::shortest_plain(ur.top_percent) + " %)"
                                        : band_quantity(m, b.name);
    qo.band = static_cast<int>(k) + 1;
    qo.points = res.deposit_points;
    const fs::path png = dir / (stem + "_" + picture_tag(b.name) + ".png");
    const fs::path staged = ctx.files.temporary(png, "png");
    geo::write_quicklook(tif, staged, qo);
    ctx.files.publish(staged, png);
  }
}

}  // namespace

void run_analyses(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                  RunResult& res) {
  write_contributions(m, opt, ctx, res);  // [output] contributions: another pass over the grid
  const bool training_only = m.training.given && !m.validation.given;
  if (!m.validation.given && !m.uncertainty.given && !training_only) return;
  const fs::path dir = res.output.has_parent_path() ? res.output.parent_path() : fs::path(".");
  const std::string stem = res.output.stem().string();
  if (training_only) place_training(m, opt, ctx, dir, stem, res);
  if (m.validation.given) {
    const ValidationResult vr = run_validation(m, opt, ctx, dir, stem, res);
    // [[sweep]]: every variant against the deposits validation placed on the map.
    if (m.sweep.given()) res.report["sweep"] = sweep_json(run_sweep(m, opt, ctx, vr.deposits, dir, stem));
  }
  if (m.uncertainty.given) {
    const std::vector<std::string> names = model::node_names(m);  // the program's order
    const fs::path out = dir / (stem + "_uncertainty.tif");
    const UncertaintyResult ur =
        run_uncertainty(m.uncertainty, ctx, res.min, res.max, out, opt, m.output.nodata,
                        m.output.compress, names);
    picture_uncertainty(m, ctx, out, ur, res);
    res.report["uncertainty"] = uncertainty_json(ur);
  }
}

}  // namespace gp::cli
