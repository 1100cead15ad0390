// The OpenMP backend: sizes that are not multiples of anything, statistics by a separate loop.
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
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

namespace {
/// A program with every transform kind and every combine method (gamma also at 0 and 1),
/// shared inputs, skip-missing layers and groups, and several output bands.
gk::Program every_op_program(int mask_layer) {
  gk::Program p;
  p.n_inputs = 3;
  p.mask_layer = mask_layer;
  p.out_nodata = -1.0f;
  using K = gk::TransformKind;
  struct T {
    K kind;
    double a, b, c, d;
    int invert;
  };
  const T ts[] = {
      {K::identity, 0, 1, 1, 1, 0}, {K::linear, 0, 10, 1, 1, 0},   {K::large, 5, 3, 1, 1, 0},
      {K::small, 5, 2, 1, 1, 1},    {K::gaussian, 5, 0.1, 1, 1, 0}, {K::near, 5, 0.2, 1, 1, 0},
      {K::ms_large, 5, 2, 1, 1, 0}, {K::ms_small, 5, 2, 1, 1, 0},  {K::reclass, 0, 0, 1, 1, 0},
      {K::minmax, -10, 10, 1, 1, 0}, {K::zscore, 5, 3, 1, 1, 0},  {K::percentile, 0, 0, 1, 1, 0},
      {K::log10, 1, 0, 1, 1, 0},    {K::clamp, 0, 8, 1, 1, 1},     {K::large, 5, 0, 1, 1, 0},
  };
  p.n_layers = static_cast<int>(std::size(ts));
  for (int l = 0; l < p.n_layers; ++l) {
    auto& t = p.layers[l].transform;
    t.kind = ts[l].kind;
    t.a = ts[l].a;
    t.b = ts[l].b;
    t.c = ts[l].c;
    t.d = ts[l].d;
    t.invert = ts[l].invert;
    p.layers[l].input = l % 3;
    p.layers[l].skip_missing = (l == 0 || l == 4) ? 1 : 0;
  }
  // reclass: value 1 -> 0.3, [2, 6) -> 0.7, otherwise 0.1
  p.rules[0] = {1.0, 1.0, 0.3, 1};
  p.rules[1] = {2.0, 6.0, 0.7, 0};
  p.layers[8].transform.first = 0;
  p.layers[8].transform.count = 2;
  p.layers[8].transform.has_default = 1;
  p.layers[8].transform.fallback = 0.1;
  // percentile: knots 0, 5, 10 at 0.2, 0.6, 1 (aux[0..5])
  p.layers[11].transform.first = 0;
  p.layers[11].transform.count = 3;

  using M = gk::CombineMethod;
  const int L = p.n_layers;
  struct G {
    M method;
    std::vector<int> in;
    std::vector<double> w;
    double gamma, bias;
    int skip;
  };
  const std::vector<G> gs = {
      {M::weighted_sum, {0, 1, 2}, {0.5, 0.3, 0.2}, 0.9, 0, 0},
      {M::weighted_sum, {1, 2, 3}, {0.2, 0.3, 0.5}, 0.9, 0, 0},  // no input may be skipped
      {M::fuzzy_and, {3, 4}, {0.5, 0.5}, 0.9, 0, 0},
      {M::fuzzy_or, {5, 6}, {0.5, 0.5}, 0.9, 0, 1},
      {M::fuzzy_product, {7, 8}, {0.5, 0.5}, 0.9, 0, 0},
      {M::fuzzy_sum, {1, 3, 14}, {0.3, 0.3, 0.4}, 0.9, 0, 0},
      {M::fuzzy_gamma, {L + 0, L + 1, L + 2}, {0.3, 0.3, 0.4}, 0.7, 0, 0},
      {M::index_overlay, {8, 11}, {0.5, 0.5}, 0.9, 0, 0},
      {M::logistic, {9, 12}, {1.5, -0.5}, 0.9, 0.2, 0},
      {M::wofe_std, {L + 7, 9, 12}, {1, 1, 1}, 0.9, 0.5, 0},
      {M::ratio, {L + 5, L + 4}, {1, 1}, 0.9, 0, 0},
      {M::fuzzy_gamma, {1, 3}, {0.5, 0.5}, 0.0, 0, 0},
      {M::fuzzy_gamma, {1, 3}, {0.5, 0.5}, 1.0, 0, 0},
      {M::fuzzy_gamma, {4, 13, 10}, {0.3, 0.3, 0.4}, 0.35, 0, 0},
  };
  int k = 0;
  p.n_groups = static_cast<int>(gs.size());
  for (int g = 0; g < p.n_groups; ++g) {
    auto& G0 = p.groups[g];
    G0.method = gs[g].method;
    G0.first_input = k;
    G0.n_inputs = static_cast<int>(gs[g].in.size());
    G0.gamma = gs[g].gamma;
    G0.bias = gs[g].bias;
    G0.skip_missing = gs[g].skip;
    for (std::size_t j = 0; j < gs[g].in.size(); ++j, ++k) {
      p.inputs[k] = gs[g].in[j];
      p.input_weights[k] = gs[g].w[j];
    }
  }
  const int bands[] = {L + 5, L + 6, L + 7, L + 8, L + 9, L + 10, L + 11, L + 12,
                       L + 3, 13,    10,    11,    14};
  p.n_bands = static_cast<int>(std::size(bands));
  for (int b = 0; b < p.n_bands; ++b) p.bands[b] = bands[b];
  return p;
}
}  // namespace

// The OpenMP backend evaluates a block of cells node by node (vector exp/log from libmvec
// where GCC builds it); the per-cell reference is eval_cell with the scalar libm. Every band of
// every cell must agree: nodata exactly, values within 4 float ulps (in practice the same
// float: the two libms differ by an ulp of a double at most).
TEST(CpuBackend, BlockEvaluationMatchesPerCellEvaluation) {
  const std::vector<double> aux = {0.0, 5.0, 10.0, 0.2, 0.6, 1.0};
  const std::size_t n = 3 * 512 + 77;  // whole blocks and a partial one
  std::vector<std::vector<float>> in(3, std::vector<float>(n));
  std::uint32_t state = 12345u;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / 16777216.0;  // [0, 1)
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      float v = static_cast<float>(-2.0 + 14.0 * next());
      if (i % 9 == j) v = std::round(v);  // reclass values and ranges, exact zeros
      if (i % 23 == 3 * j + 1) v = 0.0f;
      if (i % 31 == j) v = nan;
      if (i % 97 == j + 5) v = (j == 1) ? -inf : inf;
      in[j][i] = v;
    }
  }
  for (int mask : {-1, 2}) {
    const gk::Program p = every_op_program(mask);
    auto be = gk::make_cpu_backend(2);
    be->set_program(p, aux);
    std::vector<std::vector<float>> out(static_cast<std::size_t>(p.n_bands),
                                        std::vector<float>(n, 7.0f));
    const float* layers[3] = {in[0].data(), in[1].data(), in[2].data()};
    std::vector<float*> bands;
    for (auto& o : out) bands.push_back(o.data());
    be->score(layers, n, bands.data());
    std::size_t values = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<float> ref(static_cast<std::size_t>(p.n_bands));
      gk::eval_cell(
          p, aux.data(), [&](int l) { return in[static_cast<std::size_t>(l)][i]; },
          [&](int b, double v) { ref[static_cast<std::size_t>(b)] = gk::store_value(p, v); });
      for (int b = 0; b < p.n_bands; ++b) {
        const float got = out[static_cast<std::size_t>(b)][i];
        const float want = ref[static_cast<std::size_t>(b)];
        if (want == p.out_nodata) {
          ASSERT_EQ(got, p.out_nodata) << "mask " << mask << " band " << b << " cell " << i;
        } else {
          ASSERT_FLOAT_EQ(got, want) << "mask " << mask << " band " << b << " cell " << i;
          ++values;
        }
      }
    }
    // The inputs reach every branch: most band values are numbers, not nodata.
    EXPECT_GT(values, n * static_cast<std::size_t>(p.n_bands) / 3) << "mask " << mask;
  }
}

// score_with_stats: the CPU backend scores a window row by row and reduces each row's
// segments while they are in cache. Checked against values worked out here from the formula,
// and bit for bit against the base class's score-then-reduce path.
TEST(CpuBackend, ScoreWithStatsReducesEveryRowSegment) {
  const gk::Program p = two_layer_program();
  const std::size_t rows = 5;
  const std::size_t cols = 21;
  const std::size_t segment = 8;  // segments of 8, 8 and 5 columns
  const std::size_t n_seg = 3;
  const std::size_t n = rows * cols;
  std::vector<float> a(n);
  std::vector<float> b(n);
  std::vector<float> want(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>((i * 37) % 1000);
    const bool hole = i % 7 == 0;
    b[i] = hole ? std::numeric_limits<float>::quiet_NaN() : 0.5f;
    // 0.6 * a / 1000 + 0.4 * b, or the map's nodata value where b is missing.
    want[i] = hole ? -9999.0f
                   : static_cast<float>(0.6 * static_cast<double>(a[i]) / 1000.0 + 0.4 * 0.5);
  }
  const float* layers[2] = {a.data(), b.data()};
  for (int threads : {1, 2, 3}) {
    auto be = gk::make_cpu_backend(threads);
    be->set_program(p, {});
    std::vector<float> out(n, 7.0f);
    float* bands[1] = {out.data()};
    std::vector<gk::LayerStats> st(rows * n_seg);
    be->score_with_stats(layers, rows, cols, bands, 1, p.out_nodata, segment, st.data());
    for (std::size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(out[i], want[i]) << "cell " << i;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t k = 0; k < n_seg; ++k) {
        std::uint64_t valid = 0;
        std::uint64_t nodata = 0;
        double lo = 1e300;
        double hi = -1e300;
        double sum = 0.0;
        for (std::size_t c = k * segment; c < std::min(cols, (k + 1) * segment); ++c) {
          const float v = out[r * cols + c];
          if (v == p.out_nodata) {
            ++nodata;
            continue;
          }
          ++valid;
          lo = std::min(lo, static_cast<double>(v));
          hi = std::max(hi, static_cast<double>(v));
          sum += v;
        }
        const gk::LayerStats& s = st[r * n_seg + k];
        SCOPED_TRACE("threads " + std::to_string(threads) + " row " + std::to_string(r) +
                     " segment " + std::to_string(k));
        EXPECT_EQ(s.valid, valid);
        EXPECT_EQ(s.invalid, nodata);
        EXPECT_EQ(s.min, lo);
        EXPECT_EQ(s.max, hi);
        EXPECT_NEAR(s.mean, sum / static_cast<double>(valid), 1e-12);
      }
    }
    // The base class's path (score, then segment_stats_excluding): the same bits.
    std::vector<float> out2(n, 7.0f);
    float* bands2[1] = {out2.data()};
    std::vector<gk::LayerStats> st2(rows * n_seg);
    be->gk::Backend::score_with_stats(layers, rows, cols, bands2, 1, p.out_nodata, segment,
                                      st2.data(), threads);
    EXPECT_EQ(out, out2);
    for (std::size_t j = 0; j < st.size(); ++j) {
      EXPECT_EQ(st[j].valid, st2[j].valid);
      EXPECT_EQ(st[j].invalid, st2[j].invalid);
      EXPECT_EQ(st[j].min, st2[j].min);
      EXPECT_EQ(st[j].max, st2[j].max);
      EXPECT_EQ(st[j].mean, st2[j].mean);
      EXPECT_EQ(st[j].m2, st2[j].m2);
    }
  }
}
