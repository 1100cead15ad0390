#include "gp/geo/band_reader.hpp"

#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"
#include "raster_open.hpp"

#include <gdal_priv.h>

#include <limits>

namespace gp::geo {

BandReader::BandReader(const std::filesystem::path& path, const std::string& what) : path_(path) {
  ds_.reset(open_raster(path.string(), what).release());  // input checks, "not a raster"
  band_ = ds_->GetRasterBand(1);
}

BandReader::~BandReader() = default;

int BandReader::band_count() const { return ds_->GetRasterCount(); }

void BandReader::select_band(int band) {
  if (band < 1 || band > band_count()) {
    throw config_error(path_.string() + ": has no band " + std::to_string(band) + " (it has " +
                       std::to_string(band_count()) + ")");
  }
  band_ = ds_->GetRasterBand(band);
}

std::optional<Grid> BandReader::grid() const {
  double gt[6];
  if (ds_->GetGeoTransform(gt) != CE_None || gt[2] != 0.0 || gt[4] != 0.0 || !(gt[5] < 0.0)) {
    return std::nullopt;
  }
  Grid g;
  const char* wkt = ds_->GetProjectionRef();
  g.crs_wkt = wkt != nullptr ? wkt : "";
  g.x0 = gt[0];
  g.y0 = gt[3];
  g.dx = gt[1];
  g.dy = -gt[5];
  g.width = ds_->GetRasterXSize();
  g.height = ds_->GetRasterYSize();
  return g;
}

std::optional<double> BandReader::nodata() const {
  int has = 0;
  const double nd = band_->GetNoDataValue(&has);
  if (has == 0) return std::nullopt;
  return nd;
}

std::array<int, 2> BandReader::block_size() const {
  int bx = 0;
  int by = 0;
  band_->GetBlockSize(&bx, &by);
  return {bx, by};
}

void BandReader::read(const Window& w, float* out) const {
  if (band_->RasterIO(GF_Read, static_cast<int>(w.col), static_cast<int>(w.row),
                      static_cast<int>(w.cols), static_cast<int>(w.rows), out,
                      static_cast<int>(w.cols), static_cast<int>(w.rows), GDT_Float32, 0, 0,
                      nullptr) != CE_None) {
    throw input_error("cannot read " + path_.string() + ": " + last_gdal_error());
  }
}

float BandReader::read_cell(std::int64_t col, std::int64_t row) const {
  float v = std::numeric_limits<float>::quiet_NaN();
  read(Window{col, row, 1, 1}, &v);
  return v;
}

}  // namespace gp::geo
