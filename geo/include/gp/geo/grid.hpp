#pragma once
// The target grid: CRS, north-up geotransform and size; windows over it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace gp::geo {

/// A north-up grid. Cell (col, row) covers [x0 + col*dx, x0 + (col+1)*dx) x
/// (y0 - (row+1)*dy, y0 - row*dy]; dx, dy > 0 in CRS units.
struct Grid {
  std::string crs_wkt;  ///< WKT2 of the CRS
  double x0{0.0};       ///< left edge
  double y0{0.0};       ///< top edge
  double dx{1.0};       ///< cell width
  double dy{1.0};       ///< cell height (positive)
  std::int64_t width{0};
  std::int64_t height{0};

  [[nodiscard]] std::array<double, 6> geotransform() const { return {x0, dx, 0.0, y0, 0.0, -dy}; }
  [[nodiscard]] double xmax() const { return x0 + static_cast<double>(width) * dx; }
  [[nodiscard]] double ymin() const { return y0 - static_cast<double>(height) * dy; }
  [[nodiscard]] std::uint64_t cells() const {
    return static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  }
};

/// Columns per segment: rows wider than this are handled in segments of this many columns
/// (32 tiles of 256), a fixed unit so that results do not depend on how a run cuts its
/// windows. Output tiles are written segment by segment within each tile row (band by band
/// inside a segment), and whole-grid statistics fold each row's segments left to right. A
/// window that does not span the full width spans whole segments (geo::RasterWriter and the
/// runner rely on it). Grids at most this wide have one segment per row.
inline constexpr std::int64_t column_segment = 8192;

/// column_segment rounded down to whole tiles of `tile` columns (at least one tile).
inline constexpr std::int64_t segment_columns(std::int64_t tile) {
  return tile <= 0 ? column_segment
                   : (column_segment / tile > 0 ? column_segment / tile : 1) * tile;
}

/// A rectangle of cells of a grid: columns [col, col+cols), rows [row, row+rows).
struct Window {
  std::int64_t col{0};
  std::int64_t row{0};
  std::int64_t cols{0};
  std::int64_t rows{0};
  [[nodiscard]] std::size_t cells() const {
    return static_cast<std::size_t>(cols) * static_cast<std::size_t>(rows);
  }
};

}  // namespace gp::geo
