// Logistic regression: a closed-form case, a reference fit written separately here
// (Newton-Raphson with Gauss-Jordan elimination, not the code's Cholesky IRLS), the errors, and
// a small grid mapped end to end against the reference fit of the same cells.
#include "train/logistic.hpp"
#include "model/model.hpp"
#include "run/runner.hpp"
#include "gp/error.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace fs = std::filesystem;
namespace gl = gp::cli::logistic;
namespace gc = gp::cli;
namespace gm = gp::model;

namespace {

/// The reference: maximise sum y ln p + (a - y) ln(1 - p) by Newton steps, solving each
/// system by Gauss-Jordan elimination with partial pivoting; returns beta and the standard
/// errors (inverse information by Gauss-Jordan too).
struct RefFit {
  std::vector<double> beta;
  std::vector<double> se;
};

std::vector<std::vector<double>> invert(std::vector<std::vector<double>> a) {
  const std::size_t n = a.size();
  std::vector<std::vector<double>> inv(n, std::vector<double>(n, 0.0));
  for (std::size_t i = 0; i < n; ++i) inv[i][i] = 1.0;
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
    }
    std::swap(a[c], a[piv]);
    std::swap(inv[c], inv[piv]);
    const double d = a[c][c];
    for (std::size_t k = 0; k < n; ++k) {
      a[c][k] /= d;
      inv[c][k] /= d;
    }
    for (std::size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      for (std::size_t k = 0; k < n; ++k) {
        a[r][k] -= f * a[c][k];
        inv[r][k] -= f * inv[c][k];
      }
    }
  }
  return inv;
}

RefFit reference_fit(const std::vector<std::vector<double>>& x, const std::vector<double>& a,
                     const std::vector<double>& y) {
  const std::size_t p = x[0].size();
  std::vector<double> beta(p, 0.0);
  std::vector<std::vector<double>> h;
  for (int it = 0; it < 100; ++it) {
    std::vector<double> g(p, 0.0);
    h.assign(p, std::vector<double>(p, 0.0));
    for (std::size_t i = 0; i < x.size(); ++i) {
      double eta = 0.0;
      for (std::size_t j = 0; j < p; ++j) eta += x[i][j] * beta[j];
      const double pr = 1.0 / (1.0 + std::exp(-eta));
      for (std::size_t j = 0; j < p; ++j) {
        g[j] += x[i][j] * (y[i] - a[i] * pr);
        for (std::size_t k = 0; k < p; ++k) h[j][k] += a[i] * pr * (1.0 - pr) * x[i][j] * x[i][k];
      }
    }
    const auto hi = invert(h);
    double change = 0.0;
    for (std::size_t j = 0; j < p; ++j) {
      double s = 0.0;
      for (std::size_t k = 0; k < p; ++k) s += hi[j][k] * g[k];
      beta[j] += s;
      change = std::max(change, std::abs(s));
    }
    if (change < 1e-13) break;
  }
  // Information at the solution.
  h.assign(p, std::vector<double>(p, 0.0));
  for (std::size_t i = 0; i < x.size(); ++i) {
    double eta = 0.0;
    for (std::size_t j = 0; j < p; ++j) eta += x[i][j] * beta[j];
    const double pr = 1.0 / (1.0 + std::exp(-eta));
    for (std::size_t j = 0; j < p; ++j) {
      for (std::size_t k = 0; k < p; ++k) h[j][k] += a[i] * pr * (1.0 - pr) * x[i][j] * x[i][k];
    }
  }
  const auto hi = invert(h);
  RefFit f;
  f.beta = beta;
  for (std::size_t j = 0; j < p; ++j) f.se.push_back(std::sqrt(hi[j][j]));
  return f;
}

TEST(LogisticFit, BinaryPredictorClosedForm) {
  // Two groups: x = 0 with 30 trials (unit cells) and 2 deposits, x = 1 with 10 and 3.
  // MLE: p0 = 2/30, p1 = 3/10; beta0 = ln(2/28), beta1 = ln(3/7) - ln(2/28);
  // var(beta0) = 1/(30 p0 (1-p0)), var(beta1) = var(beta0) + 1/(10 p1 (1-p1)).
  const gl::Fit f = gl::fit_arrays({1, 0, 1, 1}, 2, {30, 10}, {2, 3});
  ASSERT_TRUE(f.converged);
  EXPECT_NEAR(f.beta[0], std::log(2.0 / 28.0), 1e-10);
  EXPECT_NEAR(f.beta[1], std::log(3.0 / 7.0) - std::log(2.0 / 28.0), 1e-10);
  const double v0 = 1.0 / (30 * (2.0 / 30) * (28.0 / 30));
  const double v1 = v0 + 1.0 / (10 * 0.3 * 0.7);
  EXPECT_NEAR(f.se[0], std::sqrt(v0), 1e-10);
  EXPECT_NEAR(f.se[1], std::sqrt(v1), 1e-10);
  EXPECT_GT(f.iterations, 1);
}

TEST(NormalSums, RecordRoundTripFoldsLikeMerge) {
  // How per-window partials travel between MPI ranks: store() then merge_record() must do the
  // very additions merge() does, bit for bit.
  const std::vector<double> beta{-2.0, 0.7, -0.3};
  gl::NormalSums a(3);
  gl::NormalSums b(3);
  const double xa[3] = {1.0, 0.25, -1.5};
  const double xb[3] = {1.0, -0.8, 2.0};
  a.add(xa, 0.37, 0.0, beta);
  b.add(xb, 0.37, 1.0, beta);
  b.add(xa, 0.11, 0.0, beta);
  std::vector<double> record(b.record_size(), -1.0);
  ASSERT_EQ(record.size(), 3u * 3u + 3u + 1u);
  b.store(record.data());
  gl::NormalSums by_merge = a;
  by_merge.merge(b);
  gl::NormalSums by_record = a;
  by_record.merge_record(record.data());
  EXPECT_EQ(by_record.xtwx, by_merge.xtwx);
  EXPECT_EQ(by_record.grad, by_merge.grad);
  EXPECT_EQ(by_record.loglik, by_merge.loglik);
}

TEST(LogisticFit, InterceptOnlyIsThePriorLogit) {
  const gl::Fit f = gl::fit_arrays({1, 1, 1}, 1, {10, 20, 30}, {1, 0, 2});
  EXPECT_NEAR(f.beta[0], std::log(3.0 / 57.0), 1e-12);
}

TEST(LogisticFit, MatchesAReferenceFitOnSyntheticCells) {
  // 997 cells, two continuous predictors and one indicator, 0.25 unit cells each; deposits
  // where a fixed pseudo-random draw falls below a known logistic surface.
  std::vector<std::vector<double>> x;
  std::vector<double> xs;
  std::vector<double> a;
  std::vector<double> y;
  unsigned s = 12345u;
  auto rnd = [&]() {
    s = s * 1103515245u + 12345u;
    return static_cast<double>((s >> 8) & 0xFFFFu) / 65536.0;
  };
  for (int i = 0; i < 997; ++i) {
    const double x1 = std::sin(i * 0.37) * 2.0;
    const double x2 = std::cos(i * 0.11) + 0.3 * rnd();
    const double x3 = i % 5 == 0 ? 1.0 : 0.0;
    const double eta = -3.0 + 0.8 * x1 - 0.5 * x2 + 1.1 * x3;
    const double pr = 1.0 / (1.0 + std::exp(-eta));
    x.push_back({1.0, x1, x2, x3});
    xs.insert(xs.end(), {1.0, x1, x2, x3});
    a.push_back(0.25);
    // At most one deposit per cell; y = 1 with probability 0.25 p (cell area x p).
    y.push_back(rnd() < 0.25 * pr * 4.0 ? 1.0 : 0.0);
  }
  const RefFit ref = reference_fit(x, a, y);
  const gl::Fit f = gl::fit_arrays(xs, 4, a, y, 100, 1e-12);
  ASSERT_TRUE(f.converged);
  for (std::size_t j = 0; j < 4; ++j) {
    EXPECT_NEAR(f.beta[j], ref.beta[j], 1e-8) << j;
    EXPECT_NEAR(f.se[j], ref.se[j], 1e-8) << j;
  }
}

TEST(LogisticFit, CollinearPredictorsAreAnError) {
  EXPECT_THROW(gl::fit_arrays({1, 1, 2, 1, 2, 4, 1, 3, 6}, 3, {10, 10, 10}, {1, 2, 1}),
               gp::input_error);
}

TEST(LogisticFit, PerfectSeparationIsAnError) {
  // Every deposit where x = 1: the coefficient grows without bound.
  EXPECT_THROW(gl::fit_arrays({1, 0, 1, 1}, 2, {10, 10}, {0, 2}, 200, 1e-12), gp::input_error);
}

// ---- a small grid end to end --------------------------------------------------------------

constexpr int w = 23;
constexpr int h = 17;
constexpr double x0 = 500000.0;
constexpr double y0 = -3000000.0;

/// A 23 x 17 grid of 200 m cells in `dir`: cont.tif, cat.tif, deposits.csv at the cells `dep`
/// (row, column), model.toml; the two layers' values go to `cont` and `cat`.
void write_grid(const fs::path& dir, const std::vector<std::pair<int, int>>& dep,
                std::vector<float>& cont, std::vector<float>& cat) {
  cont.assign(static_cast<std::size_t>(w * h), 0.0f);
  cat.assign(cont.size(), 0.0f);
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const auto i = static_cast<std::size_t>(r * w + c);
      cont[i] = static_cast<float>(100.0 + 10.0 * std::sin(r * 0.5) + c);
      // 3: 138 cells, 5: 110, 7: 143 (the most common: the reference class)
      cat[i] = static_cast<float>(r < 6 ? 3 : (c < 10 ? 5 : 7));
    }
  }
  const double nd = -9999.0;
  // 200 m cells = 0.04 km²; unit cell 0.01 km² -> 4 unit cells per grid cell.
  gp::test::write_raster(dir / "cont.tif", "EPSG:3577", x0, y0, 200, 200, w, h, cont, &nd);
  gp::test::write_raster(dir / "cat.tif", "EPSG:3577", x0, y0, 200, 200, w, h, cat, &nd);
  std::ofstream csv(dir / "deposits.csv");
  csv << "name,x,y\n";
  for (std::size_t k = 0; k < dep.size(); ++k) {
    csv << "d" << k << "," << x0 + (dep[k].second + 0.5) * 200 << ","
        << y0 - (dep[k].first + 0.5) * 200 << "\n";
  }
  csv.close();
  std::ofstream(dir / "model.toml") << R"([training]
deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
unit_cell_km2 = 0.01
[[layer]]
name = "cont"
path = "cont.tif"
logistic = { type = "continuous" }
[[layer]]
name = "cat"
path = "cat.tif"
resampling = "nearest"
logistic = { type = "categorical" }
[combine]
method = "logistic"
)";
}

TEST(LogisticRun, ProbabilityMapMatchesTheReferenceFit) {
  const fs::path dir = gp::test::scratch_dir();
  const std::vector<std::pair<int, int>> dep{{0, 20}, {1, 18}, {2, 3}, {4, 22}, {8, 2},
                                             {9, 15}, {12, 21}, {14, 1}, {16, 11}, {5, 9}};
  std::vector<float> cont;
  std::vector<float> cat;
  write_grid(dir, dep, cont, cat);
  gc::RunOptions o;
  o.output = dir / "lr.tif";
  o.device = gc::DeviceChoice::cpu;
  o.progress = false;
  o.window_rows = 5;
  gc::run_model(gm::load_model(dir / "model.toml"), o);

  // The reference design: intercept, standardised cont (population std over all cells),
  // indicators for classes 3 and 5 (7, the most common, is the reference).
  const auto n = cont.size();
  double mean = 0.0;
  for (float v : cont) mean += v;
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (float v : cont) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(n));
  std::vector<std::vector<double>> x;
  std::vector<double> a(n, 4.0);
  std::vector<double> y(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    x.push_back({1.0, (cont[i] - mean) / sd, cat[i] == 3.0f ? 1.0 : 0.0, cat[i] == 5.0f ? 1.0 : 0.0});
  }
  for (const auto& [r, c] : dep) y[static_cast<std::size_t>(r * w + c)] = 1.0;
  const RefFit ref = reference_fit(x, a, y);

  const auto band = gp::test::read_raster(dir / "lr.tif", 1);
  for (std::size_t i = 0; i < n; ++i) {
    double eta = 0.0;
    for (std::size_t j = 0; j < 4; ++j) eta += x[i][j] * ref.beta[j];
    const double p = 1.0 / (1.0 + std::exp(-eta));
    ASSERT_NEAR(band[i], p, 1e-6 * p + 1e-9) << i;
  }
  std::ifstream rin(dir / "lr_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  const auto& lr = rep.at("logistic_regression");
  ASSERT_EQ(lr.at("coefficients").size(), 4u);
  EXPECT_EQ(lr.at("coefficients")[2].at("term"), "cat=3");
  for (std::size_t j = 0; j < 4; ++j) {
    EXPECT_NEAR(lr.at("coefficients")[j].at("coefficient").get<double>(), ref.beta[j], 1e-7) << j;
    EXPECT_NEAR(lr.at("coefficients")[j].at("std_error").get<double>(), ref.se[j], 1e-7) << j;
  }
  EXPECT_TRUE(lr.at("converged").get<bool>());
  EXPECT_GT(lr.at("iterations").get<int>(), 1);
  EXPECT_TRUE(fs::exists(dir / "lr_logistic.csv"));
}

/// The stderr lines of a CLI run of `dir`'s model that say the coefficients rest on few
/// deposits.
std::vector<std::string> few_deposit_lines(const fs::path& dir) {
  const gp::test::CliResult r = gp::test::run_cli(
      {"run", (dir / "model.toml").string(), "-o", (dir / "lr.tif").string(), "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  for (const auto& l : gp::test::lines(r.err)) {
    if (l.find("rest on") != std::string::npos) out.push_back(l);
  }
  return out;
}

TEST(LogisticRun, FewDepositsAreWarnedOnce) {
  // Three deposit cells, one in each class of cat (3: row < 6; 5: column < 10; 7: the rest).
  const fs::path dir = gp::test::scratch_dir();
  std::vector<float> cont;
  std::vector<float> cat;
  write_grid(dir, {{0, 20}, {8, 2}, {12, 21}}, cont, cat);
  ASSERT_EQ(cat[20], 3.0f);
  ASSERT_EQ(cat[8 * w + 2], 5.0f);
  ASSERT_EQ(cat[12 * w + 21], 7.0f);
  const auto few = few_deposit_lines(dir);
  ASSERT_EQ(few.size(), 1u);
  EXPECT_NE(few[0].find("warning: [training] deposits: the logistic-regression coefficients rest "
                        "on 3 deposits (fewer than 10"),
            std::string::npos)
      << few[0];
}

TEST(LogisticRun, TenDepositsAreNotFew) {
  const fs::path dir = gp::test::scratch_dir();
  std::vector<float> cont;
  std::vector<float> cat;
  write_grid(dir, {{0, 20}, {1, 18}, {2, 3}, {4, 22}, {8, 2}, {9, 15}, {12, 21}, {14, 1},
                   {16, 11}, {5, 9}},
             cont, cat);
  EXPECT_TRUE(few_deposit_lines(dir).empty());
}

}  // namespace
