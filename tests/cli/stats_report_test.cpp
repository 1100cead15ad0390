// Issue 19, items 3, 5 and 6, through the `geoprospect` binary:
//  - transform statistics (minmax, zscore, percentile, ms-large) come from the cells inside the
//    boundary mask only, and the run report's "transform_stats" gives them with their count;
//  - deposits outside the grid or the mask give one warning line (count, first names) in
//    training and one in validation, and the reports list every one by name;
//  - no log line runs on from the progress bar.
// Every expected number is worked out here: from the input raster read back with GDAL and the
// boundary (a polygon on cell edges, so which cells are inside is plain arithmetic), and from
// the deposit coordinates against the grid extent and the boundary.

#include "test_support.hpp"
#include "../geo/vector_test_util.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gp::test::run_cli;
using gp::test::write_text;

// A 10 x 8 grid of 1 km cells in EPSG:3577 from (0, 8000) down to (10000, 0). The boundary is
// an L: everything but the lower-right block x 6000..10000, y 0..4000 (columns 6-9, rows 4-7).
constexpr int W = 10;
constexpr int H = 8;
constexpr double cell = 1000.0;
const char* boundary_wkt = "POLYGON ((0 0, 6000 0, 6000 4000, 10000 4000, 10000 8000, 0 8000, 0 0))";

bool inside(int c, int r) { return c < 6 || r < 4; }

/// The layer: distinct values rising across the grid, its maximum (1000) in the masked-out
/// block (column 9, row 7).
std::vector<float> layer_values() {
  std::vector<float> v(W * H);
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) v[static_cast<std::size_t>(r * W + c)] = static_cast<float>(r * 3 + c * 0.5 + 1);
  }
  v[7 * W + 9] = 1000.0f;
  return v;
}

struct Moments {
  std::size_t n{0};
  double min{0}, max{0}, mean{0}, std{0};
  std::vector<double> sorted;
};

/// Min, max, mean and population std of the layer read back with GDAL, over the inside cells.
Moments inside_moments(const fs::path& tif) {
  const std::vector<float> v = gp::test::read_raster(tif);
  Moments m;
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) {
      if (inside(c, r)) m.sorted.push_back(v[static_cast<std::size_t>(r * W + c)]);
    }
  }
  std::sort(m.sorted.begin(), m.sorted.end());
  m.n = m.sorted.size();
  m.min = m.sorted.front();
  m.max = m.sorted.back();
  double s = 0;
  for (double x : m.sorted) s += x;
  m.mean = s / static_cast<double>(m.n);
  double ss = 0;
  for (double x : m.sorted) ss += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(ss / static_cast<double>(m.n));
  return m;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

fs::path write_masked_model(const fs::path& dir) {
  gp::test::write_raster(dir / "x.tif", "EPSG:3577", 0, H * cell, cell, cell, W, H, layer_values());
  gp::test::write_vector(dir / "b.gpkg", "b", "EPSG:3577", {{boundary_wkt, {}}});
  std::string toml = "[grid]\nboundary = \"b.gpkg\"\nresolution = 1000\n";
  // One layer per transform, all reading x.tif.
  for (const auto& [name, transform] :
       std::vector<std::pair<std::string, std::string>>{{"mm", R"(kind = "minmax")"},
                                                        {"z", R"(kind = "zscore")"},
                                                        {"pc", R"(kind = "percentile")"},
                                                        {"ms", R"(kind = "ms-large", a = 1.0, b = 1.0)"}}) {
    toml += "[[layer]]\nname = \"" + name + "\"\npath = \"x.tif\"\nresampling = \"nearest\"\n" +
            "transform = { " + transform + " }\n";
  }
  write_text(dir / "model.toml", toml + R"([output]
path = "map.tif"
format = "gtiff"
bands = ["mm", "z", "ms"]
)");
  return dir / "model.toml";
}

TEST(TransformStats, InsideTheMaskOnlyAndInTheReport) {
  const auto dir = gp::test::scratch_dir();
  const fs::path model = write_masked_model(dir);
  const auto r = run_cli({"run", model.string(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Moments m = inside_moments(dir / "x.tif");
  ASSERT_EQ(m.n, 64u);  // 80 cells less the 4 x 4 block
  ASSERT_LT(m.max, 1000.0);  // the layer's maximum lies outside

  // Item 3: each band is its layer's transform with the inside statistics.
  const std::vector<float> x = gp::test::read_raster(dir / "x.tif");
  const std::vector<float> mm = gp::test::read_raster(dir / "map.tif", 2);
  const std::vector<float> z = gp::test::read_raster(dir / "map.tif", 3);
  const std::vector<float> ms = gp::test::read_raster(dir / "map.tif", 4);
  for (int rr = 0; rr < H; ++rr) {
    for (int c = 0; c < W; ++c) {
      if (!inside(c, rr)) continue;
      const auto i = static_cast<std::size_t>(rr * W + c);
      const double v = x[i];
      EXPECT_NEAR(mm[i], (v - m.min) / (m.max - m.min), 1e-6) << c << "," << rr;
      EXPECT_NEAR(z[i], (v - m.mean) / m.std, 1e-5) << c << "," << rr;
      const double ms_ref = v > m.mean ? 1.0 - m.std / (v - m.mean + m.std) : 0.0;
      EXPECT_NEAR(ms[i], ms_ref, 1e-6) << c << "," << rr;
    }
  }
  // The inside maximum scores 1 (with whole-grid statistics it would score ~0.03).
  EXPECT_FLOAT_EQ(*std::max_element(mm.begin(), mm.end()), 1.0f);

  // Item 5: the report's numbers, with the count of cells they came from.
  const auto ts = read_json(dir / "map_report.json").at("transform_stats");
  for (const char* name : {"mm", "z", "pc", "ms"}) {
    SCOPED_TRACE(name);
    const auto& e = ts.at(name);
    EXPECT_EQ(e.at("cells").get<std::size_t>(), m.n);
    EXPECT_DOUBLE_EQ(e.at("min").get<double>(), m.min);
    EXPECT_DOUBLE_EQ(e.at("max").get<double>(), m.max);
    EXPECT_NEAR(e.at("mean").get<double>(), m.mean, 1e-9 * std::abs(m.mean));
    EXPECT_NEAR(e.at("std").get<double>(), m.std, 1e-9 * m.std);
  }
  EXPECT_EQ(ts.at("mm").at("range_used"), (nlohmann::json{m.min, m.max}));
  EXPECT_NEAR(ts.at("ms").at("a_times_mean").get<double>(), m.mean, 1e-9 * m.mean);
  EXPECT_NEAR(ts.at("ms").at("b_times_std").get<double>(), m.std, 1e-9 * m.std);
  // Percentiles: the value below which p % of the inside cells lie, between the order
  // statistics around p * n.
  for (const int p : {5, 25, 50, 75, 95}) {
    const double q = ts.at("pc").at("percentiles").at(std::to_string(p)).get<double>();
    const double k = p / 100.0 * static_cast<double>(m.n);
    const auto lo = static_cast<std::size_t>(std::max(0.0, std::floor(k) - 1));
    const auto hi = std::min(m.n - 1, static_cast<std::size_t>(std::ceil(k)));
    EXPECT_GE(q, m.sorted[lo] - 1e-9) << p;
    EXPECT_LE(q, m.sorted[hi] + 1e-9) << p;
  }
}

// ---- Item 6: deposits outside the grid or the mask. ------------------------------------------

struct Deposit {
  std::string name;
  double x, y;
};

/// 5 inside the L, 3 outside the grid, 4 in the masked-out block.
std::vector<Deposit> deposits() {
  return {{"in1", 500, 7500},     {"in2", 2500, 5500},   {"in3", 4500, 1500},
          {"in4", 8500, 6500},    {"in5", 1500, 500},    {"far1", -5000, 3000},
          {"far2", 20000, 20000}, {"far3", 5000, -100},  {"blk1", 6500, 500},
          {"blk2", 9500, 3500},   {"blk3", 7500, 2500},  {"blk4", 8500, 1500}};
}

/// Expected outside the grid or the mask: by arithmetic on the extent and the boundary.
std::set<std::string> expected_outside(const std::vector<Deposit>& ds) {
  std::set<std::string> out;
  for (const auto& d : ds) {
    const bool in_grid = d.x >= 0 && d.x < W * cell && d.y > 0 && d.y <= H * cell;
    const int c = static_cast<int>(std::floor(d.x / cell));
    const int r = static_cast<int>(std::floor((H * cell - d.y) / cell));
    if (!in_grid || !inside(c, r)) out.insert(d.name);
  }
  return out;
}

std::vector<std::string> lines_with(const std::string& err, const std::string& what) {
  std::vector<std::string> out;
  for (const auto& l : gp::test::lines(err)) {
    if (l.find(what) != std::string::npos) out.push_back(l);
  }
  return out;
}

TEST(RejectedDeposits, OneLineEachInTrainingAndValidationAllInTheReports) {
  const auto dir = gp::test::scratch_dir();
  std::vector<float> geo(W * H);
  for (int i = 0; i < W * H; ++i) geo[static_cast<std::size_t>(i)] = (i / W) % 2 == 0 ? 1.0f : 2.0f;
  gp::test::write_raster(dir / "geo.tif", "EPSG:3577", 0, H * cell, cell, cell, W, H, geo);
  gp::test::write_vector(dir / "b.gpkg", "b", "EPSG:3577", {{boundary_wkt, {}}});
  const auto ds = deposits();
  std::string csv = "name,x,y\n";
  for (const auto& d : ds) csv += d.name + "," + std::to_string(d.x) + "," + std::to_string(d.y) + "\n";
  write_text(dir / "deposits.csv", csv);
  const std::string pts = R"(deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
name_column = "name"
)";
  write_text(dir / "model.toml", "[grid]\nboundary = \"b.gpkg\"\nresolution = 1000\n[training]\n" +
                                     pts + R"(unit_cell_km2 = 0.5
[[layer]]
name = "geology"
path = "geo.tif"
resampling = "nearest"
wofe = { type = "categorical" }
[combine]
method = "wofe"
[validation]
)" + pts + R"([output]
path = "map.tif"
)");
  const auto r = run_cli({"run", (dir / "model.toml").string(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::set<std::string> outside = expected_outside(ds);
  ASSERT_EQ(outside.size(), 7u);
  const std::string n = std::to_string(outside.size());

  // One line per step, with the count; no line per deposit.
  // (The same step also warns that 5 deposits are too few to train on: another line.)
  const auto train = lines_with(r.err, "deposits not used");
  ASSERT_EQ(train.size(), 1u) << r.err;
  EXPECT_NE(train[0].find("[training] deposits: " + n + " deposits not used"), std::string::npos) << train[0];
  const auto left = lines_with(r.err, "left out");
  ASSERT_EQ(left.size(), 1u) << r.err;
  EXPECT_NE(left[0].find("validation: " + n + " deposits left out"), std::string::npos) << left[0];
  EXPECT_NE(left[0].find(", ..."), std::string::npos) << left[0];  // 7 > the names shown
  for (const auto& d : ds) {
    EXPECT_EQ(lines_with(r.err, "'" + d.name + "' ").size(), 0u) << d.name << " has a line of its own";
  }

  // The reports list every one by name.
  const auto report = read_json(dir / "map_report.json");
  std::set<std::string> in_training;
  for (const auto& e : report.at("weights_of_evidence").at("deposits").at("rejected")) {
    in_training.insert(e.at("name").get<std::string>());
  }
  EXPECT_EQ(in_training, outside);
  std::set<std::string> in_validation;
  const auto validation = read_json(dir / "map_validation.json");
  for (const auto& e : validation.at("deposits_left_out")) {
    in_validation.insert(e.at("name").get<std::string>());
  }
  EXPECT_EQ(in_validation, outside);

  // The progress bar (on: no --quiet) never runs into a message.
  const std::regex fragment_then_message(R"(^[0-9.]+\s*geoprospect:)");
  for (const auto& l : gp::test::lines(r.err)) {
    EXPECT_FALSE(std::regex_search(l, fragment_then_message)) << l;
  }
}

}  // namespace
