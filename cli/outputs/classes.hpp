#pragma once
// Classes of the score map (the `<base>_classes.tif` band), worked out from a fine histogram of
// the valid scores (geo::FineHistogram, 65536 bins over min..max).
//
// Semantics. Class values run from 1 (lowest scores) to N (highest); 0 is nodata. A cell with
// score v gets 1 + the number of thresholds t with v >= t, so the thresholds are the lower
// bounds of classes 2..N.
// - quantile, top = [2, 5, 10, 25]: class N holds the top 2 % of the valid area, class N-1 the
//   next 3 % (top 2-5 %), ..., class 1 everything below the top 25 %. Each threshold is placed at
//   a histogram bin edge: the edge whose cell count above it is closest to the percentage of
//   the valid cells (ties: the smaller count), and reported as the smallest score at or above
//   that edge. So the classes are exact in cells to within one bin, 1/65536 of the score range
//   (exact when no two distinct scores share a bin), and equal scores never straddle classes.
//   Ties (many cells sharing a score: WofE, reclassified layers) can make a class empty or
//   much larger than its percentage: an empty class is dropped (its neighbour already holds
//   its range), a label whose real top share differs from the asked one by more than a tenth
//   states the real share ("low (top 5-30.2 %)"), and ClassPlan::warning says so once.
// - breaks = [b1, ..., bk]: class 1 is v < b1, class i is b(i-1) <= v < bi, class k+1 is v >= bk.
// - natural, n: Jenks natural breaks (Fisher's exact optimal partition, minimum within-class
//   sum of squared deviations) on the histogram merged to at most 2048 weighted points (each
//   point: the mean of its cells, weighted by their count).

#include "model/model.hpp"
#include "gp/geo/band_scan.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace gp::cli {

struct ClassPlan {
  model::ClassMethod method{model::ClassMethod::quantile};  ///< quantile | breaks | natural
  std::vector<double> thresholds;   ///< ascending lower bounds of classes 2..N
  std::vector<std::string> names;   ///< N names, lowest class first
  std::vector<std::string> labels;  ///< N legend labels: name and rule ("very high (top 2 %)")
  /// Quantile classes that ties kept from their percentages: one line for the log (empty:
  /// none). Empty classes are then merged away and labels state the real shares.
  std::string warning;
};

/// Bin edges e (0..bins) for each top percentage: cells in bins >= e are "above".
std::vector<std::size_t> quantile_edges(const geo::FineHistogram& h,
                                        const std::vector<double>& top_percent);

/// Bin edges (ascending, n_classes - 1 of them) of Jenks natural breaks.
std::vector<std::size_t> jenks_edges(const geo::FineHistogram& h, int n_classes,
                                     std::size_t max_points = 2048);

/// The score at a bin edge: the smallest value in bins >= e, or just above the maximum when
/// those bins are empty.
double edge_value(const geo::FineHistogram& h, std::size_t edge);

/// "very low", "low", "moderate", "high", "very high" for 5 classes (fewer for 2-4), else
/// "class 1" ... "class N".
std::vector<std::string> default_class_names(std::size_t n);

/// The classes for a spec and the score's histogram. Throws gp::config_error when the spec
/// cannot apply (e.g. more classes than 254).
ClassPlan plan_classes(const model::ClassSpec& spec, const geo::FineHistogram& h);

}  // namespace gp::cli
