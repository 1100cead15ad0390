// Validation: success-rate / ROC AUC, curves and capture efficiency against values
// worked out by hand (ties, nodata, shared cells), against brute-force pairwise rank statistics
// on random maps, the exact rank counter against a direct count, fold assignment, and the
// `geoprospect validate` command end to end.

#include "analysis/validation.hpp"
#include "gp/error.hpp"
#include "gp/kernels/rank.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogrsf_frmts.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <tuple>

namespace {

namespace fs = std::filesystem;
using gp::cli::RankedDeposit;
using gp::cli::ValidateOptions;
using gp::cli::ValidationResult;

constexpr double nd = -9999.0;
const float NaNf = std::numeric_limits<float>::quiet_NaN();

/// A map on a 1-degree EPSG:4326 grid with its top-left corner at (120 E, 26 S); cell (c, r)
/// has its centre at (120.5 + c, -26.5 - r).
fs::path write_map(const fs::path& dir, int w, int h, const std::vector<float>& v) {
  const fs::path p = dir / "map.tif";
  gp::test::write_raster(p, "EPSG:4326", 120, -26, 1, 1, w, h, v, &nd);
  return p;
}

struct Dep {
  std::string name;
  int col;
  int row;
};

fs::path write_deposits(const fs::path& dir, const std::vector<Dep>& deps,
                        const std::vector<std::string>& regions = {}) {
  const fs::path p = dir / "deposits.csv";
  std::ofstream out(p);
  out << "name,lon,lat,region\n";
  for (std::size_t i = 0; i < deps.size(); ++i) {
    out << deps[i].name << "," << 120.5 + deps[i].col << "," << -26.5 - deps[i].row << ","
        << (i < regions.size() ? regions[i] : "r") << "\n";
  }
  return p;
}

ValidateOptions options(const fs::path& map, const fs::path& csv) {
  ValidateOptions o;
  o.map = map;
  o.deposits.source.path = csv.string();
  o.deposits.source.x_column = "lon";
  o.deposits.source.y_column = "lat";
  o.deposits.name_column = "name";
  o.device = gp::cli::DeviceChoice::cpu;
  o.capture_percent = {10, 20, 35, 40, 50};
  return o;
}

double capture_at(const gp::cli::RateSummary& s, double p) {
  for (const auto& [pp, f] : s.capture)
    if (pp == p) return f;
  return NaNf;
}

/// Trapezoid area under a polyline.
double trapezoid(const std::vector<gp::cli::CurvePoint>& pts) {
  double a = 0.0;
  for (std::size_t i = 1; i < pts.size(); ++i) {
    a += (pts[i].x - pts[i - 1].x) * 0.5 * (pts[i].y + pts[i - 1].y);
  }
  return a;
}

// ---- edge cases first ---------------------------------------------------------------------

TEST(RankKeys, OrderAndSignedZero) {
  const std::vector<float> v = {-std::numeric_limits<float>::infinity(), -3.5f, -1e-30f, -0.0f,
                                0.0f, 1e-30f, 0.25f, 1.0f, 3e38f};
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i - 1] == v[i]) {
      EXPECT_EQ(gp::kernels::sortable_key(v[i - 1]), gp::kernels::sortable_key(v[i]));
    } else {
      EXPECT_LT(gp::kernels::sortable_key(v[i - 1]), gp::kernels::sortable_key(v[i])) << i;
    }
    EXPECT_EQ(gp::kernels::key_to_float(gp::kernels::sortable_key(v[i])), v[i] == 0 ? 0.0f : v[i]);
  }
}

TEST(RankCounter, EmptyEdgesCountEveryValidCell) {
  auto c = gp::kernels::make_rank_counter_cpu({}, 2);
  const std::vector<float> v = {1.0f, NaNf, 2.0f, std::numeric_limits<float>::infinity()};
  c->add(v.data(), v.size());
  ASSERT_EQ(c->counts().size(), 1u);
  EXPECT_EQ(c->counts()[0], 2u);
  EXPECT_EQ(c->invalid(), 2u);
}

TEST(RankCounter, MatchesDirectCountOnRandomData) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> q(0, 40);
  std::vector<float> data(100003);
  for (auto& x : data) x = q(rng) == 0 ? NaNf : static_cast<float>(q(rng)) / 8.0f - 2.0f;
  data[5] = -0.0f;
  const std::vector<float> edge_values = {0.0f, 1.5f, -2.0f, 1.5f, 3.125f, NaNf};
  const auto edges = gp::kernels::edge_keys(edge_values);
  ASSERT_EQ(edges.size(), 4u);
  auto c = gp::kernels::make_rank_counter_cpu(edges, 3);
  c->add(data.data(), 50000);  // two windows
  c->add(data.data() + 50000, data.size() - 50000);
  const auto counts = c->counts();
  const std::vector<float> e = {-2.0f, 0.0f, 1.5f, 3.125f};
  std::vector<std::uint64_t> want(9, 0);
  std::uint64_t invalid = 0;
  for (float x : data) {
    if (std::isnan(x)) {
      ++invalid;
      continue;
    }
    std::size_t slot = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (x == e[i]) slot = 2 * i + 1;
      else if (x > e[i]) slot = 2 * i + 2;
    }
    ++want[slot];
  }
  EXPECT_EQ(counts, want);
  EXPECT_EQ(c->invalid(), invalid);
}

// Many edges in one 16-bit key bucket (consecutive floats around 0.7), edges far apart, and
// values on, between and beside them, on both sides of zero: the counter's bucket table must
// give the slots a direct comparison with every edge gives.
TEST(RankCounter, MatchesDirectCountWithManyEdgesPerBucket) {
  std::vector<float> edge_values;
  float f = 0.7f;
  for (int i = 0; i < 300; ++i, f = std::nextafter(f, 1.0f)) {
    if (i % 3 != 1) edge_values.push_back(f);  // gaps: some neighbours are not edges
  }
  for (float v : {-1e30f, -3.5f, -0.7f, 0.0f, 1e-30f, 2.0f, 1e30f}) edge_values.push_back(v);
  const auto edges = gp::kernels::edge_keys(edge_values);
  std::vector<float> e(edge_values);
  std::sort(e.begin(), e.end());
  ASSERT_EQ(edges.size(), e.size());
  std::mt19937 rng(11);
  std::vector<float> data;
  for (int i = 0; i < 60000; ++i) {
    const float base = e[rng() % e.size()];
    switch (rng() % 4) {
      case 0: data.push_back(base); break;
      case 1: data.push_back(std::nextafter(base, INFINITY)); break;
      case 2: data.push_back(std::nextafter(base, -INFINITY)); break;
      default: data.push_back(std::ldexp(static_cast<float>(rng() % 2000) - 1000.0f, static_cast<int>(rng() % 200) - 100));
    }
  }
  auto c = gp::kernels::make_rank_counter_cpu(edges, 2);
  c->add(data.data(), data.size());
  std::vector<std::uint64_t> want(2 * e.size() + 1, 0);
  for (float x : data) {
    std::size_t slot = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (x == e[i]) slot = 2 * i + 1;
      else if (x > e[i]) slot = 2 * i + 2;
    }
    ++want[slot];
  }
  EXPECT_EQ(c->counts(), want);
}

TEST(Validation, NoDepositOnValidCellIsAnInputError) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 2, 1, {0.5f, static_cast<float>(nd)});
  const auto csv = write_deposits(dir, {{"OnNodata", 1, 0}, {"Outside", 5, 0}});
  EXPECT_THROW(gp::cli::validate_map(options(map, csv)), gp::input_error);
}

TEST(Validation, BadBandIsAConfigError) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 2, 1, {0.5f, 0.2f});
  const auto csv = write_deposits(dir, {{"A", 0, 0}});
  auto o = options(map, csv);
  o.band = 2;
  EXPECT_THROW(gp::cli::validate_map(o), gp::config_error);
}

// ---- hand-worked values ---------------------------------------------------------------------

// Ten distinct scores 0.9, 0.8, ..., 0.0; deposits on the cells scoring 0.9 and 0.6.
//   G = 0 and 3, E = 1 and 1, N = 10: success AUC = 1 - ((0 + .5) + (3 + .5)) / 2 / 10 = 0.8.
//   ROC: P = 2, Q = 8; 0.9 beats 8 negatives, 0.6 beats 6: AUC = 14 / 16 = 0.875.
//   Capture: top 10 % (1 cell) and 20 % hold 1 of 2 deposits; 35 % (3.5 cells) half of the
//   0.6 cell more: 0.75; 40 %: both.
TEST(Validation, HandWorkedDistinctScores) {
  const fs::path dir = gp::test::scratch_dir();
  std::vector<float> v;
  for (int i = 0; i < 10; ++i) v.push_back(static_cast<float>(9 - i) / 10.0f);
  const auto map = write_map(dir, 5, 2, v);
  const auto csv = write_deposits(dir, {{"Top", 0, 0}, {"Fourth", 3, 0}});
  const ValidationResult r = gp::cli::validate_map(options(map, csv));
  EXPECT_EQ(r.valid_cells, 10u);
  EXPECT_EQ(r.nodata_cells, 0u);
  ASSERT_EQ(r.deposits.size(), 2u);
  EXPECT_NEAR(r.all.auc, 0.8, 1e-12);
  EXPECT_NEAR(r.all.roc_auc, 0.875, 1e-12);
  EXPECT_NEAR(capture_at(r.all, 10), 0.5, 1e-12);
  EXPECT_NEAR(capture_at(r.all, 20), 0.5, 1e-12);
  EXPECT_NEAR(capture_at(r.all, 35), 0.75, 1e-12);
  EXPECT_NEAR(capture_at(r.all, 40), 1.0, 1e-12);
  EXPECT_NEAR(trapezoid(r.all.curve), 0.8, 1e-12);
  EXPECT_NEAR(trapezoid(r.all.roc), 0.875, 1e-12);
}

// Scores (row-major, 4 x 2): 0.5 0.5 0.5 0.5 / 0.2 0.2 nodata 0.9; N = 7 valid cells.
// Deposits: A on a 0.5 cell, B on a 0.2 cell, C on the nodata cell (left out, by name),
// D outside the map (left out).
//   A: G = 1 (the 0.9), E = 4; B: G = 5, E = 2.
//   success AUC = 1 - ((1 + 2) / 7 + (5 + 1) / 7) / 2 = 1 - 9 / 14 = 5 / 14.
//   ROC: P = 2, Q = 5. A: negatives below = 2 - 1 (B) = 1, equal = 3 -> 2.5;
//        B: below 0, equal 1 -> 0.5; AUC = 3 / 10.
//   Capture top 20 % (1.4 cells): A gets (1.4 - 1) / 4 = 0.1 -> 0.05; top 50 % (3.5): 0.3125.
//   Curve: (0,0) (1/7,0) (5/7,1/2) (5/7,1/2) (1,1) (1,1).
TEST(Validation, HandWorkedTiesAndNodata) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 4, 2,
                             {0.5f, 0.5f, 0.5f, 0.5f, 0.2f, 0.2f, static_cast<float>(nd), 0.9f});
  const auto csv =
      write_deposits(dir, {{"A", 1, 0}, {"B", 0, 1}, {"C", 2, 1}, {"D", 9, 0}});
  const ValidationResult r = gp::cli::validate_map(options(map, csv));
  EXPECT_EQ(r.valid_cells, 7u);
  EXPECT_EQ(r.nodata_cells, 1u);
  ASSERT_EQ(r.deposits.size(), 2u);
  ASSERT_EQ(r.rejected.size(), 2u);
  std::map<std::string, std::string> why;
  for (const auto& d : r.rejected) why[d.name] = d.reason;
  EXPECT_EQ(why["C"], "on a nodata cell");
  EXPECT_EQ(why["D"], "outside the grid");
  EXPECT_EQ(r.deposits[0].above, 1u);
  EXPECT_EQ(r.deposits[0].equal, 4u);
  EXPECT_EQ(r.deposits[1].above, 5u);
  EXPECT_EQ(r.deposits[1].equal, 2u);
  EXPECT_NEAR(r.all.auc, 5.0 / 14.0, 1e-12);
  EXPECT_NEAR(r.all.roc_auc, 0.3, 1e-12);
  auto o = options(map, csv);
  o.capture_percent = {20, 50};
  const ValidationResult r2 = gp::cli::validate_map(o);
  EXPECT_NEAR(capture_at(r2.all, 20), 0.05, 1e-12);
  EXPECT_NEAR(capture_at(r2.all, 50), 0.3125, 1e-12);
  const std::vector<std::pair<double, double>> want = {
      {0, 0}, {1.0 / 7, 0}, {5.0 / 7, 0.5}, {5.0 / 7, 0.5}, {1, 1}, {1, 1}};
  ASSERT_EQ(r.all.curve.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(r.all.curve[i].x, want[i].first, 1e-12) << i;
    EXPECT_NEAR(r.all.curve[i].y, want[i].second, 1e-12) << i;
  }
  EXPECT_NEAR(trapezoid(r.all.curve), 5.0 / 14.0, 1e-12);
}

// Two deposits in the 0.9 cell and one in the 0.6 cell of the first map: the success rate
// counts three deposits (G = 0, 0, 3): AUC = 1 - (0.05 + 0.05 + 0.35) / 3 = 0.85; the ROC has
// two positive cells, as in HandWorkedDistinctScores: 0.875.
TEST(Validation, SharedCellCountsEachDepositOncePositiveOnce) {
  const fs::path dir = gp::test::scratch_dir();
  std::vector<float> v;
  for (int i = 0; i < 10; ++i) v.push_back(static_cast<float>(9 - i) / 10.0f);
  const auto map = write_map(dir, 5, 2, v);
  const auto csv = write_deposits(dir, {{"Top1", 0, 0}, {"Top2", 0, 0}, {"Fourth", 3, 0}});
  const ValidationResult r = gp::cli::validate_map(options(map, csv));
  EXPECT_NEAR(r.all.auc, 0.85, 1e-12);
  EXPECT_EQ(r.all.cells, 2u);
  EXPECT_NEAR(r.all.roc_auc, 0.875, 1e-12);
  ASSERT_EQ(r.shared_cells.size(), 1u);
  EXPECT_EQ(r.shared_cells[0], (std::vector<std::string>{"Top1", "Top2"}));
}

// ---- prediction-area (P-A) plot ---------------------------------------------------------------

// The P-A curve as (threshold, deposits %, area %) rows.
using PaRow = std::tuple<double, double, double>;

/// The curve equals `want`: thresholds exactly (Float32 scores), shares within 1e-12 %.
void expect_pa_rows(const gp::cli::PredictionArea& pa, const std::vector<PaRow>& want) {
  ASSERT_EQ(pa.curve.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(pa.curve[i].threshold, std::get<0>(want[i])) << i;
    EXPECT_NEAR(pa.curve[i].deposits_pct, std::get<1>(want[i]), 1e-12) << i;
    EXPECT_NEAR(pa.curve[i].area_pct, std::get<2>(want[i]), 1e-12) << i;
  }
}

// Ten cells (row-major, 5 x 2): 10 9 8 8 6 / 5 4 3 2 1; four deposits, on the 10, the first
// 8, the 6 and the 2. N = 10 cells, D = 4 deposits; per threshold t, "cells >= t" and
// "deposits >= t" counted by eye, then "> t" (the second row at a deposit score):
//   t = 1 (map min): 10 cells, 4 deposits        -> 100 %, 100 %
//   t = 2:  >= 9 cells, 4 deposits -> area 90, deposits 100;  > 8 cells, 3 -> 80, 75
//   t = 6:  >= 5 cells, 3 deposits -> 50, 75;                 > 4 cells, 2 -> 40, 50
//   t = 8:  >= 4 cells, 2 deposits -> 40, 50;                 > 2 cells, 1 -> 20, 25
//   t = 10: >= 1 cell, 1 deposit   -> 10, 25;                 > nothing    ->  0,  0
// (the map max 10 is a deposit score, so no extra end row). Deposits % + area % - 100 along
// the rows: 100, 90, 55, 25, -10, ...: the crossing is inside the tie at t = 6, between
// (75, 50) and (50, 40): w = 25 / (25 + 10) = 5/7, deposits = 75 - 25 * 5/7 = 400/7 %
// (57.14), area = 50 - 10 * 5/7 = 300/7 % (42.86), density P/A = 4/3, t = 6, normalised
// (6 - 1) / (10 - 1) = 5/9.
const std::vector<float> pa_tie_map = {10, 9, 8, 8, 6, 5, 4, 3, 2, 1};
const std::vector<Dep> pa_tie_deposits = {{"A", 0, 0}, {"B", 2, 0}, {"C", 4, 0}, {"D", 3, 1}};
const std::vector<PaRow> pa_tie_rows = {{1, 100, 100}, {2, 100, 90}, {2, 75, 80},
                                        {6, 75, 50},   {6, 50, 40},  {8, 50, 40},
                                        {8, 25, 20},   {10, 25, 10}, {10, 0, 0}};

TEST(PredictionArea, HandWorkedCrossingInsideATie) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 5, 2, pa_tie_map);
  const auto csv = write_deposits(dir, pa_tie_deposits);
  const ValidationResult r = gp::cli::validate_map(options(map, csv));
  EXPECT_EQ(r.score_min, 1.0);
  EXPECT_EQ(r.score_max, 10.0);
  expect_pa_rows(r.prediction_area, pa_tie_rows);
  const gp::cli::PredictionArea& pa = r.prediction_area;
  EXPECT_NEAR(pa.threshold, 6.0, 1e-12);
  EXPECT_NEAR(pa.threshold_normalised, 5.0 / 9.0, 1e-12);
  EXPECT_NEAR(pa.deposits_pct, 400.0 / 7.0, 1e-9);
  EXPECT_NEAR(pa.area_pct, 300.0 / 7.0, 1e-9);
  EXPECT_NEAR(pa.normalised_density, 4.0 / 3.0, 1e-12);
}

// Ten distinct cells 10 9 8 7 6 / 5 4 3 2 1, deposits on 10, 9, 3 and 2; map min 1, max 10:
//   t = 1: 100, 100 | t = 2: >= 90 % area, 100 % deposits; > 80, 75 | t = 3: >= 80, 75; > 70, 50
//   t = 9: >= 20, 50; > 10, 25 | t = 10: >= 10, 25; > 0, 0.
// Deposits % + area % - 100: ..., at (3, 50, 70) +20, at (9, 50, 20) -30: the crossing lies
// between the deposit scores 3 and 9, where the deposits stay at 50 %: w = 20 / 50 = 0.4,
// area = 70 - 0.4 * 50 = 50 %, deposits 50 %, density 1, t = 3 + 0.4 * (9 - 3) = 5.4
// (interpolated: the cells between 3 and 9 are counted, not sorted), normalised 4.4 / 9.
TEST(PredictionArea, HandWorkedCrossingBetweenDepositScores) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 5, 2, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  const auto csv = write_deposits(dir, {{"A", 0, 0}, {"B", 1, 0}, {"C", 2, 1}, {"D", 3, 1}});
  const ValidationResult r = gp::cli::validate_map(options(map, csv));
  const std::vector<PaRow> want = {{1, 100, 100}, {2, 100, 90}, {2, 75, 80},  {3, 75, 80},
                                   {3, 50, 70},   {9, 50, 20},  {9, 25, 10},  {10, 25, 10},
                                   {10, 0, 0}};
  expect_pa_rows(r.prediction_area, want);
  const gp::cli::PredictionArea& pa = r.prediction_area;
  EXPECT_NEAR(pa.threshold, 5.4, 1e-12);
  EXPECT_NEAR(pa.threshold_normalised, 4.4 / 9.0, 1e-12);
  EXPECT_NEAR(pa.deposits_pct, 50.0, 1e-12);
  EXPECT_NEAR(pa.area_pct, 50.0, 1e-12);
  EXPECT_NEAR(pa.normalised_density, 1.0, 1e-12);
}

// The map's ends off the deposit scores: values 0.5 .. 4.5 by 0.5 plus nodata, one deposit on
// 2 and one on 3 (exact in binary). N = 9 valid cells: t = 0.5 (min): 100, 100; t = 2: >= 6
// cells (2 .. 4.5) = 66.67 %, 2 deposits = 100 %; > 5 cells 55.56 %, 1 deposit 50 %; t = 3:
// >= 4 cells 44.44 %, 50 %; > 3 cells 33.33 %, 0 %; t = 4.5 (max, above every deposit): 0, 0.
TEST(PredictionArea, MapEndsBeyondTheDepositsAndNodataLeftOut) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 5, 2, {0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, static_cast<float>(nd)});
  const auto csv = write_deposits(dir, {{"Two", 3, 0}, {"Three", 0, 1}});
  const ValidationResult r = gp::cli::validate_map(options(map, csv));
  expect_pa_rows(r.prediction_area, {{0.5, 100, 100}, {2, 100, 600.0 / 9}, {2, 50, 500.0 / 9},
                                     {3, 50, 400.0 / 9}, {3, 0, 300.0 / 9}, {4.5, 0, 0}});
  // Sum - 100 at (2, 50, 55.56) = +5.56, at (3, 50, 44.44) = -5.56: w = 1/2, t = 2.5,
  // 50 % of deposits in 50 % of the area.
  EXPECT_NEAR(r.prediction_area.threshold, 2.5, 1e-12);
  EXPECT_NEAR(r.prediction_area.threshold_normalised, 0.5, 1e-12);
  EXPECT_NEAR(r.prediction_area.deposits_pct, 50.0, 1e-12);
  EXPECT_NEAR(r.prediction_area.area_pct, 50.0, 1e-12);
}

// ---- independent rank statistics on random maps --------------------------------------------

TEST(Validation, MatchesBruteForcePairwiseRanksOnRandomMap) {
  const fs::path dir = gp::test::scratch_dir();
  const int w = 173;
  const int h = 131;  // not multiples of anything; several windows below
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> level(0, 60);  // many ties
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> v(static_cast<std::size_t>(w) * h);
  for (auto& x : v) x = u(rng) < 0.1 ? static_cast<float>(nd) : static_cast<float>(level(rng)) / 60.0f;
  const auto map = write_map(dir, w, h, v);
  std::vector<Dep> deps;
  std::uniform_int_distribution<int> cc(0, w - 1);
  std::uniform_int_distribution<int> rr(0, h - 1);
  for (int i = 0; i < 60; ++i) {
    // Deposits lean towards high scores, some share a cell, some sit on nodata.
    int c = cc(rng);
    int r = rr(rng);
    for (int t = 0; t < 3; ++t) {
      const int c2 = cc(rng);
      const int r2 = rr(rng);
      if (v[static_cast<std::size_t>(r2) * w + c2] > v[static_cast<std::size_t>(r) * w + c]) {
        c = c2;
        r = r2;
      }
    }
    deps.push_back({"d" + std::to_string(i), c, r});
    if (i % 10 == 0) deps.push_back({"twin" + std::to_string(i), c, r});
  }
  const auto csv = write_deposits(dir, deps);
  auto o = options(map, csv);
  o.window_cells = 1000;  // 5 rows per window
  o.capture_percent = {1, 2, 5, 10, 20};
  const ValidationResult r = gp::cli::validate_map(o);

  // Brute force: every valid cell, every deposit.
  std::vector<float> valid;
  for (float x : v)
    if (x != static_cast<float>(nd)) valid.push_back(x);
  const double n = static_cast<double>(valid.size());
  std::vector<float> dep_scores;
  std::set<std::pair<int, int>> dep_cells;
  std::vector<float> pos;
  for (const auto& d : deps) {
    const float s = v[static_cast<std::size_t>(d.row) * w + d.col];
    if (s == static_cast<float>(nd)) continue;
    dep_scores.push_back(s);
    if (dep_cells.insert({d.col, d.row}).second) pos.push_back(s);
  }
  ASSERT_EQ(r.deposits.size(), dep_scores.size());
  ASSERT_EQ(r.valid_cells, valid.size());
  // Success AUC: mean over deposits of P(deposit score beats a random valid cell), ties half.
  double sum = 0.0;
  for (float s : dep_scores) {
    double beat = 0.0;
    for (float c : valid) beat += s > c ? 1.0 : (s == c ? 0.5 : 0.0);
    sum += beat / n;
  }
  EXPECT_NEAR(r.all.auc, sum / static_cast<double>(dep_scores.size()), 1e-9);
  // ROC AUC: positives = deposit cells, negatives = the other valid cells (Mann-Whitney).
  std::vector<float> neg;
  for (int rr2 = 0; rr2 < h; ++rr2) {
    for (int c2 = 0; c2 < w; ++c2) {
      const float x = v[static_cast<std::size_t>(rr2) * w + c2];
      if (x != static_cast<float>(nd) && dep_cells.count({c2, rr2}) == 0) neg.push_back(x);
    }
  }
  double uu = 0.0;
  for (float p : pos)
    for (float q : neg) uu += p > q ? 1.0 : (p == q ? 0.5 : 0.0);
  EXPECT_NEAR(r.all.roc_auc, uu / (static_cast<double>(pos.size()) * static_cast<double>(neg.size())), 1e-9);
  // Capture: cells sorted high to low; a tie group straddling the cut contributes its deposits
  // in proportion to the part of the group inside the cut.
  std::vector<float> sorted = valid;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  for (const auto& [p, got] : r.all.capture) {
    const double cut = p / 100.0 * n;
    double captured = 0.0;
    for (float s : dep_scores) {
      const auto first = std::lower_bound(sorted.begin(), sorted.end(), s, std::greater<>()) - sorted.begin();
      const auto last = std::upper_bound(sorted.begin(), sorted.end(), s, std::greater<>()) - sorted.begin();
      const double inside = std::clamp(cut - static_cast<double>(first), 0.0,
                                       static_cast<double>(last - first));
      captured += inside / static_cast<double>(last - first);
    }
    EXPECT_NEAR(got, captured / static_cast<double>(dep_scores.size()), 1e-12) << p;
  }
  EXPECT_NEAR(trapezoid(r.all.curve), r.all.auc, 1e-12);
  EXPECT_NEAR(trapezoid(r.all.roc), r.all.roc_auc, 1e-12);
}

// A tiled map wider than a column segment whose block rows do not fit the window: validate
// reads one row of blocks in column windows (each block decoded once, memory bounded by the
// window). The counts are integers, so every figure equals one whole-map window's, and the
// valid count is the brute-force one.
TEST(Validation, WideTiledMapInColumnWindowsSameAsOneWindow) {
  const fs::path dir = gp::test::scratch_dir();
  const int w = 8192 + 600;
  const int h = 300;
  std::vector<float> v(static_cast<std::size_t>(w) * h);
  std::uint64_t valid = 0;
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const bool hole = (r * 31 + c * 17) % 89 == 0;
      const float x = static_cast<float>(((r * 7 + c * 3) % 1000) / 1000.0);
      v[static_cast<std::size_t>(r) * w + c] = hole ? static_cast<float>(nd) : x;
      valid += hole ? 0 : 1;
    }
  }
  const fs::path strips = write_map(dir, w, h, v);
  const fs::path tiled = dir / "tiled.tif";
  {
    GDALDataset* src = static_cast<GDALDataset*>(GDALOpen(strips.c_str(), GA_ReadOnly));
    ASSERT_NE(src, nullptr);
    const char* co[] = {"TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", nullptr};
    GDALDataset* dst = GetGDALDriverManager()->GetDriverByName("GTiff")->CreateCopy(
        tiled.c_str(), src, FALSE, const_cast<char**>(co), nullptr, nullptr);
    ASSERT_NE(dst, nullptr);
    GDALClose(dst);
    GDALClose(src);
  }
  std::vector<Dep> deps;
  for (int i = 0; i < 40; ++i) deps.push_back({"d" + std::to_string(i), (i * 211) % w, (i * 7) % h});
  const auto csv = write_deposits(dir, deps);
  auto small = options(tiled, csv);
  small.window_cells = 1 << 16;  // 7 full-width rows: less than a block row -> column windows
  auto whole = options(tiled, csv);
  whole.window_cells = static_cast<std::int64_t>(w) * h;
  const ValidationResult a = gp::cli::validate_map(small);
  const ValidationResult b = gp::cli::validate_map(whole);
  EXPECT_EQ(a.valid_cells, valid);
  EXPECT_EQ(b.valid_cells, valid);
  EXPECT_EQ(a.nodata_cells, b.nodata_cells);
  ASSERT_EQ(a.deposits.size(), b.deposits.size());
  EXPECT_EQ(a.all.auc, b.all.auc);
  EXPECT_EQ(a.all.roc_auc, b.all.roc_auc);
  for (std::size_t i = 0; i < a.deposits.size(); ++i) {
    EXPECT_EQ(a.deposits[i].score, b.deposits[i].score) << i;
  }
}

// ---- folds ------------------------------------------------------------------------------------

std::vector<RankedDeposit> fake_deposits(int n) {
  std::vector<RankedDeposit> d(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    d[static_cast<std::size_t>(i)].name = "d" + std::to_string(i);
    d[static_cast<std::size_t>(i)].col = i / 2;  // pairs share a cell
    d[static_cast<std::size_t>(i)].group = "g" + std::to_string(i % 5);
  }
  return d;
}

TEST(Folds, KFoldCoversEveryDepositKeepsCellsTogetherAndIsSeeded) {
  auto a = fake_deposits(40);
  ASSERT_EQ(gp::cli::assign_folds(a, 0.0, 4, 9, false), 4);
  std::vector<int> per(4, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_GE(a[i].fold, 0);
    ASSERT_LT(a[i].fold, 4);
    ++per[static_cast<std::size_t>(a[i].fold)];
    if (i % 2 == 1) {
      EXPECT_EQ(a[i].fold, a[i - 1].fold);  // same cell, same fold
    }
  }
  for (int c : per) EXPECT_EQ(c, 10);  // 20 cells dealt round robin: 5 cells each
  auto b = fake_deposits(40);
  gp::cli::assign_folds(b, 0.0, 4, 9, false);
  auto c = fake_deposits(40);
  gp::cli::assign_folds(c, 0.0, 4, 10, false);
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].fold, b[i].fold);
    differs = differs || a[i].fold != c[i].fold;
  }
  EXPECT_TRUE(differs);
}

TEST(Folds, HoldoutFractionAndGroups) {
  auto a = fake_deposits(40);
  ASSERT_EQ(gp::cli::assign_folds(a, 0.25, 0, 3, false), 1);
  int held = 0;
  for (const auto& d : a) held += d.fold == 0 ? 1 : 0;
  EXPECT_EQ(held, 10);  // 5 cells of 2
  auto g = fake_deposits(40);
  ASSERT_EQ(gp::cli::assign_folds(g, 0.0, 5, 3, true), 5);
  std::map<std::string, int> fold_of_group;
  for (const auto& d : g) {
    auto [it, fresh] = fold_of_group.emplace(d.group, d.fold);
    if (!fresh) {
      EXPECT_EQ(it->second, d.fold) << d.group;
    }
  }
  auto few = fake_deposits(4);
  EXPECT_THROW(gp::cli::assign_folds(few, 0.0, 5, 1, false), gp::config_error);
}

TEST(Validation, KFoldPredictionRatesUseHeldOutDeposits) {
  const fs::path dir = gp::test::scratch_dir();
  std::vector<float> v;
  for (int i = 0; i < 100; ++i) v.push_back(static_cast<float>(i % 37) / 37.0f);
  const auto map = write_map(dir, 10, 10, v);
  std::vector<Dep> deps;
  for (int i = 0; i < 12; ++i) deps.push_back({"d" + std::to_string(i), (i * 7) % 10, (i * 3) % 10});
  const auto csv = write_deposits(dir, deps);
  auto o = options(map, csv);
  o.kfold = 3;
  o.seed = 5;
  const ValidationResult r = gp::cli::validate_map(o);
  ASSERT_EQ(r.folds.size(), 3u);
  std::size_t total = 0;
  for (const auto& f : r.folds) {
    // The fold's AUC from its own deposits, by the closed form on the ranks.
    std::vector<const RankedDeposit*> held;
    for (const auto& d : r.deposits)
      if (d.fold == f.fold) held.push_back(&d);
    double s = 0.0;
    for (const auto* d : held) s += (static_cast<double>(d->above) + 0.5 * static_cast<double>(d->equal)) / 100.0;
    EXPECT_NEAR(f.prediction.auc, 1.0 - s / static_cast<double>(held.size()), 1e-12);
    EXPECT_EQ(f.prediction.deposits + f.training.deposits, r.deposits.size());
    total += f.prediction.deposits;
  }
  EXPECT_EQ(total, r.deposits.size());
}

// ---- the command ------------------------------------------------------------------------------

TEST(ValidateCli, WritesJsonCsvSvgAndNamesLeftOutDeposits) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 4, 2,
                             {0.5f, 0.5f, 0.5f, 0.5f, 0.2f, 0.2f, static_cast<float>(nd), 0.9f});
  const auto csv = write_deposits(dir, {{"A", 1, 0}, {"B", 0, 1}, {"C", 2, 1}});
  const auto res = gp::test::run_cli({"validate", map.string(), "--deposits", csv.string(),
                                      "--x-column", "lon", "--y-column", "lat", "--name-column",
                                      "name", "--device", "cpu", "--out", dir.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  // C on the nodata cell: one line with the count, the reason and the name.
  EXPECT_NE(res.err.find("1 deposit left out (1 on a nodata cell): 'C'"), std::string::npos)
      << res.err;
  std::ifstream in(dir / "map_validation.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_NEAR(j["success_rate"]["auc"].get<double>(), 5.0 / 14.0, 1e-12);
  EXPECT_NEAR(j["success_rate"]["roc_auc"].get<double>(), 0.3, 1e-12);
  EXPECT_EQ(j["deposits_left_out"][0]["name"], "C");
  const std::string svg = gp::test::file_bytes(dir / "map_validation.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("AUC = 0.3571"), std::string::npos);
  const auto csv_lines = gp::test::lines(gp::test::file_bytes(dir / "map_success_rate.csv"));
  ASSERT_GE(csv_lines.size(), 2u);
  EXPECT_EQ(csv_lines[0], "curve,fold,area_fraction,deposit_fraction,score");
  EXPECT_TRUE(fs::exists(dir / "map_roc.csv"));
  // A second run without --overwrite refuses to replace the outputs.
  const auto again = gp::test::run_cli({"validate", map.string(), "--deposits", csv.string(),
                                        "--x-column", "lon", "--y-column", "lat", "--out",
                                        dir.string()});
  EXPECT_EQ(again.exit_code, 5) << again.err;
}

// --kfold on the P-A map above: the prediction-area CSV holds the hand-worked rows, the JSON
// the crossing, `retrained: false`, random folds and the note, the plot says the same, and the
// line saying the folds are re-scored, not retrained, comes once on stderr.
TEST(ValidateCli, KFoldSaysNotRetrainedOnceAndWritesThePredictionArea) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 5, 2, pa_tie_map);
  const auto csv = write_deposits(dir, pa_tie_deposits, {"n", "n", "s", "s"});
  const std::vector<std::string> base{"validate", map.string(), "--deposits", csv.string(),
                                      "--x-column", "lon", "--y-column", "lat", "--name-column",
                                      "name", "--device", "cpu", "--out", dir.string(),
                                      "--overwrite"};
  auto args = base;
  args.insert(args.end(), {"--kfold", "2", "--seed", "1"});
  const auto res = gp::test::run_cli(args);
  ASSERT_EQ(res.exit_code, 0) << res.err;
  std::size_t said = 0;
  for (const auto& line : gp::test::lines(res.err)) {
    if (line.find("re-scored, not retrained") != std::string::npos) {
      ++said;
      EXPECT_NE(line.find("random 2-fold split"), std::string::npos) << line;
      EXPECT_NE(line.find("optimistic"), std::string::npos) << line;  // the kind is not known
    }
  }
  EXPECT_EQ(said, 1u) << res.err;
  std::ifstream in(dir / "map_validation.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["split"]["method"], "kfold");
  EXPECT_EQ(j["split"]["fold_assignment"], "random");
  EXPECT_EQ(j["split"]["retrained"], false);
  EXPECT_NE(j["split"]["note"].get<std::string>().find("not retrained"), std::string::npos);
  EXPECT_NEAR(j["prediction_area"]["threshold"].get<double>(), 6.0, 1e-12);
  EXPECT_NEAR(j["prediction_area"]["deposits_pct"].get<double>(), 400.0 / 7.0, 1e-9);
  EXPECT_NEAR(j["prediction_area"]["area_pct"].get<double>(), 300.0 / 7.0, 1e-9);
  EXPECT_NEAR(j["prediction_area"]["normalised_density"].get<double>(), 4.0 / 3.0, 1e-12);
  const auto rows = gp::test::lines(gp::test::file_bytes(dir / "map_prediction_area.csv"));
  ASSERT_EQ(rows.size(), pa_tie_rows.size() + 1);
  EXPECT_EQ(rows[0], "threshold,deposits_pct,area_pct");
  for (std::size_t i = 0; i < pa_tie_rows.size(); ++i) {
    const auto& [t, dp, ap] = pa_tie_rows[i];
    double got_t = 0;
    double got_d = 0;
    double got_a = 0;
    ASSERT_EQ(std::sscanf(rows[i + 1].c_str(), "%lf,%lf,%lf", &got_t, &got_d, &got_a), 3) << rows[i + 1];
    EXPECT_EQ(got_t, t) << i;
    EXPECT_NEAR(got_d, dp, 1e-12) << i;
    EXPECT_NEAR(got_a, ap, 1e-12) << i;
  }
  const std::string svg = gp::test::file_bytes(dir / "map_validation.svg");
  EXPECT_NE(svg.find("Prediction-area plot"), std::string::npos);
  EXPECT_NE(svg.find("random 2-fold split (seed 1): folds re-scored, not retrained"), std::string::npos);
  // Grouped: said so; without a split, no line and no `split` at all.
  args = base;
  args.insert(args.end(), {"--holdout", "0.5", "--split-by", "region"});
  ASSERT_EQ(gp::test::run_cli(args).exit_code, 0);
  std::ifstream gin(dir / "map_validation.json");
  EXPECT_EQ(nlohmann::json::parse(gin)["split"]["fold_assignment"], "random, grouped by region");
  const auto plain = gp::test::run_cli(base);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("retrained"), std::string::npos) << plain.err;
  std::ifstream pin(dir / "map_validation.json");
  EXPECT_FALSE(nlohmann::json::parse(pin).contains("split"));
}

// The Cloncurry weights-of-evidence map (data-samples, real GA data): validated by the command
// with the model's own training deposits, against ranks worked out here from the written map and
// the shapefile's points (sort + binary search, no code shared with geoprospect).
TEST(ValidateCli, ConflictingOptionsAreABadCommandLineNamingBoth) {
  const fs::path dir = gp::test::scratch_dir();
  const auto map = write_map(dir, 2, 1, {0.5f, 0.2f});
  const auto csv = write_deposits(dir, {{"A", 0, 0}});
  const std::vector<std::string> base{"validate", map.string(), "--deposits", csv.string(),
                                      "--device", "cpu"};
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases{
      {{"--holdout", "0.3", "--kfold", "5"}, {"--holdout", "--kfold"}},
      {{"--layer", "a", "--sql", "SELECT * FROM a"}, {"--layer", "--sql"}},
      {{"--x-column", "lon"}, {"--x-column", "--y-column"}},
      {{"--filter-column", "n", "--filter-contains", "a", "--filter-equals", "b"},
       {"--filter-contains", "--filter-equals"}},
      {{"--filter-equals", "b"}, {"--filter-equals", "--filter-column"}},
      {{"--split-by", "region"}, {"--split-by", "--holdout", "--kfold"}}};
  for (const auto& [extra, names] : cases) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = gp::test::run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    const auto err = gp::test::lines(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    for (const auto& n : names) EXPECT_NE(err[0].find(n), std::string::npos) << err[0];
  }
  EXPECT_FALSE(fs::exists(dir / "map_validation.json"));
}

TEST(ValidateCli, CloncurryWofeMapAgainstIndependentRanks) {
  const fs::path dir = gp::test::scratch_dir();
  const fs::path demo = gp::test::source_dir() / "data-samples" / "cloncurry";
  const fs::path map = dir / "cl.tif";
  auto r = gp::test::run_cli({"run", (demo / "iocg_wofe_binary.toml").string(), "-o", map.string(),
                              "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path shp = demo / "deposits" / "IOCG_Deposits.shp";
  r = gp::test::run_cli({"validate", map.string(), "--deposits", shp.string(), "--name-column",
                         "Deposit", "--device", "cpu", "--out", dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir / "cl_validation.json");
  const auto j = nlohmann::json::parse(in);

  GDALDatasetUniquePtr ds(GDALDataset::Open(map.c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(ds);
  double gt[6];
  ds->GetGeoTransform(gt);
  const int w = ds->GetRasterXSize();
  const int h = ds->GetRasterYSize();
  int has = 0;
  const double ndv = ds->GetRasterBand(1)->GetNoDataValue(&has);
  ds.reset();
  const std::vector<float> v = gp::test::read_raster(map, 1);
  auto valid_at = [&](std::size_t i) { return std::isfinite(v[i]) && !(has && v[i] == static_cast<float>(ndv)); };
  std::vector<float> sorted;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (valid_at(i)) sorted.push_back(v[i]);
  std::sort(sorted.begin(), sorted.end());
  const double n = static_cast<double>(sorted.size());
  GDALDatasetUniquePtr vs(GDALDataset::Open(shp.c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(vs);
  double sum = 0.0;
  std::size_t used = 0;
  for (auto& f : vs->GetLayer(0)) {
    const OGRPoint* p = f->GetGeometryRef()->toPoint();
    const double cx = std::floor((p->getX() - gt[0]) / gt[1]);
    const double cy = std::floor((p->getY() - gt[3]) / gt[5]);
    if (cx < 0 || cy < 0 || cx >= w || cy >= h) continue;
    const std::size_t i = static_cast<std::size_t>(cy) * static_cast<std::size_t>(w) + static_cast<std::size_t>(cx);
    if (!valid_at(i)) continue;
    const auto lo = std::lower_bound(sorted.begin(), sorted.end(), v[i]) - sorted.begin();
    const auto hi = std::upper_bound(sorted.begin(), sorted.end(), v[i]) - sorted.begin();
    const double above = n - static_cast<double>(hi);
    const double equal = static_cast<double>(hi - lo);
    sum += (above + 0.5 * equal) / n;
    ++used;
  }
  ASSERT_GT(used, 200u);
  EXPECT_EQ(j["deposits_used"].get<std::size_t>(), used);
  EXPECT_EQ(j["valid_cells"].get<std::uint64_t>(), sorted.size());
  EXPECT_NEAR(j["success_rate"]["auc"].get<double>(), 1.0 - sum / static_cast<double>(used), 1e-9);
  EXPECT_GT(j["success_rate"]["auc"].get<double>(), 0.6);  // the model was trained on them
}

}  // namespace

// `validate --blocks KM`: whole square blocks (from the CRS origin) dealt to the folds. Each
// deposit's block is worked out here from its own coordinates; no block spans two folds, every
// output names the folds as spatial blocks and as re-scored, and --blocks needs a split, excludes
// --split-by and refuses a geographic map in one line.
TEST(ValidateCli, BlocksDealWholeSpatialBlocksToTheFolds) {
  const fs::path dir = gp::test::scratch_dir();
  constexpr int w = 60;
  constexpr int h = 40;
  constexpr double cell = 1000.0;  // EPSG:3577 metres; blocks of 7 km do not align with cells
  constexpr double x0 = 1000000.0;
  constexpr double y0 = -2000000.0;
  std::vector<float> v(static_cast<std::size_t>(w * h));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) v[static_cast<std::size_t>(r * w + c)] = static_cast<float>((r * 7 + c * 13) % 97);
  }
  const fs::path map = dir / "map.tif";
  gp::test::write_raster(map, "EPSG:3577", x0, y0, cell, cell, w, h, v, &nd);
  std::vector<std::pair<int, int>> cells;
  std::mt19937 rng(5);
  for (int i = 0; i < 40; ++i) cells.emplace_back(static_cast<int>(rng() % h), static_cast<int>(rng() % w));
  std::sort(cells.begin(), cells.end());
  cells.erase(std::unique(cells.begin(), cells.end()), cells.end());
  const fs::path csv = dir / "deposits.csv";
  gp::test::write_deposit_cells(csv, x0, y0, cell, cells);
  const std::vector<std::string> base{"validate", map.string(), "--deposits", csv.string(),
                                      "--x-column", "x", "--y-column", "y", "--crs", "EPSG:3577",
                                      "--name-column", "name", "--device", "cpu", "--out",
                                      dir.string(), "--overwrite"};
  auto args = base;
  args.insert(args.end(), {"--kfold", "3", "--blocks", "7", "--seed", "4"});
  const auto res = gp::test::run_cli(args);
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.out.find("folds: spatial blocks of 7 km; re-scored, not retrained"), std::string::npos)
      << res.out;
  std::ifstream in(dir / "map_validation.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["split"]["fold_assignment"], "spatial blocks of 7 km");
  EXPECT_EQ(j["split"]["retrained"], false);
  EXPECT_EQ(j["split"]["block_km"].get<double>(), 7.0);
  std::map<std::string, int> fold_of;
  for (const auto& f : j["split"]["folds"]) {
    for (const auto& n : f["held_out"]) fold_of[n.get<std::string>()] = f["fold"].get<int>();
  }
  std::map<std::pair<long, long>, std::set<int>> block_folds;
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const std::string name = "d" + std::to_string(k);
    ASSERT_EQ(fold_of.count(name), 1u) << name;
    const double x = x0 + (cells[k].second + 0.5) * cell;
    const double y = y0 - (cells[k].first + 0.5) * cell;
    block_folds[{std::lround(std::floor(x / 7000.0)), std::lround(std::floor(y / 7000.0))}].insert(fold_of[name]);
  }
  for (const auto& [block, folds] : block_folds) EXPECT_EQ(folds.size(), 1u) << "a block split across folds";
  EXPECT_GT(block_folds.size(), 6u);
  std::set<int> used;
  for (const auto& [name, f] : fold_of) used.insert(f);
  EXPECT_EQ(used.size(), 3u);

  // Needs a split; excludes --split-by; a bad side is a bad command line (exit 2, one line).
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--blocks", "7"},
        std::vector<std::string>{"--kfold", "3", "--blocks", "7", "--split-by", "name"},
        std::vector<std::string>{"--kfold", "3", "--blocks", "0"}}) {
    auto bad = base;
    bad.insert(bad.end(), extra.begin(), extra.end());
    const auto r = gp::test::run_cli(bad);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(gp::test::lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("--blocks"), std::string::npos) << r.err;
  }
  // A geographic map has no kilometre blocks: one line, exit 4, nothing written.
  const fs::path geo_dir = gp::test::scratch_dir() / "geographic";
  fs::create_directories(geo_dir);
  const auto geo_map = write_map(geo_dir, 3, 1, {0.5f, 0.2f, 0.1f});
  const auto geo_csv = write_deposits(geo_dir, {{"A", 0, 0}, {"B", 2, 0}});
  const auto r = gp::test::run_cli({"validate", geo_map.string(), "--deposits", geo_csv.string(),
                                    "--x-column", "lon", "--y-column", "lat", "--device", "cpu",
                                    "--kfold", "2", "--blocks", "10"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(gp::test::lines(r.err).size(), 1u) << r.err;
  EXPECT_FALSE(fs::exists(geo_dir / "map_validation.json"));
}
