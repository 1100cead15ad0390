// Logistic regression by IRLS on known deposits. See train/logistic.hpp.

#include "train/logistic.hpp"

#include "training_common.hpp"

#include "run/cluster.hpp"
#include "run/runner.hpp"
#include "gp/error.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace gp::cli::logistic {
namespace {

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
  [[nodiscard]] J trained_table() const override { return report; }
};

using Buffers = std::vector<std::vector<float>>;

/// Per evidence layer: true for a categorical predictor, false for a continuous one.
std::vector<bool> categorical_layers(const model::Model& m, const std::vector<std::size_t>& ev) {
  std::vector<bool> cat(ev.size());
  for (std::size_t e = 0; e < ev.size(); ++e) {
    cat[e] = m.layers[ev[e]].logistic.type == "categorical";
  }
  return cat;
}

/// True when every evidence layer holds data in cell i.
bool complete_at(const Buffers& buf, const std::vector<std::size_t>& ev, std::size_t i) {
  return std::all_of(ev.begin(), ev.end(), [&](std::size_t l) { return std::isfinite(buf[l][i]); });
}

/// Cells of the first `n` where every evidence layer holds data.
std::uint64_t complete_cells(const Buffers& buf, const std::vector<std::size_t>& ev,
                             std::size_t n) {
  std::uint64_t c = 0;
  const auto cnt = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for reduction(+ : c) schedule(static)
  for (std::ptrdiff_t i = 0; i < cnt; ++i) {
    c += complete_at(buf, ev, static_cast<std::size_t>(i)) ? 1 : 0;
  }
  return c;
}

/// Pass 1 over the grid: what the design needs (the moments of the continuous layers, the
/// classes of the categorical ones) and where every evidence layer holds data. Totals of every
/// rank's windows.
struct Survey {
  std::vector<kernels::LayerStats> stats;                   ///< per evidence layer
  std::vector<std::map<long long, std::uint64_t>> classes;  ///< categorical: cells per class
  std::uint64_t complete{0};  ///< cells where every evidence layer holds data
  std::vector<bool> dep_ok;   ///< per deposit cell: every evidence layer holds data there
};

/// Adds the cells per integer class of one categorical layer in one window (`s`: its
/// statistics there) to `classes`; `hist` is scratch.
void add_classes(const TrainingContext& ctx, const std::string& layer, const float* data,
                 std::size_t n, const kernels::LayerStats& s,
                 std::map<long long, std::uint64_t>& classes, std::vector<std::uint64_t>& hist) {
  if (s.valid == 0) return;
  const auto lo = static_cast<long long>(std::floor(s.min));
  const long long nb = static_cast<long long>(std::floor(s.max)) - lo + 1;
  if (nb > (1LL << 22)) {
    throw input_error("layer '" + layer + "': categorical values span " + std::to_string(nb) +
                      " integer classes (too many)");
  }
  hist.assign(static_cast<std::size_t>(nb), 0);
  ctx.backend.histogram(data, n, static_cast<double>(lo), static_cast<double>(lo + nb),
                        static_cast<int>(nb), nullptr, 0, hist.data());
  for (long long b = 0; b < nb; ++b) {
    const std::uint64_t c = hist[static_cast<std::size_t>(b)];
    if (c != 0) classes[lo + b] += c;
  }
}

Survey survey(const TrainingContext& ctx, const std::vector<std::size_t>& ev,
              const std::vector<bool>& cat, const training::DepositCells& dep) {
  const std::size_t n_ev = ev.size();
  Survey sv;
  sv.stats.resize(n_ev);
  sv.classes.resize(n_ev);
  sv.dep_ok.assign(dep.size(), false);
  const auto n_windows = static_cast<std::size_t>(ctx.windows.count());
  std::vector<kernels::LayerStats> win_stats(n_windows * n_ev);  // per window, then folded
  std::vector<std::uint64_t> hist;
  training::for_each_window(ctx, [&](std::int64_t w, const geo::Window& win, Buffers& buf) {
    const std::size_t n = win.cells();
    for (std::size_t e = 0; e < n_ev; ++e) {
      const float* data = buf[ev[e]].data();
      // Rows reduced in order: the same bits whatever the thread count of this rank.
      const kernels::LayerStats s = ctx.backend.stats(data, n, static_cast<std::size_t>(win.cols));
      win_stats[static_cast<std::size_t>(w) * n_ev + e] = s;
      if (cat[e]) add_classes(ctx, ctx.model.layers[ev[e]].name, data, n, s, sv.classes[e], hist);
    }
    sv.complete += complete_cells(buf, ev, n);
    training::for_each_deposit_in(dep, win, [&](std::size_t d, std::size_t idx) {
      sv.dep_ok[d] = complete_at(buf, ev, idx);
    });
  });
  // Every rank's windows together: moments folded in window order (the same bits on 1 or N
  // ranks), integer counts summed, each deposit's flag from the rank that read its cell.
  cluster::fold_in_window_order(win_stats, n_ev, [&](std::size_t, const kernels::LayerStats* s) {
    for (std::size_t e = 0; e < n_ev; ++e) sv.stats[e].merge(s[e]);
  });
  for (auto& c : sv.classes) training::sum_over_ranks(c);
  cluster::allreduce_sum(&sv.complete, 1);
  training::or_over_ranks(sv.dep_ok);
  return sv;
}

/// The design: the intercept, then per evidence layer one standardised column (continuous) or
/// one indicator per class but the reference, its most common class (categorical).
struct Design {
  std::vector<std::size_t> ev;                   ///< model index of each evidence layer
  std::vector<bool> cat;                         ///< categorical layer
  std::vector<std::string> terms{"intercept"};   ///< one per coefficient
  std::vector<std::size_t> first_col;            ///< the layer's first column
  std::vector<std::map<long long, int>> col_of;  ///< categorical: class -> column (-1 reference)
  std::vector<long long> reference;              ///< categorical: the reference class
  std::vector<double> mean;                      ///< continuous: z-score mean
  std::vector<double> sd;                        ///< continuous: z-score standard deviation

  [[nodiscard]] std::size_t p() const { return terms.size(); }

  /// The design row of cell i into x (p() values); false when any layer is nodata there.
  bool row(const Buffers& buf, std::size_t i, double* x) const {
    std::fill(x, x + p(), 0.0);
    x[0] = 1.0;
    for (std::size_t e = 0; e < ev.size(); ++e) {
      const float v = buf[ev[e]][i];
      if (!std::isfinite(v)) return false;
      if (!cat[e]) {
        x[first_col[e]] = (static_cast<double>(v) - mean[e]) / sd[e];
        continue;
      }
      const auto it = col_of[e].find(static_cast<long long>(std::floor(v)));
      if (it != col_of[e].end() && it->second >= 0) x[it->second] = 1.0;
    }
    return true;
  }
};

/// The indicator columns of categorical layer e (`classes`: its cells per class).
void add_indicators(Design& d, std::size_t e, const std::string& name,
                    const std::map<long long, std::uint64_t>& classes) {
  if (classes.size() < 2) {
    throw input_error("layer '" + name +
                      "': a single class on the grid (a categorical predictor needs at least "
                      "two)");
  }
  std::uint64_t best = 0;
  for (const auto& [v, c] : classes) {
    if (c > best) {
      best = c;
      d.reference[e] = v;
    }
  }
  for (const auto& [v, c] : classes) {
    if (v == d.reference[e]) {
      d.col_of[e][v] = -1;
      continue;
    }
    d.col_of[e][v] = static_cast<int>(d.terms.size());
    d.terms.push_back(name + "=" + std::to_string(v));
  }
}

Design make_design(const model::Model& m, const std::vector<std::size_t>& ev,
                   const std::vector<bool>& cat, const Survey& sv) {
  const std::size_t n_ev = ev.size();
  Design d;
  d.ev = ev;
  d.cat = cat;
  d.first_col.resize(n_ev);
  d.col_of.resize(n_ev);
  d.reference.assign(n_ev, 0);
  for (std::size_t e = 0; e < n_ev; ++e) {
    const std::string& name = m.layers[ev[e]].name;
    d.first_col[e] = d.terms.size();
    if (cat[e]) {
      add_indicators(d, e, name, sv.classes[e]);
      continue;
    }
    if (!(sv.stats[e].stddev() > 0.0)) {
      throw input_error("layer '" + name + "': constant on the grid (a predictor needs to vary)");
    }
    d.terms.push_back(name);
  }
  if (d.p() > 64) {
    throw config_error("logistic regression: " + std::to_string(d.p()) +
                       " coefficients (at most 64; group categorical classes)");
  }
  d.mean.resize(n_ev);
  d.sd.resize(n_ev);
  for (std::size_t e = 0; e < n_ev; ++e) {
    d.mean[e] = sv.stats[e].mean;
    d.sd[e] = sv.stats[e].stddev();
  }
  return d;
}

/// The IRLS sums of the first `n` cells of a window, every cell a non-deposit (y = 0) with
/// `trials` trials. The cells go in chunks that depend only on the window's size, each summed
/// in cell order and folded in chunk order, so the bits depend neither on the thread count nor
/// on the rank.
NormalSums cell_sums(const Design& d, const Buffers& buf, std::size_t n, double trials,
                     const std::vector<double>& beta) {
  constexpr std::size_t min_chunk_cells = 4096;
  constexpr std::size_t max_chunks = 64;
  const std::size_t p = d.p();
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
        if (d.row(buf, i, x.data())) s.add(x.data(), trials, 0.0, beta);
      }
    }
  }
  NormalSums sum(p);
  for (const auto& s : part) sum.merge(s);
  return sum;
}

/// The deposit cells of a window: y = 1 adds x to the gradient and x . beta to the
/// log-likelihood (their trials are in cell_sums already).
void add_deposit_cells(NormalSums& sum, const Design& d, const training::DepositCells& dep,
                       const geo::Window& win, const Buffers& buf,
                       const std::vector<double>& beta) {
  std::vector<double> x(d.p());
  training::for_each_deposit_in(dep, win, [&](std::size_t, std::size_t idx) {
    if (!d.row(buf, idx, x.data())) return;
    double eta = 0.0;
    for (std::size_t j = 0; j < d.p(); ++j) {
      sum.grad[j] += x[j];
      eta += x[j] * beta[j];
    }
    sum.loglik += eta;
  });
}

/// One IRLS pass over the grid: a partial of the sums per window, then the partials folded in
/// window order on every rank, so 1 or N ranks fit the same bits.
class GridPass {
 public:
  GridPass(const TrainingContext& ctx, const Design& d, const training::DepositCells& dep,
           double cell_units)
      : ctx_(ctx),
        d_(d),
        dep_(dep),
        cell_units_(cell_units),
        record_(NormalSums(d.p()).record_size()) {}

  NormalSums operator()(const std::vector<double>& beta) {
    ++passes_;
    win_sums_.assign(static_cast<std::size_t>(ctx_.windows.count()) * record_, 0.0);
    training::for_each_window(ctx_, [&](std::int64_t w, const geo::Window& win, Buffers& buf) {
      NormalSums sum = cell_sums(d_, buf, win.cells(), cell_units_, beta);
      add_deposit_cells(sum, d_, dep_, win, buf, beta);
      sum.store(win_sums_.data() + static_cast<std::size_t>(w) * record_);
    });
    NormalSums total(d_.p());
    cluster::fold_in_window_order(win_sums_, record_,
                                  [&](std::size_t, const double* r) { total.merge_record(r); });
    return total;
  }

  /// Passes over the grid so far.
  [[nodiscard]] int passes() const { return passes_; }

 private:
  const TrainingContext& ctx_;
  const Design& d_;
  const training::DepositCells& dep_;
  double cell_units_;
  std::size_t record_;
  std::vector<double> win_sums_;
  int passes_{0};
};

/// The fit by IRLS, logged (a warning when it does not converge).
Fit fit_design(const model::TrainingSpec& t, const Design& d, GridPass& pass, double n_t,
               double n_d) {
  Fit fit = irls(
      d.p(), std::log(n_d / (n_t - n_d)),
      [&pass](const std::vector<double>& beta) { return pass(beta); }, t.max_iterations,
      t.tolerance);
  if (!fit.converged) {
    training::warning("logistic regression: not converged after " + std::to_string(fit.iterations) +
                      " iterations (raise max_iterations)");
  }
  gp::log::info("logistic regression: " + std::to_string(fit.iterations) + " iterations, log L = " +
                num(fit.loglik));
  return fit;
}

/// The map program: one node per layer (z-score, or class -> coefficient), one logistic group.
kernels::Program map_program(const model::Model& m, int mask, const Design& d, const Fit& fit) {
  const std::size_t n_ev = d.ev.size();
  kernels::Program pr;
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
    op.input = static_cast<std::int32_t>(d.ev[e]);
    kernels::TransformParams& t = op.transform;
    pr.inputs[e] = static_cast<std::int32_t>(e);
    if (!d.cat[e]) {
      t.kind = kernels::TransformKind::zscore;
      t.a = d.mean[e];
      t.b = d.sd[e];
      pr.input_weights[e] = fit.beta[d.first_col[e]];
      continue;
    }
    t.kind = kernels::TransformKind::reclass;
    t.first = n_rules;
    for (const auto& [v, col] : d.col_of[e]) {
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
  return pr;
}

/// Coefficient j's z statistic (0 without a standard error).
double z_of(const Fit& fit, std::size_t j) {
  return fit.se[j] > 0.0 ? fit.beta[j] / fit.se[j] : 0.0;
}

/// The coefficients table (CSV): TERM, COEFFICIENT, STD_ERROR, Z.
std::string coefficient_table(const Design& d, const Fit& fit) {
  std::string csv = "TERM,COEFFICIENT,STD_ERROR,Z\n";
  for (std::size_t j = 0; j < d.p(); ++j) {
    csv += "\"" + d.terms[j] + "\"," + num(fit.beta[j]) + "," + num(fit.se[j]) + "," +
           num(z_of(fit, j)) + "\n";
  }
  return csv;
}

J coefficients_report(const Design& d, const Fit& fit) {
  J coef = J::array();
  for (std::size_t j = 0; j < d.p(); ++j) {
    coef.push_back({{"term", d.terms[j]},
                    {"coefficient", fit.beta[j]},
                    {"std_error", fit.se[j]},
                    {"z", z_of(fit, j)}});
  }
  return coef;
}

J layers_report(const model::Model& m, const Design& d) {
  J layers = J::array();
  for (std::size_t e = 0; e < d.ev.size(); ++e) {
    J l{{"layer", m.layers[d.ev[e]].name}, {"type", d.cat[e] ? "categorical" : "continuous"}};
    if (d.cat[e]) {
      l["reference_class"] = d.reference[e];
    } else {
      l["standardised"] = {{"mean", d.mean[e]}, {"std", d.sd[e]}};
    }
    layers.push_back(l);
  }
  return layers;
}

}  // namespace

std::unique_ptr<Trained> train(const TrainingContext& ctx) {
  const model::Model& m = ctx.model;
  const training::Setup s = training::set_up(ctx);
  auto tr = std::make_unique<LogisticTrained>();
  tr->band_names = {"probability"};
  tr->table = std::make_unique<training::SideFile>(ctx.files,
                                                   training::beside_output(ctx, "_logistic.csv"));
  training::DepositCells dep = training::place(ctx);

  // Pass 1: moments of continuous layers, classes of categorical ones, complete deposit cells.
  const std::vector<bool> cat = categorical_layers(m, s.ev);
  const Survey sv = survey(ctx, s.ev, cat, dep);
  training::keep_deposits_on_data(dep, sv.dep_ok, s, "an evidence layer is nodata",
                                  "no deposit lies on a cell where every evidence layer holds "
                                  "data");
  training::warn_few_deposits(dep, "the logistic-regression coefficients");
  const double n_t = training::study_unit_cells(sv.complete, s, dep);
  const double n_d = static_cast<double>(dep.size());

  // The design, then one pass over the grid per IRLS iteration.
  const Design d = make_design(m, s.ev, cat, sv);
  GridPass pass(ctx, d, dep, s.cell_units);
  gp::log::info("logistic regression: " + std::to_string(d.p()) + " coefficients, " +
                std::to_string(dep.size()) + " deposit cells, " + std::to_string(sv.complete) +
                " cells; fitting");
  const Fit fit = fit_design(m.training, d, pass, n_t, n_d);

  tr->program = map_program(m, s.mask, d, fit);
  tr->table_text = coefficient_table(d, fit);
  J& r = tr->report;
  r["unit_cell_km2"] = s.unit_km2;
  r["cell_area_km2"] = s.cell_km2;
  r["cells_used"] = sv.complete;
  r["unit_cells"] = n_t;
  r["deposits"] = training::deposits_report(m, dep);
  r["layers"] = layers_report(m, d);
  r["coefficients"] = coefficients_report(d, fit);
  r["iterations"] = fit.iterations;
  r["converged"] = fit.converged;
  r["log_likelihood"] = fit.loglik;
  r["passes_over_grid"] = pass.passes() + 1;
  r["table"] = tr->table->path().string();
  r["training_seconds"] = s.seconds();
  return tr;
}

}  // namespace gp::cli::logistic
