// Monte Carlo uncertainty kernels: zero perturbation gives the deterministic map bit
// for bit (std exactly 0), a seed reproduces the draws bit for bit, the mean and standard
// deviation converge to the analytic values of a linear model with Dirichlet weights, the
// per-cell percentiles are the exact type-7 order statistics, and the top-X % thresholds.
// CUDA against the CPU when a device is present (label gpu: MonteCarloCuda.*).

#include "analysis/uncertainty.hpp"
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/montecarlo.hpp"
#include "gp/kernels/rank.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace {

namespace K = gp::kernels;
const float NaNf = std::numeric_limits<float>::quiet_NaN();

/// Three layers, linear transforms over [0, 1] (or large for layer 2), weighted sum
/// 0.5 / 0.3 / 0.2; layer 1 may be skipped where missing.
K::Program linear_program(bool shaped = false) {
  K::Program p;
  p.n_layers = 3;
  p.n_groups = 1;
  p.n_bands = 1;
  for (int l = 0; l < 3; ++l) {
    p.layers[l].transform.kind = K::TransformKind::linear;
    p.layers[l].transform.a = 0.0;
    p.layers[l].transform.b = 1.0;
  }
  if (shaped) {
    p.layers[2].transform.kind = K::TransformKind::large;
    p.layers[2].transform.a = 0.4;
    p.layers[2].transform.b = 3.0;
  }
  p.layers[1].skip_missing = 1;
  p.groups[0].method = K::CombineMethod::weighted_sum;
  p.groups[0].first_input = 0;
  p.groups[0].n_inputs = 3;
  const double w[3] = {0.5, 0.3, 0.2};
  for (int k = 0; k < 3; ++k) {
    p.inputs[k] = k;
    p.input_weights[k] = w[k];
  }
  p.bands[0] = 3;
  return p;
}

struct Stack {
  std::vector<std::vector<float>> layers;
  std::vector<const float*> ptrs;
  std::size_t n{0};
};

Stack random_stack(std::size_t n, unsigned seed) {
  Stack s;
  s.n = n;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.1f, 1.1f);
  s.layers.assign(3, std::vector<float>(n));
  for (int l = 0; l < 3; ++l) {
    for (std::size_t i = 0; i < n; ++i) {
      s.layers[static_cast<std::size_t>(l)][i] = (i % 17 == static_cast<std::size_t>(l)) ? NaNf : u(rng);
    }
  }
  for (auto& l : s.layers) s.ptrs.push_back(l.data());
  return s;
}

struct McOut {
  std::vector<std::vector<float>> bands;
  std::vector<float*> ptrs;
  explicit McOut(std::size_t n) : bands(K::mc_outputs, std::vector<float>(n)) {
    for (auto& b : bands) ptrs.push_back(b.data());
  }
};

gp::model::UncertaintySpec spec(int draws, std::uint64_t seed) {
  gp::model::UncertaintySpec s;
  s.given = true;
  s.draws = draws;
  s.seed = seed;
  s.top_percent = 10.0;
  return s;
}

/// Runs both passes on one engine; returns the outputs and the per-draw histograms.
/// Dirichlet weights of `concentration`; midpoints and spreads perturbed by `fraction`.
gp::model::UncertaintySpec dirichlet_spec(int draws, std::uint64_t seed, double concentration,
                                          double fraction) {
  auto s = spec(draws, seed);
  s.weights_mode = "dirichlet";
  s.dirichlet_concentration = concentration;
  s.midpoint_fraction = fraction;
  s.spread_fraction = fraction;
  return s;
}

McOut run(K::MonteCarlo& mc, const K::Program& p, const gp::cli::UncertaintyPlan& plan,
          const Stack& s, std::vector<std::uint64_t>* hist_out = nullptr) {
  mc.set(p, {}, plan.setup, plan.params);
  std::vector<std::uint64_t> hist(static_cast<std::size_t>(plan.setup.draws) * K::mc_bins, 0);
  mc.histogram(s.ptrs.data(), s.n, hist.data());
  const auto thr = gp::cli::top_thresholds(hist, plan.setup.draws, 10.0);
  McOut o(s.n);
  mc.cell_stats(s.ptrs.data(), s.n, thr, -9999.0f, o.ptrs.data());
  if (hist_out != nullptr) *hist_out = hist;
  return o;
}

std::vector<float> deterministic(const K::Program& p, const Stack& s) {
  std::vector<float> out(s.n);
  float* o = out.data();
  auto cpu = K::make_cpu_backend(2);
  cpu->set_program(p, {});
  cpu->score(s.ptrs.data(), s.n, &o);
  return out;
}

// ---- edge cases -----------------------------------------------------------------------------

TEST(MonteCarlo, RejectsBadSetup) {
  auto mc = K::make_montecarlo_cpu(1);
  K::McSetup s;
  s.draws = 0;
  EXPECT_THROW(mc->set(linear_program(), {}, s, {}), gp::error);
  s.draws = 2;
  s.stride = 9;
  EXPECT_THROW(mc->set(linear_program(), {}, s, std::vector<double>(5)), gp::error);
}

TEST(MonteCarlo, PercentileIsTheType7OrderStatistic) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int n : {1, 2, 3, 7, 20, 101, 1000}) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& v : x) v = std::floor(u(rng) * 20.0f) / 20.0f;  // ties
    std::vector<float> sorted = x;
    std::sort(sorted.begin(), sorted.end());
    for (double p : {0.05, 0.5, 0.95}) {
      std::vector<float> work = x;
      const double h = (n - 1) * p;
      const auto k = static_cast<std::size_t>(std::floor(h));
      const double want = k + 1 < sorted.size()
                              ? sorted[k] + (h - static_cast<double>(k)) * (sorted[k + 1] - sorted[k])
                              : sorted[k];
      EXPECT_FLOAT_EQ(K::mc_percentile(work.data(), 1, n, p), static_cast<float>(want)) << n << " " << p;
    }
  }
}

TEST(MonteCarlo, TopThresholdsFromHandHistogram) {
  // One draw, 100 valid cells: 50 in bin 10, 30 in bin 200, 20 in bin 16383.
  std::vector<std::uint64_t> h(K::mc_bins, 0);
  h[10] = 50;
  h[200] = 30;
  h[K::mc_bins - 1] = 20;
  std::vector<double> excess;
  auto t = gp::cli::top_thresholds(h, 1, 10.0, &excess);
  EXPECT_EQ(t[0], K::mc_bins - 1);  // the top 20 cells already hold 10 %
  EXPECT_NEAR(excess[0], 0.10, 1e-12);
  t = gp::cli::top_thresholds(h, 1, 20.0, &excess);
  EXPECT_EQ(t[0], K::mc_bins - 1);
  EXPECT_NEAR(excess[0], 0.0, 1e-12);
  t = gp::cli::top_thresholds(h, 1, 30.0, &excess);
  EXPECT_EQ(t[0], 200);
  EXPECT_NEAR(excess[0], 0.20, 1e-12);
}

// ---- zero perturbation ------------------------------------------------------------------------

TEST(MonteCarlo, ZeroPerturbationEqualsDeterministicMapThroughThePerturbedPath) {
  // Every layer and the group flagged as perturbed, but every draw's numbers equal the base:
  // the draw path (mc_draw, mc_weighted_sum) must reproduce eval_cell bit for bit.
  const K::Program p = linear_program(true);
  const Stack s = random_stack(5003, 1);
  gp::cli::UncertaintyPlan plan = gp::cli::plan_uncertainty(p, spec(7, 1));
  for (int l = 0; l < 3; ++l) plan.setup.perturbed_layer[l] = 1;
  plan.setup.perturbed_group[0] = 1;
  auto mc = K::make_montecarlo_cpu(2);
  const McOut o = run(*mc, p, plan, s);
  const std::vector<float> det = deterministic(p, s);
  for (std::size_t i = 0; i < s.n; ++i) {
    if (det[i] == -9999.0f) {
      EXPECT_EQ(o.bands[0][i], -9999.0f) << i;
      continue;
    }
    ASSERT_EQ(std::memcmp(&o.bands[0][i], &det[i], sizeof(float)), 0) << i;
    ASSERT_EQ(o.bands[1][i], 0.0f) << i;  // std exactly 0
    ASSERT_EQ(o.bands[2][i], det[i]);
    ASSERT_EQ(o.bands[3][i], det[i]);
    ASSERT_TRUE(o.bands[4][i] == 0.0f || o.bands[4][i] == 1.0f);
  }
}

TEST(MonteCarlo, ZeroFractionsPerturbNothing) {
  const K::Program p = linear_program(true);
  auto sp = spec(5, 3);
  sp.weights_mode = "uniform";
  sp.uniform_fraction = 0.0;
  const auto plan = gp::cli::plan_uncertainty(p, sp);
  EXPECT_TRUE(plan.perturbed.empty());
  const Stack s = random_stack(2000, 2);
  auto mc = K::make_montecarlo_cpu(2);
  const McOut o = run(*mc, p, plan, s);
  const std::vector<float> det = deterministic(p, s);
  std::size_t top = 0;
  std::size_t valid = 0;
  for (std::size_t i = 0; i < s.n; ++i) {
    ASSERT_EQ(o.bands[0][i], det[i]) << i;
    if (det[i] == -9999.0f) continue;
    ++valid;
    ASSERT_EQ(o.bands[1][i], 0.0f);
    top += o.bands[4][i] == 1.0f ? 1 : 0;
  }
  // About 10 % of the valid cells are in every draw's top (bins of 1/16384 hold few cells).
  EXPECT_GE(static_cast<double>(top), 0.10 * static_cast<double>(valid));
  EXPECT_LE(static_cast<double>(top), 0.11 * static_cast<double>(valid));
}

// ---- reproducibility -------------------------------------------------------------------------

TEST(MonteCarlo, SameSeedSameBitsDifferentSeedDifferentDraws) {
  const K::Program p = linear_program(true);
  auto sp = dirichlet_spec(40, 11, 30.0, 0.2);
  const auto a = gp::cli::plan_uncertainty(p, sp);
  const auto b = gp::cli::plan_uncertainty(p, sp);
  ASSERT_EQ(a.params, b.params);
  sp.seed = 12;
  const auto c = gp::cli::plan_uncertainty(p, sp);
  EXPECT_NE(a.params, c.params);
  const Stack s = random_stack(3001, 5);
  auto m1 = K::make_montecarlo_cpu(1);
  auto m2 = K::make_montecarlo_cpu(2);  // another thread count: the same bits
  const McOut o1 = run(*m1, p, a, s);
  const McOut o2 = run(*m2, p, b, s);
  for (int k = 0; k < K::mc_outputs; ++k) {
    ASSERT_EQ(std::memcmp(o1.bands[static_cast<std::size_t>(k)].data(),
                          o2.bands[static_cast<std::size_t>(k)].data(), s.n * sizeof(float)),
              0)
        << k;
  }
  // The draws really vary: some cell has std > 0.
  EXPECT_GT(*std::max_element(o1.bands[1].begin(), o1.bands[1].end()), 0.0f);
}

TEST(MonteCarlo, HistogramsAndBandsTheSameWhateverTheThreads) {
  // 300001 cells x 3 draws: large enough for the tiled multi-thread histogram path (and a
  // partial last tile), checked against the one-thread path cell by cell.
  const K::Program p = linear_program(true);
  auto sp = spec(3, 21);
  sp.weights_mode = "uniform";
  sp.uniform_fraction = 0.3;
  sp.midpoint_fraction = 0.1;
  const auto plan = gp::cli::plan_uncertainty(p, sp);
  const Stack s = random_stack(300001, 4);
  auto one = K::make_montecarlo_cpu(1);
  auto many = K::make_montecarlo_cpu(4);
  std::vector<std::uint64_t> h1;
  std::vector<std::uint64_t> h4;
  const McOut o1 = run(*one, p, plan, s, &h1);
  const McOut o4 = run(*many, p, plan, s, &h4);
  EXPECT_EQ(h1, h4);
  std::uint64_t total = 0;
  for (auto c : h1) total += c;
  std::uint64_t valid = 0;
  for (float v : o1.bands[0]) valid += v != -9999.0f ? 1 : 0;
  EXPECT_EQ(total, 3 * valid);
  for (int k = 0; k < K::mc_outputs; ++k) {
    ASSERT_EQ(std::memcmp(o1.bands[static_cast<std::size_t>(k)].data(),
                          o4.bands[static_cast<std::size_t>(k)].data(), s.n * sizeof(float)),
              0)
        << k;
  }
}

// ---- analytic check --------------------------------------------------------------------------

TEST(MonteCarlo, DirichletWeightsConvergeToAnalyticMeanAndStd) {
  // Score = sum w_i mu_i with w ~ Dirichlet(c w0): E = sum w0_i mu_i,
  // Var = (sum w0_i mu_i^2 - E^2) / (c + 1).
  const K::Program p = linear_program(false);
  auto sp = spec(10000, 99);
  sp.weights_mode = "dirichlet";
  sp.dirichlet_concentration = 20.0;
  const auto plan = gp::cli::plan_uncertainty(p, sp);
  Stack s;
  s.n = 3;
  s.layers = {{0.9f, 0.1f, 1.0f}, {0.2f, 0.7f, 0.0f}, {0.5f, 0.4f, 0.3f}};
  for (auto& l : s.layers) s.ptrs.push_back(l.data());
  auto mc = K::make_montecarlo_cpu(2);
  const McOut o = run(*mc, p, plan, s);
  const double w[3] = {0.5, 0.3, 0.2};
  for (std::size_t i = 0; i < 3; ++i) {
    double e = 0.0;
    double e2 = 0.0;
    for (int l = 0; l < 3; ++l) {
      const double mu = s.layers[static_cast<std::size_t>(l)][i];
      e += w[l] * mu;
      e2 += w[l] * mu * mu;
    }
    const double sd = std::sqrt((e2 - e * e) / 21.0);
    // Mean: 5 standard errors; std: 5 % (its relative standard error is about 1 %).
    EXPECT_NEAR(o.bands[0][i], e, 5.0 * sd / 100.0) << i;
    EXPECT_NEAR(o.bands[1][i], sd, 0.05 * sd) << i;
    EXPECT_LE(o.bands[2][i], o.bands[0][i]);
    EXPECT_GE(o.bands[3][i], o.bands[0][i]);
  }
}

TEST(MonteCarlo, GammaVariatesHaveTheirMean) {
  for (double alpha : {0.3, 1.0, 4.5}) {
    double sum = 0.0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) sum += gp::cli::counter_gamma(alpha, 5, static_cast<std::uint64_t>(i), 1, 0);
    EXPECT_NEAR(sum / n, alpha, 4.0 * std::sqrt(alpha / n)) << alpha;
  }
}

// ---- CUDA --------------------------------------------------------------------------------------

/// The CUDA engine against the CPU's on the same plan and cells.
void expect_cuda_like_cpu(const K::Program& p, const gp::cli::UncertaintyPlan& plan,
                          const Stack& s) {
  auto cpu = K::make_montecarlo_cpu(0);
  auto gpu = K::make_montecarlo_cuda(0);
  std::vector<std::uint64_t> hc;
  std::vector<std::uint64_t> hg;
  const McOut oc = run(*cpu, p, plan, s, &hc);
  const McOut og = run(*gpu, p, plan, s, &hg);
  // Device pow/exp may differ from the host's in the last bit, which can move a score across a
  // bin edge: the same totals per draw, and almost the same bins.
  ASSERT_EQ(hc.size(), hg.size());
  std::uint64_t moved = 0;
  std::uint64_t total = 0;
  for (int d = 0; d < plan.setup.draws; ++d) {
    std::uint64_t tc = 0;
    std::uint64_t tg = 0;
    for (int b = 0; b < K::mc_bins; ++b) {
      const std::size_t k = static_cast<std::size_t>(d) * K::mc_bins + static_cast<std::size_t>(b);
      tc += hc[k];
      tg += hg[k];
      moved += hc[k] > hg[k] ? hc[k] - hg[k] : hg[k] - hc[k];
    }
    EXPECT_EQ(tc, tg) << d;
    total += tc;
  }
  EXPECT_LE(moved, total / 1000);
  for (int k = 0; k < K::mc_outputs; ++k) {
    for (std::size_t i = 0; i < s.n; ++i) {
      // p_top may differ where a draw's score sits on its threshold bin's edge (see above).
      ASSERT_NEAR(oc.bands[static_cast<std::size_t>(k)][i], og.bands[static_cast<std::size_t>(k)][i],
                  k == 4 ? 0.05 : 1e-6)
          << k << " " << i;
    }
  }
  const McOut og2 = run(*gpu, p, plan, s);
  for (int k = 0; k < K::mc_outputs; ++k) {
    ASSERT_EQ(std::memcmp(og.bands[static_cast<std::size_t>(k)].data(),
                          og2.bands[static_cast<std::size_t>(k)].data(), s.n * sizeof(float)),
              0);
  }
}

// 64 draws over 70001 cells: in the device-on-host build (1 MiB of draw scratch) chunks of
// 4096 cells, the last one shorter.
TEST(MonteCarloCuda, SameAsCpu) {
  if (K::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const K::Program p = linear_program(true);
  const auto sp = dirichlet_spec(64, 4, 50.0, 0.1);
  expect_cuda_like_cpu(p, gp::cli::plan_uncertainty(p, sp), random_stack(70001, 9));
}

// One draw (every per-cell summary over a single value), over 300007 cells: on the host
// "device" two chunks of 262144 and 37863 cells.
TEST(MonteCarloCuda, OneDrawSameAsCpu) {
  if (K::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const K::Program p = linear_program(true);
  auto sp = spec(1, 5);
  sp.midpoint_fraction = 0.1;
  expect_cuda_like_cpu(p, gp::cli::plan_uncertainty(p, sp), random_stack(300007, 4));
}

// Ties and NaN, counted by hand: edges 0.5, 1 and 4.99 make slots (<0.5) (=0.5) (0.5,1) (=1)
// (1,4.99) (=4.99) (>4.99); the pattern below is repeated 100003 times (several chunks' worth).
TEST(RankCounterCuda, TiesAndNaNCountedExactly) {
  if (K::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> pattern = {0.1f, 0.5f, 0.5f, 0.5f, 0.75f, 1.0f, 1.0f, 0.1f,
                                      NaNf, 4.99f, 6.0f, NaNf, -inf, 0.75f};
  const std::size_t reps = 100003;
  std::vector<float> data;
  for (std::size_t r = 0; r < reps; ++r) data.insert(data.end(), pattern.begin(), pattern.end());
  const std::vector<float> edges = {0.5f, 1.0f, 4.99f};
  auto g = K::make_rank_counter_cuda(K::edge_keys(edges), 0);
  g->add(data.data(), data.size());
  const std::vector<std::uint64_t> want = {2 * reps, 3 * reps, 2 * reps, 2 * reps,
                                           0,        reps,     reps};
  EXPECT_EQ(g->counts(), want);
  EXPECT_EQ(g->invalid(), 3 * reps);
  g->add(data.data(), 5);  // adds: 0.1, 0.5 x 3, 0.75
  std::vector<std::uint64_t> more = want;
  more[0] += 1;
  more[1] += 3;
  more[2] += 1;
  EXPECT_EQ(g->counts(), more);
}

TEST(RankCounterCuda, SameAsCpu) {
  if (K::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> q(0, 500);
  std::vector<float> data(1000003);
  for (auto& x : data) x = q(rng) == 0 ? NaNf : static_cast<float>(q(rng)) / 100.0f;
  std::vector<float> few = {0.5f, 1.0f, 4.99f};
  std::vector<float> many;
  for (int i = 0; i < 6000; ++i) many.push_back(static_cast<float>(i) / 1000.0f);
  for (const auto* e : {&few, &many}) {  // shared-memory and global-memory kernels
    auto c = K::make_rank_counter_cpu(K::edge_keys(*e), 0);
    auto g = K::make_rank_counter_cuda(K::edge_keys(*e), 0);
    c->add(data.data(), data.size());
    g->add(data.data(), data.size());
    EXPECT_EQ(c->counts(), g->counts());
    EXPECT_EQ(c->invalid(), g->invalid());
  }
}

}  // namespace
