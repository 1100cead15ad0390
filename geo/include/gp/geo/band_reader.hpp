#pragma once
// One band of an existing raster, read on the raster's own grid as Float32 windows (a finished
// map, for validation). Opening reads no pixels; GDAL's block cache serves repeated reads.

#include "gp/geo/gdal_fwd.hpp"
#include "gp/geo/grid.hpp"

#include <array>
#include <filesystem>
#include <optional>
#include <string>

namespace gp::geo {

class BandReader {
 public:
  /// Opens `path` read-only and selects band 1. Throws gp::input_error
  /// "cannot read <what> <path>: <GDAL's reason>" when it cannot be opened as a raster.
  BandReader(const std::filesystem::path& path, const std::string& what);
  ~BandReader();
  BandReader(const BandReader&) = delete;
  BandReader& operator=(const BandReader&) = delete;

  [[nodiscard]] int band_count() const;
  /// Selects the band that later calls read (1-based). Throws gp::config_error when the raster
  /// has no such band (callers that want their own message check band_count() first).
  void select_band(int band);

  /// The raster's grid (crs_wkt empty when it has no CRS), or nullopt when it is not a
  /// north-up georeferenced raster (no geotransform, rotation terms, or rows going up).
  [[nodiscard]] std::optional<Grid> grid() const;
  /// The selected band's nodata value, when it has one.
  [[nodiscard]] std::optional<double> nodata() const;
  /// The selected band's block size {columns, rows}.
  [[nodiscard]] std::array<int, 2> block_size() const;

  /// Reads `window` of the selected band into `out` (window.rows x window.cols floats,
  /// row-major, host memory), converted to Float32; nodata cells keep their stored value.
  /// Throws gp::input_error "cannot read <path>: <GDAL's reason>".
  void read(const Window& window, float* out) const;
  /// One cell, as read() would give it.
  [[nodiscard]] float read_cell(std::int64_t col, std::int64_t row) const;

 private:
  std::filesystem::path path_;
  DatasetPtr ds_;
  GDALRasterBand* band_{nullptr};
};

}  // namespace gp::geo
