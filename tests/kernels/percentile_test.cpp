// Percentile ranks from the streaming histograms against an exact rank from a sort.
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/percentile.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace gk = gp::kernels;

namespace {

/// Exact mid-rank of x among sorted values: (count below + half the ties) / n.
double exact_rank(const std::vector<float>& sorted, float x) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), x);
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), x);
  const double below = static_cast<double>(lo - sorted.begin());
  const double ties = static_cast<double>(hi - lo);
  return (below + 0.5 * ties) / static_cast<double>(sorted.size());
}

/// Runs the two passes as the runner does, in windows of `win` cells, and returns the knots.
std::vector<double> build(gk::Backend& be, const std::vector<float>& v, std::size_t win,
                          std::int32_t& first, std::int32_t& count) {
  gk::LayerStats s;
  for (std::size_t i = 0; i < v.size(); i += win) {
    s.merge(be.stats(v.data() + i, std::min(win, v.size() - i)));
  }
  gk::PercentileBuilder pb(s.min, s.max, s.valid);
  for (std::size_t i = 0; i < v.size(); i += win) {
    be.histogram(v.data() + i, std::min(win, v.size() - i), pb.lo(), pb.hi(),
                 gk::PercentileBuilder::coarse_bins, nullptr, 0, pb.coarse());
  }
  if (pb.plan_refinement()) {
    for (std::size_t i = 0; i < v.size(); i += win) {
      be.histogram(v.data() + i, std::min(win, v.size() - i), pb.lo(), pb.hi(),
                   gk::PercentileBuilder::coarse_bins, pb.slots(),
                   gk::PercentileBuilder::sub_bins, pb.fine());
    }
  }
  std::vector<double> aux;
  std::tie(first, count) = pb.append_knots(aux);
  return aux;
}

void check_within(const std::vector<float>& v, double tol) {
  auto be = gk::make_cpu_backend(2);
  std::int32_t first = 0;
  std::int32_t count = 0;
  const std::vector<double> aux = build(*be, v, 100003, first, count);
  std::vector<float> sorted;
  for (float x : v) {
    if (std::isfinite(x)) sorted.push_back(x);
  }
  std::sort(sorted.begin(), sorted.end());
  double worst = 0.0;
  for (std::size_t i = 0; i < v.size(); i += 7) {
    if (!std::isfinite(v[i])) continue;
    const double got = gk::percentile_rank(aux.data(), first, count, v[i]);
    worst = std::max(worst, std::abs(got - exact_rank(sorted, v[i])));
    // The start-table lookup finds the same knots as bisection: the same result, bit for bit.
    const double fast = gk::percentile_rank(aux.data(), first, count, v[i], sorted.front(),
                                            sorted.back(), gk::PercentileBuilder::coarse_bins);
    ASSERT_EQ(fast, got) << "cell " << i;
  }
  EXPECT_LE(worst, tol);
}

}  // namespace

TEST(Percentile, ConstantLayerIsMidRank) {
  gk::PercentileBuilder pb(5.0, 5.0, 10);
  std::vector<double> aux;
  const auto [first, count] = pb.append_knots(aux);
  EXPECT_EQ(gk::percentile_rank(aux.data(), first, count, 5.0), 0.5);
}

TEST(Percentile, UniformValuesWithin1Over4096) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(-3.0f, 17.0f);
  std::vector<float> v(1000003);
  for (auto& x : v) x = u(rng);
  v[5] = std::nanf("");
  check_within(v, 1.0 / 4096);
}

TEST(Percentile, SkewedLognormalWithin1Over4096) {
  // Geochemistry-like: most cells crowd near zero, a long tail reaches far out, which puts
  // most cells into a few of the 65536 bins and needs the refinement pass.
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> ln(0.0, 2.5);
  std::vector<float> v(500000);
  for (auto& x : v) x = static_cast<float>(ln(rng));
  check_within(v, 1.0 / 4096);
}

TEST(Percentile, HeavyTiesStayBounded) {
  // A third of the cells share one value: their exact mid-rank is the middle of the tie.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(300000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = i % 3 == 0 ? 0.5f : u(rng);
  auto be = gk::make_cpu_backend(2);
  std::int32_t first = 0;
  std::int32_t count = 0;
  const auto aux = build(*be, v, 65536, first, count);
  std::vector<float> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  // Values away from the tie are still within 1/4096; the tied value itself gets a rank
  // inside the tie's span.
  const double r = gk::percentile_rank(aux.data(), first, count, 0.5f);
  const double lo = static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), 0.5f) - sorted.begin()) / static_cast<double>(v.size());
  const double hi = static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), 0.5f) - sorted.begin()) / static_cast<double>(v.size());
  EXPECT_GE(r, lo - 1.0 / 4096);
  EXPECT_LE(r, hi + 1.0 / 4096);
  EXPECT_NEAR(gk::percentile_rank(aux.data(), first, count, 0.9f), exact_rank(sorted, 0.9f), 1.0 / 4096);
}
