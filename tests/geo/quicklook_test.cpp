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
  // margin 16, title 40, legend 160, footer 56, content at least 240 px high.
  EXPECT_EQ(gp::geo::quicklook_map_size(300, 200, 1024), std::make_pair(1024, 683));
  EXPECT_EQ(gp::geo::quicklook_size(300, 200, 1024), std::make_pair(16 + 1024 + 16 + 160,
                                                                    16 + 40 + 683 + 56 + 16));
  EXPECT_EQ(gp::geo::quicklook_map_size(100, 400, 1024), std::make_pair(256, 1024));
  EXPECT_EQ(gp::geo::quicklook_size(100, 400, 1024), std::make_pair(32 + 256 + 160,
                                                                    32 + 40 + 1024 + 56));
  // A thin strip: one pixel high, the content still 240 px for the legend.
  EXPECT_EQ(gp::geo::quicklook_map_size(5000, 1, 1024), std::make_pair(1024, 1));
  EXPECT_EQ(gp::geo::quicklook_size(5000, 1, 1024).second, 32 + 40 + 240 + 56);
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
  ASSERT_EQ(img.w, 1216);
  ASSERT_EQ(img.h, 16 + 40 + 683 + 56 + 16);

  std::set<int> colours;
  for (int y = 0; y < img.h; y += 3) {
    for (int x = 0; x < img.w; x += 3) {
      const auto c = img.at(x, y);
      colours.insert(c[0] << 16 | c[1] << 8 | c[2]);
    }
  }
  EXPECT_GT(colours.size(), 100u) << "not a picture: " << colours.size() << " colours";
  EXPECT_EQ(img.at(2, 2), (std::array<int, 3>{255, 255, 255})) << "white margin";
  // Map area starts at (16, 56). West edge (value 0): viridis low end; east edge: high end.
  const auto west = img.at(16 + 1024 / 4, 56 + 600);
  const auto east = img.at(16 + 1020, 56 + 600);
  EXPECT_LE(std::abs(east[0] - 0xfd) + std::abs(east[1] - 0xe7) + std::abs(east[2] - 0x25), 12);
  EXPECT_LT(west[1], east[1]);
  // The nodata block (top left 50 x 50 cells = 171 px) is light grey.
  EXPECT_EQ(img.at(16 + 60, 56 + 60), (std::array<int, 3>{236, 236, 236}));
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
  EXPECT_EQ(img.w, 1216);
  EXPECT_EQ(img.h, 16 + 40 + 768 + 56 + 16);
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
