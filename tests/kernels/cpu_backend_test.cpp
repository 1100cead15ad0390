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
  p.layers[0].transform.a = 0.0;
  p.layers[0].transform.b = 1000.0;
  p.layers[0].weight = 0.6;
  p.layers[1].transform.kind = gk::TransformKind::identity;
  p.layers[1].weight = 0.4;
  p.n_groups = 1;
  p.groups[0].n_inputs = 2;
  p.inputs[0] = 0;
  p.inputs[1] = 1;
  p.input_weights[0] = 0.6;
  p.input_weights[1] = 0.4;
  p.bands[0] = 2;
  return p;
}
}  // namespace

TEST(CpuBackend, EmptyInputWritesNothing) {
  auto be = gk::make_cpu_backend(2);
  const gk::Program p = two_layer_program();
  const float* layers[2] = {nullptr, nullptr};
  float* bands[1] = {nullptr};
  be->set_program(p, {});
  be->score(layers, 0, bands);
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
  float* bands[1] = {out.data()};
  be->set_program(p, {});
  be->score(layers, n, bands);
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
  // mean = 9.5 / 3; population variance = (9 + 2.25 + 64) / 3 - mean^2
  EXPECT_NEAR(s.mean, 9.5 / 3.0, 1e-15);
  EXPECT_NEAR(s.stddev(), std::sqrt(75.25 / 3.0 - (9.5 / 3.0) * (9.5 / 3.0)), 1e-12);
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

TEST(CpuBackend, MomentsStayAccurateWithLargeOffset) {
  // Values 1e8 + {0, 1, 2, 3}: a naive sum of squares loses the variance (1.25) entirely.
  auto be = gk::make_cpu_backend(2);
  std::vector<float> v;
  for (int i = 0; i < 4000; ++i) v.push_back(static_cast<float>(1.0e8 + (i % 4) * 8.0));
  gk::LayerStats merged;
  for (std::size_t s = 0; s < v.size(); s += 999) {
    merged.merge(be->stats(v.data() + s, std::min<std::size_t>(999, v.size() - s)));
  }
  // Values 1e8 + {0, 8, 16, 24} (exact in float): mean 1e8 + 12, variance (144+16+16+144)/4 = 80.
  EXPECT_DOUBLE_EQ(merged.mean, 1.0e8 + 12.0);
  EXPECT_NEAR(merged.stddev(), std::sqrt(80.0), 1e-9);
}

TEST(CpuBackend, HistogramCountsAndRefinement) {
  auto be = gk::make_cpu_backend(2);
  const std::vector<float> v = {0.0f, 0.1f, 0.25f, 0.5f, 0.99f, 1.0f, std::nanf(""), 2.0f};
  std::vector<std::uint64_t> counts(4, 0);
  be->histogram(v.data(), v.size(), 0.0, 1.0, 4, nullptr, 0, counts.data());
  // Bins [0,.25) [.25,.5) [.5,.75) [.75,1]: 0 and 0.1 | 0.25 | 0.5 | 0.99 and 1.0; 2.0 outside.
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{2, 1, 1, 2}));
  // Refine bin 0 into 5 sub-bins of width 0.05: 0 -> sub 0, 0.1 -> sub 2.
  const std::int32_t slots[4] = {0, -1, -1, -1};
  std::vector<std::uint64_t> fine(5, 0);
  be->histogram(v.data(), v.size(), 0.0, 1.0, 4, slots, 5, fine.data());
  EXPECT_EQ(fine, (std::vector<std::uint64_t>{1, 0, 1, 0, 0}));
}

TEST(MultiBackend, SharesGiveTheSameResultsAsOneBackend) {
  // Three CPU backends stand in for three GPUs: every call split three ways must equal one.
  std::vector<std::unique_ptr<gk::Backend>> parts;
  for (int i = 0; i < 3; ++i) parts.push_back(gk::make_cpu_backend(1));
  auto multi = gk::make_multi_backend(std::move(parts));
  auto one = gk::make_cpu_backend(1);
  const gk::Program p = two_layer_program();
  const std::size_t width = 37;
  const std::size_t rows = 29;
  const std::size_t n = width * rows;
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>((i * 7919) % 1000);
    b[i] = i % 11 == 0 ? std::numeric_limits<float>::quiet_NaN() : 0.25f;
  }
  const float* layers[2] = {a.data(), b.data()};
  std::vector<float> o1(n), o2(n);
  float* b1[1] = {o1.data()};
  float* b2[1] = {o2.data()};
  multi->set_program(p, {});
  one->set_program(p, {});
  multi->score(layers, n, b1);
  one->score(layers, n, b2);
  EXPECT_EQ(o1, o2);
  std::vector<gk::LayerStats> r1(rows), r2(rows);
  multi->row_stats(a.data(), rows, width, r1.data());
  one->row_stats(a.data(), rows, width, r2.data());
  for (std::size_t r = 0; r < rows; ++r) {
    EXPECT_EQ(r1[r].valid, r2[r].valid);
    EXPECT_EQ(r1[r].mean, r2[r].mean);
    EXPECT_EQ(r1[r].m2, r2[r].m2);
  }
  std::vector<std::uint64_t> h1(10, 0), h2(10, 0);
  multi->histogram(a.data(), n, 0.0, 1000.0, 10, nullptr, 0, h1.data());
  one->histogram(a.data(), n, 0.0, 1000.0, 10, nullptr, 0, h2.data());
  EXPECT_EQ(h1, h2);
  EXPECT_NE(multi->name().find(" + "), std::string::npos);
}
