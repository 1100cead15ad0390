#include "gp/kernels/percentile.hpp"

#include <algorithm>
#include <numeric>

namespace gp::kernels {

PercentileBuilder::PercentileBuilder(double lo, double hi, std::uint64_t valid)
    : lo_(lo), hi_(hi), valid_(valid), coarse_(coarse_bins, 0), slot_(coarse_bins, -1) {}

bool PercentileBuilder::plan_refinement() {
  const std::uint64_t limit = valid_ / 8192;
  std::vector<int> heavy;
  for (int b = 0; b < coarse_bins; ++b) {
    if (coarse_[static_cast<std::size_t>(b)] > limit && coarse_[static_cast<std::size_t>(b)] > 1) {
      heavy.push_back(b);
    }
  }
  if (heavy.empty() || !(hi_ > lo_)) return false;
  std::stable_sort(heavy.begin(), heavy.end(), [&](int a, int b) {
    return coarse_[static_cast<std::size_t>(a)] > coarse_[static_cast<std::size_t>(b)];
  });
  if (heavy.size() > static_cast<std::size_t>(max_slots)) heavy.resize(max_slots);
  std::sort(heavy.begin(), heavy.end());
  for (std::size_t s = 0; s < heavy.size(); ++s) {
    slot_[static_cast<std::size_t>(heavy[s])] = static_cast<std::int32_t>(s);
  }
  fine_.assign(heavy.size() * static_cast<std::size_t>(sub_bins), 0);
  return true;
}

std::pair<std::int32_t, std::int32_t> PercentileBuilder::append_knots(
    std::vector<double>& aux) const {
  std::vector<double> values;
  std::vector<double> below;  // cells strictly inside earlier bins
  const double n = static_cast<double>(valid_ > 0 ? valid_ : 1);
  if (!(hi_ > lo_)) {
    // A constant layer: every valid cell has the same value, mid-rank 0.5.
    values = {lo_};
    below = {0.5};
  } else {
    // Bin edges use the same arithmetic as histogram_index (lo + b * width).
    const double width = (hi_ - lo_) / coarse_bins;
    std::uint64_t cum = 0;
    for (int b = 0; b < coarse_bins; ++b) {
      const double edge = lo_ + static_cast<double>(b) * width;
      const std::int32_t slot = slot_.empty() ? -1 : slot_[static_cast<std::size_t>(b)];
      if (slot >= 0) {
        const double sw = width / sub_bins;
        for (int k = 0; k < sub_bins; ++k) {
          values.push_back(edge + static_cast<double>(k) * sw);
          below.push_back(static_cast<double>(cum) / n);
          cum += fine_[static_cast<std::size_t>(slot) * sub_bins + static_cast<std::size_t>(k)];
        }
      } else {
        values.push_back(edge);
        below.push_back(static_cast<double>(cum) / n);
        cum += coarse_[static_cast<std::size_t>(b)];
      }
    }
    values.push_back(hi_);
    below.push_back(1.0);
  }
  const auto first = static_cast<std::int32_t>(aux.size());
  const auto count = static_cast<std::int32_t>(values.size());
  aux.insert(aux.end(), values.begin(), values.end());
  aux.insert(aux.end(), below.begin(), below.end());
  if (hi_ > lo_) {
    // Start table: for each coarse bin (and one past the end), the first knot index at or after
    // its left edge (as doubles, the aux array's type; exact below 2^53).
    const double width = (hi_ - lo_) / coarse_bins;
    std::size_t k = 0;
    for (int b = 0; b <= coarse_bins; ++b) {
      const double edge = lo_ + static_cast<double>(b) * width;
      while (k < values.size() && values[k] < edge) ++k;
      aux.push_back(static_cast<double>(k < values.size() ? k : values.size() - 1));
    }
  }
  return {first, count};
}

}  // namespace gp::kernels
