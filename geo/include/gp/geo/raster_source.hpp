#pragma once
// An input raster band seen on the target grid. Reads windows of the target grid as Float32
// with every nodata cell (source nodata, outside the source, NaN, +-inf) set to NaN.
// A source already on the grid (same CRS, cell size and cell alignment) is read directly;
// any other is warped by GDAL's warper (a warped VRT over the whole target grid with an exact
// transformer), so memory stays bounded by the window and values do not depend on it.

#include "gp/geo/gdal_fwd.hpp"
#include "gp/geo/grid.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace gp::geo {

/// What is known of a raster file before any grid exists.
struct RasterInfo {
  std::string path;
  std::string crs_wkt;  ///< empty when the file has no CRS
  std::array<double, 6> geotransform{};
  bool has_geotransform{false};
  std::int64_t width{0};
  std::int64_t height{0};
  int band_count{0};
};

/// Opens `path` and describes it. `what` names the culprit in messages (e.g. layer 'k').
/// Throws gp::input_error when it cannot be opened as a raster.
RasterInfo describe_raster(const std::string& path, const std::string& what);

/// Checks a local input path before GDAL opens it: a FIFO, socket or device would block the
/// open (or read forever) and is refused, as is a name the system cannot look up (over
/// NAME_MAX or PATH_MAX). Folders pass (shapefile folders, FileGDBs); a missing file is left to
/// the caller's own message; GDAL virtual paths (/vsi...) pass. Throws gp::input_error naming
/// `what` and the path.
void check_input_path(const std::string& path, const std::string& what);

/// Bounding box [xmin, ymin, xmax, ymax] of a raster in another CRS, with the cell size it
/// suggests there (GDALSuggestedWarpOutput2). Throws gp::input_error when no transformation exists.
struct Footprint {
  std::array<double, 4> bounds{};
  double cell_size{0.0};
};
Footprint footprint_in(const RasterInfo& info, const std::string& target_wkt,
                       const std::string& what);

/// GDAL's name for a resampling method, or empty when unknown ("nearest" -> "near").
std::string gdal_resampling_name(const std::string& method);

class RasterSource {
 public:
  /// Opens band `band` of `path` for reading onto `grid` with `resampling`
  /// (nearest|bilinear|cubic|cubicspline|lanczos|average|mode|min|max|med|q1|q3|sum|rms).
  RasterSource(const std::string& path, int band, const std::string& resampling,
               const Grid& grid, const std::string& what);
  ~RasterSource();
  RasterSource(const RasterSource&) = delete;
  RasterSource& operator=(const RasterSource&) = delete;

  /// Fills `out` (window.cells() floats, row-major) with the layer on `window` of the grid.
  /// Throws gp::input_error when GDAL fails to read.
  void read(const Window& window, float* out);

  /// True when the source is on the grid and read without warping.
  [[nodiscard]] bool direct() const { return direct_; }
  [[nodiscard]] const std::string& what() const { return what_; }
  /// Cells read so far (every read() counts) whose value was NaN or +-infinity although not
  /// the source's nodata: they come out as nodata (NaN) and are counted here, for the report.
  /// Exact for direct reads; for warped sources only infinities that reach the grid are seen
  /// (a NaN there cannot be told from a cell outside the source).
  [[nodiscard]] std::uint64_t invalid_cells() const { return invalid_; }

  /// Cells read so far (every read() counts) that came out valid (not NaN).
  [[nodiscard]] std::uint64_t valid_cells() const { return valid_; }

 private:
  void read_direct(const Window& window, float* out);
  std::string what_;
  std::string path_;
  Grid grid_;
  DatasetPtr src_;
  GDALDataset* band_vrt_{nullptr};  // band-selecting VRT feeding the warper (when band != 1)
  GDALDataset* warped_{nullptr};    // warped VRT over the whole grid
  GDALRasterBand* band_{nullptr};   // what read() reads: source band or warped band
  bool direct_{false};
  std::int64_t off_col_{0};  // grid column 0 in source columns (direct reads)
  std::int64_t off_row_{0};
  std::optional<double> nodata_;
  std::uint64_t invalid_{0};  // NaN / infinity in valid cells (see invalid_cells)
  std::uint64_t valid_{0};    // cells read that are not nodata (see valid_cells)
};

}  // namespace gp::geo
