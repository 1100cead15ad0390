// cli/classes: quantile, natural-breaks and user-break classes on histograms whose answer is
// counted by hand.

#include "outputs/classes.hpp"

#include "gp/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace {

using gp::cli::ClassPlan;
using gp::cli::plan_classes;
using gp::geo::FineHistogram;

FineHistogram hist_of(const std::vector<float>& values, std::size_t bins = 65536) {
  float lo = values.front();
  float hi = values.front();
  for (float v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  FineHistogram h = FineHistogram::make(lo, hi, bins);
  for (float v : values) h.add(v);
  return h;
}

std::vector<float> one_to_hundred() {
  std::vector<float> v;
  for (int i = 1; i <= 100; ++i) v.push_back(static_cast<float>(i));
  return v;
}

/// Cells per class 1..N for `values` under `thresholds` (class = 1 + #thresholds <= v).
std::vector<int> count_classes(const std::vector<float>& values, const std::vector<double>& t) {
  std::vector<int> n(t.size() + 2, 0);
  for (float v : values) {
    int c = 1;
    for (double x : t) c += v >= static_cast<float>(x) ? 1 : 0;
    ++n[static_cast<std::size_t>(c)];
  }
  return n;
}

TEST(QuantileClasses, EmptyHistogramGivesEmptyTopClasses) {
  FineHistogram h = FineHistogram::make(0.0, 1.0, 16);
  const auto edges = gp::cli::quantile_edges(h, {2.0, 25.0});
  EXPECT_EQ(edges, (std::vector<std::size_t>{16, 16}));
}

TEST(QuantileClasses, TopPercentOfOneToHundredCountedByHand) {
  // 100 valid cells 1..100: the top 2 % are 99 and 100, the top 5 % 96..100, the top 10 %
  // 91..100, the top 25 % 76..100.
  const auto values = one_to_hundred();
  gp::model::ClassSpec spec;  // quantile, top 2 / 5 / 10 / 25
  const ClassPlan p = plan_classes(spec, hist_of(values));
  EXPECT_EQ(p.method, gp::model::ClassMethod::quantile);
  EXPECT_EQ(p.thresholds, (std::vector<double>{76.0, 91.0, 96.0, 99.0}));
  EXPECT_EQ(count_classes(values, p.thresholds), (std::vector<int>{0, 75, 15, 5, 3, 2}));
  EXPECT_EQ(p.names,
            (std::vector<std::string>{"very low", "low", "moderate", "high", "very high"}));
  EXPECT_EQ(p.labels.back(), "very high (top 2 %)");
  EXPECT_EQ(p.labels[3], "high (top 2-5 %)");
  EXPECT_EQ(p.labels[1], "low (top 10-25 %)");
  EXPECT_EQ(p.labels[0], "very low (below top 25 %)");
}

TEST(QuantileClasses, ThousandCellsWithCoarseBins) {
  // 1000 cells 0..999 in only 100 bins (ten values per bin): the top 2 % (20 cells, 980..999)
  // fall exactly on a bin edge; the top 25 % (250 cells) too.
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(static_cast<float>(i));
  gp::model::ClassSpec spec;
  spec.top = {2.0, 25.0};
  const ClassPlan p = plan_classes(spec, hist_of(values, 100));
  EXPECT_EQ(count_classes(values, p.thresholds), (std::vector<int>{0, 750, 230, 20}));
  // 3 % is 30 cells: the nearest edges hold 30 exactly.
  spec.top = {3.0};
  const ClassPlan q = plan_classes(spec, hist_of(values, 100));
  EXPECT_EQ(count_classes(values, q.thresholds), (std::vector<int>{0, 970, 30}));
  // 2.5 % is 25 cells, between the edges at 20 and 30: a tie keeps the smaller class.
  spec.top = {2.5};
  const ClassPlan r = plan_classes(spec, hist_of(values, 100));
  EXPECT_EQ(count_classes(values, r.thresholds), (std::vector<int>{0, 980, 20}));
}

TEST(QuantileClasses, TiesNeverStraddleAClass) {
  // Half the cells are 0, half are 1. The top 10 % would be 10 cells: the nearest possible
  // split holds 0 cells (|0 - 10| < |50 - 10|), so the top class would be empty and is merged
  // away; the top 40 % split lands on the 50 cells at 1 (|50 - 40| < |0 - 40|).
  std::vector<float> values(50, 0.0f);
  values.insert(values.end(), 50, 1.0f);
  gp::model::ClassSpec spec;
  spec.top = {10.0, 40.0};
  const ClassPlan p = plan_classes(spec, hist_of(values));
  EXPECT_EQ(p.thresholds, (std::vector<double>{1.0}));
  EXPECT_EQ(count_classes(values, p.thresholds), (std::vector<int>{0, 50, 50}));
  EXPECT_EQ(p.names, (std::vector<std::string>{"low", "moderate"}));
  EXPECT_EQ(p.labels, (std::vector<std::string>{"low (below top 50 %)", "moderate (top 50 %)"}));
  EXPECT_NE(p.warning.find("(high)"), std::string::npos) << p.warning;
}

TEST(QuantileClasses, TieHeavyMapLabelsStateTheRealShares) {
  // 100 cells: 60 at 0, 25 at 0.5, 10 at 0.8, 5 at 1. Cells at or above each distinct score:
  // 5 (1), 15 (0.8), 40 (0.5), 100 (0). Top 2 %: |0 - 2| < |5 - 2|, an empty top class;
  // top 5 %: 5 cells exactly; top 10 %: 5 and 15 are both 5 away, the smaller wins, so the
  // 5-10 % class is empty too; top 25 %: 15 (10 away) beats 40 (15 away). So "very high" and
  // "moderate" merge away; "high" holds the top 5 % as asked, "low" the next 10 cells: the top
  // 5-15 % (asked 5-25 %), "very low" the other 85.
  std::vector<float> values(60, 0.0f);
  values.insert(values.end(), 25, 0.5f);
  values.insert(values.end(), 10, 0.8f);
  values.insert(values.end(), 5, 1.0f);
  gp::model::ClassSpec spec;  // top 2 / 5 / 10 / 25
  const ClassPlan p = plan_classes(spec, hist_of(values));
  EXPECT_EQ(p.thresholds, (std::vector<double>{static_cast<double>(0.8f), 1.0}));
  EXPECT_EQ(count_classes(values, p.thresholds), (std::vector<int>{0, 85, 10, 5}));
  EXPECT_EQ(p.names, (std::vector<std::string>{"very low", "low", "high"}));
  EXPECT_EQ(p.labels, (std::vector<std::string>{"very low (below top 15 %)", "low (top 5-15 %)",
                                                "high (top 5 %)"}));
  EXPECT_NE(p.warning.find("(very high, moderate)"), std::string::npos) << p.warning;
  EXPECT_NE(p.warning.find("very low 85 %"), std::string::npos) << p.warning;
  // Without ties the plan says nothing.
  EXPECT_TRUE(plan_classes(spec, hist_of(one_to_hundred())).warning.empty());
}

TEST(NaturalBreaks, ThreeClustersCountedByHand) {
  // {1, 1, 2}, {10, 11, 12}, {50, 51}: the natural classes start at 10 and 50.
  const std::vector<float> values = {1, 1, 2, 10, 11, 12, 50, 51};
  gp::model::ClassSpec spec;
  spec.method = gp::model::ClassMethod::natural;
  spec.n = 3;
  const ClassPlan p = plan_classes(spec, hist_of(values));
  EXPECT_EQ(p.thresholds, (std::vector<double>{10.0, 50.0}));
  EXPECT_EQ(p.names, (std::vector<std::string>{"low", "moderate", "high"}));
  EXPECT_EQ(p.labels[0], "low (< 10)");
  EXPECT_EQ(p.labels[1], "moderate (10 to 50)");
  EXPECT_EQ(p.labels[2], "high (>= 50)");
  // Two classes: splitting before 50 leaves 142.83 + 0.5 of squared deviations; before 10,
  // 0.67 + 1874.8. So {1..12} and {50, 51}.
  spec.n = 2;
  EXPECT_EQ(plan_classes(spec, hist_of(values)).thresholds, (std::vector<double>{50.0}));
}

TEST(NaturalBreaks, EvenlySpacedEqualWeightsSplitInTheMiddle) {
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(static_cast<float>(i) / 1000.0f);
  gp::model::ClassSpec spec;
  spec.method = gp::model::ClassMethod::natural;
  spec.n = 2;
  const ClassPlan p = plan_classes(spec, hist_of(values));
  EXPECT_EQ(count_classes(values, p.thresholds), (std::vector<int>{0, 500, 500}));
}

TEST(NaturalBreaks, FewerDistinctValuesThanClasses) {
  const std::vector<float> values = {3, 3, 7};
  gp::model::ClassSpec spec;
  spec.method = gp::model::ClassMethod::natural;
  spec.n = 4;
  const ClassPlan p = plan_classes(spec, hist_of(values));
  ASSERT_EQ(p.thresholds.size(), 3u);
  EXPECT_EQ(count_classes(values, p.thresholds), (std::vector<int>{0, 2, 1, 0, 0}));
}

TEST(UserBreaks, BreaksAndNames) {
  gp::model::ClassSpec spec;
  spec.method = gp::model::ClassMethod::breaks;
  spec.breaks = {0.3, 0.5, 0.7};
  spec.names = {"background", "weak", "fair", "strong"};
  const ClassPlan p = plan_classes(spec, hist_of({0.0f, 1.0f}));
  EXPECT_EQ(p.thresholds, spec.breaks);
  EXPECT_EQ(p.names, spec.names);
  EXPECT_EQ(p.labels, (std::vector<std::string>{"background (< 0.3)", "weak (0.3 to 0.5)",
                                                "fair (0.5 to 0.7)", "strong (>= 0.7)"}));
}

TEST(DefaultClassNames, ByCount) {
  EXPECT_EQ(gp::cli::default_class_names(2), (std::vector<std::string>{"low", "high"}));
  EXPECT_EQ(gp::cli::default_class_names(4).back(), "very high");
  EXPECT_EQ(gp::cli::default_class_names(7).front(), "class 1");
  EXPECT_EQ(gp::cli::default_class_names(7).back(), "class 7");
}

TEST(EdgeValue, SmallestValueAtOrAboveTheEdge) {
  const FineHistogram h = hist_of({1.0f, 2.0f, 4.0f}, 3);  // bins [1,2) [2,3) [3,4]
  EXPECT_EQ(gp::cli::edge_value(h, 0), 1.0);
  EXPECT_EQ(gp::cli::edge_value(h, 1), 2.0);
  EXPECT_EQ(gp::cli::edge_value(h, 2), 4.0);
  EXPECT_GT(gp::cli::edge_value(h, 3), 4.0);
  EXPECT_LT(gp::cli::edge_value(h, 3), 4.0001);
}

}  // namespace
