// The safe GeoTIFF writer: temporary name, rename on commit, nothing left on failure, bytes
// independent of how rows arrive.
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/raster_writer.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <fstream>

namespace fs = std::filesystem;
namespace gg = gp::geo;
using gp::test::scratch_dir;

namespace {

gg::Grid small_grid(int w, int h) {
  gg::Grid g;
  g.crs_wkt = gg::crs_wkt("EPSG:5070", "test");
  g.x0 = -1000000;
  g.y0 = 2000000;
  g.dx = g.dy = 30;
  g.width = w;
  g.height = h;
  return g;
}

std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 977) / 977.0f;
  return v;
}

std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

void write_in_chunks(const fs::path& path, const gg::Grid& g, const std::vector<float>& v,
                     std::int64_t chunk_rows, gg::WriterOptions opt = {}) {
  opt.tile = 64;
  gg::RasterWriter w(path, g, opt);
  for (std::int64_t r = 0; r < g.height; r += chunk_rows) {
    const std::int64_t n = std::min(chunk_rows, g.height - r);
    w.write_rows(v.data() + r * g.width, n);
  }
  w.close();
}

}  // namespace

TEST(RasterWriter, UncommittedWriterLeavesNothing) {
  const fs::path dir = scratch_dir();
  const auto g = small_grid(100, 70);
  const auto v = ramp(100 * 70);
  {
    gg::WriterOptions opt;
    opt.tile = 64;
    gg::RasterWriter w(dir / "out.tif", g, opt);
    w.write_rows(v.data(), 40);
    EXPECT_TRUE(fs::exists(w.path()));
    // destroyed without close(): as when a run fails half way
  }
  EXPECT_FALSE(fs::exists(dir / "out.tif"));
  EXPECT_EQ(count_entries(dir), 0u);
}

TEST(RasterWriter, IncompleteCommitThrowsAndLeavesNothing) {
  const fs::path dir = scratch_dir();
  const auto g = small_grid(100, 70);
  const auto v = ramp(100 * 70);
  {
    gg::WriterOptions opt;
    opt.tile = 64;
    gg::RasterWriter w(dir / "out.tif", g, opt);
    w.write_rows(v.data(), 69);
    EXPECT_THROW(w.close(), gp::io_error);
  }
  EXPECT_EQ(count_entries(dir), 0u);
}

TEST(RasterWriter, NeverWritesOverAnExistingFile) {
  // The writer creates new files only; replacing a map is the staged-file set's job.
  const fs::path dir = scratch_dir();
  std::ofstream(dir / "out.tif") << "previous good map";
  const auto g = small_grid(100, 70);
  gg::WriterOptions opt;
  opt.tile = 64;
  EXPECT_THROW(gg::RasterWriter(dir / "out.tif", g, opt), gp::io_error);
  EXPECT_EQ(gp::test::file_bytes(dir / "out.tif"), "previous good map");
  EXPECT_EQ(count_entries(dir), 1u);
}

TEST(RasterWriter, WritesGeoreferencedTiledCompressedFloat32) {
  const fs::path dir = scratch_dir();
  const auto g = small_grid(100, 70);  // edge tiles are partial with 64-cell tiles
  auto v = ramp(100 * 70);
  v[5] = -9999.0f;
  gg::WriterOptions opt;
  opt.metadata["GP_MODEL_NAME"] = "m";
  write_in_chunks(dir / "out.tif", g, v, 70, opt);
  GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "out.tif").c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->GetRasterXSize(), 100);
  EXPECT_EQ(ds->GetRasterYSize(), 70);
  double gt[6];
  ASSERT_EQ(ds->GetGeoTransform(gt), CE_None);
  EXPECT_DOUBLE_EQ(gt[0], -1000000);
  EXPECT_DOUBLE_EQ(gt[3], 2000000);
  EXPECT_DOUBLE_EQ(gt[1], 30);
  EXPECT_DOUBLE_EQ(gt[5], -30);
  EXPECT_STREQ(ds->GetSpatialRef()->GetAuthorityCode(nullptr), "5070");
  GDALRasterBand* b = ds->GetRasterBand(1);
  EXPECT_EQ(b->GetRasterDataType(), GDT_Float32);
  int bx = 0;
  int by = 0;
  b->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, 64);
  EXPECT_EQ(by, 64);
  int has = 0;
  EXPECT_EQ(b->GetNoDataValue(&has), -9999.0);
  EXPECT_TRUE(has);
  EXPECT_STREQ(b->GetDescription(), "prospectivity");
  EXPECT_STREQ(ds->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE"), "ZSTD");
  EXPECT_STREQ(ds->GetMetadataItem("GP_MODEL_NAME"), "m");
  EXPECT_EQ(gp::test::read_raster(dir / "out.tif"), v);
}

TEST(RasterWriter, BytesDoNotDependOnRowChunking) {
  const fs::path dir = scratch_dir();
  const auto g = small_grid(200, 150);
  const auto v = ramp(200 * 150);
  write_in_chunks(dir / "a.tif", g, v, 1);
  write_in_chunks(dir / "b.tif", g, v, 37);
  write_in_chunks(dir / "c.tif", g, v, 150);
  const std::string a = gp::test::file_bytes(dir / "a.tif");
  EXPECT_EQ(a, gp::test::file_bytes(dir / "b.tif"));
  EXPECT_EQ(a, gp::test::file_bytes(dir / "c.tif"));
}

TEST(RasterWriter, DeflateCodecRoundTrips) {
  const fs::path dir = scratch_dir();
  const auto g = small_grid(130, 90);
  const auto v = ramp(130 * 90);
  gg::WriterOptions opt;
  opt.compress = "DEFLATE";
  opt.level = 6;
  write_in_chunks(dir / "d.tif", g, v, 50, opt);
  GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "d.tif").c_str(), GDAL_OF_RASTER));
  EXPECT_STREQ(ds->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE"), "DEFLATE");
  EXPECT_EQ(gp::test::read_raster(dir / "d.tif"), v);
}
