#pragma once
// Logistic regression on known deposits: `[combine] method = "logistic"`.
// Each grid cell is a binomial observation with `cell_units` trials (its area in unit cells, as
// in weights of evidence) and 1 success where a deposit lies (once per cell), 0 elsewhere:
//   log L = sum_i y_i ln p_i + (a_i - y_i) ln(1 - p_i),  p_i = 1 / (1 + exp(-x_i . beta)).
// Fitted by iteratively reweighted least squares (Newton-Raphson): one streaming pass over the
// grid per iteration accumulates X^T W X (W = a p (1 - p)) and X^T (y - a p). Predictors:
// continuous layers standardised (z-score from a statistics pass), categorical layers as one
// indicator per class except the most common (the reference). Cells where any layer is nodata
// take no part, and are nodata on the map.

#include "model/model.hpp"
#include "train/trained.hpp"

#include <functional>
#include <string>
#include <vector>

namespace gp::cli::logistic {

/// Sums of one IRLS iteration for `p` coefficients.
struct NormalSums {
  explicit NormalSums(std::size_t n = 0) : p(n), xtwx(n * n, 0.0), grad(n, 0.0) {}
  std::size_t p;
  std::vector<double> xtwx;  ///< row-major p x p: sum a p (1 - p) x x^T
  std::vector<double> grad;  ///< sum x (y - a p)
  double loglik{0.0};
  /// Adds one observation with predictors `x` (x[0] = 1 for the intercept).
  void add(const double* x, double trials, double successes, const std::vector<double>& beta);
  /// Folds `o` into this.
  void merge(const NormalSums& o);
  /// The sums as one flat record of record_size() doubles (X^T W X, gradient, log-likelihood):
  /// the form in which per-window partials travel between MPI ranks.
  [[nodiscard]] std::size_t record_size() const { return p * p + p + 1; }
  void store(double* record) const;
  /// Folds a record written by store() into this: the same additions as merge().
  void merge_record(const double* record);
};

struct Fit {
  std::vector<double> beta;  ///< intercept first
  std::vector<double> se;    ///< standard errors (sqrt of the inverse information's diagonal)
  int iterations{0};
  bool converged{false};
  double loglik{0.0};
};

/// IRLS: `pass(beta)` returns the sums at `beta`. Starts from beta = 0 with the intercept at
/// the logit of `successes / trials` (overall). Throws gp::input_error when X^T W X is singular
/// (a constant or collinear predictor) or the fit diverges (perfect separation).
Fit irls(std::size_t p, double start_logit,
         const std::function<NormalSums(const std::vector<double>& beta)>& pass,
         int max_iterations, double tolerance);

/// The same on arrays (tests, small problems): `x` row-major n x p with the intercept column.
Fit fit_arrays(const std::vector<double>& x, std::size_t p, const std::vector<double>& trials,
               const std::vector<double>& successes, int max_iterations = 50,
               double tolerance = 1e-10);

/// Trains a logistic-regression model (see train/trained.hpp).
std::unique_ptr<Trained> train(const TrainingContext& ctx);

}  // namespace gp::cli::logistic
