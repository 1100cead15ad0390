#pragma once
// Private to geo/src: the one way geo/ opens an input raster.

#include <gdal_priv.h>

#include <string>

namespace gp::geo {

/// Opens a raster with at least one band, after check_input_path (no FIFO, socket or device).
/// Throws gp::input_error naming `what` and the path ("not a raster" with GDAL's reason when
/// it has one).
GDALDatasetUniquePtr open_raster(const std::string& path, const std::string& what);

}  // namespace gp::geo
