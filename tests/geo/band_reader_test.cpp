// geo::BandReader: one band of an existing raster read in windows on its own grid.
#include "gp/geo/band_reader.hpp"

#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

namespace fs = std::filesystem;
namespace gg = gp::geo;

namespace {

/// A 7 x 5 raster (not a multiple of any block size) whose cell (c, r) holds 10 r + c.
fs::path seven_by_five(const std::string& name, const double* nodata) {
  const fs::path p = gp::test::scratch_dir() / name;
  std::vector<float> v;
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 7; ++c) v.push_back(static_cast<float>(10 * r + c));
  }
  gp::test::write_raster(p, "EPSG:3577", 1000.0, 2000.0, 25.0, 50.0, 7, 5, v, nodata);
  return p;
}

}  // namespace

TEST(BandReader, MissingFileIsAnInputErrorNamingIt) {
  gg::init_gdal();
  try {
    gg::BandReader r(gp::test::scratch_dir() / "no_such_map.tif", "the map");
    FAIL() << "expected gp::input_error";
  } catch (const gp::input_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("the map: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_map.tif"), std::string::npos) << e.what();
  }
}

TEST(BandReader, BandOutOfRangeIsAConfigError) {
  gg::init_gdal();
  gg::BandReader r(seven_by_five("band_reader_bands.tif", nullptr), "the map");
  EXPECT_EQ(r.band_count(), 1);
  EXPECT_THROW(r.select_band(2), gp::config_error);
  EXPECT_THROW(r.select_band(0), gp::config_error);
  EXPECT_NO_THROW(r.select_band(1));
}

TEST(BandReader, GridAndNodata) {
  gg::init_gdal();
  const double nd = -9999.0;
  gg::BandReader r(seven_by_five("band_reader_grid.tif", &nd), "the map");
  const auto g = r.grid();
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->width, 7);
  EXPECT_EQ(g->height, 5);
  EXPECT_DOUBLE_EQ(g->x0, 1000.0);
  EXPECT_DOUBLE_EQ(g->y0, 2000.0);
  EXPECT_DOUBLE_EQ(g->dx, 25.0);
  EXPECT_DOUBLE_EQ(g->dy, 50.0);
  EXPECT_FALSE(g->crs_wkt.empty());
  ASSERT_TRUE(r.nodata().has_value());
  EXPECT_EQ(*r.nodata(), -9999.0);
  const auto [bx, by] = r.block_size();
  EXPECT_GT(bx, 0);
  EXPECT_GT(by, 0);
  gg::BandReader plain(seven_by_five("band_reader_plain.tif", nullptr), "the map");
  EXPECT_FALSE(plain.nodata().has_value());
}

TEST(BandReader, WindowsAndCells) {
  gg::init_gdal();
  gg::BandReader r(seven_by_five("band_reader_read.tif", nullptr), "the map");
  std::vector<float> out(6, std::nanf(""));
  r.read(gg::Window{4, 2, 3, 2}, out.data());  // columns 4..6, rows 2..3
  EXPECT_EQ(out, (std::vector<float>{24, 25, 26, 34, 35, 36}));
  EXPECT_EQ(r.read_cell(0, 0), 0.0f);
  EXPECT_EQ(r.read_cell(6, 4), 46.0f);
  EXPECT_THROW((void)r.read_cell(7, 0), gp::input_error);  // outside the raster
}
