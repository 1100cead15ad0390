// Fuzz target: opening a raster through the geo layer and reading it onto a grid.
// The input bytes are a file (GeoTIFF seeds); any input either reads or raises
// gp::input_error / gp::config_error; anything else is a bug. The file lives in GDAL's /vsimem/
// (no disk I/O); the grid is the file's own (at most 64 x 64 cells of it), read directly, and a
// coarser one, read through the warper.

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/raster_source.hpp"

#include <cpl_vsi.h>
#include <gdal_priv.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

void read_onto(const std::string& path, const gp::geo::Grid& g, const char* resampling) {
  gp::geo::RasterSource src(path, 1, resampling, g, "layer 'fuzz'");
  std::vector<float> buf(static_cast<std::size_t>(g.width * g.height));
  src.read(gp::geo::Window{0, 0, g.width, g.height}, buf.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool once = [] {
    gp::geo::init_gdal(16, 1);
    // A crafted header may ask for huge allocations; GDAL refuses those above this.
    CPLSetConfigOption("GDAL_MAX_BAND_COUNT", "16");
    CPLSetConfigOption("GTIFF_REPORT_COMPD_CS", "NO");
    return true;
  }();
  (void)once;
  const std::string path = "/vsimem/fuzz_raster.tif";
  VSILFILE* f = VSIFileFromMemBuffer(path.c_str(), const_cast<GByte*>(data),
                                     static_cast<vsi_l_offset>(size), FALSE);
  if (f == nullptr) return 0;
  VSIFCloseL(f);
  try {
    const gp::geo::RasterInfo info = gp::geo::describe_raster(path, "layer 'fuzz'");
    const auto& gt = info.geotransform;
    if (!info.crs_wkt.empty() && info.has_geotransform && gt[1] > 0 && gt[5] < 0 &&
        gt[2] == 0 && gt[4] == 0 && std::isfinite(gt[0]) && std::isfinite(gt[3]) &&
        std::isfinite(gt[1]) && std::isfinite(gt[5]) && info.width > 0 && info.height > 0) {
      gp::geo::Grid g;
      g.crs_wkt = info.crs_wkt;
      g.x0 = gt[0];
      g.y0 = gt[3];
      g.dx = gt[1];
      g.dy = -gt[5];
      g.width = std::min<std::int64_t>(info.width, 64);
      g.height = std::min<std::int64_t>(info.height, 64);
      read_onto(path, g, "nearest");
      // Coarser cells: the warped path.
      g.dx *= 1.5;
      g.dy *= 1.5;
      g.width = std::max<std::int64_t>(1, g.width * 2 / 3);
      g.height = std::max<std::int64_t>(1, g.height * 2 / 3);
      read_onto(path, g, "bilinear");
    }
  } catch (const gp::input_error&) {
  } catch (const gp::config_error&) {
  }
  VSIUnlink(path.c_str());
  return 0;
}
