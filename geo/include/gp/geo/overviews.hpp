#pragma once
// Overviews built while the map streams: each level is computed from the previous one row by
// row as rows arrive (no full-resolution tile is read back) and written as compressed tiles to
// its own tiled GeoTIFF (a RasterWriter), which assemble_cog() (gp/geo/cog.hpp) then copies,
// tile by tile, without decoding, into the Cloud-Optimized GeoTIFF.
//
// The values are those of GDAL's AVERAGE overviews (gdaladdo -r average, GDAL 3.6) for a band
// with a nodata value, recomputed here because GDAL offers no streaming entry point:
// - level k is computed from level k-1 (GDAL cascades: level 2 is the average of level 1, not
//   of the full resolution), its size is the full size divided by 2^k rounded up;
// - destination pixel i covers source pixels [i*r, (i+1)*r) with r = source size / destination
//   size (exactly 2 for even sizes; a little less for odd ones, where the partly covered edge
//   pixels get fractional weights, as GDAL weighs them);
// - cells equal to nodata are left out; a pixel with no valid source cell is nodata; the sums
//   are in double and the mean is rounded once to Float32; a mean that happens to equal the
//   nodata value is replaced by the next float above it (GDAL's replacement value).
// With options.overview_resampling "MODE" (Byte rasters: classes) the levels hold GDAL's MODE
// (gdaladdo -r mode) instead: the most frequent valid value of the same source window, cascaded
// level by level as GDAL does.

#include "gp/geo/grid.hpp"
#include "gp/geo/raster_writer.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

namespace gp::geo {

/// The overview sizes of a COG of width x height with square tiles of `block`: halving (sizes
/// rounded up) until both sides fit in one tile, as GDAL's COG driver counts its levels.
std::vector<std::pair<std::int64_t, std::int64_t>> cog_overview_sizes(std::int64_t width,
                                                                      std::int64_t height,
                                                                      int block);

class OverviewLevel;

class OverviewPyramid {
 public:
  /// One level per path (cog_overview_sizes(grid.width, grid.height, options.tile) gives how
  /// many); each is written with `options` (codec, tile, nodata, bands).
  OverviewPyramid(const Grid& grid, const WriterOptions& options,
                  const std::vector<std::filesystem::path>& paths);
  ~OverviewPyramid();
  OverviewPyramid(const OverviewPyramid&) = delete;
  OverviewPyramid& operator=(const OverviewPyramid&) = delete;

  /// Full-resolution rows in order from the top: `bands[b]` holds `rows` rows of `stride`
  /// floats, the first grid.width of each row used.
  void push_rows(const float* const* bands, std::int64_t rows, std::size_t stride);
  /// Closes every level's file (every row must have arrived). Throws gp::io_error.
  void close();

 private:
  std::size_t band_count_{1};
  std::vector<std::unique_ptr<OverviewLevel>> levels_;  // largest first
};

}  // namespace gp::geo
