// Corrupt and unusual inputs at the geo layer: opening and reading a damaged raster
// raises gp::input_error and nothing else; grids beyond 32-bit cell indices read correctly;
// NaN and infinity in valid cells are nodata and counted.
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/raster_source.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace gg = gp::geo;
using gp::test::scratch_dir;
using gp::test::write_raster;

namespace {

gg::Grid grid_3577(double x0, double y0, double cell, std::int64_t w, std::int64_t h) {
  gg::Grid g;
  g.crs_wkt = gg::crs_wkt("EPSG:3577", "test");
  g.x0 = x0;
  g.y0 = y0;
  g.dx = g.dy = cell;
  g.width = w;
  g.height = h;
  return g;
}

std::string bytes_of(const fs::path& p) { return gp::test::file_bytes(p); }

void write_bytes(const fs::path& p, const std::string& b) {
  std::ofstream out(p, std::ios::binary);
  out << b;
}

/// Opens `path` as a layer on `grid` and reads every window of `rows` rows. Returns true when
/// everything read; false when gp::input_error was raised (any other exception fails the test).
bool open_and_read_all(const fs::path& path, const gg::Grid& grid, const std::string& resampling,
                       std::int64_t rows, std::vector<float>* all = nullptr) {
  try {
    const gg::RasterInfo info = gg::describe_raster(path.string(), "layer 'x'");
    (void)info;
    gg::RasterSource src(path.string(), 1, resampling, grid, "layer 'x'");
    std::vector<float> buf(static_cast<std::size_t>(rows * grid.width));
    if (all != nullptr) all->clear();
    for (std::int64_t r = 0; r < grid.height; r += rows) {
      const gg::Window w{0, r, grid.width, std::min(rows, grid.height - r)};
      src.read(w, buf.data());
      if (all != nullptr) all->insert(all->end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(w.cells()));
    }
    return true;
  } catch (const gp::input_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layer 'x'"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "a multi-line message: " << what;
    return false;
  }
}

void write_tiled(const fs::path& path, int w, int h, const char* compress) {
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  GDALDatasetUniquePtr src(mem->Create("", w, h, 1, GDT_Float32, nullptr));
  std::vector<float> v(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(0.001 * static_cast<double>(i)) * 100.0);
  ASSERT_EQ(src->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, w, h, v.data(), w, h, GDT_Float32, 0, 0, nullptr), CE_None);
  double gt[6] = {0.0, 100.0, 0.0, 20000.0, 0.0, -100.0};
  src->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromEPSG(3577);
  src->SetSpatialRef(&srs);
  CPLStringList co;
  co.SetNameValue("TILED", "YES");
  co.SetNameValue("BLOCKXSIZE", "32");
  co.SetNameValue("BLOCKYSIZE", "32");
  co.SetNameValue("COMPRESS", compress);
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDataset* out = gtiff->CreateCopy(path.c_str(), src.get(), FALSE, co.List(), nullptr, nullptr);
  ASSERT_NE(out, nullptr);
  GDALClose(out);
}

}  // namespace

/// Every prefix length at a fixed stride plus random cuts (fixed seed), for each codec, read
/// directly and warped: only gp::input_error, or the intact file's values exactly.
TEST(CorruptInput, TruncatedTiffsRaiseInputErrorOrReadIntactValues) {
  const fs::path dir = scratch_dir();
  const auto direct = grid_3577(0.0, 20000.0, 100.0, 100, 80);
  const auto warped = grid_3577(0.0, 20000.0, 130.0, 76, 61);
  for (const char* codec : {"NONE", "DEFLATE", "LZW", "ZSTD"}) {
    SCOPED_TRACE(codec);
    const fs::path intact = dir / (std::string("intact_") + codec + ".tif");
    write_tiled(intact, 100, 80, codec);
    if (HasFatalFailure()) return;
    std::vector<float> ref_direct;
    std::vector<float> ref_warped;
    ASSERT_TRUE(open_and_read_all(intact, direct, "nearest", 17, &ref_direct));
    ASSERT_TRUE(open_and_read_all(intact, warped, "bilinear", 17, &ref_warped));
    const std::string bytes = bytes_of(intact);
    std::vector<std::size_t> cuts;
    for (std::size_t c = 0; c < bytes.size(); c += bytes.size() / 23 + 1) cuts.push_back(c);
    std::mt19937 rng(42);
    std::uniform_int_distribution<std::size_t> at(0, bytes.size() - 1);
    for (int i = 0; i < 8; ++i) cuts.push_back(at(rng));
    int failures = 0;
    for (const std::size_t cut : cuts) {
      SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(bytes.size()));
      const fs::path p = dir / "cut.tif";
      write_bytes(p, bytes.substr(0, cut));
      std::vector<float> got;
      if (open_and_read_all(p, direct, "nearest", 17, &got)) {
        ASSERT_EQ(got.size(), ref_direct.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
          ASSERT_TRUE((std::isnan(got[i]) && std::isnan(ref_direct[i])) || got[i] == ref_direct[i])
              << "cell " << i << " read " << got[i] << " from a truncated file";
        }
      } else {
        ++failures;
      }
      if (open_and_read_all(p, warped, "bilinear", 17, &got)) {
        ASSERT_EQ(got.size(), ref_warped.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
          ASSERT_TRUE((std::isnan(got[i]) && std::isnan(ref_warped[i])) || got[i] == ref_warped[i])
              << "warped cell " << i << " read " << got[i] << " from a truncated file";
        }
      }
    }
    EXPECT_GT(failures, static_cast<int>(cuts.size()) / 2) << "most cuts must be detected";
  }
}

/// Random byte corruption inside a file (not only truncation): same contract.
TEST(CorruptInput, FlippedBytesNeverCrash) {
  const fs::path dir = scratch_dir();
  const auto grid = grid_3577(0.0, 20000.0, 100.0, 100, 80);
  const fs::path intact = dir / "intact.tif";
  write_tiled(intact, 100, 80, "DEFLATE");
  if (HasFatalFailure()) return;
  const std::string bytes = bytes_of(intact);
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> at(0, bytes.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 40; ++i) {
    std::string b = bytes;
    const int n = 1 + i % 4;
    for (int k = 0; k < n; ++k) b[at(rng)] = static_cast<char>(byte(rng));
    write_bytes(dir / "flip.tif", b);
    open_and_read_all(dir / "flip.tif", grid, "nearest", 33);  // must not crash or throw else
  }
}

/// A sparse 70000 x 70000 GeoTIFF (4.9e9 cells, more than 2^32): windows at the far corner read
/// the block written there, at the right place, directly and warped.
TEST(CorruptInput, GridBeyond32BitCellCountReadsAtTheFarCorner) {
  const fs::path dir = scratch_dir();
  const int side = 70000;
  const fs::path p = dir / "big.tif";
  {
    GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
    CPLStringList co;
    co.SetNameValue("TILED", "YES");
    co.SetNameValue("BLOCKXSIZE", "256");
    co.SetNameValue("BLOCKYSIZE", "256");
    co.SetNameValue("SPARSE_OK", "TRUE");
    co.SetNameValue("COMPRESS", "DEFLATE");
    co.SetNameValue("BIGTIFF", "YES");
    GDALDataset* ds = drv->Create(p.c_str(), side, side, 1, GDT_Float32, co.List());
    ASSERT_NE(ds, nullptr);
    double gt[6] = {0.0, 10.0, 0.0, 700000.0, 0.0, -10.0};
    ds->SetGeoTransform(gt);
    OGRSpatialReference srs;
    srs.importFromEPSG(3577);
    ds->SetSpatialRef(&srs);
    ds->GetRasterBand(1)->SetNoDataValue(-1.0);
    // The last 10 x 10 cells: value = 1000 * row_from_end + col_from_end.
    std::vector<float> v(100);
    for (int r = 0; r < 10; ++r) {
      for (int c = 0; c < 10; ++c) v[static_cast<std::size_t>(r * 10 + c)] = static_cast<float>(1000 * (9 - r) + (9 - c));
    }
    ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, side - 10, side - 10, 10, 10, v.data(), 10,
                                             10, GDT_Float32, 0, 0, nullptr),
              CE_None);
    GDALClose(ds);
  }
  ASSERT_LT(fs::file_size(p), std::uintmax_t{64} << 20);
  const gg::Grid grid = grid_3577(0.0, 700000.0, 10.0, side, side);
  ASSERT_EQ(grid.cells(), std::uint64_t{4'900'000'000});
  gg::RasterSource src(p.string(), 1, "nearest", grid, "layer 'big'");
  ASSERT_TRUE(src.direct());
  // The last 4 rows, last 16 columns.
  const gg::Window w{side - 16, side - 4, 16, 4};
  std::vector<float> out(w.cells());
  src.read(w, out.data());
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 16; ++c) {
      const float got = out[static_cast<std::size_t>(r * 16 + c)];
      const int rf = 3 - r;   // rows from the end
      const int cf = 15 - c;  // columns from the end
      if (cf < 10) {
        EXPECT_EQ(got, static_cast<float>(1000 * rf + cf)) << "row " << r << " col " << c;
      } else {
        // Sparse blocks read as the nodata value (-1), hence nodata.
        EXPECT_TRUE(std::isnan(got)) << "row " << r << " col " << c << ": " << got;
      }
    }
  }
  // Warped onto a grid of 20 m cells (35000 x 35000) with nearest: the same corner values.
  const gg::Grid coarse = grid_3577(0.0, 700000.0, 20.0, side / 2, side / 2);
  gg::RasterSource warped(p.string(), 1, "nearest", coarse, "layer 'big'");
  ASSERT_FALSE(warped.direct());
  std::vector<float> wout(4);
  warped.read(gg::Window{side / 2 - 2, side / 2 - 2, 2, 2}, wout.data());
  for (float x : wout) {
    EXPECT_TRUE(std::isfinite(x));
    EXPECT_GE(x, 0.0f);
    EXPECT_LT(x, 10000.0f);
  }
  EXPECT_EQ(src.invalid_cells(), 0u);
}

TEST(CorruptInput, InvalidCellsAreCountedOnce) {
  const fs::path dir = scratch_dir();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const double nd = -5.0;
  write_raster(dir / "v.tif", "EPSG:3577", 0, 200, 100, 100, 3, 2, {1, nan, -5, inf, -inf, 2}, &nd);
  const auto g = grid_3577(0, 200, 100, 3, 2);
  gg::RasterSource src((dir / "v.tif").string(), 1, "nearest", g, "layer 'v'");
  std::vector<float> out(6);
  src.read(gg::Window{0, 0, 3, 2}, out.data());
  EXPECT_EQ(src.invalid_cells(), 3u);  // NaN, +inf, -inf; -5 is nodata, not invalid
  for (std::size_t i : {1u, 2u, 3u, 4u}) EXPECT_TRUE(std::isnan(out[i])) << i;
  // NaN as the declared nodata: NaN cells are nodata, infinities still invalid.
  const double nd_nan = std::numeric_limits<double>::quiet_NaN();
  write_raster(dir / "w.tif", "EPSG:3577", 0, 200, 100, 100, 3, 2, {1, nan, nan, inf, 3, 2}, &nd_nan);
  gg::RasterSource src2((dir / "w.tif").string(), 1, "nearest", g, "layer 'w'");
  src2.read(gg::Window{0, 0, 3, 2}, out.data());
  EXPECT_EQ(src2.invalid_cells(), 1u);
}
