// Monte Carlo uncertainty and the runner's validation/uncertainty hook; see
// gp/cli/uncertainty.hpp.
#include "analysis/uncertainty.hpp"

#include "model/groups.hpp"
#include "plan/deposit_source.hpp"
#include "train/trained.hpp"

#include "analysis/validation.hpp"
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

UncertaintyPlan plan_uncertainty(const kernels::Program& p, const model::UncertaintySpec& spec,
                                 const std::vector<std::string>& names) {
  using kernels::CombineMethod;
  using kernels::TransformKind;
  GP_EXPECTS(spec.draws >= 1 && spec.draws <= kernels::mc_max_draws, config_error,
             "[uncertainty] draws: expected 1 .. " + std::to_string(kernels::mc_max_draws));
  auto name_of = [&](int node) {
    if (node < static_cast<int>(names.size())) return names[static_cast<std::size_t>(node)];
    return (node < p.n_layers ? "layer #" : "group #") +
           std::to_string(node < p.n_layers ? node + 1 : node - p.n_layers + 1);
  };
  int n_inputs = 0;
  for (int g = 0; g < p.n_groups; ++g) {
    n_inputs = std::max(n_inputs, p.groups[g].first_input + p.groups[g].n_inputs);
  }
  UncertaintyPlan plan;
  kernels::McSetup& s = plan.setup;
  s.draws = spec.draws;
  s.stride = 2 * p.n_layers + n_inputs;
  const bool membership = spec.midpoint_fraction > 0.0 || spec.spread_fraction > 0.0;
  for (int l = 0; l < p.n_layers; ++l) {
    const TransformKind k = p.layers[l].transform.kind;
    const bool shaped = k == TransformKind::large || k == TransformKind::small ||
                        k == TransformKind::gaussian || k == TransformKind::near;
    const bool linear = (k == TransformKind::linear || k == TransformKind::minmax) &&
                        p.layers[l].transform.a != p.layers[l].transform.b;
    s.perturbed_layer[l] = membership && (shaped || linear) ? 1 : 0;
    if (s.perturbed_layer[l] != 0) {
      plan.perturbed.push_back("layer '" + name_of(l) + "': " +
                               (linear ? "min/max centre and width" : "midpoint and spread"));
    }
  }
  const bool weights = (spec.weights_mode == "dirichlet") ||
                       (spec.weights_mode == "uniform" && spec.uniform_fraction > 0.0);
  for (int g = 0; g < p.n_groups; ++g) {
    const CombineMethod m = p.groups[g].method;
    s.perturbed_group[g] = weights && p.groups[g].n_inputs >= 2 &&
                                   (m == CombineMethod::weighted_sum || m == CombineMethod::index_overlay)
                               ? 1
                               : 0;
    if (s.perturbed_group[g] != 0) {
      plan.perturbed.push_back("group '" + name_of(p.n_layers + g) + "': weights (" +
                               spec.weights_mode + ")");
    }
  }
  plan.params.assign(static_cast<std::size_t>(s.draws) * static_cast<std::size_t>(s.stride), 0.0);
  for (int d = 0; d < s.draws; ++d) {
    double* par = plan.params.data() + static_cast<std::size_t>(d) * static_cast<std::size_t>(s.stride);
    const auto draw = static_cast<std::uint64_t>(d);
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
    for (int k = 0; k < n_inputs; ++k) par[kernels::mc_param_w(p, k)] = p.input_weights[k];
    for (int g = 0; g < p.n_groups; ++g) {
      if (s.perturbed_group[g] == 0) continue;
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
        // Every Gamma variate underflowed (tiny concentrations): keep the given weights.
        for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) {
          par[kernels::mc_param_w(p, k)] = p.input_weights[k];
        }
        continue;
      }
      for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) par[kernels::mc_param_w(p, k)] /= sum;
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
  // Histogram range: [0, 1] for maps inside it (fuzzy scores), else the map's range widened by
  // a fifth on each side for draws beyond it.
  double lo = 0.0;
  double hi = 1.0;
  if (!(score_lo >= 0.0 && score_hi <= 1.0)) {
    const double r = score_hi > score_lo ? score_hi - score_lo : 1.0;
    lo = score_lo - 0.2 * r;
    hi = score_hi + 0.2 * r;
  }
  plan.setup.hist_lo = lo;
  plan.setup.hist_hi = hi;
  res.hist_lo = lo;
  res.hist_hi = hi;

  const EngineDevice device = engine_device(opt.device, opt.devices);
  // When the device runs out of memory, warns once and runs that call, and every later one, on
  // the CPU engine with the same set-up. Calls are self-contained (a histogram call counts into
  // a zeroed buffer the caller adds), so redoing one on the CPU counts nothing twice.
  kernels::DeviceFallback<kernels::MonteCarlo> mc(
      device.cuda ? kernels::make_montecarlo_cuda(device.id) : kernels::make_montecarlo_cpu(opt.threads),
      [&opt] { return kernels::make_montecarlo_cpu(opt.threads); },
      [&](kernels::MonteCarlo& dev, kernels::MonteCarlo& cpu, const char* stage,
          const gp::device_out_of_memory& e) {
        gp::log::warning(std::string("uncertainty: ") + dev.name() + " ran out of memory while " +
                         stage + " (" + e.what() + "); continuing on the CPU");
        cpu.set(ctx.program, ctx.aux, plan.setup, plan.params);
        res.device = cpu.name() + " (after the device ran out of memory)";
      });
  res.device = mc.primary().name();
  auto on_engine = [&mc](const char* stage, auto&& call) { mc.run(stage, call); };
  on_engine("uploading the draws", [&](kernels::MonteCarlo& m) {
    m.set(ctx.program, ctx.aux, plan.setup, plan.params);
  });
  gp::log::info("uncertainty: " + std::to_string(spec.draws) + " draws on " + res.device);

  const geo::Grid& grid = ctx.grid;
  const int n_in = kernels::program_inputs(ctx.program);
  GP_EXPECTS(static_cast<int>(ctx.sources.size()) >= n_in, error,
             "uncertainty: fewer sources than program inputs");
  // The runner's windows, so memory is bounded by the window whatever the width.
  const WindowPlan& windows = ctx.windows;
  const std::int64_t n_windows = windows.count();
  const std::size_t win_cells = windows.max_cells();
  std::vector<std::vector<float>> buf(static_cast<std::size_t>(n_in), std::vector<float>(win_cells));
  std::vector<const float*> ptrs(static_cast<std::size_t>(n_in));
  auto read_window = [&](std::int64_t w) {
    const geo::Window win = windows.at(w);
    for (int l = 0; l < n_in; ++l) {
      ctx.sources[static_cast<std::size_t>(l)]->read(win, buf[static_cast<std::size_t>(l)].data());
      ptrs[static_cast<std::size_t>(l)] = buf[static_cast<std::size_t>(l)].data();
    }
    return win;
  };

  // Pass 1: per-draw histograms.
  auto t1 = Clock::now();
  const std::clock_t c1 = std::clock();
  std::vector<std::uint64_t> hist(static_cast<std::size_t>(spec.draws) * kernels::mc_bins, 0);
  std::vector<std::uint64_t> part;  // the device's counts of one window, added once complete
  for (std::int64_t w = 0; w < n_windows; ++w) {
    const geo::Window win = read_window(w);
    if (!device.cuda || mc.switched()) {
      mc.current().histogram(ptrs.data(), win.cells(), hist.data());
      continue;
    }
    part.assign(hist.size(), 0);
    on_engine("counting the draws' histograms", [&](kernels::MonteCarlo& m) {
      std::fill(part.begin(), part.end(), 0);
      m.histogram(ptrs.data(), win.cells(), part.data());
    });
    for (std::size_t k = 0; k < hist.size(); ++k) hist[k] += part[k];
  }
  std::vector<double> excess;
  const std::vector<std::int32_t> thr = top_thresholds(hist, spec.draws, spec.top_percent, &excess);
  res.max_top_excess = excess.empty() ? 0.0 : *std::max_element(excess.begin(), excess.end());
  res.seconds_histogram = since(t1);
  res.cpu_seconds_histogram = static_cast<double>(std::clock() - c1) / CLOCKS_PER_SEC;

  // Pass 2: per-cell summaries, written as they come.
  auto t2 = Clock::now();
  const std::clock_t c2 = std::clock();
  geo::WriterOptions wopt;
  wopt.compress = compress;
  wopt.predictor = compress == "NONE" ? 1 : 3;
  wopt.nodata = nodata;
  wopt.threads = opt.threads;
  wopt.band_descriptions = {"mean", "std", "p05", "p95", "p_top"};
  wopt.metadata["GP_UNCERTAINTY_DRAWS"] = std::to_string(spec.draws);
  wopt.metadata["GP_UNCERTAINTY_SEED"] = std::to_string(spec.seed);
  wopt.metadata["GP_UNCERTAINTY_TOP_PERCENT"] = text::shortest_plain(spec.top_percent);
  const fs::path staged = ctx.files.temporary(out, "gtiff");
  wopt.report_as = out;
  geo::RasterWriter writer(staged, grid, wopt);
  std::vector<std::vector<float>> o(kernels::mc_outputs, std::vector<float>(win_cells));
  std::vector<float*> optr(kernels::mc_outputs);
  for (int k = 0; k < kernels::mc_outputs; ++k) optr[static_cast<std::size_t>(k)] = o[static_cast<std::size_t>(k)].data();
  std::vector<kernels::LayerStats> acc(kernels::mc_outputs);
  std::vector<std::uint64_t> nd_count(kernels::mc_outputs, 0);
  const auto ndf = static_cast<float>(nodata);
  auto cpu = kernels::make_cpu_backend(opt.threads);
  std::vector<float> scratch(win_cells);
  for (std::int64_t w = 0; w < n_windows; ++w) {
    const geo::Window win = read_window(w);
    on_engine("summarising the draws per cell", [&](kernels::MonteCarlo& m) {
      m.cell_stats(ptrs.data(), win.cells(), thr, ndf, optr.data());
    });
    for (int k = 0; k < kernels::mc_outputs; ++k) {
      const float* v = optr[static_cast<std::size_t>(k)];
      for (std::size_t i = 0; i < win.cells(); ++i) {
        const bool isnd = v[i] == ndf;
        nd_count[static_cast<std::size_t>(k)] += isnd ? 1 : 0;
        scratch[i] = isnd ? std::numeric_limits<float>::quiet_NaN() : v[i];
      }
      acc[static_cast<std::size_t>(k)].merge(cpu->stats(scratch.data(), win.cells()));
    }
    if (win.cols == grid.width) {
      writer.write_rows(optr.data(), win.rows);
    } else {
      writer.write_window(optr.data(), win);
    }
    res.cells += win.cells();
  }
  for (int k = 0; k < kernels::mc_outputs; ++k) {
    const auto& a = acc[static_cast<std::size_t>(k)];
    BandStats bs;
    bs.name = wopt.band_descriptions[static_cast<std::size_t>(k)];
    bs.valid = a.valid;
    bs.nodata = nd_count[static_cast<std::size_t>(k)];
    bs.min = a.min;
    bs.max = a.max;
    bs.mean = a.mean;
    bs.stddev = a.stddev();
    if (a.valid > 0) writer.set_statistics(k + 1, bs.min, bs.max, bs.mean, bs.stddev);
    res.bands.push_back(bs);
  }
  writer.close();
  ctx.files.publish(staged, out, true);
  res.seconds_cells = since(t2);
  res.cpu_seconds_cells = static_cast<double>(std::clock() - c2) / CLOCKS_PER_SEC;
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

namespace {

/// [validation] of `m` on the committed map: its files beside the output, its numbers into
/// res.report["validation"].
void run_validation(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                    const fs::path& dir, const std::string& stem, RunResult& res) {
  const model::ValidationSpec& v = m.validation;
  const std::string kind = is_trained_method(m) ? "data-driven" : "knowledge-driven";
  ValidateOptions vo;
  vo.map = ctx.map;
  vo.band = 1;
  vo.deposits = deposit_spec(v, "[validation] deposits " + v.deposits.string());
  vo.holdout = v.holdout;
  vo.kfold = v.kfold;
  vo.seed = v.seed;
  vo.split_by = v.split_by;
  vo.capture_percent = v.capture_percent;
  vo.device = opt.device;
  vo.devices = opt.devices;
  vo.threads = opt.threads;
  vo.model_kind = kind;
  ValidationResult vr = validate_map(vo);
  vr.map = res.output;
  const auto files = write_validation_outputs(vr, dir, stem, "Validation of " + m.name, ctx.files);
  nlohmann::ordered_json j = validation_json(vr);
  j["model_kind"] = kind;
  if (kind == "data-driven" && vr.split != "none") {
    j["split"]["note"] = "the map was trained on all deposits (no retraining per fold): the "
                         "prediction-rate figures are optimistic";
  }
  nlohmann::ordered_json fl = nlohmann::ordered_json::array();
  for (const auto& f : files) fl.push_back(f.string());
  j["files"] = fl;
  res.report["validation"] = j;
  gp::log::info("validation: success-rate AUC " + text::shortest_plain(vr.all.auc) + ", ROC AUC " +
                text::shortest_plain(vr.all.roc_auc) + " (" + std::to_string(vr.deposits.size()) +
                " deposits)");
}

}  // namespace

void run_analyses(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                  RunResult& res) {
  if (!m.validation.given && !m.uncertainty.given) return;
  const fs::path dir = res.output.has_parent_path() ? res.output.parent_path() : fs::path(".");
  const std::string stem = res.output.stem().string();
  if (m.validation.given) run_validation(m, opt, ctx, dir, stem, res);
  if (m.uncertainty.given) {
    const std::vector<std::string> names = model::node_names(m);  // the program's order
    const fs::path out = dir / (stem + "_uncertainty.tif");
    const UncertaintyResult ur =
        run_uncertainty(m.uncertainty, ctx, res.min, res.max, out, opt, m.output.nodata,
                        m.output.compress, names);
    res.report["uncertainty"] = uncertainty_json(ur);
  }
}

}  // namespace gp::cli
