// Per-cell math against values worked out by hand from the formulas.
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
  t.min = mn;
  t.max = mx;
  return t;
}

double score(const gk::Program& p, const std::vector<float>& cell) {
  return gk::score_cell(p, [&](int l) { return cell[static_cast<std::size_t>(l)]; });
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
  EXPECT_DOUBLE_EQ(gk::apply_transform(t, 3.25), 3.25);
  EXPECT_DOUBLE_EQ(gk::apply_transform(t, -7.0), -7.0);
}

TEST(Transform, LinearDegenerateRangeIsNan) {
  EXPECT_TRUE(std::isnan(gk::apply_transform(linear(2.0, 2.0), 2.0)));
}

TEST(Transform, LinearKnownValues) {
  // (x - 0.2) / (2.4 - 0.2): 1.3 -> 1.1 / 2.2 = 0.5; 0.75 -> 0.55 / 2.2 = 0.25.
  EXPECT_NEAR(gk::apply_transform(linear(0.2, 2.4), 1.3), 0.5, 1e-15);
  EXPECT_NEAR(gk::apply_transform(linear(0.2, 2.4), 0.75), 0.25, 1e-15);
  EXPECT_DOUBLE_EQ(gk::apply_transform(linear(0.2, 2.4), 0.2), 0.0);
  EXPECT_DOUBLE_EQ(gk::apply_transform(linear(0.2, 2.4), 2.4), 1.0);
}

TEST(Transform, LinearClampsOutsideRange) {
  EXPECT_DOUBLE_EQ(gk::apply_transform(linear(10.0, 20.0), 5.0), 0.0);
  EXPECT_DOUBLE_EQ(gk::apply_transform(linear(10.0, 20.0), 25.0), 1.0);
}

TEST(Transform, LinearMinAboveMaxInverts) {
  // Distance: 0 m is best (1), 1000 m and beyond worst (0); 250 m -> 0.75.
  const auto t = linear(1000.0, 0.0);
  EXPECT_DOUBLE_EQ(gk::apply_transform(t, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(gk::apply_transform(t, 250.0), 0.75);
  EXPECT_DOUBLE_EQ(gk::apply_transform(t, 1000.0), 0.0);
  EXPECT_DOUBLE_EQ(gk::apply_transform(t, 5000.0), 0.0);
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
