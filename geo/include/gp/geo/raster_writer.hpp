#pragma once
// Writes a Float32 (or Byte: class rasters) tiled, compressed GeoTIFF (one or more bands, band-interleaved) at the path
// it is given, which must not exist (the application stages every output under a temporary
// name and moves it into place: cli/outputs/staged_files.hpp). Tiles are emitted in row-major
// order (the file's bytes do not depend on how rows were handed in). Every GDAL status on the
// write path is checked; a writer destroyed without close() deletes its file.

#include "gp/geo/colormap.hpp"
#include "gp/geo/gdal_fwd.hpp"
#include "gp/geo/grid.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gp::geo {

/// The file's pixel type. Rows are always handed in as floats; a Byte file stores them as
/// integers 0..255 (class values).
enum class PixelType { float32, byte };

struct WriterOptions {
  PixelType type{PixelType::float32};
  std::string compress{"ZSTD"};  ///< ZSTD | DEFLATE | LZW | NONE
  int level{1};                  ///< ZSTD_LEVEL / ZLEVEL
  int predictor{3};              ///< 1 none, 2 horizontal, 3 floating point
  int tile{256};                 ///< tile width and height (multiple of 16)
  int threads{0};                ///< compression threads (0: every core)
  double nodata{-9999.0};
  std::vector<std::string> band_descriptions{"prospectivity"};  ///< one per band
  std::map<std::string, std::string> metadata;  ///< dataset metadata items
  /// The path error messages name, when the writer writes to a staging name for a caller that
  /// moves the file into place later (the runner's OutputSet); empty: the path written.
  std::filesystem::path report_as;
  /// Overview levels built while the rows stream (gp/geo/overviews.hpp), one file per level,
  /// largest first: cog_overview_sizes(width, height, tile) of them. Empty: none.
  std::vector<std::filesystem::path> overview_paths;
  /// How those levels are computed (gp/geo/overviews.hpp): "AVERAGE" (continuous values) or
  /// "MODE" (Byte classes), with GDAL's semantics.
  std::string overview_resampling{"AVERAGE"};
  /// Byte files: a colour table (entry v for value v; entry 0 transparent when the nodata value
  /// is 0), and category names (entry v names value v): GDAL keeps those in the `.aux.xml`
  /// beside the file; they are also stored in the TIFF itself as band metadata items
  /// CLASS_<v>_NAME (GDAL_METADATA tag), so that they travel with the file alone.
  std::vector<Rgb> colors;
  std::vector<std::string> category_names;
};

class OverviewPyramid;

class RasterWriter {
 public:
  RasterWriter(std::filesystem::path path, const Grid& grid, WriterOptions options);
  ~RasterWriter();
  RasterWriter(const RasterWriter&) = delete;
  RasterWriter& operator=(const RasterWriter&) = delete;

  /// Appends `rows` full-width rows of every band: `bands[b]` holds rows x grid.width floats
  /// (row-major). Rows must arrive in order, from the top.
  void write_rows(const float* const* bands, std::int64_t rows);
  /// Single-band convenience.
  void write_rows(const float* data, std::int64_t rows) { write_rows(&data, rows); }

  /// Appends a window that covers part of one whole tile row: `win.rows` is that tile row's
  /// height (or the next rows of it, staged until the tile row is complete, when the tiles are
  /// taller than the windows), windows arrive left to right, `win.col` and `win.cols` are multiples of
  /// segment_columns(tile) (or reach the grid's right edge); `bands[b]` holds win.rows x win.cols
  /// floats. The file's bytes equal those of the same rows given to write_rows.
  void write_window(const float* const* bands, const Window& win);

  /// Stores statistics (GDAL STATISTICS_* metadata) of band `band` (1-based) before closing.
  void set_statistics(int band, double min, double max, double mean, double stddev);
  /// Stores metadata item `key` = `value` of band `band` (1-based) before closing.
  void set_band_metadata(int band, const std::string& key, const std::string& value);

  [[nodiscard]] int band_count() const { return static_cast<int>(opt_.band_descriptions.size()); }

  /// Checks that every row was written, flushes, closes and checks for write errors (many
  /// appear only at close). Throws gp::io_error.
  void close();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// The path messages name: options.report_as, else the path written.
  [[nodiscard]] const std::filesystem::path& shown_path() const {
    return opt_.report_as.empty() ? path_ : opt_.report_as;
  }

 private:
  /// Writes the tiles of columns [col, col + cols) of the current tile row, segment by segment
  /// (segment_columns(tile)), band by band inside a segment; `rows_of_band[b]` points to `n_rows` rows
  /// of `stride` floats whose first column is grid column `col`.
  void emit_tiles(const float* const* rows_of_band, std::size_t stride, std::int64_t col,
                  std::int64_t cols, std::int64_t n_rows);
  /// Writes one whole row of tiles from full-width rows and moves to the next tile row.
  void emit_tile_row(const float* const* rows_of_band, std::int64_t n_rows);
  void close_dataset();
  /// Copies a window's rows into full-width `strip` rows from `first_row` on.
  void copy_window(const float* const* bands, const Window& win,
                   std::vector<std::vector<float>>& strip, std::int64_t first_row);
  /// write_window for windows lower than the tile row: staged until the tile row is complete.
  void stage_window(const float* const* bands, const Window& win, std::int64_t strip_h);
  /// Hands full-width rows to the overview pyramid (when there is one).
  void feed_overviews(const float* const* rows_of_band, std::size_t stride, std::int64_t n_rows);
  std::filesystem::path path_;
  Grid grid_;
  WriterOptions opt_;
  GDALDataset* ds_{nullptr};
  // Per band, one row of tiles (tile x grid.width), allocated only when rows arrive unaligned.
  std::vector<std::vector<float>> strip_;
  std::vector<float> tile_;
  std::vector<std::uint8_t> tile_bytes_;  // a Byte file's tile
  std::int64_t strip_rows_{0};
  std::int64_t next_row_{0};
  std::int64_t tile_row_{0};
  std::int64_t next_col_{0};  // write_window: first column of the tile row not yet written
  bool closed_{false};
  std::unique_ptr<OverviewPyramid> overviews_;
  // write_window with overviews: the current tile row, gathered until its last window.
  std::vector<std::vector<float>> ovr_strip_;
};

}  // namespace gp::geo
