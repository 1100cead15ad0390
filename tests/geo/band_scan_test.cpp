// geo/band_scan: the fine histogram of a written band and its classification into a paletted
// Byte GeoTIFF, checked against counts worked out by hand.

#include "gp/geo/band_scan.hpp"

#include "gp/error.hpp"
#include "outputs_support.hpp"
#include "test_support.hpp"

#include <cpl_string.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::test::open_raster;
using gp::test::scratch_dir;

constexpr double ND = -9999.0;

/// 10 x 11 cells: 1, 2, ..., 100 row by row, then ten nodata cells in the last row.
fs::path write_hundred(const fs::path& dir, bool with_stats) {
  std::vector<float> v;
  for (int i = 1; i <= 100; ++i) v.push_back(static_cast<float>(i));
  for (int i = 0; i < 10; ++i) v.push_back(static_cast<float>(ND));
  const fs::path p = dir / "hundred.tif";
  gp::test::write_raster(p, "EPSG:3577", 500'000.0, -2'000'000.0, 250.0, 250.0, 10, 11, v, &ND);
  if (with_stats) {
    GDALDatasetUniquePtr ds(GDALDataset::Open(p.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
    ds->GetRasterBand(1)->SetStatistics(1.0, 100.0, 50.5, 28.866);
  }
  return p;
}

TEST(StoredStatistics, AbsentThenPresent) {
  const fs::path dir = scratch_dir();
  EXPECT_FALSE(gp::geo::stored_statistics(write_hundred(dir, false), 1).has_value());
  const auto s = gp::geo::stored_statistics(write_hundred(dir, true), 1);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->min, 1.0);
  EXPECT_EQ(s->max, 100.0);
  EXPECT_EQ(s->mean, 50.5);
}

TEST(StoredStatistics, MissingBandThrows) {
  const fs::path dir = scratch_dir();
  EXPECT_THROW(gp::geo::stored_statistics(write_hundred(dir, true), 2), gp::io_error);
}

TEST(HistogramBand, CountsValidCellsPerBinWithTheirMinimum) {
  const fs::path dir = scratch_dir();
  for (bool stats : {true, false}) {
    SCOPED_TRACE(stats ? "range from stored statistics" : "range from a min/max pass");
    const auto h = gp::geo::histogram_band(write_hundred(dir, stats), 1, 65536);
    EXPECT_EQ(h.lo, 1.0);
    EXPECT_EQ(h.hi, 100.0);
    EXPECT_EQ(h.valid, 100u);
    EXPECT_EQ(h.nodata, 10u);
    std::uint64_t total = 0;
    std::size_t non_empty = 0;
    for (std::size_t b = 0; b < h.count.size(); ++b) {
      total += h.count[b];
      non_empty += h.count[b] > 0 ? 1 : 0;
    }
    EXPECT_EQ(total, 100u);
    EXPECT_EQ(non_empty, 100u) << "each of 1..100 in a bin of its own (99 / 65536 wide)";
    EXPECT_EQ(h.bin_of(1.0), 0u);
    EXPECT_EQ(h.bin_of(100.0), 65535u);
    EXPECT_EQ(h.bin_min[h.bin_of(37.0)], 37.0f);
    EXPECT_EQ(h.bin_sum[h.bin_of(37.0)], 37.0);
  }
}

TEST(HistogramBand, NanIsNotValid) {
  const fs::path dir = scratch_dir();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  gp::test::write_raster(dir / "n.tif", "EPSG:3577", 0, 0, 1, 1, 3, 1, {1.0f, nan, 3.0f});
  const auto h = gp::geo::histogram_band(dir / "n.tif", 1, 16);
  EXPECT_EQ(h.valid, 2u);
  EXPECT_EQ(h.nodata, 1u);
  EXPECT_EQ(h.lo, 1.0);
  EXPECT_EQ(h.hi, 3.0);
}

TEST(ClassifyBand, HandCountedClassesColoursAndNames) {
  const fs::path dir = scratch_dir();
  const fs::path src = write_hundred(dir, true);
  gp::geo::ClassRasterOptions opt;
  opt.names = {"", "c1", "c2", "c3", "c4", "c5"};
  opt.colors = {{0, 0, 0}, {1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}, {250, 251, 252}};
  opt.metadata = {{"GP_CLASS_METHOD", "test"}};
  const fs::path dst = dir / "classes.tif";
  // Lower bounds of classes 2..5: 76, 91, 96, 99.
  const auto counts = gp::geo::classify_band(src, 1, {76.0, 91.0, 96.0, 99.0}, dst, opt);
  // 1..75 -> 1 (75 cells), 76..90 -> 2 (15), 91..95 -> 3 (5), 96..98 -> 4 (3), 99..100 -> 5 (2).
  ASSERT_EQ(counts.size(), 6u);
  EXPECT_EQ(counts[0], 10u);
  EXPECT_EQ(counts[1], 75u);
  EXPECT_EQ(counts[2], 15u);
  EXPECT_EQ(counts[3], 5u);
  EXPECT_EQ(counts[4], 3u);
  EXPECT_EQ(counts[5], 2u);

  const std::vector<float> v = gp::test::read_raster(dst);
  ASSERT_EQ(v.size(), 110u);
  EXPECT_EQ(v[0], 1.0f);    // 1
  EXPECT_EQ(v[74], 1.0f);   // 75
  EXPECT_EQ(v[75], 2.0f);   // 76
  EXPECT_EQ(v[89], 2.0f);   // 90
  EXPECT_EQ(v[90], 3.0f);   // 91
  EXPECT_EQ(v[95], 4.0f);   // 96
  EXPECT_EQ(v[97], 4.0f);   // 98
  EXPECT_EQ(v[98], 5.0f);   // 99
  EXPECT_EQ(v[99], 5.0f);   // 100
  EXPECT_EQ(v[100], 0.0f);  // nodata
  EXPECT_EQ(v[109], 0.0f);

  auto ds = open_raster(dst);
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->GetRasterBand(1)->GetRasterDataType(), GDT_Byte);
  EXPECT_STREQ(ds->GetMetadataItem("GP_CLASS_METHOD"), "test");
  double gt[6];
  ASSERT_EQ(ds->GetGeoTransform(gt), CE_None);
  EXPECT_EQ(gt[0], 500'000.0);
  EXPECT_EQ(gt[1], 250.0);
  ASSERT_NE(ds->GetSpatialRef(), nullptr);
  EXPECT_STREQ(ds->GetSpatialRef()->GetAuthorityCode(nullptr), "3577");
  GDALRasterBand* b = ds->GetRasterBand(1);
  int has = 0;
  EXPECT_EQ(b->GetNoDataValue(&has), 0.0);
  EXPECT_TRUE(has);
  EXPECT_STREQ(b->GetDescription(), "class");
  const GDALColorTable* ct = b->GetColorTable();
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ(ct->GetColorEntry(0)->c4, 0) << "nodata is transparent";
  EXPECT_EQ(ct->GetColorEntry(5)->c1, 250);
  EXPECT_EQ(ct->GetColorEntry(5)->c3, 252);
  EXPECT_EQ(ct->GetColorEntry(5)->c4, 255);
  char** names = b->GetCategoryNames();
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(CSLCount(names), 6);
  EXPECT_STREQ(names[1], "c1");
  EXPECT_STREQ(names[5], "c5");
}

TEST(ClassifyBand, NoThresholdsIsOneClass) {
  const fs::path dir = scratch_dir();
  const auto counts =
      gp::geo::classify_band(write_hundred(dir, true), 1, {}, dir / "one.tif", {});
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0], 10u);
  EXPECT_EQ(counts[1], 100u);
}

TEST(ClassifyBand, DescendingThresholdsAreRefused) {
  const fs::path dir = scratch_dir();
  EXPECT_THROW(gp::geo::classify_band(write_hundred(dir, true), 1, {5.0, 2.0}, dir / "x.tif", {}),
               gp::io_error);
  EXPECT_FALSE(fs::exists(dir / "x.tif"));
}

TEST(ClassifyBand, SeveralStripsOfTiles) {
  // 3000 x 1500 tiled cells: more than one read strip (about 4 Mi cells, whole 512-row blocks).
  const fs::path dir = scratch_dir();
  constexpr int w = 3000;
  constexpr int h = 1500;
  const fs::path src = dir / "big.tif";
  {
    CPLStringList co;
    co.SetNameValue("TILED", "YES");
    GDALDataset* ds = GetGDALDriverManager()->GetDriverByName("GTiff")->Create(
        src.c_str(), w, h, 1, GDT_Float32, co.List());
    std::vector<float> v(static_cast<std::size_t>(w) * h);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 1000);
    ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, w, h, v.data(), w, h, GDT_Float32, 0,
                                             0),
              CE_None);
    GDALClose(ds);
  }
  const auto counts = gp::geo::classify_band(src, 1, {500.0}, dir / "big_classes.tif", {});
  // Values 0..999 each 4500 times: half of them are >= 500.
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[1], 2'250'000u);
  EXPECT_EQ(counts[2], 2'250'000u);
  const auto hist = gp::geo::histogram_band(src, 1, 1000);
  EXPECT_EQ(hist.valid, static_cast<std::uint64_t>(w) * h);
  EXPECT_EQ(hist.lo, 0.0);
  EXPECT_EQ(hist.hi, 999.0);
}

}  // namespace
