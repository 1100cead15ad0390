// geo/cog: the COG copy of a streamed GeoTIFF (layout checked by GDAL's own validator and by
// hand-computed overview values) and the safe move into place.

#include "gp/geo/cog.hpp"

#include "gp/error.hpp"
#include "outputs_support.hpp"
#include "test_support.hpp"

#include <cpl_string.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::test::open_raster;
using gp::test::scratch_dir;
using gp::test::validate_cog;

// 1300 x 1002 cells: larger than one 512 tile both ways, not a multiple of it, even sizes so
// that the first overview halves exactly. Cell (r, c) of rows 0..999 holds (r * 1300 + c) % 1000;
// the last two rows are nodata.
constexpr int W = 1300;
constexpr int H = 1002;
constexpr float ND = -9999.0f;

float cell_value(int r, int c) {
  return r >= 1000 ? ND : static_cast<float>((r * W + c) % 1000);
}

GDALDataset* create_tiled(const fs::path& path, GDALDataType type) {
  CPLStringList co;
  co.SetNameValue("TILED", "YES");
  co.SetNameValue("BLOCKXSIZE", "512");
  co.SetNameValue("BLOCKYSIZE", "512");
  co.SetNameValue("COMPRESS", "ZSTD");
  GDALDataset* ds =
      GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), W, H, 1, type, co.List());
  double gt[6] = {1'000'000.0, 100.0, 0.0, -3'000'000.0, 0.0, -100.0};
  ds->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromEPSG(3577);
  ds->SetSpatialRef(&srs);
  return ds;
}

void write_float_map(const fs::path& path) {
  GDALDataset* ds = create_tiled(path, GDT_Float32);
  std::vector<float> v(static_cast<std::size_t>(W) * H);
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) v[static_cast<std::size_t>(r) * W + c] = cell_value(r, c);
  }
  GDALRasterBand* b = ds->GetRasterBand(1);
  b->SetNoDataValue(ND);
  b->SetDescription("prospectivity");
  ds->SetMetadataItem("GP_MODEL_NAME", "cog-test");
  ASSERT_EQ(b->RasterIO(GF_Write, 0, 0, W, H, v.data(), W, H, GDT_Float32, 0, 0), CE_None);
  b->SetStatistics(0.0, 999.0, 499.5, 288.675);
  GDALClose(ds);
}

float read_pixel(GDALRasterBand* b, int col, int row) {
  float v = 0.0f;
  EXPECT_EQ(b->RasterIO(GF_Read, col, row, 1, 1, &v, 1, 1, GDT_Float32, 0, 0), CE_None);
  return v;
}

TEST(WriteCog, MissingSourceThrowsAndLeavesNothing) {
  const fs::path dir = scratch_dir();
  EXPECT_THROW(gp::geo::write_cog(dir / "missing.tif", dir / "out.tif", {}, "output out.tif"),
               gp::io_error);
  EXPECT_FALSE(fs::exists(dir / "out.tif"));
}

TEST(WriteCog, UnwritableDestinationThrowsIoError) {
  const fs::path dir = scratch_dir();
  write_float_map(dir / "src.tif");
  EXPECT_THROW(gp::geo::write_cog(dir / "src.tif", dir / "no_such_folder" / "out.tif", {}, "out"),
               gp::io_error);
}

TEST(WriteCog, FloatMapIsAValidCogWithAverageOverviews) {
  const fs::path dir = scratch_dir();
  write_float_map(dir / "src.tif");
  const fs::path dst = dir / "cog.tif";
  gp::geo::CogOptions opt;
  opt.overview_resampling = "AVERAGE";
  gp::geo::write_cog(dir / "src.tif", dst, opt, "output cog.tif");

  const auto v = validate_cog(dst);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("is a valid cloud optimized GeoTIFF"), std::string::npos) << v.output;
  EXPECT_EQ(v.output.find("warning"), std::string::npos) << v.output;

  auto ds = open_raster(dst);
  ASSERT_TRUE(ds);
  EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
  EXPECT_STREQ(ds->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE"), "ZSTD");
  EXPECT_STREQ(ds->GetMetadataItem("PREDICTOR", "IMAGE_STRUCTURE"), "3");
  EXPECT_STREQ(ds->GetMetadataItem("GP_MODEL_NAME"), "cog-test");
  GDALRasterBand* b = ds->GetRasterBand(1);
  int bx = 0;
  int by = 0;
  b->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, 512);
  EXPECT_EQ(by, 512);
  EXPECT_STREQ(b->GetDescription(), "prospectivity");
  int has_nd = 0;
  EXPECT_EQ(b->GetNoDataValue(&has_nd), ND);
  EXPECT_TRUE(has_nd);
  double mn = 0, mx = 0, mean = 0, sd = 0;
  ASSERT_EQ(b->GetStatistics(FALSE, FALSE, &mn, &mx, &mean, &sd), CE_None);
  EXPECT_EQ(mn, 0.0);
  EXPECT_EQ(mx, 999.0);
  EXPECT_EQ(mean, 499.5);
  EXPECT_EQ(sd, 288.675);

  // Halving until the smallest level fits one 512 tile: 1300 x 1002 -> 650 x 501 -> 325 x ~250.
  ASSERT_EQ(b->GetOverviewCount(), 2);
  GDALRasterBand* o1 = b->GetOverview(0);
  EXPECT_EQ(o1->GetXSize(), 650);
  EXPECT_EQ(o1->GetYSize(), 501);
  EXPECT_EQ(b->GetOverview(1)->GetXSize(), 325);
  EXPECT_LE(b->GetOverview(1)->GetYSize(), 512);
  // Average of the 2 x 2 cells: (0 + 1 + 300 + 301) / 4 and (2 + 3 + 302 + 303) / 4.
  EXPECT_FLOAT_EQ(read_pixel(o1, 0, 0), 150.5f);
  EXPECT_FLOAT_EQ(read_pixel(o1, 1, 0), 152.5f);
  // Overview row 500 covers only the nodata rows 1000 and 1001: nodata, not an average.
  EXPECT_EQ(read_pixel(o1, 7, 500), ND);

  // Full resolution unchanged.
  const std::vector<float> got = gp::test::read_raster(dst);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(W) * H);
  std::size_t diff = 0;
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) diff += got[static_cast<std::size_t>(r) * W + c] != cell_value(r, c);
  }
  EXPECT_EQ(diff, 0u);
}

TEST(WriteCog, PalettedClassesKeepColoursNamesAndTakeModeOverviews) {
  const fs::path dir = scratch_dir();
  const fs::path src = dir / "classes_src.tif";
  {
    GDALDataset* ds = create_tiled(src, GDT_Byte);
    GDALRasterBand* b = ds->GetRasterBand(1);
    b->SetNoDataValue(0);
    GDALColorTable ct;
    const GDALColorEntry e0{0, 0, 0, 0};
    const GDALColorEntry e1{10, 20, 30, 255};
    const GDALColorEntry e2{200, 100, 50, 255};
    ct.SetColorEntry(0, &e0);
    ct.SetColorEntry(1, &e1);
    ct.SetColorEntry(2, &e2);
    b->SetColorTable(&ct);
    CPLStringList names;
    names.AddString("");
    names.AddString("low");
    names.AddString("high");
    b->SetCategoryNames(names.List());
    // Every 2 x 2 block is [[2, 2], [2, 1]]: MODE gives 2 where NEAREST would pick a 1.
    std::vector<std::uint8_t> v(static_cast<std::size_t>(W) * H);
    for (int r = 0; r < H; ++r) {
      for (int c = 0; c < W; ++c) v[static_cast<std::size_t>(r) * W + c] = (r % 2 == 1 && c % 2 == 1) ? 1 : 2;
    }
    ASSERT_EQ(b->RasterIO(GF_Write, 0, 0, W, H, v.data(), W, H, GDT_Byte, 0, 0), CE_None);
    GDALClose(ds);
  }
  const fs::path tmp = dir / ".classes.tif.partial-1.cog";
  gp::geo::CogOptions opt;
  opt.predictor = 1;
  opt.overview_resampling = "MODE";
  gp::geo::write_cog(src, tmp, opt, "classes");
  const auto v = validate_cog(tmp);
  EXPECT_EQ(v.exit_code, 0) << v.output;

  const fs::path dst = dir / "classes.tif";
  ASSERT_TRUE(fs::exists(tmp.string() + ".aux.xml")) << "category names live in the PAM file";
  fs::rename(tmp, dst);
  fs::rename(tmp.string() + ".aux.xml", dst.string() + ".aux.xml");

  auto ds = open_raster(dst);
  ASSERT_TRUE(ds);
  EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
  GDALRasterBand* b = ds->GetRasterBand(1);
  EXPECT_EQ(b->GetColorInterpretation(), GCI_PaletteIndex);
  const GDALColorTable* ct = b->GetColorTable();
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ(ct->GetColorEntry(1)->c1, 10);
  EXPECT_EQ(ct->GetColorEntry(2)->c1, 200);
  EXPECT_EQ(ct->GetColorEntry(2)->c3, 50);
  char** names = b->GetCategoryNames();
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(CSLCount(names), 3);
  EXPECT_STREQ(names[1], "low");
  EXPECT_STREQ(names[2], "high");
  ASSERT_GE(b->GetOverviewCount(), 1);
  EXPECT_EQ(read_pixel(b->GetOverview(0), 0, 0), 2.0f);
  EXPECT_EQ(read_pixel(b->GetOverview(0), 100, 100), 2.0f);
}

TEST(RemoveRasterFiles, RemovesTheFileAndItsSideFilesAndIgnoresMissingOnes) {
  const fs::path dir = scratch_dir();
  for (const char* s : {"x.tif", "x.tif.aux.xml", "x.tif.ovr.tmp"}) {
    std::FILE* f = std::fopen((dir / s).c_str(), "w");
    std::fclose(f);
  }
  gp::geo::remove_raster_files(dir / "x.tif");
  EXPECT_TRUE(fs::is_empty(dir));
  gp::geo::remove_raster_files(dir / "never.tif");  // no throw
}

}  // namespace
