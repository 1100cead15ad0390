#pragma once
// Cloud-Optimized GeoTIFF finishing and safe placement of finished rasters.
//
// The runner streams the map into a tiled GeoTIFF; write_cog() then copies it with GDAL's COG
// driver. The driver builds the overviews from the written file, block by block, into a
// temporary overview file beside the destination, so memory stays bounded whatever the raster
// size; it then writes the IFDs first, the overviews smallest first and the full-resolution
// tiles last (the COG layout: a reader fetches the header and one overview in a few ranged
// requests).

#include <filesystem>
#include <string>
#include <vector>

namespace gp::geo {

struct CogOptions {
  std::string compress{"ZSTD"};  ///< ZSTD | DEFLATE | LZW | NONE (the map's codec)
  int level{1};                  ///< ZSTD / DEFLATE level
  int predictor{3};              ///< 1 none, 2 horizontal (integers), 3 floating point
  int blocksize{512};            ///< tile width and height
  /// GDAL overview resampling: AVERAGE for continuous scores, MODE or NEAREST for classes.
  std::string overview_resampling{"AVERAGE"};
  int threads{0};  ///< compression threads (0: every core)
};

/// Copies raster `src` (every band, its georeferencing, nodata, band descriptions, statistics,
/// metadata and colour table) to a Cloud-Optimized GeoTIFF at `dst` (a temporary name: the
/// caller moves it into place). Items GDAL keeps only in PAM (category names) land in
/// `dst.aux.xml`. Every GDAL status is checked, including the one reported at close; on failure
/// `dst` and its sidecars are removed and gp::io_error is thrown naming `what`.
void write_cog(const std::filesystem::path& src, const std::filesystem::path& dst,
               const CogOptions& options, const std::string& what);

/// Removes `path` and the sidecars GDAL may leave beside it (`.aux.xml`, `.ovr.tmp`,
/// `.ovr`); missing files are fine. Never throws.
void remove_raster_files(const std::filesystem::path& path) noexcept;

}  // namespace gp::geo

namespace gp::geo {

/// Assembles a Cloud-Optimized GeoTIFF at `dst` from `full`, a tiled GeoTIFF (geo::RasterWriter),
/// and `levels`, its overviews largest first (each a tiled GeoTIFF with the same codec and tile
/// size: geo::OverviewPyramid), by copying their compressed tiles without decoding them: the
/// header, GDAL's structural metadata (LAYOUT=IFDS_BEFORE_DATA, BLOCK_ORDER=ROW_MAJOR), every
/// IFD (the full resolution's with all its tags: georeferencing, nodata, band descriptions,
/// statistics, metadata; the overviews' marked reduced-resolution, with their tiling, codec and
/// nodata only), then the tiles, smallest overview first and the full resolution last. BigTIFF
/// when the file could pass 4 GiB. On failure `dst` is removed and gp::io_error names `what`.
void assemble_cog(const std::filesystem::path& full,
                  const std::vector<std::filesystem::path>& levels,
                  const std::filesystem::path& dst, const std::string& what);

}  // namespace gp::geo
