#pragma once
// The one streamed raster output: every raster a run writes (the map, the class raster, the
// uncertainty, contributions and sweep rasters) goes through here. The rows stream into a staged
// tiled GeoTIFF (geo::RasterWriter); as a Cloud-Optimized GeoTIFF ([output] format = "cog") the
// overview levels stream beside it (geo::OverviewPyramid: AVERAGE, or MODE for Byte classes),
// and the COG is then assembled by copying the compressed tiles of both (geo::assemble_cog):
// no tile is decoded or encoded twice. With format "gtiff" the staged file is the output.

#include "outputs/staged_files.hpp"

#include "gp/geo/grid.hpp"
#include "gp/geo/raster_writer.hpp"

#include <filesystem>
#include <optional>
#include <vector>

namespace gp::cli {

/// Sets a writer's options for a COG at `dst`: the COG's tiles (geo::CogOptions: 512, level 1)
/// and one staged overview file per level (registered with `files`), streamed as the rows arrive.
/// Returns those files, largest level first. The codec and predictor stay the caller's.
std::vector<std::filesystem::path> stream_cog_overviews(StagedFiles& files,
                                                        const std::filesystem::path& dst,
                                                        const geo::Grid& grid,
                                                        geo::WriterOptions& options);

/// The COG of `dst` assembled from the closed staged file `full` and its `levels`
/// (stream_cog_overviews), which are then discarded; a `.aux.xml` beside `full` (what GDAL
/// keeps outside TIFF tags: category names) moves beside the COG. Returns the staged COG.
std::filesystem::path assemble_staged_cog(StagedFiles& files, const std::filesystem::path& dst,
                                          const std::filesystem::path& full,
                                          const std::vector<std::filesystem::path>& levels);

class StagedRaster {
 public:
  /// A raster for `dst`, staged in `files`; a COG when `cog`. options.report_as defaults to `dst`.
  StagedRaster(StagedFiles& files, std::filesystem::path dst, const geo::Grid& grid,
               geo::WriterOptions options, bool cog);
  StagedRaster(const StagedRaster&) = delete;
  StagedRaster& operator=(const StagedRaster&) = delete;

  [[nodiscard]] geo::RasterWriter& writer() { return *writer_; }
  /// Appends one window of every band (full-width rows, or a segment of a tile row).
  void write(const float* const* bands, const geo::Window& win);
  /// Closes the writer and, for a COG, assembles it. Returns the staged finished file, for the
  /// caller to read and publish (files.publish(path, dst, true)). Throws gp::io_error.
  std::filesystem::path finish();

 private:
  StagedFiles& files_;
  std::filesystem::path dst_;
  std::int64_t width_;
  std::filesystem::path staged_;
  std::vector<std::filesystem::path> levels_;
  bool cog_;
  std::optional<geo::RasterWriter> writer_;
};

}  // namespace gp::cli
