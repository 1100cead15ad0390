#include "plan/windows.hpp"

#include "run/cluster.hpp"

#include "gp/geo/raster_writer.hpp"

#include <algorithm>

namespace gp::cli {

geo::Window WindowPlan::at(std::int64_t w) const {
  geo::Window win;
  win.col = (w % col_windows) * cols;
  win.cols = std::min(cols, width - win.col);
  win.row = (w / col_windows) * rows;
  win.rows = std::min(rows, height - win.row);
  return win;
}

std::size_t WindowPlan::max_cells() const {
  return static_cast<std::size_t>(std::min(rows, height)) * static_cast<std::size_t>(cols);
}

bool WindowPlan::owned(std::int64_t w) const { return cluster::owns(band_of(w)); }

int WindowPlan::owner(std::int64_t w) const { return cluster::owner(band_of(w)); }

WindowPlan fixed_windows(std::int64_t width, std::int64_t height, std::int64_t rows,
                         std::int64_t cols) {
  WindowPlan p;
  p.width = width;
  p.height = height;
  p.rows = std::max<std::int64_t>(1, rows);
  p.cols = cols > 0 ? std::min(cols, width) : width;
  p.col_windows = (width + p.cols - 1) / p.cols;
  p.bands = (height + p.rows - 1) / p.rows;
  return p;
}

WindowPlan plan_windows(std::int64_t width, std::int64_t height, std::int64_t window_rows,
                        std::int64_t window_cells) {
  const std::int64_t cols = window_rows > 0 ? width : default_window_cols(window_cells, width);
  const std::int64_t rows =
      window_rows > 0   ? window_rows
      : cols < width    ? std::min<std::int64_t>(geo::WriterOptions{}.tile, height)
                        : default_window_rows(window_cells, width, height);
  return fixed_windows(width, height, rows, cols);
}

std::int64_t default_window_cols(std::int64_t window_cells, std::int64_t width) {
  // Full width while one tile row of it fits in about `window_cells`; wider grids are cut into
  // windows of one tile row and whole column segments, so that memory stays bounded by the
  // window whatever the width (a CONUS-wide 30 m row is ~150 000 cells).
  const std::int64_t tile = geo::WriterOptions{}.tile;
  const std::int64_t seg = geo::segment_columns(tile);
  if (width <= seg || window_cells >= tile * width) return width;
  const std::int64_t cols = std::max<std::int64_t>(seg, window_cells / tile / seg * seg);
  return std::min(cols, width);
}

std::int64_t default_window_rows(std::int64_t window_cells, std::int64_t width,
                                 std::int64_t height) {
  // Whole rows of output tiles, so the writer never stages rows (geo::WriterOptions::tile):
  // about `window_cells` cells, at least one tile row.
  const std::int64_t tile = geo::WriterOptions{}.tile;
  const std::int64_t rows = window_cells / std::max<std::int64_t>(width, 1);
  const std::int64_t aligned = std::max<std::int64_t>(tile, rows / tile * tile);
  return std::min(aligned, std::max<std::int64_t>(height, 1));
}

}  // namespace gp::cli
