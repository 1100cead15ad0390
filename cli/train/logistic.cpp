// Logistic regression by IRLS on known deposits. See train/logistic.hpp.

#include "train/logistic.hpp"

#include "training_common.hpp"

#include "run/cluster.hpp"
#include "run/runner.hpp"
#include "gp/error.hpp"
#include "gp/geo/cell_area.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>

namespace gp::cli::logistic {
namespace {

namespace fs = std::filesystem;
using J = nlohmann::ordered_json;

std::string num(double v) { return text::significant(v, 12); }

/// ln(1 + exp(t)) without overflow.
double log1pexp(double t) { return t > 0.0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); }

/// Cholesky factorisation of a symmetric positive definite matrix (row-major n x n) in place;
/// false when it is not positive definite (to working precision).
bool cholesky(std::vector<double>& a, std::size_t n) {
  double scale = 0.0;
  for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(a[i * n + i]));
  for (std::size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 1e-12 * scale)) return false;
    const double l = std::sqrt(d);
    a[j * n + j] = l;
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  return true;
}

/// Solves L L^T x = b with the factor from cholesky().
std::vector<double> chol_solve(const std::vector<double>& l, std::size_t n, std::vector<double> b) {
  for (std::size_t i = 0; i < n; ++i) {
    double s = b[i];
    for (std::size_t k = 0; k < i; ++k) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
  return b;
}

}  // namespace

void NormalSums::add(const double* x, double trials, double successes,
                     const std::vector<double>& beta) {
  double eta = 0.0;
  for (std::size_t j = 0; j < p; ++j) eta += x[j] * beta[j];
  const double pr = 1.0 / (1.0 + std::exp(-eta));
  const double w = trials * pr * (1.0 - pr);
  const double r = successes - trials * pr;
  for (std::size_t j = 0; j < p; ++j) {
    grad[j] += x[j] * r;
    const double wx = w * x[j];
    for (std::size_t k = 0; k <= j; ++k) xtwx[j * p + k] += wx * x[k];
  }
  // y ln p + (a - y) ln(1 - p) = y eta - a ln(1 + e^eta)
  loglik += successes * eta - trials * log1pexp(eta);
}

void NormalSums::merge(const NormalSums& o) {
  for (std::size_t i = 0; i < xtwx.size(); ++i) xtwx[i] += o.xtwx[i];
  for (std::size_t i = 0; i < grad.size(); ++i) grad[i] += o.grad[i];
  loglik += o.loglik;
}

void NormalSums::store(double* record) const {
  std::copy(xtwx.begin(), xtwx.end(), record);
  std::copy(grad.begin(), grad.end(), record + xtwx.size());
  record[xtwx.size() + grad.size()] = loglik;
}

void NormalSums::merge_record(const double* record) {
  for (std::size_t i = 0; i < xtwx.size(); ++i) xtwx[i] += record[i];
  const double* g = record + xtwx.size();
  for (std::size_t i = 0; i < grad.size(); ++i) grad[i] += g[i];
  loglik += g[grad.size()];
}

Fit irls(std::size_t p, double start_logit,
         const std::function<NormalSums(const std::vector<double>& beta)>& pass,
         int max_iterations, double tolerance) {
  Fit f;
  f.beta.assign(p, 0.0);
  f.beta[0] = start_logit;
  std::vector<double> chol;
  for (int it = 1; it <= max_iterations; ++it) {
    NormalSums s = pass(f.beta);
    for (std::size_t j = 0; j < p; ++j) {
      for (std::size_t k = j + 1; k < p; ++k) s.xtwx[j * p + k] = s.xtwx[k * p + j];
    }
    chol = s.xtwx;
    if (!cholesky(chol, p)) {
      throw input_error("logistic regression: X^T W X is singular (a predictor is constant on the "
                        "cells used, or predictors are collinear, or a class has no cell)");
    }
    const std::vector<double> step = chol_solve(chol, p, s.grad);
    double change = 0.0;
    for (std::size_t j = 0; j < p; ++j) {
      f.beta[j] += step[j];
      change = std::max(change, std::abs(step[j]));
      if (!std::isfinite(f.beta[j]) || std::abs(f.beta[j]) > 1e3) {
        throw input_error("logistic regression diverges (coefficient " + std::to_string(j) +
                          " grows without bound: the deposits are perfectly separated by a "
                          "predictor or class)");
      }
    }
    f.iterations = it;
    f.loglik = s.loglik;
    if (change < tolerance) {
      f.converged = true;
      break;
    }
  }
  if (!f.converged) {
    // Newton steps under perfect separation tend to a constant size: the coefficients keep
    // growing and the fitted probabilities reach 0 or 1.
    for (std::size_t j = 0; j < p; ++j) {
      if (std::abs(f.beta[j]) > 25.0) {
        throw input_error("logistic regression does not converge (coefficient " +
                          std::to_string(j) + " is " + num(f.beta[j]) +
                          " after " + std::to_string(f.iterations) +
                          " iterations: the deposits are perfectly separated by a predictor or "
                          "class)");
      }
    }
  }
  // Standard errors from the information at the final coefficients.
  NormalSums s = pass(f.beta);
  for (std::size_t j = 0; j < p; ++j) {
    for (std::size_t k = j + 1; k < p; ++k) s.xtwx[j * p + k] = s.xtwx[k * p + j];
  }
  f.loglik = s.loglik;
  chol = s.xtwx;
  f.se.assign(p, 0.0);
  if (cholesky(chol, p)) {
    for (std::size_t j = 0; j < p; ++j) {
      std::vector<double> e(p, 0.0);
      e[j] = 1.0;
      f.se[j] = std::sqrt(chol_solve(chol, p, e)[j]);
    }
  }
  return f;
}

Fit fit_arrays(const std::vector<double>& x, std::size_t p, const std::vector<double>& trials,
               const std::vector<double>& successes, int max_iterations, double tolerance) {
  const std::size_t n = trials.size();
  double st = 0.0;
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    st += trials[i];
    ss += successes[i];
  }
  GP_EXPECTS(ss > 0.0 && ss < st, input_error, "logistic regression: expected 0 < successes < trials");
  auto pass = [&](const std::vector<double>& beta) {
    NormalSums s(p);
    for (std::size_t i = 0; i < n; ++i) s.add(&x[i * p], trials[i], successes[i], beta);
    return s;
  };
  return irls(p, std::log(ss / (st - ss)), pass, max_iterations, tolerance);
}

namespace {

class LogisticTrained final : public Trained {
 public:
  J report;
  std::unique_ptr<training::SideFile> table;
  std::string table_text;
  void before_outputs(RunResult& res) override {
    res.report["logistic_regression"] = report;
    table->write(table_text);
  }
};

}  // namespace

std::unique_ptr<Trained> train(const TrainingContext& ctx) {
  const auto t_start = std::chrono::steady_clock::now();
  const model::Model& m = ctx.model;
  const geo::Grid& grid = ctx.grid;
  auto tr = std::make_unique<LogisticTrained>();
  tr->band_names = {"probability"};
  const int mask = training::mask_layer(m);
  const std::vector<std::size_t> ev = training::evidence_layers(m);  // all but the mask
  const double unit_km2 = m.training.unit_cell_km2;
  const double cell_km2 = geo::cell_area_km2(grid, "[training] unit_cell_km2");
  const double a = cell_km2 / unit_km2;
  const double grid_km2 = static_cast<double>(grid.cells()) * cell_km2;
  if (unit_km2 > grid_km2) {
    throw config_error("[training] unit_cell_km2: " + num(unit_km2) +
                       " km² is larger than the whole grid (" + num(grid_km2) +
                       " km²; expected a unit cell smaller than the study area)");
  }
  const fs::path out = fs::absolute(ctx.output);
  tr->table = std::make_unique<training::SideFile>(
      ctx.files, out.parent_path() / (out.stem().string() + "_logistic.csv"));
  training::DepositCells dep = training::place(ctx);

  // Pass 1: moments of continuous layers, classes of categorical ones, complete deposit cells.
  const std::size_t n_ev = ev.size();
  std::vector<bool> cat(n_ev);
  for (std::size_t e = 0; e < n_ev; ++e) cat[e] = m.layers[ev[e]].logistic.type == "categorical";
  std::vector<kernels::LayerStats> st(n_ev);
  const auto n_windows = static_cast<std::size_t>(ctx.windows.count());
  std::vector<kernels::LayerStats> win_stats(n_windows * n_ev);  // per window, then folded
  std::vector<std::map<long long, std::uint64_t>> classes(n_ev);
  std::vector<bool> dep_ok(dep.size(), false);
  std::uint64_t complete = 0;
  std::vector<std::uint64_t> hist;
  training::for_each_window(ctx, [&](std::int64_t w, const geo::Window& win,
                                     std::vector<std::vector<float>>& buf) {
    const std::size_t n = win.cells();
    for (std::size_t e = 0; e < n_ev; ++e) {
      const float* data = buf[ev[e]].data();
      // Rows reduced in order: the same bits whatever the thread count of this rank.
      const kernels::LayerStats s = ctx.backend.stats(data, n, static_cast<std::size_t>(win.cols));
      win_stats[static_cast<std::size_t>(w) * n_ev + e] = s;
      if (cat[e] && s.valid > 0) {
        const auto lo = static_cast<long long>(std::floor(s.min));
        const long long nb = static_cast<long long>(std::floor(s.max)) - lo + 1;
        if (nb > (1LL << 22)) {
          throw input_error("layer '" + m.layers[ev[e]].name + "': categorical values span " +
                            std::to_string(nb) + " integer classes (too many)");
        }
        hist.assign(static_cast<std::size_t>(nb), 0);
        ctx.backend.histogram(data, n, static_cast<double>(lo), static_cast<double>(lo + nb),
                              static_cast<int>(nb), nullptr, 0, hist.data());
        for (long long b = 0; b < nb; ++b) {
          if (hist[static_cast<std::size_t>(b)] != 0) classes[e][lo + b] += hist[static_cast<std::size_t>(b)];
        }
      }
    }
    std::uint64_t c = 0;
    const auto cnt = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for reduction(+ : c) schedule(static)
    for (std::ptrdiff_t i = 0; i < cnt; ++i) {
      bool ok = true;
      for (std::size_t e = 0; e < n_ev && ok; ++e) ok = std::isfinite(buf[ev[e]][static_cast<std::size_t>(i)]);
      c += ok ? 1 : 0;
    }
    complete += c;
    training::for_each_deposit_in(dep, win, [&](std::size_t d, std::size_t idx) {
      bool ok = true;
      for (std::size_t e = 0; e < n_ev && ok; ++e) ok = std::isfinite(buf[ev[e]][idx]);
      dep_ok[d] = ok;
    });
  });
  // Every rank's windows together: moments folded in window order (the same bits on 1 or N
  // ranks), integer counts summed, each deposit's flag from the rank that read its cell.
  cluster::fold_in_window_order(win_stats, n_ev, [&](std::size_t, const kernels::LayerStats* s) {
    for (std::size_t e = 0; e < n_ev; ++e) st[e].merge(s[e]);
  });
  for (auto& c : classes) training::sum_over_ranks(c);
  cluster::allreduce_sum(&complete, 1);
  training::or_over_ranks(dep_ok);
  training::drop_where(dep, dep_ok,
                       mask >= 0 ? "outside the territory / boundary mask, or on a cell where "
                                   "an evidence layer is nodata"
                                 : "on a cell where an evidence layer is nodata");
  if (dep.size() == 0) {
    throw input_error("[training] deposits: no deposit lies on a cell where every evidence layer "
                      "holds data");
  }
  const double n_t = static_cast<double>(complete) * a;
  const double n_d = static_cast<double>(dep.size());
  if (!(n_t > n_d)) {
    throw config_error("[training] unit_cell_km2: the study area is " + num(n_t) +
                       " unit cells for " + num(n_d) +
                       " deposits (expected more unit cells than deposits: lower unit_cell_km2)");
  }

  // Design: intercept, then per layer one standardised column or one indicator per class but
  // the reference (the most common class).
  std::vector<std::string> terms{"intercept"};
  std::vector<std::size_t> first_col(n_ev);
  std::vector<std::map<long long, int>> col_of(n_ev);  // class -> column (-1 reference)
  std::vector<long long> reference(n_ev, 0);
  for (std::size_t e = 0; e < n_ev; ++e) {
    const std::string& name = m.layers[ev[e]].name;
    first_col[e] = terms.size();
    if (!cat[e]) {
      if (!(st[e].stddev() > 0.0)) {
        throw input_error("layer '" + name + "': constant on the grid (a predictor needs to vary)");
      }
      terms.push_back(name);
      continue;
    }
    if (classes[e].size() < 2) {
      throw input_error("layer '" + name + "': a single class on the grid (a categorical "
                        "predictor needs at least two)");
    }
    std::uint64_t best = 0;
    for (const auto& [v, c] : classes[e]) {
      if (c > best) {
        best = c;
        reference[e] = v;
      }
    }
    for (const auto& [v, c] : classes[e]) {
      if (v == reference[e]) {
        col_of[e][v] = -1;
        continue;
      }
      col_of[e][v] = static_cast<int>(terms.size());
      terms.push_back(name + "=" + std::to_string(v));
    }
  }
  const std::size_t p = terms.size();
  if (p > 64) {
    throw config_error("logistic regression: " + std::to_string(p) +
                       " coefficients (at most 64; group categorical classes)");
  }
  std::vector<double> mean(n_ev);
  std::vector<double> sd(n_ev);
  for (std::size_t e = 0; e < n_ev; ++e) {
    mean[e] = st[e].mean;
    sd[e] = st[e].stddev();
  }
  // The design row of one cell; false when any layer is nodata there.
  auto design = [&](const std::vector<std::vector<float>>& buf, std::size_t i, double* x) {
    std::fill(x, x + p, 0.0);
    x[0] = 1.0;
    for (std::size_t e = 0; e < n_ev; ++e) {
      const float v = buf[ev[e]][i];
      if (!std::isfinite(v)) return false;
      if (!cat[e]) {
        x[first_col[e]] = (static_cast<double>(v) - mean[e]) / sd[e];
      } else {
        const auto it = col_of[e].find(static_cast<long long>(std::floor(v)));
        if (it != col_of[e].end() && it->second >= 0) x[it->second] = 1.0;
      }
    }
    return true;
  };
  // One IRLS pass: a partial of the sums per window, then the partials folded in window order
  // on every rank. Inside a window the cells go in chunks that depend only on the window's
  // size, each summed in cell order and folded in chunk order, so a partial's bits depend
  // neither on the thread count nor on which rank computed it: 1 or N ranks fit the same bits.
  constexpr std::size_t min_chunk_cells = 4096;
  constexpr std::size_t max_chunks = 64;
  const std::size_t record = NormalSums(p).record_size();
  std::vector<double> win_sums;
  int passes = 0;
  auto pass = [&](const std::vector<double>& beta) {
    ++passes;
    win_sums.assign(n_windows * record, 0.0);
    training::for_each_window(ctx, [&](std::int64_t w, const geo::Window& win,
                                       std::vector<std::vector<float>>& buf) {
      const std::size_t n = win.cells();
      const std::size_t n_chunks =
          std::clamp<std::size_t>((n + min_chunk_cells - 1) / min_chunk_cells, 1, max_chunks);
      const std::size_t chunk = (n + n_chunks - 1) / n_chunks;
      std::vector<NormalSums> part(n_chunks, NormalSums(p));
#pragma omp parallel
      {
        std::vector<double> x(p);
#pragma omp for schedule(dynamic)
        for (std::ptrdiff_t c = 0; c < static_cast<std::ptrdiff_t>(n_chunks); ++c) {
          NormalSums& s = part[static_cast<std::size_t>(c)];
          const std::size_t end = std::min(n, (static_cast<std::size_t>(c) + 1) * chunk);
          for (std::size_t i = static_cast<std::size_t>(c) * chunk; i < end; ++i) {
            if (design(buf, i, x.data())) s.add(x.data(), a, 0.0, beta);
          }
        }
      }
      NormalSums sum(p);
      for (const auto& s : part) sum.merge(s);
      // Deposit cells: y = 1 adds x to the gradient and x . beta to the log-likelihood.
      std::vector<double> x(p);
      training::for_each_deposit_in(dep, win, [&](std::size_t, std::size_t idx) {
        if (!design(buf, idx, x.data())) return;
        double eta = 0.0;
        for (std::size_t j = 0; j < p; ++j) {
          sum.grad[j] += x[j];
          eta += x[j] * beta[j];
        }
        sum.loglik += eta;
      });
      sum.store(win_sums.data() + static_cast<std::size_t>(w) * record);
    });
    NormalSums total(p);
    cluster::fold_in_window_order(win_sums, record,
                                  [&](std::size_t, const double* r) { total.merge_record(r); });
    return total;
  };
  gp::log::info("logistic regression: " + std::to_string(p) + " coefficients, " +
                std::to_string(dep.size()) + " deposit cells, " + std::to_string(complete) +
                " cells; fitting");
  const Fit fit = irls(p, std::log(n_d / (n_t - n_d)), pass, m.training.max_iterations,
                       m.training.tolerance);
  if (!fit.converged) {
    training::warning("logistic regression: not converged after " + std::to_string(fit.iterations) +
                      " iterations (raise max_iterations)");
  }
  gp::log::info("logistic regression: " + std::to_string(fit.iterations) + " iterations, log L = " +
                num(fit.loglik));

  // The map program: one node per layer (z-score, or class -> coefficient), one logistic group.
  kernels::Program& pr = tr->program;
  pr.n_layers = static_cast<std::int32_t>(n_ev);
  pr.n_inputs = static_cast<std::int32_t>(m.layers.size());
  pr.mask_layer = mask;
  pr.out_nodata = static_cast<float>(m.output.nodata);
  int n_rules = 0;
  kernels::GroupOp& g = pr.groups[0];
  g.method = kernels::CombineMethod::logistic;
  g.bias = fit.beta[0];
  g.first_input = 0;
  g.n_inputs = static_cast<std::int32_t>(n_ev);
  for (std::size_t e = 0; e < n_ev; ++e) {
    kernels::LayerOp& op = pr.layers[e];
    op.input = static_cast<std::int32_t>(ev[e]);
    kernels::TransformParams& t = op.transform;
    pr.inputs[e] = static_cast<std::int32_t>(e);
    if (!cat[e]) {
      t.kind = kernels::TransformKind::zscore;
      t.a = mean[e];
      t.b = sd[e];
      pr.input_weights[e] = fit.beta[first_col[e]];
      continue;
    }
    t.kind = kernels::TransformKind::reclass;
    t.first = n_rules;
    for (const auto& [v, col] : col_of[e]) {
      if (n_rules >= kernels::max_rules) {
        throw config_error("logistic regression: too many classes (at most " +
                           std::to_string(kernels::max_rules) + " in all)");
      }
      kernels::ReclassRule& r = pr.rules[n_rules++];
      r.lo = static_cast<double>(v);
      r.hi = static_cast<double>(v) + 1.0;
      r.score = col >= 0 ? fit.beta[static_cast<std::size_t>(col)] : 0.0;
    }
    t.count = n_rules - t.first;
    pr.input_weights[e] = 1.0;
  }
  pr.n_groups = 1;
  pr.n_bands = 1;
  pr.bands[0] = static_cast<std::int32_t>(n_ev);

  J coef = J::array();
  std::string csv = "TERM,COEFFICIENT,STD_ERROR,Z\n";
  for (std::size_t j = 0; j < p; ++j) {
    const double z = fit.se[j] > 0.0 ? fit.beta[j] / fit.se[j] : 0.0;
    coef.push_back({{"term", terms[j]}, {"coefficient", fit.beta[j]}, {"std_error", fit.se[j]},
                    {"z", z}});
    csv += "\"" + terms[j] + "\"," + num(fit.beta[j]) + "," + num(fit.se[j]) + "," + num(z) + "\n";
  }
  J layers = J::array();
  for (std::size_t e = 0; e < n_ev; ++e) {
    J l{{"layer", m.layers[ev[e]].name}, {"type", cat[e] ? "categorical" : "continuous"}};
    if (cat[e]) l["reference_class"] = reference[e];
    else l["standardised"] = {{"mean", mean[e]}, {"std", sd[e]}};
    layers.push_back(l);
  }
  J& r = tr->report;
  r["unit_cell_km2"] = unit_km2;
  r["cell_area_km2"] = cell_km2;
  r["cells_used"] = complete;
  r["unit_cells"] = n_t;
  r["deposits"] = {{"file", m.training.deposits.string()},
                   {"read", dep.read},
                   {"used_cells", dep.size()},
                   {"rejected", dep.rejected},
                   {"sharing_a_cell", dep.shared}};
  r["layers"] = layers;
  r["coefficients"] = coef;
  r["iterations"] = fit.iterations;
  r["converged"] = fit.converged;
  r["log_likelihood"] = fit.loglik;
  r["passes_over_grid"] = passes + 1;
  r["table"] = tr->table->path().string();
  r["training_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  tr->table_text = csv;
  return tr;
}

}  // namespace gp::cli::logistic
