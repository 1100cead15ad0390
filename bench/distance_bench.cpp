// Times the distance transform on a rasterised feature mask (GeoTIFF, non-zero = feature):
// reading the mask, the transform itself (CPU or CUDA), and writing the result as a tiled
// GeoTIFF, so that the total compares with gdal_proximity.py's wall time on the same input.
//
// Usage: gp_distance_bench MASK.tif OUT.tif [--cuda] [--threads N] [--repeat R] [--compress C]
// (C: NONE, the default, as gdal_proximity.py writes; or ZSTD, as the runner's temporaries)

#include "gp/geo/gdal_env.hpp"
#include "gp/geo/grid.hpp"
#include "gp/geo/vector_source.hpp"
#include "gp/kernels/distance.hpp"

#include <gdal_priv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MASK.tif OUT.tif [--cuda] [--threads N] [--repeat R] "
                 "[--compress NONE|ZSTD]\n", argv[0]);
    return 2;
  }
  bool cuda = false;
  int threads = 0;
  int repeat = 3;
  std::string compress = "NONE";
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cuda") cuda = true;
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (a == "--compress" && i + 1 < argc) compress = argv[++i];
  }
  gp::geo::init_gdal(256, threads);
  const double t0 = now_s();
  GDALDatasetUniquePtr ds(GDALDataset::Open(argv[1], GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  gp::geo::Grid g;
  double gt[6];
  ds->GetGeoTransform(gt);
  g.x0 = gt[0];
  g.y0 = gt[3];
  g.dx = gt[1];
  g.dy = -gt[5];
  g.width = ds->GetRasterXSize();
  g.height = ds->GetRasterYSize();
  char* wkt = nullptr;
  ds->GetSpatialRef()->exportToWkt(&wkt);
  g.crs_wkt = wkt;
  CPLFree(wkt);
  std::vector<std::uint8_t> mask(g.cells());
  if (ds->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, static_cast<int>(g.width),
                                     static_cast<int>(g.height), mask.data(),
                                     static_cast<int>(g.width), static_cast<int>(g.height),
                                     GDT_Byte, 0, 0, nullptr) != CE_None) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  const double t_read = now_s() - t0;
  std::vector<float> out(g.cells());
  const gp::kernels::DistanceParams p{g.dx, g.dy, -1.0};
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    const double a = now_s();
    if (cuda) {
      gp::kernels::distance_transform_cuda(mask.data(), g.width, g.height, p, out.data(), 0);
    } else {
      gp::kernels::distance_transform_cpu(mask.data(), g.width, g.height, p, out.data(), threads);
    }
    best = std::min(best, now_s() - a);
  }
  const double t1 = now_s();
  gp::geo::write_grid_tiff(argv[2], g, out.data(), "distance", compress);
  const double t_write = now_s() - t1;
  std::printf("grid %lld x %lld, %s: read %.3f s, transform %.3f s (best of %d, %.1f Mcells/s), "
              "write %.3f s, total %.3f s\n",
              static_cast<long long>(g.width), static_cast<long long>(g.height),
              cuda ? "cuda" : "cpu", t_read, best, repeat,
              static_cast<double>(g.cells()) / best / 1e6, t_write, t_read + best + t_write);
  return 0;
}
