#include "run/cell_capture.hpp"

#include <algorithm>

namespace gp::cli {

namespace {
using Cell = std::pair<std::int64_t, std::int64_t>;
/// (row, col) order: a window's cells are one contiguous run of it when the window spans the
/// grid's width (the runner's usual windows).
bool row_major(const Cell& a, const Cell& b) {
  return a.second != b.second ? a.second < b.second : a.first < b.first;
}
}  // namespace

CellCapture::CellCapture(const std::vector<Cell>& cells, std::size_t n_inputs)
    : cells_(cells), n_inputs_(n_inputs) {
  std::sort(cells_.begin(), cells_.end(), row_major);
  cells_.erase(std::unique(cells_.begin(), cells_.end()), cells_.end());
  values_.assign(cells_.size() * n_inputs_, 0.0f);
  taken_.assign(cells_.size(), 0);
}

void CellCapture::take(const geo::Window& win, const float* const* in) {
  // The chosen cells in the window's rows, then those in its columns.
  const auto first = std::lower_bound(cells_.begin(), cells_.end(), Cell{0, win.row}, row_major);
  for (auto it = first; it != cells_.end() && it->second < win.row + win.rows; ++it) {
    const auto [col, row] = *it;
    if (col < win.col || col >= win.col + win.cols) continue;
    const auto i = static_cast<std::size_t>(it - cells_.begin());
    const auto at = static_cast<std::size_t>((row - win.row) * win.cols + (col - win.col));
    for (std::size_t l = 0; l < n_inputs_; ++l) values_[i * n_inputs_ + l] = in[l][at];
    taken_[i] = 1;
  }
}

const float* CellCapture::at(std::int64_t col, std::int64_t row) const {
  if (abandoned_) return nullptr;
  const Cell c{col, row};
  const auto it = std::lower_bound(cells_.begin(), cells_.end(), c, row_major);
  if (it == cells_.end() || *it != c) return nullptr;
  const auto i = static_cast<std::size_t>(it - cells_.begin());
  return taken_[i] != 0 ? values_.data() + i * n_inputs_ : nullptr;
}

}  // namespace gp::cli
