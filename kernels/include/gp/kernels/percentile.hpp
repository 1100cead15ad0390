#pragma once
// Percentile ranks from streaming histograms (host side). A layer's valid values are counted
// in 65536 equal bins over [min, max]; bins holding more than 1/8192 of the cells are refined
// into 4096 sub-bins by a second pass. The result is a table of knots (value, fraction of
// cells below it) that the kernels interpolate linearly (cell_ops.hpp percentile_rank). The
// rank of a cell is then within one knot interval's mass of the exact rank: <= 1/8192 except
// inside one sub-bin of width (max - min) / 2^28 holding more cells than that (exact ties).

#include <cstdint>
#include <vector>

namespace gp::kernels {

class PercentileBuilder {
 public:
  static constexpr int coarse_bins = 65536;
  static constexpr int sub_bins = 4096;
  static constexpr int max_slots = 256;  ///< refined bins per layer (the heaviest first)

  PercentileBuilder() = default;
  /// `lo`, `hi`: the layer's min and max; `valid`: its number of valid cells.
  PercentileBuilder(double lo, double hi, std::uint64_t valid);

  [[nodiscard]] double lo() const { return lo_; }
  [[nodiscard]] double hi() const { return hi_; }
  /// Coarse counts, filled by Backend::histogram(..., nullptr, 0, coarse()).
  std::uint64_t* coarse() { return coarse_.data(); }

  /// After the coarse pass: chooses the bins to refine. Returns false when none needs it.
  bool plan_refinement();
  /// Slot of each coarse bin (-1: not refined), for Backend::histogram.
  [[nodiscard]] const std::int32_t* slots() const { return slot_.data(); }
  /// Refined counts (slots x sub_bins), filled by the refinement pass.
  std::uint64_t* fine() { return fine_.data(); }
  [[nodiscard]] std::size_t fine_size() const { return fine_.size(); }

  /// Appends this layer's knots to `aux` (values, then fractions); returns {first, count}.
  std::pair<std::int32_t, std::int32_t> append_knots(std::vector<double>& aux) const;

 private:
  double lo_{0.0};
  double hi_{0.0};
  std::uint64_t valid_{0};
  std::vector<std::uint64_t> coarse_;
  std::vector<std::int32_t> slot_;
  std::vector<std::uint64_t> fine_;
};

}  // namespace gp::kernels
