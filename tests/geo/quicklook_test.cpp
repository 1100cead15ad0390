// geo/quicklook: the PNG's size from the documented layout, that it is a picture (many colours,
// the ramp's ends, nodata grey, white margins), and its failures.

#include "gp/geo/quicklook.hpp"

#include "gp/error.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::test::scratch_dir;

struct Png {
  int w{0};
  int h{0};
  std::vector<std::uint8_t> r, g, b;
  [[nodiscard]] std::array<int, 3> at(int x, int y) const {
    const std::size_t i = static_cast<std::size_t>(y) * w + x;
    return {r[i], g[i], b[i]};
  }
};

Png read_png(const fs::path& p) {
  Png out;
  GDALDatasetUniquePtr ds(GDALDataset::Open(p.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  EXPECT_TRUE(ds) << "GDAL cannot open " << p;
  if (!ds) return out;
  EXPECT_STREQ(ds->GetDriver()->GetDescription(), "PNG");
  out.w = ds->GetRasterXSize();
  out.h = ds->GetRasterYSize();
  EXPECT_GE(ds->GetRasterCount(), 3);
  const std::size_t n = static_cast<std::size_t>(out.w) * out.h;
  for (auto* v : {&out.r, &out.g, &out.b}) v->resize(n);
  int band = 1;
  for (auto* v : {&out.r, &out.g, &out.b}) {
    EXPECT_EQ(ds->GetRasterBand(band++)->RasterIO(GF_Read, 0, 0, out.w, out.h, v->data(), out.w,
                                                  out.h, GDT_Byte, 0, 0),
              CE_None);
  }
  return out;
}

/// 300 x 200 cells in EPSG:3577, 100 m: a west-east gradient 0..1, a nodata block top left.
fs::path write_gradient(const fs::path& dir) {
  const double nd = -9999.0;
  std::vector<float> v(300 * 200);
  for (int r = 0; r < 200; ++r) {
    for (int c = 0; c < 300; ++c) {
      v[static_cast<std::size_t>(r) * 300 + c] =
          (r < 50 && c < 50) ? -9999.0f : static_cast<float>(c) / 299.0f;
    }
  }
  const fs::path p = dir / "gradient.tif";
  gp::test::write_raster(p, "EPSG:3577", 1'000'000.0, -3'000'000.0, 100.0, 100.0, 300, 200, v, &nd);
  return p;
}

TEST(QuicklookSize, FollowsTheDocumentedLayout) {
  // margin 16, title 40, y tick labels 18, legend 200, x tick labels 18, footer 64, content
  // (map + x tick labels) at least 260 px high.
  EXPECT_EQ(gp::geo::quicklook_map_size(300, 200, 1024), std::make_pair(1024, 683));
  EXPECT_EQ(gp::geo::quicklook_size(300, 200, 1024), std::make_pair(16 + 18 + 1024 + 200 + 16,
                                                                    16 + 40 + 683 + 18 + 64 + 16));
  EXPECT_EQ(gp::geo::quicklook_map_size(100, 400, 1024), std::make_pair(256, 1024));
  EXPECT_EQ(gp::geo::quicklook_size(100, 400, 1024), std::make_pair(32 + 18 + 256 + 200,
                                                                    32 + 40 + 1024 + 18 + 64));
  // A thin strip: one pixel high, the content still 260 px for the legend.
  EXPECT_EQ(gp::geo::quicklook_map_size(5000, 1, 1024), std::make_pair(1024, 1));
  EXPECT_EQ(gp::geo::quicklook_size(5000, 1, 1024).second, 32 + 40 + 260 + 64);
  EXPECT_THROW(gp::geo::quicklook_map_size(0, 5, 1024), gp::io_error);
}

TEST(CrsLinearUnit, MetresFeetAndDegrees) {
  OGRSpatialReference a;
  a.importFromEPSG(3577);
  char* wkt = nullptr;
  a.exportToWkt(&wkt);
  EXPECT_DOUBLE_EQ(gp::geo::crs_linear_unit_m(wkt), 1.0);
  CPLFree(wkt);
  OGRSpatialReference ft;
  ft.importFromEPSG(2227);  // NAD83 / California zone 3 (ftUS)
  ft.exportToWkt(&wkt);
  EXPECT_NEAR(gp::geo::crs_linear_unit_m(wkt), 1200.0 / 3937.0, 1e-12);
  CPLFree(wkt);
  OGRSpatialReference geo;
  geo.importFromEPSG(4326);
  geo.exportToWkt(&wkt);
  EXPECT_EQ(gp::geo::crs_linear_unit_m(wkt), 0.0);
  CPLFree(wkt);
  EXPECT_EQ(gp::geo::crs_linear_unit_m(""), 0.0);
}

TEST(WriteQuicklook, APictureOfTheExpectedSize) {
  const fs::path dir = scratch_dir();
  const fs::path png = dir / "q.png";
  gp::geo::QuicklookOptions opt;
  opt.title = "gradient test";
  opt.min = 0.0;
  opt.max = 1.0;
  gp::geo::write_quicklook(write_gradient(dir), png, opt);
  const Png img = read_png(png);
  ASSERT_EQ(img.w, 1274);
  ASSERT_EQ(img.h, 16 + 40 + 683 + 18 + 64 + 16);

  std::set<int> colours;
  for (int y = 0; y < img.h; y += 3) {
    for (int x = 0; x < img.w; x += 3) {
      const auto c = img.at(x, y);
      colours.insert(c[0] << 16 | c[1] << 8 | c[2]);
    }
  }
  EXPECT_GT(colours.size(), 100u) << "not a picture: " << colours.size() << " colours";
  EXPECT_EQ(img.at(2, 2), (std::array<int, 3>{255, 255, 255})) << "white margin";
  // Map area starts at (34, 56). West edge (value 0): viridis low end; east edge: high end.
  const auto west = img.at(34 + 1024 / 4, 56 + 600);
  const auto east = img.at(34 + 1020, 56 + 600);
  EXPECT_LE(std::abs(east[0] - 0xfd) + std::abs(east[1] - 0xe7) + std::abs(east[2] - 0x25), 12);
  EXPECT_LT(west[1], east[1]);
  // The nodata block (top left 50 x 50 cells = 171 px) is light grey.
  EXPECT_EQ(img.at(34 + 60, 56 + 60), (std::array<int, 3>{236, 236, 236}));
}

TEST(WriteQuicklook, ConstantMapAndOtherColormap) {
  const fs::path dir = scratch_dir();
  gp::test::write_raster(dir / "c.tif", "EPSG:4326", 120.0, -20.0, 0.01, 0.01, 40, 30,
                         std::vector<float>(1200, 0.5f));
  gp::geo::QuicklookOptions opt;
  opt.colormap = "magma";
  opt.min = 0.5;
  opt.max = 0.5;
  gp::geo::write_quicklook(dir / "c.tif", dir / "c.png", opt);
  const Png img = read_png(dir / "c.png");
  EXPECT_EQ(img.w, 1274);
  EXPECT_EQ(img.h, 16 + 40 + 768 + 18 + 64 + 16);
}

TEST(NiceTicks, RoundStepsInsideTheInterval) {
  // 30 km wide, about 6 ticks: a 5 km step from 1000 km.
  const std::vector<double> x = gp::geo::nice_ticks(1'000'000.0, 1'030'000.0, 6);
  ASSERT_EQ(x.size(), 7u);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_DOUBLE_EQ(x[i], 1'000'000.0 + 5000.0 * static_cast<double>(i));
  // Negative northings, 20 km tall, 2 ticks wanted: a 10 km step.
  EXPECT_EQ(gp::geo::nice_ticks(-3'020'000.0, -3'000'000.0, 2),
            (std::vector<double>{-3'020'000.0, -3'010'000.0, -3'000'000.0}));
  // Degrees: 0.37 wide, 3 ticks wanted: a 0.1 step.
  const std::vector<double> d = gp::geo::nice_ticks(120.0, 120.37, 3);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_NEAR(d[3], 120.3, 1e-9);
  EXPECT_TRUE(gp::geo::nice_ticks(1.0, 1.0, 4).empty());
}

// The 2-98 % stretch: cells at or above the 98th percentile take the ramp's top colour
// (viridis #fde725); without it, a cell at 0.99 of the range does not.
TEST(WriteQuicklook, PercentileStretchSaturatesTheTop) {
  const fs::path dir = scratch_dir();
  const fs::path tif = write_gradient(dir);
  gp::geo::QuicklookOptions opt;
  opt.min = 0.0;
  opt.max = 1.0;
  gp::geo::write_quicklook(tif, dir / "plain.png", opt);
  opt.stretch_low_pct = 2.0;
  opt.stretch_high_pct = 98.0;
  gp::geo::write_quicklook(tif, dir / "stretched.png", opt);
  // Column 296 of 300 (value 0.99) lies at x = 34 + 296.5 / 300 * 1024 = 1046.
  const std::array<int, 3> top{0xfd, 0xe7, 0x25};
  EXPECT_EQ(read_png(dir / "stretched.png").at(1046, 56 + 600), top);
  EXPECT_NE(read_png(dir / "plain.png").at(1046, 56 + 600), top);
  // Column 3 (value 0.01) is below the 2nd percentile: the ramp's low end (#440154).
  EXPECT_EQ(read_png(dir / "stretched.png").at(34 + 12, 56 + 600), (std::array<int, 3>{0x44, 0x01, 0x54}));
}

// Deposits at their map positions: a validation deposit (red disc) at the grid's centre, a
// training deposit (white triangle) a quarter in; the class breaks are asked for once.
TEST(WriteQuicklook, DepositsAndClassBreaks) {
  const fs::path dir = scratch_dir();
  gp::geo::QuicklookOptions opt;
  using K = gp::geo::QuicklookPoint::Kind;
  // Grid: x 1000 km .. 1030 km, y -3000 km .. -3020 km; the map 1024 x 683 px at (34, 56).
  opt.points = {{1'015'000.0, -3'010'000.0, K::validation_used},
                {1'007'500.0, -3'010'000.0, K::training_used},
                {2'000'000.0, 0.0, K::validation_rejected}};  // outside: not drawn
  int asked = 0;
  opt.class_breaks = [&asked] {
    ++asked;
    return std::vector<double>{0.5, 0.9};
  };
  gp::geo::write_quicklook(write_gradient(dir), dir / "d.png", opt);
  EXPECT_EQ(asked, 1);
  const Png img = read_png(dir / "d.png");
  EXPECT_EQ(img.at(34 + 512, 56 + 342), (std::array<int, 3>{228, 26, 28}));
  EXPECT_EQ(img.at(34 + 256, 56 + 342), (std::array<int, 3>{255, 255, 255}));
}

TEST(WriteQuicklook, Failures) {
  const fs::path dir = scratch_dir();
  gp::geo::QuicklookOptions opt;
  EXPECT_THROW(gp::geo::write_quicklook(dir / "missing.tif", dir / "m.png", opt), gp::io_error);
  EXPECT_FALSE(fs::exists(dir / "m.png"));
  opt.colormap = "rainbow";
  EXPECT_THROW(gp::geo::write_quicklook(write_gradient(dir), dir / "r.png", opt),
               gp::config_error);
  opt.colormap = "viridis";
  opt.band = 2;
  EXPECT_THROW(gp::geo::write_quicklook(write_gradient(dir), dir / "b.png", opt), gp::io_error);
  opt.band = 1;
  EXPECT_THROW(gp::geo::write_quicklook(write_gradient(dir), dir / "nofolder" / "x.png", opt),
               gp::io_error);
}

}  // namespace
