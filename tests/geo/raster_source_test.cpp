// Reading layers onto the target grid: direct reads, nodata, and warping checked against the
// gdalwarp program itself.
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/raster_source.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

namespace fs = std::filesystem;
namespace gg = gp::geo;
using gp::test::scratch_dir;
using gp::test::write_raster;

namespace {

gg::Grid grid_3577(double x0, double y0, double cell, int w, int h) {
  gg::Grid g;
  g.crs_wkt = gg::crs_wkt("EPSG:3577", "test");
  g.x0 = x0;
  g.y0 = y0;
  g.dx = g.dy = cell;
  g.width = w;
  g.height = h;
  return g;
}

/// A smooth EPSG:4326 field with a nodata block, 0.01 degree cells over 121..121.8 E, 27..27.6 S.
fs::path make_geographic_layer(const fs::path& dir) {
  const int w = 80;
  const int h = 60;
  std::vector<float> v(static_cast<std::size_t>(w * h));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      v[static_cast<std::size_t>(r * w + c)] =
          static_cast<float>(10.0 + 5.0 * std::sin(c * 0.15) + 3.0 * std::cos(r * 0.2) + 0.01 * r * c);
    }
  }
  for (int r = 20; r < 26; ++r) {
    for (int c = 30; c < 38; ++c) v[static_cast<std::size_t>(r * w + c)] = -1.0f;
  }
  const double nd = -1.0;
  const fs::path p = dir / "geo4326.tif";
  write_raster(p, "EPSG:4326", 121.0, -27.0, 0.01, 0.01, w, h, v, &nd);
  return p;
}

}  // namespace

TEST(RasterSource, MissingFileNamesTheFile) {
  const fs::path dir = scratch_dir();
  const auto g = grid_3577(0, 0, 100, 10, 10);
  try {
    gg::RasterSource src((dir / "nope.tif").string(), 1, "bilinear", g, "layer 'k'");
    FAIL() << "expected gp::input_error";
  } catch (const gp::input_error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'k'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nope.tif"), std::string::npos) << e.what();
  }
}

TEST(RasterSource, BandOutOfRangeIsAnInputError) {
  const fs::path dir = scratch_dir();
  write_raster(dir / "a.tif", "EPSG:3577", 0, 400, 100, 100, 4, 4, std::vector<float>(16, 1.0f));
  const auto g = grid_3577(0, 400, 100, 4, 4);
  EXPECT_THROW(gg::RasterSource((dir / "a.tif").string(), 2, "nearest", g, "layer 'a'"),
               gp::input_error);
}

TEST(RasterSource, NoCrsIsAnInputError) {
  const fs::path dir = scratch_dir();
  write_raster(dir / "nocrs.tif", "", 0, 400, 100, 100, 4, 4, std::vector<float>(16, 1.0f));
  const auto g = grid_3577(0, 400, 100, 4, 4);
  EXPECT_THROW(gg::RasterSource((dir / "nocrs.tif").string(), 1, "nearest", g, "layer 'a'"),
               gp::input_error);
}

TEST(RasterSource, DirectReadWithOffsetAndOutsideCellsAsNan) {
  const fs::path dir = scratch_dir();
  // Source: 4 x 3 cells of 100 m at (1000, 2000); values 10*row + col; nodata 11.
  std::vector<float> v;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) v.push_back(static_cast<float>(10 * r + c));
  }
  const double nd = 11.0;
  write_raster(dir / "s.tif", "EPSG:3577", 1000, 2000, 100, 100, 4, 3, v, &nd);
  // Grid starts one cell left of and one cell above the source: 6 x 5 cells.
  const auto g = grid_3577(900, 2100, 100, 6, 5);
  gg::RasterSource src((dir / "s.tif").string(), 1, "bilinear", g, "layer 's'");
  EXPECT_TRUE(src.direct());
  std::vector<float> out(30, 7.0f);
  src.read(gg::Window{0, 0, 6, 5}, out.data());
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 6; ++c) {
      const float got = out[static_cast<std::size_t>(r * 6 + c)];
      const int sr = r - 1;
      const int sc = c - 1;
      const bool inside = sr >= 0 && sr < 3 && sc >= 0 && sc < 4;
      if (!inside || (sr == 1 && sc == 1)) {
        EXPECT_TRUE(std::isnan(got)) << r << "," << c << " = " << got;
      } else {
        EXPECT_EQ(got, static_cast<float>(10 * sr + sc)) << r << "," << c;
      }
    }
  }
  // A window of the grid: rows 2..3, all columns.
  std::vector<float> part(12);
  src.read(gg::Window{0, 2, 6, 2}, part.data());
  EXPECT_EQ(part[1], 10.0f);  // grid (2,1) = source (1,0)
  EXPECT_TRUE(std::isnan(part[2]));  // source (1,1) is nodata
  EXPECT_EQ(part[6 + 4], 23.0f);  // grid (3,4) = source (2,3)
}

TEST(RasterSource, NanAndInfinityInsideValidCellsBecomeNodata) {
  const fs::path dir = scratch_dir();
  std::vector<float> v = {1.0f, std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(), 4.0f};
  write_raster(dir / "n.tif", "EPSG:3577", 0, 200, 100, 100, 2, 2, v);
  const auto g = grid_3577(0, 200, 100, 2, 2);
  gg::RasterSource src((dir / "n.tif").string(), 1, "nearest", g, "layer 'n'");
  std::vector<float> out(4);
  src.read(gg::Window{0, 0, 2, 2}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_EQ(out[3], 4.0f);
}

class WarpVsGdalwarp : public ::testing::TestWithParam<const char*> {};

TEST_P(WarpVsGdalwarp, Epsg4326OntoEpsg3577MatchesGdalwarp) {
  const std::string method = GetParam();
  const fs::path dir = scratch_dir();
  const fs::path src_path = make_geographic_layer(dir);
  // EPSG:3577 grid inside the source footprint (about 121.1..121.7 E, 27.1..27.5 S), 500 m
  // cells, 97 x 71 (not multiples of anything).
  const auto g = grid_3577(-1060000.0, -2985000.0, 500.0, 97, 71);
  gg::RasterSource src(src_path.string(), 1, method, g, "layer 'geo'");
  EXPECT_FALSE(src.direct());
  // Read in two uneven windows to make sure windows stitch.
  std::vector<float> ours(static_cast<std::size_t>(97 * 71));
  src.read(gg::Window{0, 0, 97, 30}, ours.data());
  src.read(gg::Window{0, 30, 97, 41}, ours.data() + 97 * 30);

  // The reference: the gdalwarp program on the same grid and resampling.
  const fs::path ref = dir / "ref.tif";
  const std::string gdal_method = method == "nearest" ? "near" : method;
  const std::string cmd = "gdalwarp -q -overwrite -t_srs EPSG:3577 -te -1060000 -3020500 -1011500 "
                          "-2985000 -ts 97 71 -r " + gdal_method +
                          " -ot Float32 -dstnodata -32768 -et 0 '" + src_path.string() + "' '" +
                          ref.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::vector<float> want = gp::test::read_raster(ref);
  ASSERT_EQ(want.size(), ours.size());
  std::size_t valid = 0;
  std::size_t nodata = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    if (want[i] == -32768.0f) {
      EXPECT_TRUE(std::isnan(ours[i])) << "cell " << i << ": gdalwarp nodata, ours " << ours[i];
      ++nodata;
    } else {
      EXPECT_FLOAT_EQ(ours[i], want[i]) << "cell " << i;
      ++valid;
    }
  }
  EXPECT_GT(valid, 5000u);
  EXPECT_GT(nodata, 0u);  // the source's nodata block is honoured
}

INSTANTIATE_TEST_SUITE_P(Resampling, WarpVsGdalwarp,
                         ::testing::Values("nearest", "bilinear", "cubic", "average"));

TEST(RasterSource, SecondBandIsRead) {
  const fs::path dir = scratch_dir();
  const fs::path p = dir / "two.tif";
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDataset* ds = drv->Create(p.c_str(), 3, 2, 2, GDT_Float32, nullptr);
  double gt[6] = {0, 100, 0, 200, 0, -100};
  ds->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromEPSG(4326);
  ds->SetSpatialRef(&srs);
  float b1[6] = {1, 1, 1, 1, 1, 1};
  float b2[6] = {2, 3, 4, 5, 6, 7};
  ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, 3, 2, b1, 3, 2, GDT_Float32, 0, 0), CE_None);
  ASSERT_EQ(ds->GetRasterBand(2)->RasterIO(GF_Write, 0, 0, 3, 2, b2, 3, 2, GDT_Float32, 0, 0), CE_None);
  GDALClose(ds);
  // A 3577 grid forces the warped path with band selection.
  gg::Grid g;
  g.crs_wkt = gg::crs_wkt("EPSG:4326", "t");
  g.x0 = 0;
  g.y0 = 200;
  g.dx = g.dy = 100;
  g.width = 3;
  g.height = 2;
  gg::RasterSource direct(p.string(), 2, "nearest", g, "layer 'b'");
  std::vector<float> out(6);
  direct.read(gg::Window{0, 0, 3, 2}, out.data());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], b2[i]);
}

TEST(GdalResamplingName, MapsNearestAndRejectsUnknown) {
  EXPECT_EQ(gg::gdal_resampling_name("nearest"), "near");
  EXPECT_EQ(gg::gdal_resampling_name("mode"), "mode");
  EXPECT_EQ(gg::gdal_resampling_name("bicubic"), "");
}
