// Weights of evidence: weights, contrasts, generalisation and the posterior at numbers
// worked by hand; a small grid run end to end through the runner; bad input; CPU vs CUDA.
//
// Every expected number below comes from the ArcSDM / Bonham-Carter formulas applied by hand to
// counts written out in the test (see the grid drawn in SmallGrid), never from the code's output:
//   W+ = ln[(N(B∩D)/N(D)) / (N(B∩¬D)/N(¬D))],  s²(W+) = 1/N(B∩D) + 1/N(B∩¬D), W- likewise,
//   C = W+ - W-, s(C) = sqrt(s²(W+) + s²(W-)), P = 1/(1+exp(-(ln(N(D)/N(¬D)) + Σ W))),
//   s(P) = P sqrt(1/N(D) + Σ s²(W)).
#include "model/model.hpp"
#include "run/runner.hpp"
#include "train/wofe.hpp"
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
namespace gc = gp::cli;
namespace gw = gp::cli::wofe;
namespace gm = gp::model;
using gp::test::scratch_dir;
using gp::test::write_raster;

namespace {

constexpr double tol = 1e-12;

// ---- weights() ---------------------------------------------------------------------------

TEST(WofeWeights, NoDepositInPatternIsZeroAndFlaggedNeverNan) {
  // B: 8 unit cells, 0 deposits; T: 32, D: 3.
  const gw::Weights w = gw::weights(8, 0, 32, 3);
  EXPECT_FALSE(w.wplus_defined);
  EXPECT_EQ(w.wplus, 0.0);
  EXPECT_EQ(w.s_wplus, 0.0);
  EXPECT_TRUE(w.wminus_defined);
  // W- = ln[(3/3) / (21/29)], s² = 1/3 + 1/21.
  EXPECT_NEAR(w.wminus, std::log(29.0 / 21.0), tol);
  EXPECT_NEAR(w.s_wminus, std::sqrt(1.0 / 3 + 1.0 / 21), tol);
  EXPECT_EQ(w.contrast, 0.0);
  EXPECT_EQ(w.s_contrast, 0.0);
  EXPECT_EQ(w.studc, 0.0);
}

TEST(WofeWeights, AllDepositsInPatternLeavesWMinusUndefined) {
  const gw::Weights w = gw::weights(10, 4, 36, 4);
  EXPECT_TRUE(w.wplus_defined);
  EXPECT_FALSE(w.wminus_defined);
  EXPECT_EQ(w.wminus, 0.0);
  EXPECT_TRUE(std::isfinite(w.studc));
}

TEST(WofeWeights, WholeAreaPatternLeavesWMinusUndefined) {
  const gw::Weights w = gw::weights(36, 4, 36, 4);
  EXPECT_TRUE(w.wplus_defined);
  EXPECT_NEAR(w.wplus, 0.0, tol);  // ln[(4/4) / (32/32)]
  EXPECT_FALSE(w.wminus_defined);
}

TEST(WofeWeights, PatternSmallerThanItsDepositsIsUndefined) {
  // 0.5 unit cells holding 1 deposit: N(B∩¬D) < 0.
  const gw::Weights w = gw::weights(0.5, 1, 36, 4);
  EXPECT_FALSE(w.wplus_defined);
  EXPECT_EQ(w.wplus, 0.0);
}

TEST(WofeWeights, BinaryPatternByHand) {
  // B: 12 unit cells holding 3 of the 4 deposits; T = 36.
  // W+ = ln[(3/4)/(9/32)] = ln(8/3) = 0.98082925301172619...
  // W- = ln[(1/4)/(23/32)] = ln(8/23) = -1.05605267...
  const gw::Weights w = gw::weights(12, 3, 36, 4);
  ASSERT_TRUE(w.defined());
  EXPECT_NEAR(w.wplus, 0.98082925301172619, 1e-14);
  EXPECT_NEAR(w.wminus, -1.0560526742493137, 1e-14);
  EXPECT_NEAR(w.s_wplus, std::sqrt(1.0 / 3 + 1.0 / 9), tol);
  EXPECT_NEAR(w.s_wminus, std::sqrt(1.0 + 1.0 / 23), tol);
  EXPECT_NEAR(w.contrast, 0.98082925301172619 + 1.0560526742493137, 1e-13);
  const double sc = std::sqrt(1.0 / 3 + 1.0 / 9 + 1.0 + 1.0 / 23);
  EXPECT_NEAR(w.s_contrast, sc, tol);
  EXPECT_NEAR(w.studc, (0.98082925301172619 + 1.0560526742493137) / sc, 1e-12);
}

TEST(WofeWeights, UnitCellsScaleAreas) {
  // 100 m cells, 1 km² unit cell: 1200 cells = 12 unit cells, the same weights as above.
  const gw::Weights a = gw::weights(1200 * 0.01, 3, 3600 * 0.01, 4);
  EXPECT_NEAR(a.wplus, std::log(8.0 / 3.0), 1e-12);
}

// ---- layer_weights(): generalisation --------------------------------------------------------

/// Four ordered classes (a "distance"): cells 6, 10, 10, 10; deposit cells 2, 1, 1, 0 (1 km²
/// cells, unit cell 1 km²): T = 36, D = 4.
std::vector<gw::ClassCount> four_classes() {
  return {{1, 6, 2}, {2, 10, 1}, {3, 10, 1}, {4, 10, 0}};
}

TEST(WofeLayer, AscendingPicksMaxStudentisedContrast) {
  gm::WofeLayerSpec s;
  s.type = "ascending";
  const gw::LayerWeights lw = gw::layer_weights("dist", s, four_classes(), 1.0, 1.0);
  ASSERT_EQ(lw.rows.size(), 4u);
  // Row 1: B = {1}: 6 cells, 2 deposits. W+ = ln[(2/4)/(4/32)] = ln 4; W- = ln[(2/4)/(28/32)].
  EXPECT_EQ(lw.rows[0].cls, 1.0);
  EXPECT_NEAR(lw.rows[0].w.wplus, std::log(4.0), tol);
  EXPECT_NEAR(lw.rows[0].w.wminus, std::log(0.5 / (28.0 / 32)), tol);
  const double sc1 = std::sqrt(1.0 / 2 + 1.0 / 4 + 1.0 / 2 + 1.0 / 28);
  EXPECT_NEAR(lw.rows[0].w.studc, (std::log(4.0) - std::log(16.0 / 28)) / sc1, 1e-12);
  // Row 2: B = {1, 2}: 16 cells, 3 deposits (cumulative area and points).
  EXPECT_EQ(lw.rows[1].area_units, 16.0);
  EXPECT_EQ(lw.rows[1].points, 3u);
  EXPECT_NEAR(lw.rows[1].w.wplus, std::log((3.0 / 4) / (13.0 / 32)), tol);
  EXPECT_NEAR(lw.rows[1].w.wminus, std::log((1.0 / 4) / (19.0 / 32)), tol);
  // Row 3: every deposit inside: W- undefined, flagged, contrast 0. Row 4: the whole layer.
  EXPECT_FALSE(lw.rows[2].w.wminus_defined);
  EXPECT_FALSE(lw.rows[2].note.empty());
  EXPECT_EQ(lw.rows[2].w.studc, 0.0);
  EXPECT_FALSE(lw.rows[3].w.wminus_defined);
  // studc row 1 = 1.7161 > row 2 = 1.2221: threshold 1; class 1 gets W+(1), the rest W-(1).
  ASSERT_TRUE(lw.threshold.has_value());
  EXPECT_EQ(*lw.threshold, 1.0);
  EXPECT_EQ(lw.rows[0].gen_class, 2);
  EXPECT_NEAR(lw.rows[0].weight, std::log(4.0), tol);
  EXPECT_NEAR(lw.rows[0].w_std, std::sqrt(0.75), tol);
  for (int k = 1; k < 4; ++k) {
    EXPECT_EQ(lw.rows[k].gen_class, 1);
    EXPECT_NEAR(lw.rows[k].weight, std::log(16.0 / 28), tol);
    EXPECT_NEAR(lw.rows[k].w_std, std::sqrt(0.5 + 1.0 / 28), tol);
  }
  EXPECT_NEAR(lw.class_weight[3], std::log(16.0 / 28), tol);
}

TEST(WofeLayer, AscendingUserThreshold) {
  gm::WofeLayerSpec s;
  s.type = "ascending";
  s.threshold = 2.5;  // B = class <= 2.5 = {1, 2}
  const gw::LayerWeights lw = gw::layer_weights("dist", s, four_classes(), 1.0, 1.0);
  EXPECT_EQ(*lw.threshold, 2.0);
  EXPECT_NEAR(lw.class_weight[0], std::log((3.0 / 4) / (13.0 / 32)), tol);
  EXPECT_NEAR(lw.class_weight[1], std::log((3.0 / 4) / (13.0 / 32)), tol);
  EXPECT_NEAR(lw.class_weight[2], std::log((1.0 / 4) / (19.0 / 32)), tol);
  EXPECT_NEAR(lw.class_std[2], std::sqrt(1.0 + 1.0 / 19), tol);
}

TEST(WofeLayer, MinStudcTakesMaxContrastAboveIt) {
  gm::WofeLayerSpec s;
  s.type = "ascending";
  s.min_studc = 1.0;  // rows 1 (C = 1.946) and 2 (C = 1.478) qualify: row 1
  EXPECT_EQ(*gw::layer_weights("d", s, four_classes(), 1.0, 1.0).threshold, 1.0);
  s.min_studc = 5.0;  // none
  EXPECT_THROW(gw::layer_weights("d", s, four_classes(), 1.0, 1.0), gp::input_error);
}

TEST(WofeLayer, DescendingIsCumulativeFromTheTop) {
  gm::WofeLayerSpec s;
  s.type = "descending";
  const gw::LayerWeights lw = gw::layer_weights("density", s, four_classes(), 1.0, 1.0);
  // Rows in order 4, 3, 2, 1. Row 1: B = {4}: no deposit: W+ 0, flagged.
  EXPECT_EQ(lw.rows[0].cls, 4.0);
  EXPECT_FALSE(lw.rows[0].w.wplus_defined);
  // Row 2: B = {3, 4}: 20 cells, 1 deposit: W+ = ln[(1/4)/(19/32)], W- = ln[(3/4)/(13/32)].
  EXPECT_EQ(lw.rows[1].cls, 3.0);
  EXPECT_NEAR(lw.rows[1].w.wplus, std::log((1.0 / 4) / (19.0 / 32)), tol);
  EXPECT_NEAR(lw.rows[1].w.wminus, std::log((3.0 / 4) / (13.0 / 32)), tol);
  // Row 3: B = {2, 3, 4}: studc -1.716 < row 2's -1.222: threshold 3 (class >= 3).
  EXPECT_EQ(*lw.threshold, 3.0);
  EXPECT_EQ(lw.class_gen[3], 2);  // class 4
  EXPECT_EQ(lw.class_gen[2], 2);  // class 3
  EXPECT_EQ(lw.class_gen[1], 1);  // class 2
  EXPECT_NEAR(lw.class_weight[0], std::log((3.0 / 4) / (13.0 / 32)), tol);
}

TEST(WofeLayer, CategoricalGroups) {
  gm::WofeLayerSpec s;
  s.type = "categorical";
  s.groups = {{1, 3}};  // generalised class 1 = {1, 3}: 16 cells, 3 deposits; the rest 2
  const gw::LayerWeights lw = gw::layer_weights("geo", s, four_classes(), 1.0, 1.0);
  EXPECT_EQ(lw.class_gen[0], 1);
  EXPECT_EQ(lw.class_gen[1], 2);
  EXPECT_EQ(lw.class_gen[2], 1);
  EXPECT_NEAR(lw.class_weight[0], std::log((3.0 / 4) / (13.0 / 32)), tol);
  EXPECT_NEAR(lw.class_weight[2], std::log((3.0 / 4) / (13.0 / 32)), tol);
  // {2, 4}: 20 cells, 1 deposit.
  EXPECT_NEAR(lw.class_weight[1], std::log((1.0 / 4) / (19.0 / 32)), tol);
  EXPECT_NEAR(lw.class_std[3], std::sqrt(1.0 + 1.0 / 19), tol);
  // Each row keeps its own class's W+.
  EXPECT_NEAR(lw.rows[0].w.wplus, std::log(4.0), tol);
}

TEST(WofeLayer, BadInputs) {
  gm::WofeLayerSpec s;
  s.type = "categorical";
  EXPECT_THROW(gw::layer_weights("one", s, {{1, 36, 4}}, 1.0, 1.0), gp::input_error);
  EXPECT_THROW(gw::layer_weights("none", s, {{1, 20, 0}, {2, 16, 0}}, 1.0, 1.0), gp::input_error);
  try {
    gw::layer_weights("geo", s, {{1, 20, 4}, {2, 16, 0}}, 1.0, 1.0);
    FAIL() << "expected an error";
  } catch (const gp::input_error& e) {
    EXPECT_NE(std::string(e.what()).find("all 4 deposits fall in class 1"), std::string::npos)
        << e.what();
  }
}

TEST(WofeLayer, ThresholdInTheLayersUnitsAndWeakContrastNoted) {
  gm::WofeLayerSpec s;
  s.type = "ascending";
  // Without breaks the classes are the values: class 1 chosen (as above): "dist <= 1". Its
  // studentised contrast by hand (row 1: N(B∩D) 2, N(B∩¬D) 4, N(¬B∩D) 2, N(¬B∩¬D) 28):
  // C = ln 4 - ln(16/28) = 1.9459, s(C) = sqrt(1/2 + 1/4 + 1/2 + 1/28) = 1.1339, C/s(C) = 1.716.
  const double studc = (std::log(4.0) - std::log(16.0 / 28)) /
                       std::sqrt(1.0 / 2 + 1.0 / 4 + 1.0 / 2 + 1.0 / 28);
  EXPECT_NEAR(studc, 1.716, 5e-4);
  gw::LayerWeights lw = gw::layer_weights("dist", s, four_classes(), 1.0, 1.0);
  EXPECT_EQ(lw.pattern, "dist <= 1");
  EXPECT_EQ(*lw.threshold_value, 1.0);
  ASSERT_EQ(lw.notes.size(), 1u);
  EXPECT_NE(lw.notes[0].find("the chosen threshold dist <= 1 (maximum studentised contrast) has "
                             "a studentised contrast C/s(C) of 1.716, below 2"),
            std::string::npos)
      << lw.notes[0];
  EXPECT_NE(lw.notes[0].find("|C/s(C)| >= 2"), std::string::npos);
  // With breaks [10, 20, 30] the same counts are class indices 0..3, class k = [b_k, b_k+1):
  // ascending, class 0 chosen: value < 10; descending (class >= 2 chosen, see the descending
  // case above with classes shifted by one): value >= 20.
  const std::vector<gw::ClassCount> indexed{{0, 6, 2}, {1, 10, 1}, {2, 10, 1}, {3, 10, 0}};
  s.breaks = {10, 20, 30};
  lw = gw::layer_weights("dist", s, indexed, 1.0, 1.0);
  EXPECT_EQ(*lw.threshold, 0.0);
  EXPECT_EQ(*lw.threshold_value, 10.0);
  EXPECT_EQ(lw.pattern, "dist < 10");
  s.type = "descending";
  lw = gw::layer_weights("density", s, indexed, 1.0, 1.0);
  EXPECT_EQ(*lw.threshold, 2.0);
  EXPECT_EQ(*lw.threshold_value, 20.0);
  EXPECT_EQ(lw.pattern, "density >= 20");
  // Descending's best C/s(C) is negative (-1.222): below 2 too, noted once.
  EXPECT_EQ(lw.notes.size(), 1u);
  // A user threshold is the user's choice: no note.
  s.type = "ascending";
  s.threshold = 1.0;
  lw = gw::layer_weights("dist", s, indexed, 1.0, 1.0);
  EXPECT_EQ(lw.pattern, "dist < 20");
  EXPECT_TRUE(lw.notes.empty());
}

TEST(WofeLayer, ClassOf) {
  EXPECT_EQ(gw::class_of(3.7, {}), 3.0);
  EXPECT_EQ(gw::class_of(-0.5, {}), -1.0);
  const std::vector<double> b{10, 20};
  EXPECT_EQ(gw::class_of(9.99, b), 0.0);
  EXPECT_EQ(gw::class_of(10.0, b), 1.0);
  EXPECT_EQ(gw::class_of(25.0, b), 2.0);
}

// ---- a small grid end to end ------------------------------------------------------------------
//
// 6 x 6 cells of 1 km (EPSG:3577), unit cell 1 km²: every cell is one unit cell.
//
//   geology (A)            faults (B), . = nodata      deposits (cell: name)
//   2 2 2 2 2 2            10 10 10 10  .  .           r0c0: d1, d2 (same cell)
//   2 2 2 2 2 2            10 10 10 10  .  .           r1c1: d3
//   1 1 1 1 1 1            20 20 20 20 20 20           r0c5: d4 (B nodata there)
//   1 1 1 1 1 1            20 20 20 20 20 20           r3c2: d5
//   1 1 1 1 1 1            20 20 20 20 30 30           d6 outside the grid
//   1 1 1 1 1 1            30 30 30 30 30 30
//
// Study area T = 36 (A is valid everywhere), D = 4 deposit cells (d1/d2 count once).
// A: class 2 = 12 cells, 3 deposits; class 1 = 24 cells, 1 deposit.
// B (32 valid cells, 3 deposits on them): 10 = 8 cells, 2; 20 = 16 cells, 1; 30 = 8 cells, 0.

constexpr double x0 = 1000000.0;
constexpr double y0 = -2000000.0;

struct SmallGrid {
  fs::path dir;
  fs::path model;
  fs::path out;
};

std::string cell_xy(int r, int c, double dx = 0.5, double dy = 0.5) {
  std::ostringstream s;
  s.precision(12);
  s << x0 + (c + dx) * 1000.0 << "," << y0 - (r + dy) * 1000.0;
  return s.str();
}

SmallGrid make_small_grid(const std::string& extra_training = "",
                          const std::vector<std::string>& deposit_rows = {}) {
  SmallGrid g;
  g.dir = scratch_dir();
  std::vector<float> a(36);
  std::vector<float> b(36);
  const float nd = -9999.0f;
  for (int r = 0; r < 6; ++r) {
    for (int c = 0; c < 6; ++c) {
      const int i = r * 6 + c;
      a[i] = r < 2 ? 2.0f : 1.0f;
      if (r < 2) b[i] = c < 4 ? 10.0f : nd;
      else if (r < 4 || (r == 4 && c < 4)) b[i] = 20.0f;
      else b[i] = 30.0f;
    }
  }
  const double ndv = -9999.0;
  write_raster(g.dir / "geology.tif", "EPSG:3577", x0, y0, 1000, 1000, 6, 6, a, &ndv);
  write_raster(g.dir / "faults.tif", "EPSG:3577", x0, y0, 1000, 1000, 6, 6, b, &ndv);
  std::ofstream csv(g.dir / "deposits.csv");
  csv << "name,x,y\n";
  if (deposit_rows.empty()) {
    csv << "d1," << cell_xy(0, 0) << "\n"
        << "d2," << cell_xy(0, 0, 0.2, 0.7) << "\n"
        << "d3," << cell_xy(1, 1) << "\n"
        << "d4," << cell_xy(0, 5) << "\n"
        << "d5," << cell_xy(3, 2) << "\n"
        << "d6," << cell_xy(-3, 2) << "\n";
  } else {
    for (const auto& row : deposit_rows) csv << row << "\n";
  }
  csv.close();
  g.model = g.dir / "model.toml";
  std::ofstream(g.model) << R"([model]
name = "small-wofe"
[training]
deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
name_column = "name"
)" << extra_training << R"(
[[layer]]
name = "geology"
path = "geology.tif"
resampling = "nearest"
wofe = { type = "categorical" }
[[layer]]
name = "faults"
path = "faults.tif"
resampling = "nearest"
wofe = { type = "categorical" }
[combine]
method = "wofe"
[output]
path = "out.tif"
)";
  g.out = g.dir / "out.tif";
  return g;
}

gc::RunOptions cpu_options(const fs::path& out, gc::DeviceChoice d = gc::DeviceChoice::cpu) {
  gc::RunOptions o;
  o.output = out;
  o.device = d;
  o.progress = false;
  o.overwrite = true;
  o.window_rows = 4;  // two windows, the second partial
  return o;
}

/// A CSV weights table as rows of name -> text.
std::vector<std::map<std::string, std::string>> read_table(const fs::path& p) {
  return gp::test::read_csv_rows(p);
}

double d(const std::string& s) { return std::stod(s); }

TEST(WofeSmallGrid, TablesAndBandsMatchHandNumbers) {
  const SmallGrid g = make_small_grid();
  const gm::Model m = gm::load_model(g.model);
  const gc::RunResult res = gc::run_model(m, cpu_options(g.out));

  // Hand weights.
  const double wa1 = std::log((1.0 / 4) / (23.0 / 32));
  const double wa2 = std::log((3.0 / 4) / (9.0 / 32));
  const double va1 = 1.0 + 1.0 / 23;
  const double va2 = 1.0 / 3 + 1.0 / 9;
  const double wb10 = std::log((2.0 / 3) / (6.0 / 29));
  const double wb20 = std::log((1.0 / 3) / (15.0 / 29));
  const double vb10 = 1.0 / 2 + 1.0 / 6;
  const double vb20 = 1.0 + 1.0 / 15;
  EXPECT_NEAR(wa2, 0.98082925301172619, 1e-14);

  const auto ta = read_table(g.dir / "out_wofe_geology.csv");
  ASSERT_EQ(ta.size(), 2u);
  EXPECT_EQ(ta[0].at("CLASS"), "1");
  EXPECT_EQ(ta[0].at("NO_POINTS"), "1");
  EXPECT_EQ(d(ta[0].at("AREA_UNITS")), 24.0);
  EXPECT_EQ(d(ta[0].at("CLASS_AREA")), 24.0);
  EXPECT_NEAR(d(ta[0].at("WPLUS")), wa1, 1e-10);
  EXPECT_NEAR(d(ta[0].at("WMINUS")), wa2, 1e-10);  // not-class-1 is class 2
  EXPECT_NEAR(d(ta[1].at("WPLUS")), wa2, 1e-10);
  EXPECT_NEAR(d(ta[1].at("S_WPLUS")), std::sqrt(va2), 1e-10);
  EXPECT_NEAR(d(ta[1].at("S_WMINUS")), std::sqrt(va1), 1e-10);
  EXPECT_NEAR(d(ta[1].at("CONTRAST")), wa2 - wa1, 1e-10);
  EXPECT_NEAR(d(ta[1].at("S_CONTRAST")), std::sqrt(va1 + va2), 1e-10);
  EXPECT_NEAR(d(ta[1].at("STUDC")), (wa2 - wa1) / std::sqrt(va1 + va2), 1e-10);
  EXPECT_EQ(ta[1].at("GEN_CLASS"), "2");
  EXPECT_NEAR(d(ta[1].at("WEIGHT")), wa2, 1e-10);
  EXPECT_NEAR(d(ta[1].at("W_STD")), std::sqrt(va2), 1e-10);

  const auto tb = read_table(g.dir / "out_wofe_faults.csv");
  ASSERT_EQ(tb.size(), 3u);
  EXPECT_EQ(d(tb[0].at("AREA_UNITS")), 8.0);
  EXPECT_EQ(tb[0].at("NO_POINTS"), "2");
  EXPECT_NEAR(d(tb[0].at("WPLUS")), wb10, 1e-10);
  EXPECT_NEAR(d(tb[0].at("WMINUS")), std::log((1.0 / 3) / (23.0 / 29)), 1e-10);
  EXPECT_NEAR(d(tb[1].at("WPLUS")), wb20, 1e-10);
  // Class 30: no deposit: weight 0, flagged, no NaN anywhere in the row.
  EXPECT_EQ(tb[2].at("NO_POINTS"), "0");
  EXPECT_EQ(d(tb[2].at("WPLUS")), 0.0);
  EXPECT_EQ(d(tb[2].at("WEIGHT")), 0.0);
  EXPECT_EQ(d(tb[2].at("W_STD")), 0.0);
  EXPECT_NEAR(d(tb[2].at("WMINUS")), std::log(29.0 / 21.0), 1e-10);
  EXPECT_FALSE(tb[2].at("NOTE").empty());
  for (const auto& row : tb) {
    for (const auto& [k, v] : row) {
      EXPECT_EQ(v.find("nan"), std::string::npos) << k;
      EXPECT_EQ(v.find("inf"), std::string::npos) << k;
    }
  }

  // The bands, cell by cell.
  const auto post = gp::test::read_raster(g.out, 1);
  const auto sd = gp::test::read_raster(g.out, 2);
  const auto conf = gp::test::read_raster(g.out, 3);
  const double prior = std::log(4.0 / 32.0);
  auto expect_cell = [&](int r, int c, double wsum, double vsum) {
    const double p = 1.0 / (1.0 + std::exp(-(prior + wsum)));
    const double s = p * std::sqrt(1.0 / 4 + vsum);
    const std::size_t i = static_cast<std::size_t>(r * 6 + c);
    EXPECT_NEAR(post[i], p, 1e-6 * p) << r << "," << c;
    EXPECT_NEAR(sd[i], s, 1e-6 * s) << r << "," << c;
    EXPECT_NEAR(conf[i], p / s, 1e-5 * p / s) << r << "," << c;
  };
  expect_cell(0, 0, wa2 + wb10, va2 + vb10);
  expect_cell(1, 3, wa2 + wb10, va2 + vb10);
  expect_cell(0, 5, wa2, va2);  // B nodata: no weight, no variance
  expect_cell(1, 4, wa2, va2);
  expect_cell(3, 2, wa1 + wb20, va1 + vb20);
  expect_cell(4, 3, wa1 + wb20, va1 + vb20);
  expect_cell(5, 5, wa1, va1);  // class 30: weight 0, variance 0
  // Literal check of one posterior: logit = ln(1/8) + ln(8/3) + ln(29/9) = ln(29/27).
  EXPECT_NEAR(post[0], 29.0 / 56.0, 1e-7);

  // Report: deposits, prior, conditional independence from the unique conditions.
  std::ifstream rin(g.dir / "out_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  const auto& w = rep.at("weights_of_evidence");
  EXPECT_EQ(w.at("deposits").at("used_cells"), 4);
  EXPECT_EQ(w.at("deposits").at("read"), 6);
  EXPECT_EQ(w.at("deposits").at("rejected").size(), 1u);
  EXPECT_EQ(w.at("deposits").at("rejected")[0].at("name"), "d6");
  EXPECT_EQ(w.at("deposits").at("sharing_a_cell").size(), 1u);
  EXPECT_EQ(w.at("study_area").at("cells"), 36);
  EXPECT_NEAR(w.at("prior").at("probability").get<double>(), 4.0 / 36.0, 1e-15);
  EXPECT_EQ(w.at("layers")[1].at("deposits_on_nodata"), 1);
  auto pk = [&](double ws) { return 1.0 / (1.0 + std::exp(-(prior + ws))); };
  const double p1 = pk(wa2 + wb10), p2 = pk(wa2), p3 = pk(wa1 + wb20), p4 = pk(wa1);
  const double t = 8 * p1 + 4 * p2 + 16 * p3 + 8 * p4;
  const double s1 = 8 * p1 * std::sqrt(0.25 + va2 + vb10);
  const double s2 = 4 * p2 * std::sqrt(0.25 + va2);
  const double s3 = 16 * p3 * std::sqrt(0.25 + va1 + vb20);
  const double s4 = 8 * p4 * std::sqrt(0.25 + va1);
  const double st = std::sqrt(s1 * s1 + s2 * s2 + s3 * s3 + s4 * s4);
  const auto& ci = w.at("conditional_independence");
  EXPECT_EQ(ci.at("unique_conditions"), 4);
  EXPECT_NEAR(ci.at("predicted_deposits").get<double>(), t, 1e-5 * t);
  EXPECT_NEAR(ci.at("ratio").get<double>(), 4.0 / t, 1e-5);
  EXPECT_NEAR(ci.at("agterberg_cheng").at("s_T").get<double>(), st, 1e-5 * st);
  const double z = (t - 4.0) / st;
  EXPECT_NEAR(ci.at("agterberg_cheng").at("p_value").get<double>(),
              0.5 * std::erfc(z / std::sqrt(2.0)), 1e-5);
  EXPECT_EQ(res.bands.size(), 3u);
  EXPECT_EQ(res.bands[0].name, "posterior");
}

TEST(WofeSmallGrid, UnitCellScalesAreas) {
  // unit cell 0.5 km²: each 1 km² cell is 2 unit cells; T = 72, D = 4. Class 2 of geology:
  // 24 unit cells, 3 deposits: W+ = ln[(3/4)/(21/68)].
  const SmallGrid g = make_small_grid("unit_cell_km2 = 0.5\n");
  gc::run_model(gm::load_model(g.model), cpu_options(g.out));
  const auto ta = read_table(g.dir / "out_wofe_geology.csv");
  EXPECT_EQ(d(ta[1].at("AREA_UNITS")), 24.0);
  EXPECT_EQ(d(ta[1].at("CLASS_AREA")), 12.0);
  EXPECT_NEAR(d(ta[1].at("WPLUS")), std::log((3.0 / 4) / (21.0 / 68)), 1e-10);
  const auto post = gp::test::read_raster(g.out, 1);
  const double logit = std::log(4.0 / 68) + std::log((3.0 / 4) / (21.0 / 68)) +
                       std::log((2.0 / 3) / (14.0 / 61));
  EXPECT_NEAR(post[0], 1.0 / (1.0 + std::exp(-logit)), 1e-7);
}

TEST(WofeSmallGrid, BoundaryMaskLimitsTheStudyArea) {
  // A boundary over columns 0-2: T = 18 cells; d4 (column 5) falls outside; geology class 2:
  // 6 cells, 2 deposit cells (d1/d2, d3); class 1: 12 cells, 1 (d5). W+(2) = ln[(2/3)/(4/15)].
  const SmallGrid g = make_small_grid();
  std::ofstream(g.dir / "half.geojson")
      << R"({"type":"FeatureCollection","crs":{"type":"name","properties":{"name":)"
      << R"("urn:ogc:def:crs:EPSG::3577"}},"features":[{"type":"Feature","properties":{},)"
      << R"("geometry":{"type":"Polygon","coordinates":[[[1000000,-2000000],[1003000,-2000000],)"
      << R"([1003000,-2006000],[1000000,-2006000],[1000000,-2000000]]]}}]})";
  std::string text = gp::test::file_bytes(g.model);
  text.replace(text.find("[training]"), 10,
               "[grid]\nboundary = \"half.geojson\"\nextent = [1000000, -2006000, 1006000, "
               "-2000000]\n[training]");
  std::ofstream(g.model, std::ios::trunc) << text;
  gc::run_model(gm::load_model(g.model), cpu_options(g.out));
  const auto ta = read_table(g.dir / "out_wofe_geology.csv");
  ASSERT_EQ(ta.size(), 2u);
  EXPECT_EQ(d(ta[1].at("AREA_UNITS")), 6.0);
  EXPECT_EQ(ta[1].at("NO_POINTS"), "2");
  EXPECT_NEAR(d(ta[1].at("WPLUS")), std::log((2.0 / 3) / (4.0 / 15)), 1e-10);
  const auto post = gp::test::read_raster(g.out, 1);
  // Outside the boundary: nodata.
  EXPECT_EQ(post[5], -9999.0f);
  std::ifstream rin(g.dir / "out_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  EXPECT_EQ(rep.at("weights_of_evidence").at("study_area").at("cells"), 18);
  EXPECT_EQ(rep.at("weights_of_evidence").at("deposits").at("used_cells"), 3);
}

/// The lines of `err` containing `needle`.
std::vector<std::string> lines_with(const std::string& err, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& l : gp::test::lines(err)) {
    if (l.find(needle) != std::string::npos) out.push_back(l);
  }
  return out;
}

/// The number following `after` in `line`.
double number_after(const std::string& line, const std::string& after) {
  const auto at = line.find(after);
  EXPECT_NE(at, std::string::npos) << line;
  return at == std::string::npos ? 0.0 : std::stod(line.substr(at + after.size()));
}

/// Expects run `r` to end with `code` and exactly one stderr line holding `select`, which
/// contains `expected`; returns that line (empty when not one).
std::string one_line_with(const gp::test::CliResult& r, int code, const std::string& select,
                          const std::string& expected) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  const auto found = lines_with(r.err, select);
  EXPECT_EQ(found.size(), 1u) << r.err;
  if (found.size() != 1) return "";
  EXPECT_NE(found[0].find(expected), std::string::npos) << found[0];
  return found[0];
}

TEST(WofeWarnings, FewDepositsAndAWeakThresholdInUnitsOnceEach) {
  // Three deposit cells: r0c0 and r1c1 (geology 2, faults 10), r3c2 (geology 1, faults 20).
  // faults, ascending with breaks [15, 25]: classes 0 (10: 8 cells, 2 deposits), 1 (20: 16
  // cells, 1), 2 (30: 8 cells, 0); 32 valid cells, 3 deposits. Row "class 0" (value < 15):
  // N(B∩D) = 2, N(B∩¬D) = 6, N(¬B∩D) = 1, N(¬B∩¬D) = 23; row "class <= 1" holds every deposit
  // (W- undefined), so class 0 is the maximum studentised contrast.
  SmallGrid g = make_small_grid("", {"a," + cell_xy(0, 0), "b," + cell_xy(1, 1),
                                     "c," + cell_xy(3, 2)});
  std::string text = gp::test::file_bytes(g.model);
  const std::string cat = "wofe = { type = \"categorical\" }";
  text.replace(text.rfind(cat), cat.size(), "wofe = { type = \"ascending\", breaks = [15, 25] }");
  std::ofstream(g.model, std::ios::trunc) << text;
  const double wp = std::log((2.0 / 3) / (6.0 / 29));
  const double wm = std::log((1.0 / 3) / (23.0 / 29));
  const double studc = (wp - wm) / std::sqrt(1.0 / 2 + 1.0 / 6 + 1.0 / 1 + 1.0 / 23);
  ASSERT_NEAR(studc, 1.5576, 1e-4);  // C = 2.0369, s(C) = 1.3077

  const gp::test::CliResult r = gp::test::run_cli({"run", g.model.string(), "--device", "cpu"});
  one_line_with(r, 0, "rest on",
                "warning: [training] deposits: the weights of evidence rest on 3 deposits "
                "(fewer than 10");
  const std::string weak =
      one_line_with(r, 0, "studentised contrast C/s(C)",
                    "warning: layer 'faults': the chosen threshold faults < 15 ");
  EXPECT_NEAR(number_after(weak, "C/s(C) of "), studc, 5e-4);  // 4 significant digits
  EXPECT_NE(weak.find("|C/s(C)| >= 2"), std::string::npos) << weak;
  // The log line gives the threshold in the layer's units too, with its class index.
  EXPECT_EQ(lines_with(r.err, "threshold faults < 15 (class 0, maximum studentised contrast)")
                .size(),
            1u)
      << r.err;
  std::ifstream rin(g.dir / "out_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  const auto& faults = rep.at("weights_of_evidence").at("layers")[1];
  EXPECT_EQ(faults.at("threshold").get<double>(), 0.0);  // the class index, as before
  EXPECT_EQ(faults.at("threshold_value").get<double>(), 15.0);
  EXPECT_EQ(faults.at("favourable_pattern"), "faults < 15");
  ASSERT_EQ(faults.at("flags").size(), 1u);
}

TEST(WofeWarnings, TenDepositsAreNotFew) {
  // Ten deposit cells, rows 0-2 x columns 0-3: geology 2 and 1, faults 10 and 20 (two classes
  // with deposits in each layer): no few-deposits line.
  std::vector<std::string> rows;
  for (int k = 0; k < 10; ++k) {
    std::ostringstream row;  // (not "d" + std::string: GCC 12 -Wrestrict false positive)
    row << "d" << k << "," << cell_xy(k / 4, k % 4);
    rows.push_back(row.str());
  }
  const SmallGrid g = make_small_grid("", rows);
  const gp::test::CliResult r = gp::test::run_cli({"run", g.model.string(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(lines_with(r.err, "rest on").empty()) << r.err;
}

TEST(WofeBadInput, ContinuousLayerWithoutBreaksIsRefused) {
  // 20 x 15 cells of 1 km; "grade" holds i + 0.5 in cell i: 300 fractional values whose whole
  // parts are 300 classes (more than 256). The same layer with whole values i is accepted.
  const fs::path dir = scratch_dir();
  const int w = 20;
  const int h = 15;
  std::vector<float> frac(static_cast<std::size_t>(w * h));
  std::vector<float> whole(frac.size());
  for (std::size_t i = 0; i < frac.size(); ++i) {
    frac[i] = static_cast<float>(i) + 0.5f;
    whole[i] = static_cast<float>(i);
  }
  write_raster(dir / "frac.tif", "EPSG:3577", x0, y0, 1000, 1000, w, h, frac);
  write_raster(dir / "whole.tif", "EPSG:3577", x0, y0, 1000, 1000, w, h, whole);
  std::ofstream(dir / "deposits.csv") << "name,x,y\na," << cell_xy(0, 1) << "\nb,"
                                      << cell_xy(7, 3) << "\nc," << cell_xy(12, 9) << "\n";
  auto model = [&](const std::string& file) {
    const fs::path p = dir / (file + ".toml");
    std::ofstream(p) << "[training]\ndeposits = \"deposits.csv\"\nx_column = \"x\"\n"
                        "y_column = \"y\"\ncrs = \"EPSG:3577\"\n[[layer]]\nname = \"grade\"\n"
                        "path = \"" << file << ".tif\"\nresampling = \"nearest\"\n"
                        "wofe = { type = \"ascending\" }\n[combine]\nmethod = \"wofe\"\n"
                        "[output]\npath = \"" << file << "_out.tif\"\n";
    return p.string();
  };
  const gp::test::CliResult bad = gp::test::run_cli({"run", model("frac"), "--device", "cpu"});
  const std::string err = one_line_with(
      bad, 3, "error:",
      "layer 'grade' wofe: 300 classes from fractional (continuous) values, more than 256");
  EXPECT_NE(err.find("breaks = [...]"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "frac_out.tif"));
  EXPECT_FALSE(fs::exists(dir / "frac_out_wofe_grade.csv"));
  const gp::test::CliResult ok = gp::test::run_cli({"run", model("whole"), "--device", "cpu"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(gp::test::read_csv_rows(dir / "whole_out_wofe_grade.csv").size(), 300u);
}

// ---- bad input: one clear line, no output -----------------------------------------------------

void expect_clean_failure(const SmallGrid& g, int code, const std::string& needle) {
  const gp::test::CliResult r =
      gp::test::run_cli({"run", g.model.string(), "--device", "cpu", "--quiet"});
  EXPECT_EQ(r.exit_code, code) << r.err;
  const auto lines = gp::test::lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  for (const auto& e : fs::directory_iterator(g.dir)) {
    const std::string n = e.path().filename().string();
    EXPECT_TRUE(n == "geology.tif" || n == "faults.tif" || n == "deposits.csv" ||
                n == "model.toml")
        << "left behind: " << n;
  }
}

TEST(WofeBadInput, NoDepositInsideTheGrid) {
  expect_clean_failure(make_small_grid("", {"far," + cell_xy(-10, -10)}), 4, "inside the grid");
}

TEST(WofeBadInput, AllDepositsInOneClass) {
  expect_clean_failure(make_small_grid("", {"a," + cell_xy(0, 0), "b," + cell_xy(1, 2)}), 4,
                       "all 2 deposits fall in class 2");
}

TEST(WofeBadInput, LayerWithASingleClass) {
  SmallGrid g = make_small_grid();
  std::vector<float> one(36, 7.0f);
  write_raster(g.dir / "faults.tif", "EPSG:3577", x0, y0, 1000, 1000, 6, 6, one);
  expect_clean_failure(g, 4, "a single class");
}

TEST(WofeBadInput, UnitCellLargerThanTheGrid) {
  expect_clean_failure(make_small_grid("unit_cell_km2 = 100\n"), 3, "unit_cell_km2");
}

TEST(WofeBadInput, ModelKeys) {
  const fs::path dir = scratch_dir();
  auto parse = [&](const std::string& text) { return gm::parse_model(text, "m.toml", dir); };
  const std::string layer = "[[layer]]\nname = \"a\"\npath = \"a.tif\"\n";
  // wofe without [training], a layer without a wofe block, a bad type, groups on a cumulative.
  EXPECT_THROW(parse(layer + "wofe = { type = \"categorical\" }\n[combine]\nmethod = \"wofe\"\n"),
               gp::config_error);
  EXPECT_THROW(parse("[training]\ndeposits = \"d.csv\"\n" + layer + "[combine]\nmethod = \"wofe\"\n"),
               gp::config_error);
  EXPECT_THROW(parse("[training]\ndeposits = \"d.csv\"\n" + layer +
                     "wofe = { type = \"ascend\" }\n[combine]\nmethod = \"wofe\"\n"),
               gp::config_error);
  EXPECT_THROW(parse("[training]\ndeposits = \"d.csv\"\n" + layer +
                     "wofe = { type = \"ascending\", groups = [[1]] }\n[combine]\nmethod = \"wofe\"\n"),
               gp::config_error);
  EXPECT_THROW(parse("[training]\ndeposits = \"d.csv\"\nunit_cell_km2 = 0\n" + layer +
                     "wofe = { type = \"ascending\" }\n[combine]\nmethod = \"wofe\"\n"),
               gp::config_error);
  const gm::Model ok = parse("[training]\ndeposits = \"d.csv\"\nunit_cell_km2 = 0.25\n" + layer +
                             "wofe = { type = \"descending\", breaks = [1, 2.5], min_studc = 2 }\n"
                             "[combine]\nmethod = \"wofe\"\n");
  EXPECT_EQ(ok.training.unit_cell_km2, 0.25);
  EXPECT_EQ(ok.layers[0].wofe.type, "descending");
  EXPECT_EQ(ok.layers[0].wofe.breaks.size(), 2u);
  EXPECT_EQ(*ok.layers[0].wofe.min_studc, 2.0);
}

// ---- CPU and CUDA agree on every table entry and every cell (gpu label) ----------------------

TEST(WofeCuda, TablesAndBandsIdenticalToCpu) {
  if (gp::kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // A larger grid (not a multiple of 32 or of the window) with breaks and cumulative layers.
  const fs::path dir = scratch_dir();
  const int w = 517;
  const int h = 389;
  std::vector<float> dist(static_cast<std::size_t>(w * h));
  std::vector<float> cls(dist.size());
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * w + c);
      dist[i] = (r * 37 + c * 11) % 97 == 0 ? -9999.0f : static_cast<float>(std::abs(std::sin(r * 0.03) * 5000 + c * 3.3));
      cls[i] = static_cast<float>(1 + (r / 40 + c / 50) % 7);
    }
  }
  const double nd = -9999.0;
  write_raster(dir / "dist.tif", "EPSG:3577", x0, y0, 100, 100, w, h, dist, &nd);
  write_raster(dir / "cls.tif", "EPSG:3577", x0, y0, 100, 100, w, h, cls, &nd);
  std::ofstream csv(dir / "deposits.csv");
  csv << "name,x,y\n";
  for (int k = 0; k < 60; ++k) {
    const int r = (k * 53) % h;
    const int c = (k * 97 + (k % 3) * 13) % w;
    csv << "d" << k << "," << x0 + (c + 0.5) * 100 << "," << y0 - (r + 0.5) * 100 << "\n";
  }
  csv.close();
  std::ofstream(dir / "model.toml") << R"([training]
deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
unit_cell_km2 = 0.25
[[layer]]
name = "dist"
path = "dist.tif"
wofe = { type = "ascending", breaks = [500, 1000, 1500, 2000, 3000, 4000] }
[[layer]]
name = "cls"
path = "cls.tif"
resampling = "nearest"
wofe = { type = "categorical" }
[combine]
method = "wofe"
)";
  const gm::Model m = gm::load_model(dir / "model.toml");
  gc::RunOptions cpu = cpu_options(dir / "cpu.tif");
  cpu.window_rows = 50;
  gc::RunOptions gpu = cpu_options(dir / "gpu.tif", gc::DeviceChoice::cuda);
  gpu.window_rows = 50;
  gc::run_model(m, cpu);
  gc::run_model(m, gpu);
  for (const char* layer : {"dist", "cls"}) {
    EXPECT_EQ(gp::test::file_bytes(dir / (std::string("cpu_wofe_") + layer + ".csv")),
              gp::test::file_bytes(dir / (std::string("gpu_wofe_") + layer + ".csv")));
  }
  for (int b = 1; b <= 3; ++b) {
    const auto a = gp::test::read_raster(dir / "cpu.tif", b);
    const auto g = gp::test::read_raster(dir / "gpu.tif", b);
    ASSERT_EQ(a.size(), g.size());
    // Same counts, same program: equal to the last bits but for CUDA's exp/sqrt rounding,
    // which may differ from glibc's by an ulp of a double before the float store.
    std::size_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const bool same = a[i] == g[i] || std::abs(a[i] - g[i]) <= 1e-6f * std::abs(a[i]);
      diff += same ? 0 : 1;
    }
    EXPECT_EQ(diff, 0u) << "band " << b;
  }
}

}  // namespace
