// Per-class counts: floor classes, nodata, out-of-range tallies; CPU vs CUDA.
#include "gp/kernels/backend.hpp"
#include "gp/kernels/class_counts.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace gk = gp::kernels;

namespace {

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

TEST(ClassCounts, EmptyInput) {
  auto c = gk::make_cpu_class_counter(2);
  std::vector<std::uint64_t> bins(3, 0);
  const gk::ClassCountTally t = c->count(nullptr, 0, 0, 3, bins.data());
  EXPECT_EQ(t.valid, 0u);
  EXPECT_EQ(bins, (std::vector<std::uint64_t>{0, 0, 0}));
}

TEST(ClassCounts, FloorClassesNodataAndOutOfRange) {
  // Classes by hand: 1, 1, 2, 2, 2, 3 in range [1, 4); -1.5 -> -2 below; 7 above; NaN, inf nodata.
  const std::vector<float> v{1.0f, 1.9f, 2.0f, 2.5f, 2.99f, 3.0f, -1.5f, 7.0f, nan_f,
                             std::numeric_limits<float>::infinity()};
  auto c = gk::make_cpu_class_counter(2);
  std::vector<std::uint64_t> bins(3, 0);
  const gk::ClassCountTally t = c->count(v.data(), v.size(), 1, 3, bins.data());
  EXPECT_EQ(bins, (std::vector<std::uint64_t>{2, 3, 1}));
  EXPECT_EQ(t.valid, 8u);
  EXPECT_EQ(t.below, 1u);
  EXPECT_EQ(t.above, 1u);
  EXPECT_EQ(t.min, -1.5);
  EXPECT_EQ(t.max, 7.0);
  // Adds to what is there: the first three values are classes 1, 1, 2.
  c->count(v.data(), 3, 1, 3, bins.data());
  EXPECT_EQ(bins, (std::vector<std::uint64_t>{4, 4, 1}));
}

TEST(ClassCounts, ZeroBinsOnlyTallies) {
  const std::vector<float> v{5.0f, 9.0f, nan_f};
  auto c = gk::make_cpu_class_counter(1);
  const gk::ClassCountTally t = c->count(v.data(), v.size(), 0, 0, nullptr);
  EXPECT_EQ(t.valid, 2u);
  EXPECT_EQ(t.above, 2u);
  EXPECT_EQ(t.min, 5.0);
  EXPECT_EQ(t.max, 9.0);
}

TEST(ClassCountsCuda, IdenticalToCpu) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // More cells than one block, a size that is not a multiple of 32, and both the shared-memory
  // (few bins) and the global-memory (many bins) paths.
  std::vector<float> v(1000003);
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = i % 101 == 0 ? nan_f : static_cast<float>(std::fmod(i * 0.731, 20000.0) - 50.0);
  }
  auto cpu = gk::make_cpu_class_counter(2);
  auto gpu = gk::make_cuda_class_counter(0);
  for (long long nbins : {100LL, 30000LL}) {
    std::vector<std::uint64_t> a(static_cast<std::size_t>(nbins), 0);
    std::vector<std::uint64_t> b(a.size(), 0);
    const gk::ClassCountTally ta = cpu->count(v.data(), v.size(), -10, nbins, a.data());
    const gk::ClassCountTally tb = gpu->count(v.data(), v.size(), -10, nbins, b.data());
    EXPECT_EQ(a, b);
    EXPECT_EQ(ta.valid, tb.valid);
    EXPECT_EQ(ta.below, tb.below);
    EXPECT_EQ(ta.above, tb.above);
    EXPECT_EQ(ta.min, tb.min);
    EXPECT_EQ(ta.max, tb.max);
  }
}

// The largest histogram weights of evidence makes (2^22 unit classes, cli/train/wofe.cpp
// max_bins), counted by hand: every class once, the first three twice, one value below the
// first class and one exactly at the end of the last (above).
TEST(ClassCountsCuda, MaximumClassCount) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const long long nbins = 1LL << 22;
  const long long lo = -1000;
  std::vector<float> v;
  for (long long k = 0; k < nbins; ++k) v.push_back(static_cast<float>(lo + k));
  for (long long k = 0; k < 3; ++k) v.push_back(static_cast<float>(lo + k) + 0.5f);
  v.push_back(static_cast<float>(lo) - 0.5f);
  v.push_back(static_cast<float>(lo + nbins));
  v.push_back(nan_f);
  auto gpu = gk::make_cuda_class_counter(0);
  std::vector<std::uint64_t> bins(static_cast<std::size_t>(nbins), 0);
  const gk::ClassCountTally t = gpu->count(v.data(), v.size(), lo, nbins, bins.data());
  std::vector<std::uint64_t> want(static_cast<std::size_t>(nbins), 1);
  want[0] = want[1] = want[2] = 2;
  EXPECT_EQ(bins, want);
  EXPECT_EQ(t.valid, static_cast<std::uint64_t>(nbins) + 5);
  EXPECT_EQ(t.below, 1u);
  EXPECT_EQ(t.above, 1u);
  EXPECT_EQ(t.min, static_cast<double>(lo) - 0.5);
  EXPECT_EQ(t.max, static_cast<double>(lo + nbins));
}

}  // namespace
