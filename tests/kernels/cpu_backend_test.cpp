// The OpenMP backend: sizes that are not multiples of anything, statistics by a separate loop.
#include "gp/kernels/backend.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace gk = gp::kernels;

namespace {
gk::Program two_layer_program() {
  gk::Program p;
  p.n_layers = 2;
  p.out_nodata = -9999.0f;
  p.layers[0].transform.kind = gk::TransformKind::linear;
  p.layers[0].transform.min = 0.0;
  p.layers[0].transform.max = 1000.0;
  p.layers[0].weight = 0.6;
  p.layers[1].transform.kind = gk::TransformKind::identity;
  p.layers[1].weight = 0.4;
  return p;
}
}  // namespace

TEST(CpuBackend, EmptyInputWritesNothing) {
  auto be = gk::make_cpu_backend(2);
  const gk::Program p = two_layer_program();
  const float* layers[2] = {nullptr, nullptr};
  be->score(p, layers, 0, nullptr);
  const auto s = be->stats(nullptr, 0);
  EXPECT_EQ(s.valid, 0u);
  EXPECT_EQ(s.invalid, 0u);
}

TEST(CpuBackend, ScoresEveryCellOfAnOddSizedWindow) {
  auto be = gk::make_cpu_backend(2);
  const gk::Program p = two_layer_program();
  const std::size_t n = 1000003;  // prime: no thread gets an even share
  std::vector<float> a(n);
  std::vector<float> b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i % 1000);
    b[i] = (i % 7 == 0) ? std::numeric_limits<float>::quiet_NaN() : 0.5f;
  }
  std::vector<float> out(n, 123.0f);
  const float* layers[2] = {a.data(), b.data()};
  be->score(p, layers, n, out.data());
  for (std::size_t i = 0; i < n; i += 997) {
    // 0.6 * (i % 1000) / 1000 + 0.4 * 0.5, or nodata where layer b is NaN.
    const float expect =
        (i % 7 == 0) ? -9999.0f
                     : static_cast<float>(0.6 * static_cast<double>(i % 1000) / 1000.0 + 0.2);
    ASSERT_FLOAT_EQ(out[i], expect) << "cell " << i;
  }
  EXPECT_EQ(out[n - 1], (n - 1) % 7 == 0 ? -9999.0f
                                         : static_cast<float>(0.6 * ((n - 1) % 1000) / 1000.0 + 0.2));
}

TEST(CpuBackend, StatsIgnoreNonFiniteValues) {
  auto be = gk::make_cpu_backend(2);
  const std::vector<float> v = {3.0f, std::numeric_limits<float>::quiet_NaN(), -1.5f,
                                std::numeric_limits<float>::infinity(), 8.0f};
  const auto s = be->stats(v.data(), v.size());
  EXPECT_EQ(s.valid, 3u);
  EXPECT_EQ(s.invalid, 2u);
  EXPECT_DOUBLE_EQ(s.min, -1.5);
  EXPECT_DOUBLE_EQ(s.max, 8.0);
  EXPECT_DOUBLE_EQ(s.sum, 9.5);
  EXPECT_DOUBLE_EQ(s.sum_sq, 9.0 + 2.25 + 64.0);
}

TEST(CpuBackend, StatsMergeAcrossWindowsEqualsWhole) {
  auto be = gk::make_cpu_backend(2);
  std::vector<float> v(4099);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) - 50.0f;
  v[17] = std::numeric_limits<float>::quiet_NaN();
  gk::LayerStats merged;
  for (std::size_t start = 0; start < v.size(); start += 1000) {
    const std::size_t len = std::min<std::size_t>(1000, v.size() - start);
    merged.merge(be->stats(v.data() + start, len));
  }
  EXPECT_EQ(merged.valid, 4098u);
  EXPECT_EQ(merged.invalid, 1u);
  EXPECT_DOUBLE_EQ(merged.min, -50.0);
  EXPECT_DOUBLE_EQ(merged.max, 50.0);
}

TEST(CpuBackend, AllNodataHasNoValidCells) {
  auto be = gk::make_cpu_backend(1);
  const std::vector<float> v(33, std::numeric_limits<float>::quiet_NaN());
  const auto s = be->stats(v.data(), v.size());
  EXPECT_EQ(s.valid, 0u);
  EXPECT_EQ(s.invalid, 33u);
}

TEST(CpuBackend, NameSaysCpu) {
  EXPECT_NE(gk::make_cpu_backend(2)->name().find("cpu"), std::string::npos);
}
