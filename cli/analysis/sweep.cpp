// Parameter sweeps scored in one read; see analysis/sweep.hpp.
#include "analysis/sweep.hpp"

#include "analysis/program_scorer.hpp"
#include "plan/device.hpp"
#include "plan/program.hpp"

#include "outputs/outputs.hpp"
#include "outputs/staged_raster.hpp"
#include "gp/error.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/kernels/rank.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace gp::cli {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string exact(double v) { return std::isfinite(v) ? text::shortest(v) : std::string(); }

/// The figure that ranks variants (NaN: no figures).
double rank_figure(const SweepVariant& v, const std::string& rank_by) {
  if (!v.error.empty()) return std::nan("");
  return rank_by == "success" ? v.summary.auc : v.summary.roc_auc;
}

/// Ranks 1..N by the figure, highest first; ties and NaN keep variant order (NaN last).
std::size_t rank_variants(std::vector<SweepVariant>& vs, const std::string& rank_by) {
  std::vector<std::size_t> order(vs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const double fa = rank_figure(vs[a], rank_by);
    const double fb = rank_figure(vs[b], rank_by);
    if (std::isnan(fb)) return !std::isnan(fa);
    return !std::isnan(fa) && fa > fb;
  });
  for (std::size_t r = 0; r < order.size(); ++r) vs[order[r]].rank = r + 1;
  return order.empty() ? 0 : order[0];
}

/// Every variant's program, built from the run's statistics as the run built its own. A
/// variant the program builder refuses (e.g. every weight of a group 0) keeps its error.
std::vector<ScoredProgram> variant_programs(const model::Model& m, const AnalysisContext& ctx,
                                            std::vector<SweepVariant>& vs) {
  GP_EXPECTS(ctx.stats != nullptr && ctx.percentiles != nullptr, error,
             "sweep: the run's layer statistics were not handed over");
  std::vector<ScoredProgram> out;
  out.reserve(vs.size());
  for (SweepVariant& v : vs) {
    ScoredProgram sp;
    try {
      sp.program = build_program(sweep_model(m, m.sweep, v.values), *ctx.stats, *ctx.percentiles, sp.aux);
    } catch (const gp::config_error& e) {
      v.error = e.what();
      sp.program = ctx.program;  // scored like the rest, its figures never used
      sp.aux = ctx.aux;
    }
    out.push_back(std::move(sp));
  }
  return out;
}

/// Pass 2: every window read once, each variant's cells counted between its deposit scores.
void count_variants(ProgramScorer& scorer, const AnalysisContext& ctx, const RunOptions& opt,
                    const std::vector<RankedDeposit>& deposits,
                    const std::vector<std::vector<float>>& scores, const std::vector<double>& capture,
                    std::vector<SweepVariant>& vs) {
  std::vector<std::vector<RankedDeposit>> deps(vs.size());
  std::vector<std::vector<std::uint32_t>> edges(vs.size());
  std::vector<std::unique_ptr<kernels::RankCounter>> counters;
  for (std::size_t k = 0; k < vs.size(); ++k) {
    std::vector<float> finite;
    for (std::size_t i = 0; i < deposits.size(); ++i) {
      if (std::isnan(scores[k][i])) {
        ++vs[k].unscored;
        continue;
      }
      deps[k].push_back(deposits[i]);
      deps[k].back().score = scores[k][i];
      finite.push_back(scores[k][i]);
    }
    edges[k] = kernels::edge_keys(finite);
    counters.push_back(make_rank_counter(edges[k], opt.device, opt.devices, opt.threads));
  }
  for (std::int64_t w = 0; w < ctx.windows.count(); ++w) {
    const geo::Window win = scorer.read(w);
    for (std::size_t k = 0; k < vs.size(); ++k) counters[k]->add(scorer.score(k), win.cells());
  }
  for (std::size_t k = 0; k < vs.size(); ++k) {
    const std::vector<std::uint64_t> counts = counters[k]->counts();
    vs[k].valid_cells = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
    rank_from_counts(deps[k], edges[k], counts);
    std::vector<const RankedDeposit*> all;
    for (const auto& d : deps[k]) all.push_back(&d);
    vs[k].summary = summarise_ranks(vs[k].valid_cells, all, capture);
    if (vs[k].error.empty() && deps[k].empty()) vs[k].error = "no deposit on a valid cell of this variant's map";
  }
}

/// Pass 3 (write_best): the best variant's map, as a run of that model writes its band 1.
void write_best_map(ProgramScorer& scorer, std::size_t k, float nodata, const model::Model& m,
                    const AnalysisContext& ctx, const RunOptions& opt, const SweepResult& r) {
  geo::WriterOptions wo;
  wo.compress = m.output.compress;
  wo.predictor = predictor_for(m.output.compress);
  wo.threads = opt.threads;
  wo.nodata = nodata;
  wo.band_descriptions = {"prospectivity (sweep variant " + std::to_string(k + 1) + ")"};
  wo.report_as = r.best_map;
  for (std::size_t a = 0; a < r.parameters.size(); ++a) {
    wo.metadata["GP_SWEEP_" + std::to_string(a + 1)] = r.parameters[a] + " = " + exact(r.variants[k].values[a]);
  }
  wo.metadata["GP_MODEL_NAME"] = m.name;
  StagedRaster out(ctx.files, r.best_map, ctx.grid, wo, ctx.cog);
  std::vector<float> band(ctx.windows.max_cells());
  for (std::int64_t w = 0; w < ctx.windows.count(); ++w) {
    const geo::Window win = scorer.read(w);
    const float* s = scorer.score(k);
    for (std::size_t i = 0; i < win.cells(); ++i) band[i] = std::isnan(s[i]) ? nodata : s[i];
    const float* bands[1] = {band.data()};
    out.write(bands, win);
  }
  ctx.files.publish(out.finish(), r.best_map, true);
}

}  // namespace

std::vector<std::vector<double>> sweep_variants(const model::SweepSpec& s) {
  std::vector<std::vector<double>> out{{}};
  for (const auto& a : s.axes) {
    std::vector<std::vector<double>> next;
    for (const auto& head : out) {
      for (double v : a.values) {
        next.push_back(head);
        next.back().push_back(v);
      }
    }
    out = std::move(next);
  }
  return out;
}

std::string sweep_parameter(const model::SweepAxis& a) {
  if (!a.layer.empty()) return a.layer + "." + a.key;
  return a.group + "." + a.key + (a.input.empty() ? std::string() : "[" + a.input + "]");
}

namespace {

/// Input `input`'s weight in group g (every place it is an input).
void set_input_weight(model::GroupSpec& g, const std::string& input, double x) {
  for (std::size_t j = 0; j < g.inputs.size() && j < g.weights.size(); ++j) {
    if (g.inputs[j] == input) g.weights[j] = x;
  }
}

void apply_layer_axis(model::Model& v, const model::SweepAxis& a, double x) {
  for (auto& L : v.layers) {
    if (L.name != a.layer) continue;
    model::TransformSpec& t = L.transform;
    if (a.key == "midpoint") t.midpoint = x;
    if (a.key == "spread") t.spread = x;
    if (a.key == "min") t.min = x;
    if (a.key == "max") t.max = x;
    if (a.key == "weight") L.weight = x;
  }
  if (a.key != "weight") return;
  for (auto& g : v.groups) set_input_weight(g, a.layer, x);
}

void apply_group_axis(model::Model& v, const model::SweepAxis& a, double x) {
  for (auto& g : v.groups) {
    if (g.name != a.group) continue;
    if (a.key != "gamma") {
      set_input_weight(g, a.input, x);
      continue;
    }
    g.gamma = x;
    if (g.name == v.combine.final) v.combine.gamma = x;
  }
}

}  // namespace

model::Model sweep_model(const model::Model& m, const model::SweepSpec& s,
                         const std::vector<double>& values) {
  model::Model v = m;
  for (std::size_t i = 0; i < s.axes.size(); ++i) {
    const model::SweepAxis& a = s.axes[i];
    if (!a.layer.empty()) {
      apply_layer_axis(v, a, values.at(i));
    } else {
      apply_group_axis(v, a, values.at(i));
    }
  }
  return v;
}

SweepResult run_sweep(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                      const std::vector<RankedDeposit>& deposits, const fs::path& dir,
                      const std::string& stem) {
  SweepResult r;
  r.rank_by = m.sweep.rank_by;
  r.capture_percent = m.validation.capture_percent;
  r.deposits = deposits.size();
  for (const auto& a : m.sweep.axes) r.parameters.push_back(sweep_parameter(a));
  r.csv = dir / (stem + "_sweep.csv");
  if (m.sweep.write_best) r.best_map = dir / (stem + "_sweep_best.tif");
  ctx.files.check(r.csv);
  if (!r.best_map.empty()) ctx.files.check(r.best_map, true);
  for (auto& values : sweep_variants(m.sweep)) r.variants.push_back({std::move(values), {}, 0, 0, {}, 0});
  ChosenBackend chosen = choose_backend(opt.device, opt.devices, opt.threads);
  r.device = chosen.backend->name();
  gp::log::info("sweep: " + std::to_string(r.variants.size()) + " variants on " + r.device);
  std::vector<ScoredProgram> programs = variant_programs(m, ctx, r.variants);
  const float nodata = programs[0].program.out_nodata;
  ProgramScorer scorer(ctx, *chosen.backend, std::move(programs));
  const auto t0 = Clock::now();
  const std::vector<std::vector<float>> scores = deposit_scores(scorer, ctx.windows, deposits, ctx.captured);
  r.seconds_deposits = seconds_since(t0);
  r.deposits_from_scoring_pass = captured_all(ctx.captured, deposits);
  const auto t1 = Clock::now();
  count_variants(scorer, ctx, opt, deposits, scores, r.capture_percent, r.variants);
  r.seconds_cells = seconds_since(t1);
  r.best = rank_variants(r.variants, r.rank_by);
  for (const auto& v : r.variants) {
    if (!v.error.empty()) gp::log::warning("sweep: a variant has no figures: " + v.error);
  }
  ctx.files.write_text(r.csv, sweep_csv(r), "csv");
  const SweepVariant& best = r.variants[r.best];
  std::string at;
  for (std::size_t a = 0; a < r.parameters.size(); ++a) {
    at += (a == 0 ? "" : ", ") + r.parameters[a] + " = " + exact(best.values[a]);
  }
  gp::log::info("sweep: best by " + std::string(r.rank_by == "success" ? "success-rate" : "ROC") +
                " AUC: " + at + " (success-rate AUC " + text::significant(best.summary.auc, 4) +
                ", ROC AUC " + text::significant(best.summary.roc_auc, 4) + ")");
  if (!r.best_map.empty()) {
    if (!best.error.empty()) throw input_error("[[sweep]] write_best: no variant has figures: " + best.error);
    const auto t2 = Clock::now();
    write_best_map(scorer, r.best, nodata, m, ctx, opt, r);
    r.seconds_best = seconds_since(t2);
  }
  return r;
}

std::string sweep_csv(const SweepResult& r) {
  std::string out = "variant";
  for (const auto& p : r.parameters) out += "," + p;
  out += ",success_auc,roc_auc";
  for (double p : r.capture_percent) out += ",capture_top" + exact(p);
  out += ",deposits,unscored,valid_cells,rank,error\n";
  for (std::size_t k = 0; k < r.variants.size(); ++k) {
    const SweepVariant& v = r.variants[k];
    const bool ok = v.error.empty();
    out += std::to_string(k + 1);
    // append(): GCC 12's -Wrestrict misfires on "," + string.
    auto field = [&out](const std::string& f) { out.append(",").append(f); };
    for (double x : v.values) field(exact(x));
    field(ok ? exact(v.summary.auc) : std::string());
    field(ok ? exact(v.summary.roc_auc) : std::string());
    for (std::size_t c = 0; c < r.capture_percent.size(); ++c) {
      field(ok && c < v.summary.capture.size() ? exact(v.summary.capture[c].second) : std::string());
    }
    std::string err = v.error;
    std::replace(err.begin(), err.end(), '"', '\'');
    out += "," + std::to_string(v.summary.deposits) + "," + std::to_string(v.unscored) + "," +
           std::to_string(v.valid_cells) + "," + std::to_string(v.rank) + "," +
           (err.empty() ? "" : "\"" + err + "\"") + "\n";
  }
  return out;
}

nlohmann::ordered_json sweep_json(const SweepResult& r) {
  nlohmann::ordered_json j;
  j["parameters"] = r.parameters;
  j["variants"] = r.variants.size();
  j["rank_by"] = r.rank_by == "success" ? "success-rate AUC" : "ROC AUC";
  j["deposits"] = r.deposits;
  j["device"] = r.device;
  const SweepVariant& b = r.variants[r.best];
  nlohmann::ordered_json best;
  best["variant"] = r.best + 1;
  for (std::size_t a = 0; a < r.parameters.size(); ++a) best[r.parameters[a]] = b.values[a];
  best["success_auc"] = b.summary.auc;
  best["roc_auc"] = b.summary.roc_auc;
  j["best"] = best;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  files.push_back(r.csv.string());
  if (!r.best_map.empty()) files.push_back(r.best_map.string());
  j["files"] = files;
  j["deposit_inputs"] = r.deposits_from_scoring_pass ? "kept by the run's scoring pass"
                                                     : "a pass over the windows holding a deposit";
  j["seconds_deposit_pass"] = r.seconds_deposits;
  j["seconds_cell_pass"] = r.seconds_cells;
  if (!r.best_map.empty()) j["seconds_best_map"] = r.seconds_best;
  // Passes over the inputs for all variants together: deposit windows (unless the scoring pass
  // kept their inputs), every window, the best map.
  j["passes"] = (r.deposits_from_scoring_pass ? 1 : 2) + (r.best_map.empty() ? 0 : 1);
  return j;
}

}  // namespace gp::cli
