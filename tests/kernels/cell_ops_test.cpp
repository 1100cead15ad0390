// Per-cell math against values worked out by hand from the formulas.
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace gk = gp::kernels;

namespace {
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

gk::TransformParams linear(double mn, double mx) {
  gk::TransformParams t;
  t.kind = gk::TransformKind::linear;
  t.a = mn;
  t.b = mx;
  return t;
}

/// Adds the simple-form group (weighted sum over every layer with the layers' weights) and
/// returns band 0 for one cell.
double score(gk::Program p, const std::vector<float>& cell) {
  p.n_groups = 1;
  p.groups[0].method = gk::CombineMethod::weighted_sum;
  p.groups[0].first_input = 0;
  p.groups[0].n_inputs = p.n_layers;
  for (int l = 0; l < p.n_layers; ++l) {
    p.inputs[l] = l;
    p.input_weights[l] = p.layers[l].weight;
  }
  p.n_bands = 1;
  p.bands[0] = p.n_layers;
  double out = -1.0;
  gk::eval_cell(
      p, nullptr, [&](int l) { return cell[static_cast<std::size_t>(l)]; },
      [&](int, double v) { out = v; });
  return out;
}

double tf(const gk::TransformParams& t, double x) {
  gk::Program p;
  return gk::apply_transform(p, t, x, nullptr);
}
}  // namespace

TEST(IsValid, RejectsNanAndInfinities) {
  EXPECT_FALSE(gk::is_valid(std::nan("")));
  EXPECT_FALSE(gk::is_valid(std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(gk::is_valid(-std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(gk::is_valid(0.0));
  EXPECT_TRUE(gk::is_valid(-3.4e38));
  EXPECT_TRUE(gk::is_valid(std::numeric_limits<double>::max()));
}

TEST(Transform, IdentityPassesValueThrough) {
  gk::TransformParams t;
  EXPECT_DOUBLE_EQ(tf(t, 3.25), 3.25);
  EXPECT_DOUBLE_EQ(tf(t, -7.0), -7.0);
}

TEST(Transform, LinearConstantLayerIsZero) {
  // min == max only arises from a constant layer (the model refuses it when written).
  EXPECT_EQ(tf(linear(2.0, 2.0), 2.0), 0.0);
}

TEST(Transform, LinearKnownValues) {
  // (x - 0.2) / (2.4 - 0.2): 1.3 -> 1.1 / 2.2 = 0.5; 0.75 -> 0.55 / 2.2 = 0.25.
  EXPECT_NEAR(tf(linear(0.2, 2.4), 1.3), 0.5, 1e-15);
  EXPECT_NEAR(tf(linear(0.2, 2.4), 0.75), 0.25, 1e-15);
  EXPECT_DOUBLE_EQ(tf(linear(0.2, 2.4), 0.2), 0.0);
  EXPECT_DOUBLE_EQ(tf(linear(0.2, 2.4), 2.4), 1.0);
}

TEST(Transform, LinearClampsOutsideRange) {
  EXPECT_DOUBLE_EQ(tf(linear(10.0, 20.0), 5.0), 0.0);
  EXPECT_DOUBLE_EQ(tf(linear(10.0, 20.0), 25.0), 1.0);
}

TEST(Transform, LinearMinAboveMaxInverts) {
  // Distance: 0 m is best (1), 1000 m and beyond worst (0); 250 m -> 0.75.
  const auto t = linear(1000.0, 0.0);
  EXPECT_DOUBLE_EQ(tf(t, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(tf(t, 250.0), 0.75);
  EXPECT_DOUBLE_EQ(tf(t, 1000.0), 0.0);
  EXPECT_DOUBLE_EQ(tf(t, 5000.0), 0.0);
}

class WeightedSum : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two layers, weights 0.75 and 0.25 (already normalised), linear 0..10 and 0..100.
    p.n_layers = 2;
    p.layers[0].transform = linear(0.0, 10.0);
    p.layers[0].weight = 0.75;
    p.layers[1].transform = linear(0.0, 100.0);
    p.layers[1].weight = 0.25;
  }
  gk::Program p;
};

TEST_F(WeightedSum, EmptyProgramIsNodata) {
  gk::Program empty;
  EXPECT_TRUE(std::isnan(score(empty, {})));
}

TEST_F(WeightedSum, KnownValue) {
  // 0.75 * (4/10) + 0.25 * (80/100) = 0.3 + 0.2 = 0.5
  EXPECT_NEAR(score(p, {4.0f, 80.0f}), 0.5, 1e-7);
  // 0.75 * 1 + 0.25 * 0 = 0.75
  EXPECT_NEAR(score(p, {12.0f, -5.0f}), 0.75, 1e-15);
}

TEST_F(WeightedSum, AnyNodataLayerMakesNodata) {
  EXPECT_TRUE(std::isnan(score(p, {nan_f, 80.0f})));
  EXPECT_TRUE(std::isnan(score(p, {4.0f, nan_f})));
  EXPECT_TRUE(std::isnan(score(p, {std::numeric_limits<float>::infinity(), 80.0f})));
}

TEST_F(WeightedSum, SkipLayerRenormalisesRemainingWeights) {
  p.layers[1].skip_missing = 1;
  // Layer 1 missing: only layer 0 remains, its weight renormalised to 1 -> 4/10 = 0.4.
  EXPECT_NEAR(score(p, {4.0f, nan_f}), 0.4, 1e-7);
  // Both present: unchanged 0.5.
  EXPECT_NEAR(score(p, {4.0f, 80.0f}), 0.5, 1e-7);
  // The non-skip layer missing still makes nodata.
  EXPECT_TRUE(std::isnan(score(p, {nan_f, 80.0f})));
}

TEST_F(WeightedSum, AllSkipLayersMissingIsNodata) {
  p.layers[0].skip_missing = 1;
  p.layers[1].skip_missing = 1;
  EXPECT_TRUE(std::isnan(score(p, {nan_f, nan_f})));
}

TEST_F(WeightedSum, ThreeLayersOneSkippedByHand) {
  // Weights 0.5, 0.3, 0.2; layer 2 skipped -> (0.5*a + 0.3*b) / 0.8.
  p.n_layers = 3;
  p.layers[0].weight = 0.5;
  p.layers[1].weight = 0.3;
  p.layers[2].transform = linear(0.0, 1.0);
  p.layers[2].weight = 0.2;
  p.layers[2].skip_missing = 1;
  // a = 6/10 = 0.6, b = 20/100 = 0.2 -> (0.3 + 0.06) / 0.8 = 0.45
  EXPECT_NEAR(score(p, {6.0f, 20.0f, nan_f}), 0.45, 1e-7);
}

TEST(StoreValue, WritesNodataForNan) {
  gk::Program p;
  p.out_nodata = -9999.0f;
  EXPECT_EQ(gk::store_value(p, std::nan("")), -9999.0f);
  EXPECT_EQ(gk::store_value(p, 0.25), 0.25f);
}

// ---- Fuzzy memberships (ArcGIS Pro parameterisation), values worked by hand ----

namespace {
gk::TransformParams mk(gk::TransformKind k, double a, double b, double c = 1.0, double d = 1.0) {
  gk::TransformParams t;
  t.kind = k;
  t.a = a;
  t.b = b;
  t.c = c;
  t.d = d;
  return t;
}
}  // namespace

TEST(Transform, LargeByHand) {
  const auto t = mk(gk::TransformKind::large, 10.0, 2.0);  // midpoint 10, spread 2
  EXPECT_DOUBLE_EQ(tf(t, 10.0), 0.5);                      // at the midpoint
  EXPECT_DOUBLE_EQ(tf(t, 20.0), 0.8);                      // 1 / (1 + 2^-2) = 1 / 1.25
  EXPECT_DOUBLE_EQ(tf(t, 5.0), 0.2);                       // 1 / (1 + 0.5^-2) = 1 / 5
  EXPECT_EQ(tf(t, 0.0), 0.0);                              // x = 0: the limit
  EXPECT_EQ(tf(t, -3.0), 0.0);                             // negative: least favourable
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::large, 10.0, 0.0), 37.0), 0.5);  // spread 0
}

TEST(Transform, SmallByHand) {
  const auto t = mk(gk::TransformKind::small, 10.0, 2.0);
  EXPECT_DOUBLE_EQ(tf(t, 10.0), 0.5);
  EXPECT_DOUBLE_EQ(tf(t, 20.0), 0.2);  // 1 / (1 + 2^2)
  EXPECT_DOUBLE_EQ(tf(t, 5.0), 0.8);   // 1 / (1 + 0.25)
  EXPECT_EQ(tf(t, 0.0), 1.0);
  EXPECT_EQ(tf(t, -1.0), 1.0);
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::small, 10.0, 0.0), 3.0), 0.5);
}

TEST(Transform, GaussianByHand) {
  const auto t = mk(gk::TransformKind::gaussian, 5.0, 0.5);
  EXPECT_DOUBLE_EQ(tf(t, 5.0), 1.0);
  EXPECT_NEAR(tf(t, 7.0), std::exp(-2.0), 1e-15);  // exp(-0.5 * 4)
  EXPECT_NEAR(tf(t, 3.0), 0.1353352832366127, 1e-15);
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::gaussian, 5.0, 0.0), 100.0), 1.0);  // spread 0
}

TEST(Transform, NearByHand) {
  const auto t = mk(gk::TransformKind::near, 5.0, 0.25);
  EXPECT_DOUBLE_EQ(tf(t, 5.0), 1.0);
  EXPECT_DOUBLE_EQ(tf(t, 7.0), 0.5);  // 1 / (1 + 0.25 * 4)
  EXPECT_DOUBLE_EQ(tf(t, 1.0), 0.2);  // 1 / (1 + 0.25 * 16)
}

TEST(Transform, MsLargeAndMsSmallByHand) {
  // mean 10, std 4, a = 1, b = 1: a*m = 10, b*s = 4.
  const auto L = mk(gk::TransformKind::ms_large, 10.0, 4.0, 1.0, 1.0);
  EXPECT_DOUBLE_EQ(tf(L, 14.0), 0.5);  // 1 - 4 / (14 - 10 + 4)
  EXPECT_DOUBLE_EQ(tf(L, 22.0), 0.75); // 1 - 4 / 16
  EXPECT_EQ(tf(L, 10.0), 0.0);
  EXPECT_EQ(tf(L, 3.0), 0.0);
  const auto S = mk(gk::TransformKind::ms_small, 10.0, 4.0, 1.0, 1.0);
  EXPECT_DOUBLE_EQ(tf(S, 14.0), 0.5);
  EXPECT_DOUBLE_EQ(tf(S, 22.0), 0.25);
  EXPECT_EQ(tf(S, 10.0), 1.0);
  // Multipliers: a = 0.5, b = 2 -> a*m = 5, b*s = 8: x = 13 -> 1 - 8 / 16 = 0.5.
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::ms_large, 10.0, 4.0, 0.5, 2.0), 13.0), 0.5);
}

TEST(Transform, NormalisationsByHand) {
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::minmax, 2.0, 12.0), 7.0), 0.5);
  EXPECT_EQ(tf(mk(gk::TransformKind::minmax, 3.0, 3.0), 3.0), 0.0);  // constant layer
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::zscore, 10.0, 2.0), 13.0), 1.5);
  EXPECT_EQ(tf(mk(gk::TransformKind::zscore, 10.0, 0.0), 10.0), 0.0);  // constant layer
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::log10, 1.0, 0.0), 99.0), 2.0);
  EXPECT_DOUBLE_EQ(tf(mk(gk::TransformKind::log10, 0.0, 0.0), 0.001), -3.0);
  EXPECT_TRUE(std::isnan(tf(mk(gk::TransformKind::log10, 0.0, 0.0), 0.0)));
  EXPECT_TRUE(std::isnan(tf(mk(gk::TransformKind::log10, 1.0, 0.0), -2.0)));
  EXPECT_EQ(tf(mk(gk::TransformKind::clamp, 0.0, 5.0), -1.0), 0.0);
  EXPECT_EQ(tf(mk(gk::TransformKind::clamp, 0.0, 5.0), 7.0), 5.0);
  EXPECT_EQ(tf(mk(gk::TransformKind::clamp, 0.0, 5.0), 2.5), 2.5);
}

TEST(Transform, InvertFollowsAnyKind) {
  auto t = mk(gk::TransformKind::large, 10.0, 2.0);
  t.invert = 1;
  EXPECT_DOUBLE_EQ(tf(t, 20.0), 1.0 - 0.8);
  auto z = mk(gk::TransformKind::log10, 0.0, 0.0);
  z.invert = 1;
  EXPECT_TRUE(std::isnan(tf(z, -1.0)));  // nodata stays nodata
}

TEST(Transform, ReclassValuesRangesAndDefault) {
  gk::Program p;
  p.rules[0] = {3.0, 3.0, 0.9, 1};    // lithology code 3
  p.rules[1] = {10.0, 20.0, 0.4, 0};  // [10, 20)
  gk::TransformParams t;
  t.kind = gk::TransformKind::reclass;
  t.first = 0;
  t.count = 2;
  EXPECT_EQ(gk::apply_transform(p, t, 3.0, nullptr), 0.9);
  EXPECT_EQ(gk::apply_transform(p, t, 10.0, nullptr), 0.4);
  EXPECT_EQ(gk::apply_transform(p, t, 19.999, nullptr), 0.4);
  EXPECT_TRUE(std::isnan(gk::apply_transform(p, t, 20.0, nullptr)));  // half-open
  EXPECT_TRUE(std::isnan(gk::apply_transform(p, t, 4.0, nullptr)));   // unmatched -> nodata
  t.has_default = 1;
  t.fallback = 0.05;
  EXPECT_EQ(gk::apply_transform(p, t, 4.0, nullptr), 0.05);
}

TEST(Transform, PercentileInterpolatesKnots) {
  // Knots: values 0, 10, 20 with fractions 0, 0.25, 1.
  const std::vector<double> aux = {0.0, 10.0, 20.0, 0.0, 0.25, 1.0};
  gk::Program p;
  gk::TransformParams t;
  t.kind = gk::TransformKind::percentile;
  t.first = 0;
  t.count = 3;
  EXPECT_DOUBLE_EQ(gk::apply_transform(p, t, 5.0, aux.data()), 0.125);
  EXPECT_DOUBLE_EQ(gk::apply_transform(p, t, 15.0, aux.data()), 0.625);
  EXPECT_EQ(gk::apply_transform(p, t, 0.0, aux.data()), 0.0);
  EXPECT_EQ(gk::apply_transform(p, t, 25.0, aux.data()), 1.0);
  EXPECT_EQ(gk::apply_transform(p, t, -5.0, aux.data()), 0.0);
}

// ---- Operators, by hand ----

namespace {
double combine(gk::CombineMethod m, const std::vector<double>& mu, double gamma = 0.9,
               std::vector<double> w = {}) {
  gk::Program p;
  p.n_layers = static_cast<int>(mu.size());
  gk::GroupOp g;
  g.method = m;
  g.n_inputs = p.n_layers;
  g.gamma = gamma;
  if (w.empty()) w.assign(mu.size(), 1.0 / static_cast<double>(mu.size()));
  for (int i = 0; i < p.n_layers; ++i) {
    p.inputs[i] = i;
    p.input_weights[i] = w[static_cast<std::size_t>(i)];
  }
  unsigned char skip[gk::max_nodes] = {};
  return gk::combine_group(p, g, mu.data(), skip);
}
}  // namespace

TEST(Combine, FuzzyOperatorsByHand) {
  const std::vector<double> mu = {0.5, 0.8, 0.25};
  EXPECT_EQ(combine(gk::CombineMethod::fuzzy_and, mu), 0.25);
  EXPECT_EQ(combine(gk::CombineMethod::fuzzy_or, mu), 0.8);
  EXPECT_DOUBLE_EQ(combine(gk::CombineMethod::fuzzy_product, mu), 0.1);  // 0.5 * 0.8 * 0.25
  // 1 - (0.5 * 0.2 * 0.75) = 1 - 0.075
  EXPECT_DOUBLE_EQ(combine(gk::CombineMethod::fuzzy_sum, mu), 0.925);
  // gamma 0.5: sqrt(0.925 * 0.1)
  EXPECT_NEAR(combine(gk::CombineMethod::fuzzy_gamma, mu, 0.5), std::sqrt(0.0925), 1e-15);
  EXPECT_DOUBLE_EQ(combine(gk::CombineMethod::fuzzy_gamma, mu, 1.0), 0.925);  // = fuzzy sum
  EXPECT_DOUBLE_EQ(combine(gk::CombineMethod::fuzzy_gamma, mu, 0.0), 0.1);    // = product
  // Weighted sum and index overlay: 0.5*0.5 + 0.3*0.8 + 0.2*0.25 = 0.25 + 0.24 + 0.05
  EXPECT_DOUBLE_EQ(combine(gk::CombineMethod::weighted_sum, mu, 0.9, {0.5, 0.3, 0.2}), 0.54);
  EXPECT_DOUBLE_EQ(combine(gk::CombineMethod::index_overlay, mu, 0.9, {0.5, 0.3, 0.2}), 0.54);
}

TEST(Combine, FuzzyEdgesZeroAndOne) {
  EXPECT_EQ(combine(gk::CombineMethod::fuzzy_product, {0.0, 1.0}), 0.0);
  EXPECT_EQ(combine(gk::CombineMethod::fuzzy_sum, {0.0, 1.0}), 1.0);
  EXPECT_EQ(combine(gk::CombineMethod::fuzzy_gamma, {0.0, 0.0}, 0.9), 0.0);
  EXPECT_EQ(combine(gk::CombineMethod::fuzzy_gamma, {1.0, 1.0}, 0.3), 1.0);
}

TEST(Network, ThreeLevelsWithBandsAndMask) {
  // Layers: La, Ce (linear 0..100), fault distance (linear 1000..0 inverted), mask.
  // geochem = fuzzy-or(La, Ce); structure = weighted-sum(fault 1.0);
  // final = fuzzy-gamma(geochem, structure; 0.5). Bands: final, geochem, fault layer.
  gk::Program p;
  p.n_layers = 3;
  for (int l = 0; l < 3; ++l) p.layers[l].transform = linear(0.0, 100.0);
  p.layers[2].transform = linear(1000.0, 0.0);
  p.mask_layer = 3;
  p.n_groups = 3;
  p.groups[0] = {gk::CombineMethod::fuzzy_or, 0, 2, 0, 0.9};
  p.groups[1] = {gk::CombineMethod::weighted_sum, 2, 1, 0, 0.9};
  p.groups[2] = {gk::CombineMethod::fuzzy_gamma, 3, 2, 0, 0.5};
  p.inputs[0] = 0;
  p.inputs[1] = 1;
  p.inputs[2] = 2;
  p.input_weights[2] = 1.0;
  p.inputs[3] = 3;  // node 3 = group 0
  p.inputs[4] = 4;  // node 4 = group 1
  p.n_bands = 3;
  p.bands[0] = 5;
  p.bands[1] = 3;
  p.bands[2] = 2;
  double out[3];
  auto run = [&](std::vector<float> cell) {
    gk::eval_cell(
        p, nullptr, [&](int l) { return cell[static_cast<std::size_t>(l)]; },
        [&](int b, double v) { out[b] = v; });
  };
  // La 40 -> 0.4, Ce 60 -> 0.6, fault 250 m -> 0.75, mask valid.
  // geochem = 0.6; structure = 0.75; sum = 1 - 0.4 * 0.25 = 0.9; prod = 0.45;
  // final = sqrt(0.9 * 0.45) = sqrt(0.405).
  run({40.0f, 60.0f, 250.0f, 1.0f});
  EXPECT_NEAR(out[0], std::sqrt(0.405), 1e-7);
  EXPECT_NEAR(out[1], 0.6, 1e-7);
  EXPECT_NEAR(out[2], 0.75, 1e-12);
  // Outside the mask: every band nodata.
  run({40.0f, 60.0f, 250.0f, nan_f});
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]) && std::isnan(out[2]));
  // Ce skipped when missing: geochem = La only.
  p.layers[1].skip_missing = 1;
  run({40.0f, nan_f, 250.0f, 1.0f});
  EXPECT_NEAR(out[1], 0.4, 1e-7);
}

TEST(Combine, LogisticWofeStdAndRatioByHand) {
  // logistic: bias ln(0.25) + 1 * 0.5 + 1 * ln(2) -> logit ln(0.25 * 2) + 0.5
  gk::Program p;
  p.n_layers = 3;
  gk::GroupOp g;
  g.method = gk::CombineMethod::logistic;
  g.n_inputs = 2;
  g.bias = std::log(0.25);
  p.inputs[0] = 0;
  p.inputs[1] = 1;
  p.input_weights[0] = 1.0;
  p.input_weights[1] = 1.0;
  unsigned char skip[gk::max_nodes] = {};
  const double node[3] = {0.5, std::log(2.0), 0.0};
  const double logit = std::log(0.5) + 0.5;
  EXPECT_NEAR(gk::combine_group(p, g, node, skip), 1.0 / (1.0 + std::exp(-logit)), 1e-15);
  // wofe_std: P = 0.2, variances 0.01 + 0.03, 1/N(D) = 0.05 -> 0.2 * sqrt(0.09) = 0.06
  const double n2[3] = {0.2, 0.01, 0.03};
  g.method = gk::CombineMethod::wofe_std;
  g.n_inputs = 3;
  g.bias = 0.05;
  p.inputs[2] = 2;
  EXPECT_NEAR(gk::combine_group(p, g, n2, skip), 0.06, 1e-15);
  // ratio: 0.2 / 0.01 = 20; a zero denominator is nodata
  g.method = gk::CombineMethod::ratio;
  g.n_inputs = 2;
  EXPECT_NEAR(gk::combine_group(p, g, n2, skip), 20.0, 1e-12);
  const double n3[3] = {0.2, 0.0, 0.0};
  EXPECT_TRUE(std::isnan(gk::combine_group(p, g, n3, skip)));
}

TEST(Network, OneInputFeedsTwoTransforms) {
  // Layer 0 and layer 1 both read input 0: linear 0..10 and linear 10..0.
  gk::Program p;
  p.n_layers = 2;
  p.n_inputs = 1;
  p.layers[0].transform = linear(0.0, 10.0);
  p.layers[1].transform = linear(10.0, 0.0);
  p.layers[1].input = 0;
  p.n_groups = 0;
  p.n_bands = 2;
  p.bands[0] = 0;
  p.bands[1] = 1;
  double out[2] = {};
  const float cell[1] = {2.5f};
  gk::eval_cell(
      p, nullptr, [&](int l) { return cell[l]; }, [&](int b, double v) { out[b] = v; });
  EXPECT_DOUBLE_EQ(out[0], 0.25);
  EXPECT_DOUBLE_EQ(out[1], 0.75);
  EXPECT_EQ(gk::program_inputs(p), 1);
}
