#pragma once
// The one window planner: how a grid is cut into windows, in which order they come, and which
// MPI rank reads which. Every pass over the grid (statistics, training, scoring, validation of
// the run's map, uncertainty) walks the same plan, so no result depends on how a pass would have
// cut the grid by itself.
//
// Windows are bands of rows, each band cut into column windows of whole column segments
// (geo::segment_columns) when the grid is too wide for full-width windows. Window w is column
// window w % col_windows of band w / col_windows; an MPI rank owns whole bands.

#include "gp/geo/grid.hpp"

#include <cstddef>
#include <cstdint>

namespace gp::cli {

struct WindowPlan {
  std::int64_t width{0};        ///< grid columns
  std::int64_t height{0};       ///< grid rows
  std::int64_t rows{1};         ///< rows per window (the last band may have fewer)
  std::int64_t cols{1};         ///< columns per window (the last column window may have fewer)
  std::int64_t col_windows{1};  ///< column windows per band of rows
  std::int64_t bands{0};        ///< bands of rows

  [[nodiscard]] std::int64_t count() const { return bands * col_windows; }
  [[nodiscard]] std::int64_t band_of(std::int64_t w) const { return w / col_windows; }
  [[nodiscard]] geo::Window at(std::int64_t w) const;
  /// Cells of a full window (buffer size).
  [[nodiscard]] std::size_t max_cells() const;
  /// True when this MPI rank reads window w (every window on one process).
  [[nodiscard]] bool owned(std::int64_t w) const;
  /// The MPI rank that reads window w.
  [[nodiscard]] int owner(std::int64_t w) const;
};

/// The run's windows: `window_rows` > 0 gives full-width windows of that many rows; otherwise
/// windows of about `window_cells` cells: whole rows of output tiles while one tile row of the
/// grid fits, else one tile row high and whole column segments wide (memory stays bounded by the
/// window whatever the width).
WindowPlan plan_windows(std::int64_t width, std::int64_t height, std::int64_t window_rows,
                        std::int64_t window_cells);

/// Windows of `rows` rows (at least 1) and `cols` columns (the full width when <= 0 or wider).
WindowPlan fixed_windows(std::int64_t width, std::int64_t height, std::int64_t rows,
                         std::int64_t cols);

/// Rows per window by default: a multiple of the output tile height near `window_cells` cells.
std::int64_t default_window_rows(std::int64_t window_cells, std::int64_t width,
                                 std::int64_t height);

/// Columns per window by default: the full width, or whole column segments on wide grids.
std::int64_t default_window_cols(std::int64_t window_cells, std::int64_t width);

}  // namespace gp::cli
