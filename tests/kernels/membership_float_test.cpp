// The single-precision memberships (cell_ops.hpp: large, small, gaussian) against the same
// formulas evaluated here in long double, with the error bound cell_ops.hpp states (u = 2^-24):
//   large/small: |mu - ref| <= (1.5 |e| + 3 |z| + 4) u ref (1 - ref) + 2^-126 (+ 2^-52, the
//                division's rounding in double), z = e ln(x / a)
//   gaussian:    |mu - ref| <= (|z| + 4) u ref + 2^-126,                     z = -b (x - a)^2
// over the whole float domain of x (subnormal to FLT_MAX, zero, negative), midpoints and
// spreads from tiny to large; through eval_cell (the scalar libm, what CUDA's code path is) and
// through the CPU backend (glibc's vector expf/logf); and a fuzzy network's map against the
// network evaluated in long double on the reference memberships.

#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace gk = gp::kernels;

namespace {

constexpr double u = 0x1p-24;
constexpr double floor_abs = 0x1p-126;
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

/// The membership in long double and its exponent z (the formulas of the README).
struct Ref {
  double mu;
  double z;
};

Ref reference(gk::TransformKind k, double x, double a, double b) {
  using LD = long double;
  if (k == gk::TransformKind::gaussian) {
    const LD z = -static_cast<LD>(b) * (static_cast<LD>(x) - a) * (static_cast<LD>(x) - a);
    return {static_cast<double>(std::exp(z)), static_cast<double>(z)};
  }
  const bool large = k == gk::TransformKind::large;
  if (x <= 0.0) return {large ? 0.0 : 1.0, 0.0};
  const LD e = large ? -static_cast<LD>(b) : static_cast<LD>(b);
  const LD z = e * (std::log(static_cast<LD>(x)) - std::log(static_cast<LD>(a)));
  return {static_cast<double>(1.0L / (1.0L + std::exp(z))), static_cast<double>(z)};
}

double bound(gk::TransformKind k, const Ref& r, double b) {
  if (k == gk::TransformKind::gaussian) return (std::abs(r.z) + 4.0) * u * r.mu + floor_abs;
  // 2^-52: the division in double rounds near 1 as in the double formula (beyond mu (1 - mu) u).
  return (1.5 * std::abs(b) + 3.0 * std::abs(r.z) + 4.0) * u * r.mu * (1.0 - r.mu) + floor_abs +
         0x1p-52;
}

gk::TransformParams params(gk::TransformKind k, double a, double b) {
  gk::TransformParams t;
  t.kind = k;
  t.a = a;
  t.b = b;
  return t;
}

/// Floats over the whole positive range: every power of two from the smallest subnormal to
/// 2^127, each times 13 mantissas, and the range's ends.
std::vector<float> positive_floats() {
  std::vector<float> v;
  for (int e = -149; e <= 127; ++e) {
    for (int j = 0; j < 13; ++j) {
      const float f = std::ldexp(1.0f + static_cast<float>(j) / 13.0f, e);
      if (f > 0.0f && std::isfinite(f)) v.push_back(f);
    }
  }
  v.push_back(std::numeric_limits<float>::denorm_min());
  v.push_back(std::numeric_limits<float>::min());
  v.push_back(std::numeric_limits<float>::max());
  return v;
}

constexpr gk::TransformKind kinds[] = {gk::TransformKind::large, gk::TransformKind::small,
                                       gk::TransformKind::gaussian};
constexpr double midpoints[] = {1e-30, 1e-3, 0.12, 1.5, 10.0, 1234.5, 1e30};
constexpr double ratio_spreads[] = {0.01, 0.5, 1.0, 3.0, 5.0, 10.0, 50.0};

/// Cells around the midpoint (where the gaussian lives): a +- d for d from 2^-30 a to 8 a.
std::vector<float> near_midpoint(double a) {
  std::vector<float> v;
  for (int e = -30; e <= 3; ++e) {
    for (int s : {-1, 1}) v.push_back(static_cast<float>(a + s * std::ldexp(a, e) * 1.37));
  }
  v.push_back(static_cast<float>(a));
  return v;
}

}  // namespace

// Every kind, midpoint and spread over the whole float range: the scalar path (eval_cell's
// transform_as, what the CUDA kernel compiles) within the stated bound of the reference.
TEST(FloatMembership, WithinBoundOverTheWholeDomain) {
  std::vector<float> xs = positive_floats();
  static const gk::Program p{};
  std::size_t checked = 0;
  double worst = 0.0;  // the largest |error| / bound seen
  for (const gk::TransformKind k : kinds) {
    for (const double a : midpoints) {
      std::vector<float> cells = xs;
      const std::vector<float> near = near_midpoint(a);
      cells.insert(cells.end(), near.begin(), near.end());
      for (const float neg : {0.0f, -0.0f, -1.0f, -1e30f}) cells.push_back(neg);
      for (const double s : ratio_spreads) {
        // gaussian's spread is 1 / width^2: widths from 1e-3 a to 100 a.
        const double b = k == gk::TransformKind::gaussian ? s / (a * a) : s;
        const gk::TransformParams t = params(k, a, b);
        for (const float x : cells) {
          const double got = gk::transform_as(k, p, t, x, nullptr);
          const Ref r = reference(k, x, a, b);
          const double tol = bound(k, r, b);
          ASSERT_LE(std::abs(got - r.mu), tol)
              << "kind " << static_cast<int>(k) << " a " << a << " b " << b << " x " << x
              << ": float " << got << " reference " << r.mu << " z " << r.z;
          worst = std::max(worst, std::abs(got - r.mu) / tol);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 100000u);
  // The bound is not vacuous: the worst cell uses a good part of it.
  EXPECT_GT(worst, 0.05);
  std::printf("worst error: %.3f of the bound over %zu cells\n", worst, checked);
}

TEST(FloatMembership, EdgeCases) {
  const auto L = params(gk::TransformKind::large, 10.0, 2.0);
  const auto S = params(gk::TransformKind::small, 10.0, 2.0);
  const auto G = params(gk::TransformKind::gaussian, 10.0, 0.5);
  static const gk::Program p{};
  const auto tf = [](const gk::TransformParams& t, double x) {
    return gk::transform_as(t.kind, p, t, x, nullptr);
  };
  // x = 0 and below: the limits, exactly.
  EXPECT_EQ(tf(L, 0.0), 0.0);
  EXPECT_EQ(tf(L, -5.0), 0.0);
  EXPECT_EQ(tf(S, 0.0), 1.0);
  EXPECT_EQ(tf(S, -5.0), 1.0);
  // At the midpoint: 0.5 (1) within the bound, and the stored float is 0.5f (1.0f).
  EXPECT_NEAR(tf(L, 10.0), 0.5, 5.0 * u * 0.25);
  EXPECT_EQ(static_cast<float>(tf(L, 10.0)), 0.5f);
  EXPECT_EQ(static_cast<float>(tf(S, 10.0)), 0.5f);
  EXPECT_EQ(tf(G, 10.0), 1.0);
  // By hand: 1 / (1 + 2^-2) = 0.8, 1 / (1 + 2^2) = 0.2, exp(-0.5 * 4).
  EXPECT_NEAR(tf(L, 20.0), 0.8, 6.0 * u * 0.16);
  EXPECT_NEAR(tf(S, 20.0), 0.2, 6.0 * u * 0.16);
  EXPECT_NEAR(tf(G, 12.0), std::exp(-2.0), 5.0 * u * std::exp(-2.0));
  // Huge and tiny x: saturated, no NaN, no overflow.
  const float big = std::numeric_limits<float>::max();
  const float tiny = std::numeric_limits<float>::denorm_min();
  EXPECT_EQ(tf(L, big), 1.0);
  EXPECT_EQ(tf(S, big), 0.0);
  EXPECT_EQ(tf(L, tiny), 0.0);
  EXPECT_EQ(tf(S, tiny), 1.0);
  EXPECT_EQ(tf(G, big), 0.0);
  // A gentle spread keeps even the float range's ends inside (0, 1), as in double.
  const auto gentle = params(gk::TransformKind::large, 10.0, 0.01);
  EXPECT_NEAR(tf(gentle, big), reference(gk::TransformKind::large, big, 10.0, 0.01).mu, 2e-7);
  EXPECT_NEAR(tf(gentle, tiny), reference(gk::TransformKind::large, tiny, 10.0, 0.01).mu, 2e-7);
  // NaN is nodata: eval_cell stores the nodata value, never evaluates the membership.
  static gk::Program one;
  one.n_layers = 1;
  one.layers[0].transform = L;
  one.n_bands = 1;
  one.bands[0] = 0;
  float out = 0.0f;
  gk::eval_cell(
      one, nullptr, [](int) { return nan_f; },
      [&](int, double v) { out = gk::store_value(one, v); });
  EXPECT_EQ(out, one.out_nodata);
}

// Fuzzy gamma (gamma_of: logs through logf, expf) against pow in long double, with the bound
// cell_ops.hpp states: |v - ref| <= (|s| + 1.5 (|g| + |1 - g|) + 4) u ref + 2^-126, over sums
// and products from 0 and subnormal doubles to 1; gamma 0 and 1 exactly the product and sum.
TEST(FloatMembership, FuzzyGammaWithinBound) {
  std::vector<double> values = {0.0, 4.9e-324, 1e-310, 1e-300, 1e-200, 1e-50, 1e-38, 1e-30,
                                1e-10, 1e-3, 0.1, 0.25, 0.5, 0.7071, 0.9, 0.999, 1.0 - 1e-9, 1.0};
  for (int i = 1; i < 200; ++i) values.push_back(std::pow(10.0, -12.0 * i / 200.0));
  double worst = 0.0;
  for (const double g : {0.0, 0.1, 0.5, 0.7, 0.9, 0.99, 1.0}) {
    for (const double fsum : values) {
      for (const double prod : values) {
        const double got = gk::gamma_of(fsum, prod, g);
        if (g == 0.0 || g == 1.0) {
          ASSERT_EQ(got, g == 0.0 ? prod : fsum);
          continue;
        }
        using LD = long double;
        const LD ref = std::pow(static_cast<LD>(fsum), static_cast<LD>(g)) *
                       std::pow(static_cast<LD>(prod), 1.0L - g);
        const double sum_log = fsum > 0.0 && prod > 0.0
                                   ? g * std::log(fsum) + (1.0 - g) * std::log(prod)
                                   : 0.0;
        const double tol =
            (std::abs(sum_log) + 1.5 * (std::abs(g) + std::abs(1.0 - g)) + 4.0) * u *
                static_cast<double>(ref) +
            floor_abs;
        ASSERT_LE(std::abs(got - static_cast<double>(ref)), tol)
            << "gamma " << g << " fsum " << fsum << " prod " << prod << ": " << got << " vs "
            << static_cast<double>(ref);
        worst = std::max(worst, std::abs(got - static_cast<double>(ref)) / tol);
      }
    }
  }
  EXPECT_GT(worst, 0.05);
  std::printf("fuzzy gamma: worst error %.3f of the bound\n", worst);
  // NaN stays NaN, a negative product (inputs outside [0, 1]) is NaN as pow's.
  EXPECT_TRUE(std::isnan(gk::gamma_of(std::nan(""), 0.5, 0.9)));
  EXPECT_TRUE(std::isnan(gk::gamma_of(0.5, -0.25, 0.9)));
}

namespace {
/// One layer per (kind, midpoint, spread) case, each written to its own band.
struct Case {
  gk::TransformKind kind;
  double a;
  double b;
  bool invert;
};

std::vector<Case> backend_cases() {
  std::vector<Case> c;
  for (const double a : {0.12, 1.5, 1234.5}) {
    c.push_back({gk::TransformKind::large, a, 5.0, false});
    c.push_back({gk::TransformKind::small, a, 3.0, a > 1.0});
    c.push_back({gk::TransformKind::gaussian, a, 4.0 / (a * a), false});
  }
  return c;
}
}  // namespace

// The CPU backend's block loop (glibc's vector expf/logf where built with libmvec) within the
// same bound, plus the float store's half ulp, on cells from 0 to 4 midpoints with nodata,
// zeros and negatives among them.
TEST(FloatMembership, CpuBackendWithinBound) {
  const std::vector<Case> cases = backend_cases();
  const std::size_t n = 5 * 512 + 33;
  static gk::Program p;
  p.n_layers = static_cast<int>(cases.size());
  p.n_bands = p.n_layers;
  std::vector<std::vector<float>> in(cases.size(), std::vector<float>(n));
  std::uint32_t state = 2024u;
  for (std::size_t l = 0; l < cases.size(); ++l) {
    const Case& c = cases[l];
    p.layers[l].transform = params(c.kind, c.a, c.b);
    p.layers[l].transform.invert = c.invert ? 1 : 0;
    p.bands[l] = static_cast<int>(l);
    for (std::size_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      float v = static_cast<float>(4.0 * c.a * static_cast<double>(state >> 8) / 16777216.0);
      if (i % 37 == l) v = nan_f;
      if (i % 41 == l) v = 0.0f;
      if (i % 43 == l) v = -v;
      in[l][i] = v;
    }
  }
  auto be = gk::make_cpu_backend(2);
  be->set_program(p, {});
  std::vector<std::vector<float>> out(cases.size(), std::vector<float>(n));
  std::vector<const float*> layers;
  std::vector<float*> bands;
  for (std::size_t l = 0; l < cases.size(); ++l) {
    layers.push_back(in[l].data());
    bands.push_back(out[l].data());
  }
  be->score(layers.data(), n, bands.data());
  for (std::size_t l = 0; l < cases.size(); ++l) {
    const Case& c = cases[l];
    for (std::size_t i = 0; i < n; ++i) {
      const float x = in[l][i];
      if (std::isnan(x)) {
        ASSERT_EQ(out[l][i], p.out_nodata) << "layer " << l << " cell " << i;
        continue;
      }
      Ref r = reference(c.kind, x, c.a, c.b);
      const double tol = bound(c.kind, r, c.b);
      if (c.invert) r.mu = 1.0 - r.mu;
      const double store = std::ldexp(1.0, std::ilogb(std::max(r.mu, 0x1p-126)) - 24);
      ASSERT_LE(std::abs(static_cast<double>(out[l][i]) - r.mu), tol + store)
          << "layer " << l << " cell " << i << " x " << x;
    }
  }
}

namespace {
/// The network of a fuzzy model on three layers (large, small, gaussian): g1 = fuzzy-or(l1, l2),
/// g2 = weighted-sum(l2, l3; 0.4, 0.6), final = fuzzy-gamma(g1, g2; 0.9), in long double on
/// memberships m1..m3. Monotone (non-decreasing) in each membership.
long double network(long double m1, long double m2, long double m3) {
  const long double g1 = std::max(m1, m2);
  const long double g2 = 0.4L * m2 + 0.6L * m3;
  const long double fsum = 1.0L - (1.0L - g1) * (1.0L - g2);
  return std::pow(fsum, 0.9L) * std::pow(g1 * g2, 0.1L);
}
}  // namespace

// A fuzzy network's map (CPU backend) against the double reference: as the network is monotone
// in each membership, the map must lie between the network of the reference memberships
// lowered and raised by their bounds, widened by the gamma's bound and the float store's ulp.
TEST(FloatMembership, FuzzyNetworkMapWithinPropagatedBound) {
  const std::size_t n = 4 * 512 + 5;
  static gk::Program p;
  p.n_layers = 3;
  p.n_groups = 3;
  p.n_bands = 1;
  const double a[3] = {1.5, 0.12, 40.0};
  const double b[3] = {4.0, 3.0, 1.0 / 100.0};
  const gk::TransformKind k[3] = {gk::TransformKind::large, gk::TransformKind::small,
                                  gk::TransformKind::gaussian};
  for (int l = 0; l < 3; ++l) p.layers[l].transform = params(k[l], a[l], b[l]);
  const int inputs[] = {0, 1, 1, 2, 3, 4};
  const double weights[] = {0.5, 0.5, 0.4, 0.6, 0.5, 0.5};
  for (int i = 0; i < 6; ++i) {
    p.inputs[i] = inputs[i];
    p.input_weights[i] = weights[i];
  }
  p.groups[0] = {gk::CombineMethod::fuzzy_or, 0, 2, 0, 0.9, 0.0};
  p.groups[1] = {gk::CombineMethod::weighted_sum, 2, 2, 0, 0.9, 0.0};
  p.groups[2] = {gk::CombineMethod::fuzzy_gamma, 4, 2, 0, 0.9, 0.0};
  p.bands[0] = 5;
  std::vector<std::vector<float>> in(3, std::vector<float>(n));
  std::uint32_t state = 7u;
  for (int l = 0; l < 3; ++l) {
    for (std::size_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      in[l][i] = static_cast<float>(3.0 * a[l] * static_cast<double>(state >> 8) / 16777216.0);
    }
  }
  auto be = gk::make_cpu_backend(1);
  be->set_program(p, {});
  std::vector<float> map(n);
  const float* layers[3] = {in[0].data(), in[1].data(), in[2].data()};
  float* bands[1] = {map.data()};
  be->score(layers, n, bands);
  double worst = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    long double lo[3];
    long double hi[3];
    long double mid[3];
    for (int l = 0; l < 3; ++l) {
      const Ref r = reference(k[l], in[l][i], a[l], b[l]);
      const double d = bound(k[l], r, b[l]);
      mid[l] = r.mu;
      lo[l] = std::max(0.0L, static_cast<long double>(r.mu) - d);
      hi[l] = std::min(1.0L, static_cast<long double>(r.mu) + d);
    }
    const long double ref = network(mid[0], mid[1], mid[2]);
    const long double ulp = std::ldexp(1.0L, std::ilogb(static_cast<double>(ref)) - 23);
    // The gamma's own bound (relative, |s| = |ln ref| for a value of the gamma), then the store.
    const long double g = (std::abs(std::log(ref)) + 5.5L) * u;
    const long double low = network(lo[0], lo[1], lo[2]) * (1.0L - g) - ulp;
    const long double high = network(hi[0], hi[1], hi[2]) * (1.0L + g) + ulp;
    ASSERT_GE(map[i], low) << "cell " << i << " reference " << static_cast<double>(ref);
    ASSERT_LE(map[i], high) << "cell " << i << " reference " << static_cast<double>(ref);
    worst = std::max(worst, static_cast<double>(std::abs(map[i] - ref)));
  }
  // In practice within a few ulps of 1.
  EXPECT_LT(worst, 8.0 * u);
  std::printf("largest |map - double reference|: %.3g (%.2f x 2^-24)\n", worst, worst / u);
}
