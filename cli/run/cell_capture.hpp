#pragma once
// The inputs at a few chosen cells, kept by the scoring pass as it reads their windows, so
// that an analysis can score those cells with other programs (cross-validation's fold models,
// the sweep's variants) without reading their windows again. Deposits are the cells: a few
// hundred, against windows of millions of cells.

#include "gp/geo/grid.hpp"

#include <cstdint>
#include <utility>
#include <vector>

namespace gp::cli {

class CellCapture {
 public:
  /// Keeps `n_inputs` inputs at each of `cells` ((col, row) on the run's grid; repeats and
  /// cells off the grid are allowed: the latter are never taken).
  CellCapture(const std::vector<std::pair<std::int64_t, std::int64_t>>& cells, std::size_t n_inputs);

  /// Window `win`'s inputs (`in[l]`, win.cells() values each, row-major): keeps those at the
  /// chosen cells inside it. Called once per window by the scoring pass's scoring thread.
  void take(const geo::Window& win, const float* const* in);

  /// Gives up (e.g. a window scored on another MPI rank): at() then finds nothing.
  void abandon() { abandoned_ = true; }

  /// The `n_inputs` inputs at (col, row), or null when that cell was not chosen, not taken,
  /// or the capture was abandoned.
  [[nodiscard]] const float* at(std::int64_t col, std::int64_t row) const;

  [[nodiscard]] std::size_t n_inputs() const { return n_inputs_; }

 private:
  std::vector<std::pair<std::int64_t, std::int64_t>> cells_;  ///< sorted by (row, col), unique
  std::vector<float> values_;                                 ///< [cell][input]
  std::vector<char> taken_;
  std::size_t n_inputs_;
  bool abandoned_{false};
};

}  // namespace gp::cli
