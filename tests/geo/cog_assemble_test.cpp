// geo/overviews + geo/cog assemble_cog: overviews streamed with the map and the COG assembled
// from compressed tiles. Checked against GDAL itself: its validator (--full-check) on the file,
// its own AVERAGE overviews (BuildOverviews on an uncompressed copy of the full resolution)
// value for value, and the full resolution, georeferencing, nodata, band names and statistics
// read back through GDAL.

#include "gp/geo/cog.hpp"
#include "gp/geo/overviews.hpp"
#include "gp/geo/raster_writer.hpp"

#include "gp/error.hpp"
#include "outputs_support.hpp"
#include "test_support.hpp"

#include <cpl_string.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::test::scratch_dir;
using gp::test::validate_cog;

constexpr float ND = -9999.0f;

/// A reproducible field with nodata: a square hole, every 7th cell and a ragged right edge.
std::vector<float> field(std::int64_t w, std::int64_t h, int band) {
  std::vector<float> v(static_cast<std::size_t>(w * h));
  std::uint32_t s = 12345u + static_cast<std::uint32_t>(band) * 977u;
  for (std::int64_t r = 0; r < h; ++r) {
    for (std::int64_t c = 0; c < w; ++c) {
      s = s * 1664525u + 1013904223u;
      float x = static_cast<float>(s >> 8) / 16777216.0f + static_cast<float>(band);
      if ((r > 40 && r < 90 && c > 30 && c < 120) || (r * w + c) % 7 == 0 || c + r % 5 >= w - 2) x = ND;
      v[static_cast<std::size_t>(r * w + c)] = x;
    }
  }
  return v;
}

gp::geo::Grid grid_of(std::int64_t w, std::int64_t h) {
  gp::geo::Grid g;
  g.x0 = 500000.0;
  g.y0 = 7000000.0;
  g.dx = 25.0;
  g.dy = 25.0;
  g.width = w;
  g.height = h;
  return g;
}

struct Streamed {
  fs::path full;
  std::vector<fs::path> levels;
};

/// Streams the bands through a RasterWriter with overviews: rows in uneven chunks, or (windows)
/// tile rows cut into column windows as the runner cuts wide grids.
Streamed stream(const fs::path& dir, std::int64_t w, std::int64_t h,
                const std::vector<std::vector<float>>& bands, bool windows, int tile = 256) {
  gp::geo::WriterOptions o;
  o.tile = tile;
  o.compress = "DEFLATE";
  o.predictor = 3;
  o.nodata = ND;
  o.band_descriptions.clear();
  for (std::size_t b = 0; b < bands.size(); ++b) o.band_descriptions.push_back("band" + std::to_string(b + 1));
  Streamed s{dir / "full.tif", {}};
  const std::size_t n = gp::geo::cog_overview_sizes(w, h, o.tile).size();
  for (std::size_t k = 0; k < n; ++k) s.levels.push_back(dir / ("ovr" + std::to_string(k + 1) + ".tif"));
  o.overview_paths = s.levels;
  gp::geo::RasterWriter wr(s.full, grid_of(w, h), o);
  if (!windows) {
    for (std::int64_t r0 = 0; r0 < h; r0 += 100) {
      const std::int64_t rows = std::min<std::int64_t>(100, h - r0);
      std::vector<const float*> p;
      for (const auto& b : bands) p.push_back(b.data() + r0 * w);
      wr.write_rows(p.data(), rows);
    }
  } else {
    const std::int64_t seg = gp::geo::segment_columns(o.tile);
    // Windows 256 rows high, as the runner cuts them, whatever the tile height.
    for (std::int64_t r0 = 0; r0 < h; r0 += 256) {
      const std::int64_t rows = std::min<std::int64_t>(256, h - r0);
      for (std::int64_t c0 = 0; c0 < w; c0 += seg) {
        const std::int64_t cols = std::min(seg, w - c0);
        std::vector<std::vector<float>> win(bands.size());
        std::vector<const float*> p;
        for (std::size_t b = 0; b < bands.size(); ++b) {
          for (std::int64_t r = 0; r < rows; ++r) {
            const float* row = bands[b].data() + (r0 + r) * w + c0;
            win[b].insert(win[b].end(), row, row + cols);
          }
          p.push_back(win[b].data());
        }
        wr.write_window(p.data(), {c0, r0, cols, rows});
      }
    }
  }
  wr.set_statistics(1, 0.0, 1.0, 0.5, 0.25);
  wr.close();
  return s;
}

std::vector<float> read_band(GDALRasterBand* b) {
  std::vector<float> v(static_cast<std::size_t>(b->GetXSize()) * static_cast<std::size_t>(b->GetYSize()));
  EXPECT_EQ(b->RasterIO(GF_Read, 0, 0, b->GetXSize(), b->GetYSize(), v.data(), b->GetXSize(),
                        b->GetYSize(), GDT_Float32, 0, 0),
            CE_None);
  return v;
}

/// The COG against its source and against GDAL's own AVERAGE overviews of the same pixels.
void check_cog(const fs::path& dir, const fs::path& cog, std::int64_t w, std::int64_t h,
               const std::vector<std::vector<float>>& bands, int expected_levels) {
  const auto v = validate_cog(cog);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("is a valid cloud optimized GeoTIFF"), std::string::npos) << v.output;
  GDALDatasetUniquePtr ds(GDALDataset::Open(cog.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds);
  ASSERT_EQ(ds->GetRasterXSize(), w);
  ASSERT_EQ(ds->GetRasterYSize(), h);
  double gt[6];
  ASSERT_EQ(ds->GetGeoTransform(gt), CE_None);
  EXPECT_EQ(gt[0], 500000.0);
  EXPECT_EQ(gt[3], 7000000.0);
  EXPECT_EQ(gt[1], 25.0);
  EXPECT_EQ(gt[5], -25.0);
  EXPECT_STREQ(ds->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE"), "DEFLATE");
  EXPECT_STREQ(ds->GetRasterBand(1)->GetMetadataItem("STATISTICS_MEAN"), "0.5");
  // GDAL's reference: an uncompressed copy of the full resolution, overviews by GDAL (AVERAGE).
  const fs::path ref = dir / "ref.tif";
  {
    GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
    GDALDataset* r = gtiff->Create(ref.c_str(), static_cast<int>(w), static_cast<int>(h),
                                   static_cast<int>(bands.size()), GDT_Float32, nullptr);
    for (std::size_t b = 0; b < bands.size(); ++b) {
      GDALRasterBand* rb = r->GetRasterBand(static_cast<int>(b) + 1);
      rb->SetNoDataValue(ND);
      ASSERT_EQ(rb->RasterIO(GF_Write, 0, 0, static_cast<int>(w), static_cast<int>(h),
                             const_cast<float*>(bands[b].data()), static_cast<int>(w),
                             static_cast<int>(h), GDT_Float32, 0, 0),
                CE_None);
    }
    std::vector<int> factors;
    for (int k = 0, f = 2; k < expected_levels; ++k, f *= 2) factors.push_back(f);
    ASSERT_EQ(r->BuildOverviews("AVERAGE", expected_levels, factors.data(), 0, nullptr, nullptr,
                                nullptr),
              CE_None);
    GDALClose(r);
  }
  GDALDatasetUniquePtr rds(GDALDataset::Open(ref.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  for (std::size_t b = 0; b < bands.size(); ++b) {
    GDALRasterBand* cb = ds->GetRasterBand(static_cast<int>(b) + 1);
    GDALRasterBand* rb = rds->GetRasterBand(static_cast<int>(b) + 1);
    EXPECT_EQ(cb->GetNoDataValue(), ND);
    EXPECT_EQ(std::string(cb->GetDescription()), "band" + std::to_string(b + 1));
    EXPECT_TRUE(read_band(cb) == bands[b]) << "full resolution of band " << b + 1;
    ASSERT_EQ(cb->GetOverviewCount(), expected_levels);
    ASSERT_EQ(rb->GetOverviewCount(), expected_levels);
    for (int k = 0; k < expected_levels; ++k) {
      GDALRasterBand* co = cb->GetOverview(k);
      GDALRasterBand* ro = rb->GetOverview(k);
      ASSERT_EQ(co->GetXSize(), ro->GetXSize()) << "level " << k + 1;
      ASSERT_EQ(co->GetYSize(), ro->GetYSize()) << "level " << k + 1;
      const auto a = read_band(co);
      const auto e = read_band(ro);
      std::size_t diff = 0;
      for (std::size_t i = 0; i < a.size(); ++i) diff += a[i] != e[i] ? 1 : 0;
      EXPECT_EQ(diff, 0u) << "band " << b + 1 << " level " << k + 1 << ": " << diff << " of "
                          << a.size() << " values differ from GDAL's AVERAGE overview";
    }
  }
}

// Odd sizes (fractional edge weights in GDAL's averaging), rows in chunks that do not match
// the 256-row tiles. Levels by hand: 651 x 539, 326 x 270, 163 x 135 (both <= 256).
TEST(AssembleCog, OddSizesMatchGdalAverageAndValidate) {
  const fs::path dir = scratch_dir();
  const std::int64_t w = 1301;
  const std::int64_t h = 1077;
  const std::vector<std::vector<float>> bands = {field(w, h, 0)};
  const Streamed s = stream(dir, w, h, bands, false);
  ASSERT_EQ(s.levels.size(), 3u);
  const fs::path cog = dir / "cog.tif";
  gp::geo::assemble_cog(s.full, s.levels, cog, "output cog.tif");
  check_cog(dir, cog, w, h, bands, 3);
}

// Two bands (band-interleaved tiles), a grid wider than one column segment, written window by
// window. Levels: 4104x300, 2052x150, 1026x75, 513x38, 257x19, 129x10 (tiles of 256); with
// 512-cell tiles (a COG's, the 256-row windows staged) the last level is 257 x 19.
TEST(AssembleCog, WindowsAndTwoBandsMatchGdalAverage) {
  const fs::path dir = scratch_dir();
  const std::int64_t w = 8207;
  const std::int64_t h = 600;
  const std::vector<std::vector<float>> bands = {field(w, h, 0), field(w, h, 1)};
  const Streamed s = stream(dir, w, h, bands, true);
  ASSERT_EQ(s.levels.size(), 6u);
  const fs::path cog = dir / "cog.tif";
  gp::geo::assemble_cog(s.full, s.levels, cog, "output cog.tif");
  check_cog(dir, cog, w, h, bands, 6);
}

TEST(AssembleCog, WindowsLowerThanTilesMatchGdalAverage) {
  const fs::path dir = scratch_dir();
  const std::int64_t w = 8207;
  const std::int64_t h = 600;
  const std::vector<std::vector<float>> bands = {field(w, h, 0), field(w, h, 1)};
  const Streamed s = stream(dir, w, h, bands, true, 512);
  ASSERT_EQ(s.levels.size(), 5u);
  const fs::path cog = dir / "cog.tif";
  gp::geo::assemble_cog(s.full, s.levels, cog, "output cog.tif");
  check_cog(dir, cog, w, h, bands, 5);
  GDALDatasetUniquePtr ds(GDALDataset::Open(cog.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  int bx = 0;
  int by = 0;
  ds->GetRasterBand(1)->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, 512);
  EXPECT_EQ(by, 512);
  EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
}

TEST(AssembleCog, UnwritableDestinationThrowsAndLeavesNothing) {
  const fs::path dir = scratch_dir();
  const std::vector<std::vector<float>> bands = {field(300, 300, 0)};
  const Streamed s = stream(dir, 300, 300, bands, false);
  const fs::path cog = dir / "missing" / "cog.tif";
  EXPECT_THROW(gp::geo::assemble_cog(s.full, s.levels, cog, "output cog.tif"), gp::io_error);
  EXPECT_FALSE(fs::exists(cog));
}

TEST(AssembleCog, UnclosedWriterRemovesItsOverviewFiles) {
  const fs::path dir = scratch_dir();
  gp::geo::WriterOptions o;
  o.overview_paths = {dir / "o1.tif", dir / "o2.tif"};  // 1000 x 1000: 500, 250
  {
    gp::geo::RasterWriter wr(dir / "full.tif", grid_of(1000, 1000), o);
    std::vector<float> rows(1000 * 10, 1.0f);
    wr.write_rows(rows.data(), 10);
  }
  EXPECT_FALSE(fs::exists(dir / "full.tif"));
  EXPECT_FALSE(fs::exists(dir / "o1.tif"));
  EXPECT_FALSE(fs::exists(dir / "o2.tif"));
}

/// Class values 1..5 in short runs (so 2 x 2 windows often tie) with nodata (0) in a hole and
/// on every 11th cell.
std::vector<float> classes_field(std::int64_t w, std::int64_t h) {
  std::vector<float> v(static_cast<std::size_t>(w * h));
  std::uint32_t s = 4242u;
  for (std::int64_t r = 0; r < h; ++r) {
    for (std::int64_t c = 0; c < w; ++c) {
      s = s * 1664525u + 1013904223u;
      float x = static_cast<float>(1 + (s >> 24) % 5);
      if ((r > 300 && r < 420 && c > 200 && c < 520) || (r * w + c) % 11 == 0) x = 0.0f;
      v[static_cast<std::size_t>(r * w + c)] = x;
    }
  }
  return v;
}

// The class raster's path: a Byte file with a colour table and class names, MODE overview levels
// streamed beside it. Each level equals GDAL's own BuildOverviews("MODE") of the same pixels
// (odd sizes: partly covered edge pixels; many ties), the COG validates, and the colour table
// and the class names are read back from the TIFF alone (every side file deleted).
TEST(AssembleCog, ByteClassesMatchGdalModeAndCarryTheirNames) {
  const fs::path dir = scratch_dir();
  const std::int64_t w = 1301;
  const std::int64_t h = 1077;
  const std::vector<float> cls = classes_field(w, h);
  gp::geo::WriterOptions o;
  o.type = gp::geo::PixelType::byte;
  o.compress = "ZSTD";
  o.predictor = 1;
  o.tile = 256;
  o.nodata = 0.0;
  o.band_descriptions = {"class"};
  o.overview_resampling = "MODE";
  o.colors = {{0, 0, 0}, {10, 20, 30}, {40, 50, 60}, {70, 80, 90}, {100, 110, 120}, {130, 140, 150}};
  o.category_names = {"", "very low", "low", "moderate", "high", "very high"};
  const std::vector<fs::path> levels = {dir / "o1.tif", dir / "o2.tif", dir / "o3.tif"};
  ASSERT_EQ(gp::geo::cog_overview_sizes(w, h, o.tile).size(), levels.size());
  o.overview_paths = levels;
  {
    gp::geo::RasterWriter wr(dir / "full.tif", grid_of(w, h), o);
    for (std::int64_t r0 = 0; r0 < h; r0 += 100) {
      wr.write_rows(cls.data() + r0 * w, std::min<std::int64_t>(100, h - r0));
    }
    wr.close();
  }
  const fs::path cog = dir / "cog.tif";
  gp::geo::assemble_cog(dir / "full.tif", levels, cog, "output cog.tif");
  const auto v = validate_cog(cog);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  // GDAL's reference: an uncompressed Byte copy with nodata 0, overviews by GDAL (MODE).
  const fs::path ref = dir / "ref.tif";
  {
    GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
    GDALDataset* r = gtiff->Create(ref.c_str(), static_cast<int>(w), static_cast<int>(h), 1, GDT_Byte, nullptr);
    r->GetRasterBand(1)->SetNoDataValue(0.0);
    ASSERT_EQ(r->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, static_cast<int>(w), static_cast<int>(h),
                                            const_cast<float*>(cls.data()), static_cast<int>(w),
                                            static_cast<int>(h), GDT_Float32, 0, 0),
              CE_None);
    int factors[3] = {2, 4, 8};
    ASSERT_EQ(r->BuildOverviews("MODE", 3, factors, 0, nullptr, nullptr, nullptr), CE_None);
    GDALClose(r);
  }
  // Every side file gone: what GDAL reads now comes from the TIFF alone.
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".xml") fs::remove(e.path());
  }
  GDALDatasetUniquePtr ds(GDALDataset::Open(cog.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  GDALDatasetUniquePtr rds(GDALDataset::Open(ref.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds && rds);
  GDALRasterBand* cb = ds->GetRasterBand(1);
  EXPECT_EQ(cb->GetRasterDataType(), GDT_Byte);
  EXPECT_EQ(cb->GetNoDataValue(), 0.0);
  EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
  EXPECT_TRUE(read_band(cb) == cls);
  EXPECT_EQ(cb->GetColorInterpretation(), GCI_PaletteIndex);
  const GDALColorTable* ct = cb->GetColorTable();
  ASSERT_NE(ct, nullptr);
  ASSERT_GE(ct->GetColorEntryCount(), 6);
  EXPECT_EQ(ct->GetColorEntry(3)->c1, 70);
  EXPECT_EQ(ct->GetColorEntry(3)->c3, 90);
  EXPECT_STREQ(cb->GetMetadataItem("CLASS_1_NAME"), "very low");
  EXPECT_STREQ(cb->GetMetadataItem("CLASS_5_NAME"), "very high");
  GDALRasterBand* rb = rds->GetRasterBand(1);
  ASSERT_EQ(cb->GetOverviewCount(), 3);
  ASSERT_EQ(rb->GetOverviewCount(), 3);
  for (int k = 0; k < 3; ++k) {
    const auto a = read_band(cb->GetOverview(k));
    const auto e = read_band(rb->GetOverview(k));
    ASSERT_EQ(a.size(), e.size()) << "level " << k + 1;
    std::size_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff += a[i] != e[i] ? 1 : 0;
    EXPECT_EQ(diff, 0u) << "level " << k + 1 << ": " << diff << " of " << a.size()
                        << " values differ from GDAL's MODE overview";
  }
}

}  // namespace
