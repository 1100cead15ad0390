// Distance transform: exact against a brute-force minimum over every feature cell (worked here,
// independently of the code under test), CPU against CUDA cell by cell, and against GDAL's own
// gdal_proximity.py on the same rasterised features.

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/distance.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <random>
#include <string>
#include <vector>

namespace {

using gp::kernels::DistanceParams;
using Mask = std::vector<std::uint8_t>;

/// Brute force: the smallest centre-to-centre distance to any feature cell (double, then float).
std::vector<float> brute_force(const Mask& m, int w, int h, double dx, double dy, double max_d) {
  std::vector<float> out(static_cast<std::size_t>(w) * h);
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      double best = INFINITY;
      for (int rr = 0; rr < h; ++rr) {
        for (int cc = 0; cc < w; ++cc) {
          if (m[static_cast<std::size_t>(rr) * w + cc] == 0) continue;
          const double a = dx * (c - cc);
          const double b = dy * (r - rr);
          best = std::min(best, std::sqrt(a * a + b * b));
        }
      }
      if (max_d > 0 && best > max_d) best = max_d;
      out[static_cast<std::size_t>(r) * w + c] =
          std::isinf(best) ? std::nanf("") : static_cast<float>(best);
    }
  }
  return out;
}

std::vector<float> cpu(const Mask& m, int w, int h, double dx, double dy, double max_d = -1) {
  std::vector<float> out(static_cast<std::size_t>(w) * h, -1.0f);
  gp::kernels::distance_transform_cpu(m.data(), w, h, DistanceParams{dx, dy, max_d}, out.data());
  return out;
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want, int w,
                 const std::string& label) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (std::size_t i = 0; i < got.size() && bad < 5; ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i])
                                        : std::abs(got[i] - want[i]) <= 1e-6f * std::max(1.0f, want[i]);
    if (!ok) {
      ++bad;
      ADD_FAILURE() << label << ": cell (" << i % w << ", " << i / w << "): got " << got[i]
                    << ", brute force " << want[i];
    }
  }
}

Mask random_mask(int w, int h, double density, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution b(density);
  Mask m(static_cast<std::size_t>(w) * h);
  for (auto& v : m) v = b(rng) ? 1 : 0;
  return m;
}

/// A few shapes: a filled rectangle, a diagonal line, a ring.
Mask shapes_mask(int w, int h) {
  Mask m(static_cast<std::size_t>(w) * h, 0);
  auto set = [&](int c, int r) {
    if (c >= 0 && c < w && r >= 0 && r < h) m[static_cast<std::size_t>(r) * w + c] = 1;
  };
  for (int r = h / 5; r < h / 5 + 3; ++r)
    for (int c = w / 6; c < w / 6 + 4; ++c) set(c, r);
  for (int i = 0; i < std::min(w, h); ++i) set(w - 1 - i, h / 2 + i / 2);
  const double cx = w * 0.7, cy = h * 0.3, rad = std::min(w, h) * 0.15;
  for (int a = 0; a < 360; ++a) {
    set(static_cast<int>(cx + rad * std::cos(a * M_PI / 180)),
        static_cast<int>(cy + rad * std::sin(a * M_PI / 180)));
  }
  return m;
}

TEST(DistanceTransform, EmptyGridIsNoop) {
  std::vector<float> out;
  EXPECT_NO_THROW(gp::kernels::distance_transform_cpu(nullptr, 0, 0, DistanceParams{}, nullptr));
}

TEST(DistanceTransform, NoFeatureIsNodataWithoutClamp) {
  const Mask m(7 * 5, 0);
  for (float v : cpu(m, 7, 5, 10, 10)) EXPECT_TRUE(std::isnan(v));
}

TEST(DistanceTransform, NoFeatureIsMaxDistanceWithClamp) {
  const Mask m(7 * 5, 0);
  for (float v : cpu(m, 7, 5, 10, 10, 250.0)) EXPECT_EQ(v, 250.0f);
}

TEST(DistanceTransform, AllFeaturesIsZero) {
  const Mask m(9 * 4, 1);
  for (float v : cpu(m, 9, 4, 3, 7)) EXPECT_EQ(v, 0.0f);
}

TEST(DistanceTransform, InvalidCellSizeThrows) {
  const Mask m(4, 1);
  std::vector<float> out(4);
  EXPECT_THROW(gp::kernels::distance_transform_cpu(m.data(), 2, 2, DistanceParams{0.0, 1.0, -1},
                                                   out.data()),
               gp::config_error);
}

TEST(DistanceTransform, SingleCellHandWorked) {
  // One feature at (col 1, row 2) of a 4 x 3 grid with 30 x 40 m cells.
  Mask m(4 * 3, 0);
  m[2 * 4 + 1] = 1;
  const auto d = cpu(m, 4, 3, 30.0, 40.0);
  EXPECT_EQ(d[2 * 4 + 1], 0.0f);
  EXPECT_FLOAT_EQ(d[2 * 4 + 3], 60.0f);   // two columns right
  EXPECT_FLOAT_EQ(d[0 * 4 + 1], 80.0f);   // two rows up
  EXPECT_FLOAT_EQ(d[1 * 4 + 0], 50.0f);   // 30-40-50 triangle
  EXPECT_FLOAT_EQ(d[0 * 4 + 3], 100.0f);  // 60-80-100 triangle
  EXPECT_FLOAT_EQ(d[0 * 4 + 0], static_cast<float>(std::sqrt(30.0 * 30 + 80.0 * 80)));
}

TEST(DistanceTransform, ClampHandWorked) {
  Mask m(5, 0);
  m[0] = 1;
  const auto d = cpu(m, 5, 1, 100.0, 100.0, 250.0);
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_EQ(d[1], 100.0f);
  EXPECT_EQ(d[2], 200.0f);
  EXPECT_EQ(d[3], 250.0f);
  EXPECT_EQ(d[4], 250.0f);
}

struct Case {
  int w, h;
  double dx, dy, density, max_d;
  std::uint32_t seed;
};

TEST(DistanceTransform, MatchesBruteForceOnRandomFeatures) {
  const Case cases[] = {
      {1, 1, 1, 1, 0.5, -1, 1},      {1, 17, 2, 3, 0.1, -1, 2},     {23, 1, 5, 5, 0.1, -1, 3},
      {33, 17, 1, 1, 0.01, -1, 4},   {17, 33, 1, 1, 0.05, -1, 5},   {40, 40, 30, 30, 0.002, -1, 6},
      {37, 29, 25, 90, 0.02, -1, 7}, {29, 37, 90, 25, 0.02, -1, 8}, {50, 20, 1, 1, 0.3, -1, 9},
      {45, 31, 10, 10, 0.01, 35, 10}, {64, 3, 0.5, 7.25, 0.03, -1, 11}};
  for (const Case& k : cases) {
    const Mask m = random_mask(k.w, k.h, k.density, k.seed);
    const std::string label = std::to_string(k.w) + "x" + std::to_string(k.h) + " seed " +
                              std::to_string(k.seed);
    expect_same(cpu(m, k.w, k.h, k.dx, k.dy, k.max_d),
                brute_force(m, k.w, k.h, k.dx, k.dy, k.max_d), k.w, label);
  }
}

TEST(DistanceTransform, MatchesBruteForceOnShapes) {
  for (auto [w, h, dx, dy] : {std::tuple{61, 43, 1.0, 1.0}, std::tuple{43, 61, 100.0, 250.0},
                              std::tuple{70, 35, 0.01, 0.004}}) {
    const Mask m = shapes_mask(w, h);
    expect_same(cpu(m, w, h, dx, dy), brute_force(m, w, h, dx, dy, -1), w,
                "shapes " + std::to_string(w) + "x" + std::to_string(h));
  }
}

TEST(DistanceTransform, ThreadCountDoesNotChangeResult) {
  const int w = 1100, h = 300;  // more than two column strips
  const Mask m = random_mask(w, h, 0.0005, 99);
  std::vector<float> a(static_cast<std::size_t>(w) * h);
  std::vector<float> b(a.size());
  gp::kernels::distance_transform_cpu(m.data(), w, h, {2.0, 3.0, -1}, a.data(), 1);
  gp::kernels::distance_transform_cpu(m.data(), w, h, {2.0, 3.0, -1}, b.data(), 3);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST(DiscDensity, HandWorked) {
  // One point (value 1) in the middle of a 5 x 5 grid of 1 km cells, radius 1 km: the disc
  // holds the centre and its 4 neighbours (5 cells, 5 km²), so those cells get 1/5 per km².
  std::vector<float> v(25, 0.0f);
  v[12] = 1.0f;
  std::vector<float> out(25);
  gp::kernels::disc_density_cpu(v.data(), 5, 5, 1000.0, 1000.0, 1000.0, 1e6, out.data());
  EXPECT_FLOAT_EQ(out[12], 0.2f);
  EXPECT_FLOAT_EQ(out[7], 0.2f);
  EXPECT_FLOAT_EQ(out[11], 0.2f);
  EXPECT_EQ(out[6], 0.0f);  // diagonal: sqrt(2) km away
  EXPECT_EQ(out[0], 0.0f);
}

TEST(DiscDensity, MatchesBruteForce) {
  const int w = 31, h = 23;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0, 3);
  std::vector<float> v(static_cast<std::size_t>(w) * h);
  for (auto& x : v) x = u(rng);
  const double dx = 30, dy = 50, radius = 160;
  std::vector<float> out(v.size());
  gp::kernels::disc_density_cpu(v.data(), w, h, dx, dy, radius, 1.0, out.data());
  int disc = 0;
  for (int a = -10; a <= 10; ++a)
    for (int b = -10; b <= 10; ++b)
      if (std::hypot(a * dx, b * dy) <= radius) ++disc;
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      double s = 0;
      for (int rr = 0; rr < h; ++rr)
        for (int cc = 0; cc < w; ++cc)
          if (std::hypot((c - cc) * dx, (r - rr) * dy) <= radius) s += v[rr * w + cc];
      ASSERT_NEAR(out[r * w + c], s / (disc * dx * dy), 1e-6 * (1 + s / (disc * dx * dy)))
          << c << "," << r;
    }
  }
}

TEST(DistanceTransformCuda, IdenticalToCpu) {
  if (gp::kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // Sizes not multiples of 32 or of a block, one larger than a block of threads both ways.
  for (auto [w, h, dx, dy, dens, max_d] :
       {std::tuple{1, 1, 1.0, 1.0, 1.0, -1.0}, std::tuple{37, 29, 25.0, 90.0, 0.02, -1.0},
        std::tuple{300, 517, 10.0, 10.0, 0.0005, 400.0}, std::tuple{1025, 130, 3.0, 2.0, 0.0, -1.0},
        std::tuple{129, 1031, 1.0, 1.0, 0.001, -1.0}}) {
    const Mask m = random_mask(w, h, dens, static_cast<std::uint32_t>(w * 7 + h));
    const auto a = cpu(m, w, h, dx, dy, max_d);
    std::vector<float> b(a.size(), -1.0f);
    gp::kernels::distance_transform_cuda(m.data(), w, h, DistanceParams{dx, dy, max_d}, b.data(), 0);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
        << w << "x" << h << ": CPU and CUDA differ";
  }
}

// Degenerate rasters, by hand: no feature (every distance undefined: NaN), all features (0),
// one feature cell (the Euclidean distance to it, computed here with std::hypot), and an
// empty grid (nothing written).
TEST(DistanceTransformCuda, EmptyFullAndOneCellRasters) {
  if (gp::kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int w = 67, h = 45;
  const double dx = 30.0, dy = 20.0;
  const auto run = [&](const Mask& m) {
    std::vector<float> out(m.size(), -1.0f);
    gp::kernels::distance_transform_cuda(m.data(), w, h, DistanceParams{dx, dy, -1.0}, out.data(), 0);
    return out;
  };
  for (float v : run(Mask(static_cast<std::size_t>(w) * h, 0))) ASSERT_TRUE(std::isnan(v));
  for (float v : run(Mask(static_cast<std::size_t>(w) * h, 1))) ASSERT_EQ(v, 0.0f);
  Mask one(static_cast<std::size_t>(w) * h, 0);
  const int fc = 50, fr = 7;
  one[static_cast<std::size_t>(fr) * w + fc] = 1;
  const auto d = run(one);
  EXPECT_EQ(0, std::memcmp(d.data(), cpu(one, w, h, dx, dy, -1.0).data(), d.size() * sizeof(float)));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const double want = std::hypot((c - fc) * dx, (r - fr) * dy);
      ASSERT_NEAR(d[static_cast<std::size_t>(r) * w + c], want, 1e-6 * want) << c << "," << r;
    }
  }
  std::vector<float> untouched(1, -1.0f);
  gp::kernels::distance_transform_cuda(one.data(), 0, h, DistanceParams{dx, dy, -1.0}, untouched.data(), 0);
  EXPECT_EQ(untouched[0], -1.0f);
}

TEST(DistanceTransformCuda, WithoutDeviceThrowsCudaError) {
  if (gp::kernels::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  const Mask m(4, 1);
  std::vector<float> out(4);
  EXPECT_THROW(gp::kernels::distance_transform_cuda(m.data(), 2, 2, DistanceParams{}, out.data(), 0),
               gp::cuda_error);
}

/// gdal_proximity.py (GDAL's own, independent implementation) on the same mask, in georeferenced
/// units: every cell within half a cell of ours.
TEST(DistanceTransform, AgreesWithGdalProximity) {
  const std::string script = "/usr/bin/gdal_proximity.py";
  if (!std::filesystem::exists(script)) GTEST_SKIP() << "gdal_proximity.py not installed";
  const auto dir = gp::test::scratch_dir();
  const int w = 157, h = 93;
  const double cell = 250.0;
  Mask m = shapes_mask(w, h);
  const Mask extra = random_mask(w, h, 0.002, 17);
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<std::uint8_t>(m[i] | extra[i]);
  std::vector<float> mf(m.begin(), m.end());
  const auto in = dir / "mask.tif";
  const auto out = dir / "prox.tif";
  gp::test::write_raster(in, "EPSG:3577", 1000000.0, -2000000.0, cell, cell, w, h, mf);
  const std::string cmd = "/usr/bin/python3 " + script + " -q " + in.string() + " " +
                          out.string() + " -values 1 -distunits GEO -ot Float32 >/dev/null 2>&1";
  ASSERT_EQ(0, std::system(cmd.c_str())) << cmd;
  const auto theirs = gp::test::read_raster(out);
  const auto ours = cpu(m, w, h, cell, cell);
  double worst = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(double(ours[i]) - theirs[i]));
  EXPECT_LE(worst, cell / 2) << "largest difference from gdal_proximity.py: " << worst << " m";
}

}  // namespace
