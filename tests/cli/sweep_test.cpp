// [[sweep]] (analysis/sweep.hpp) through the CLI. Every variant's AUCs are checked against the
// map a separate run of that variant writes, ranked here by a direct count (each deposit cell
// against every other valid cell), sharing no code with the program's rank counter; the best
// variant's map against that run's pixels; bad sweeps against their one-line messages.
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using gp::test::run_cli;

namespace {

constexpr int W = 48;
constexpr int H = 36;
constexpr double x0 = 1000000.0;
constexpr double y0 = -2000000.0;
constexpr double cell = 1000.0;
constexpr double nd = -9999.0;

/// Layer a: a ridge whose height grows to the east (0..100), with a little texture; b: a
/// north-south gradient (0..100). A few nodata cells in a.
float layer_a(int c, int r) {
  return static_cast<float>(100.0 * c / (W - 1) * (0.6 + 0.4 * std::sin(r * 0.4)) + (c * 7 + r * 3) % 5);
}
float layer_b(int, int r) { return static_cast<float>(100.0 * r / (H - 1)); }

struct Case {
  fs::path dir;
  std::vector<std::pair<int, int>> deps;  ///< (row, col)
};

Case make_case() {
  Case k;
  k.dir = gp::test::scratch_dir();
  std::vector<float> a(W * H);
  std::vector<float> b(W * H);
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) {
      a[static_cast<std::size_t>(r * W + c)] = (r == 3 && c % 9 == 0) ? static_cast<float>(nd) : layer_a(c, r);
      b[static_cast<std::size_t>(r * W + c)] = layer_b(c, r);
    }
  }
  gp::test::write_raster(k.dir / "a.tif", "EPSG:3577", x0, y0, cell, cell, W, H, a, &nd);
  gp::test::write_raster(k.dir / "b.tif", "EPSG:3577", x0, y0, cell, cell, W, H, b, &nd);
  for (int i = 0; i < 18; ++i) k.deps.emplace_back((i * 5 + 2) % H, 20 + (i * 7) % (W - 20));
  k.deps.emplace_back(3, 9);  // on a's nodata: left out by validation
  gp::test::write_deposit_cells(k.dir / "deposits.csv", x0, y0, cell, k.deps);
  return k;
}

/// The model text: a large membership on a (midpoint, spread 3) and a linear b, weighted-sum
/// with weights (wa, 1); `extra` appended (the sweep tables).
std::string model_text(double midpoint, double wa, const std::string& extra) {
  std::string t =
      "[model]\nname = \"sweep\"\n[grid]\ncrs = \"EPSG:3577\"\nresolution = 1000.0\n"
      "[[layer]]\nname = \"a\"\npath = \"a.tif\"\nweight = " + std::to_string(wa) +
      "\ntransform = { kind = \"large\", midpoint = " + std::to_string(midpoint) + ", spread = 3 }\n"
      "[[layer]]\nname = \"b\"\npath = \"b.tif\"\nweight = 1\n"
      "transform = { kind = \"linear\", min = 0, max = 100 }\n"
      "[combine]\nmethod = \"weighted-sum\"\n"
      "[output]\nformat = \"gtiff\"\nquicklook = false\nstyle = false\n"
      "[validation]\ndeposits = \"deposits.csv\"\nx_column = \"x\"\ny_column = \"y\"\n"
      "crs = \"EPSG:3577\"\nname_column = \"name\"\ncapture = [5, 10]\n";
  return t + extra;
}

/// Success-rate and ROC AUC of `deps` on a map, by direct count: for the success rate,
/// 1 - mean over deposits of (cells above + cells equal / 2) / valid cells; for the ROC, each
/// distinct deposit cell against each other valid cell (a tie counting one half).
std::pair<double, double> direct_aucs(const std::vector<float>& map,
                                      const std::vector<std::pair<int, int>>& deps) {
  std::vector<float> valid;
  for (float v : map) {
    if (v != static_cast<float>(nd)) valid.push_back(v);
  }
  const double n = static_cast<double>(valid.size());
  double success = 0.0;
  std::set<std::pair<int, int>> pos;
  std::vector<float> dep_scores;
  for (const auto& [r, c] : deps) {
    const float s = map[static_cast<std::size_t>(r * W + c)];
    if (s == static_cast<float>(nd)) continue;
    dep_scores.push_back(s);
    pos.insert({r, c});
    double above = 0.0;
    double equal = 0.0;
    for (float v : valid) {
      above += v > s ? 1.0 : 0.0;
      equal += v == s ? 1.0 : 0.0;
    }
    success += (above + equal / 2.0) / n;
  }
  success = 1.0 - success / static_cast<double>(dep_scores.size());
  double u = 0.0;
  double negatives = 0.0;
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) {
      const float v = map[static_cast<std::size_t>(r * W + c)];
      if (v == static_cast<float>(nd) || pos.count({r, c}) > 0) continue;
      negatives += 1.0;
      for (const auto& [pr, pc] : pos) {
        const float p = map[static_cast<std::size_t>(pr * W + pc)];
        u += p > v ? 1.0 : (p == v ? 0.5 : 0.0);
      }
    }
  }
  return {success, u / (negatives * static_cast<double>(pos.size()))};
}

}  // namespace

// 3 midpoints x 4 weights (a range): each of the 12 rows equals a separate run of that variant,
// counted directly; the ranks order the ROC AUCs; the best map is that run's map bit for bit.
TEST(Sweep, EveryVariantEqualsItsOwnRunAndTheBestMapIsItsMap) {
  const Case k = make_case();
  const std::string sweep =
      "[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\nvalues = [20, 45, 70]\nwrite_best = true\n"
      "[[sweep]]\nlayer = \"a\"\nkey = \"weight\"\nrange = { from = 0.5, to = 2, step = 0.5 }\n";
  gp::test::write_text(k.dir / "model.toml", model_text(45, 1, sweep));
  const auto res = run_cli({"run", (k.dir / "model.toml").string(), "-o", (k.dir / "out.tif").string(),
                            "--device", "cpu"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  std::string header;
  const auto rows = gp::test::read_csv_rows(k.dir / "out_sweep.csv", &header);
  EXPECT_EQ(header, "variant,a.midpoint,a.weight,success_auc,roc_auc,capture_top5,capture_top10,"
                    "deposits,unscored,valid_cells,rank,error");
  ASSERT_EQ(rows.size(), 12u);
  const std::vector<double> mids{20, 45, 70};
  const std::vector<double> weights{0.5, 1.0, 1.5, 2.0};
  double best_roc = -1.0;
  std::size_t best_row = 0;
  std::set<std::string> ranks;
  for (std::size_t v = 0; v < rows.size(); ++v) {
    const double mid = mids[v / 4];
    const double wa = weights[v % 4];
    EXPECT_EQ(std::stod(rows[v].at("a.midpoint")), mid) << v;
    EXPECT_EQ(std::stod(rows[v].at("a.weight")), wa) << v;
    const fs::path dir = k.dir / std::string("v").append(std::to_string(v));
    fs::create_directories(dir);
    for (const char* f : {"a.tif", "b.tif", "deposits.csv"}) fs::copy_file(k.dir / f, dir / f);
    gp::test::write_text(dir / "model.toml", model_text(mid, wa, ""));
    const auto one = run_cli({"run", (dir / "model.toml").string(), "-o", (dir / "m.tif").string(),
                              "--device", "cpu", "--quiet"});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto [success, roc] = direct_aucs(gp::test::read_raster(dir / "m.tif"), k.deps);
    EXPECT_NEAR(std::stod(rows[v].at("success_auc")), success, 1e-12) << v;
    EXPECT_NEAR(std::stod(rows[v].at("roc_auc")), roc, 1e-12) << v;
    EXPECT_EQ(rows[v].at("deposits"), "18") << v;  // the one on nodata is left out
    EXPECT_EQ(rows[v].at("error"), "") << v;
    if (roc > best_roc + 1e-12) {
      best_roc = roc;
      best_row = v;
    }
    ranks.insert(rows[v].at("rank"));
  }
  EXPECT_EQ(ranks.size(), 12u);
  EXPECT_EQ(rows[best_row].at("rank"), "1");
  // The best variant's map is its own run's map, pixel for pixel.
  const fs::path best_run = k.dir / std::string("v").append(std::to_string(best_row)) / "m.tif";
  EXPECT_EQ(gp::test::read_raster(k.dir / "out_sweep_best.tif"), gp::test::read_raster(best_run));
  {
    // format "gtiff": a plain tiled GeoTIFF like the map (no overviews, no COG layout).
    GDALDatasetUniquePtr ds(GDALDataset::Open((k.dir / "out_sweep_best.tif").c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(ds);
    EXPECT_EQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), nullptr);
    EXPECT_EQ(ds->GetRasterBand(1)->GetOverviewCount(), 0);
  }
  std::ifstream in(k.dir / "out_report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report["sweep"]["variants"], 12);
  EXPECT_EQ(report["sweep"]["best"]["variant"], best_row + 1);
  // The deposit cells' inputs came from the run's scoring pass: one read for the variants, one
  // for the best map.
  EXPECT_EQ(report["sweep"]["deposit_inputs"], "kept by the run's scoring pass");
  EXPECT_EQ(report["sweep"]["passes"], 2);
  EXPECT_NE(res.err.find("sweep: best by ROC AUC: a.midpoint = "), std::string::npos) << res.err;
}

// A group's gamma and a group input's weight; rank_by = "success".
TEST(Sweep, GroupGammaAndInputWeightRankedBySuccessRate) {
  const Case k = make_case();
  std::string text = model_text(45, 1, "");
  // The [[group]] form: g1 = weighted-sum(a, b), final = fuzzy-gamma(g1, b).
  const std::string::size_type at = text.find("[combine]");
  text = text.substr(0, at) +
         "[[group]]\nname = \"g1\"\nmethod = \"weighted-sum\"\ninputs = [\"a\", \"b\"]\nweights = [1, 1]\n"
         "[[group]]\nname = \"top\"\nmethod = \"fuzzy-gamma\"\ninputs = [\"g1\", \"b\"]\ngamma = 0.5\n"
         "[combine]\nfinal = \"top\"\n" +
         text.substr(text.find("[output]"));
  const std::string sweep =
      "[[sweep]]\ngroup = \"top\"\nkey = \"gamma\"\nvalues = [0.1, 0.9]\nrank_by = \"success\"\n"
      "[[sweep]]\ngroup = \"g1\"\ninput = \"b\"\nkey = \"weight\"\nvalues = [0, 3]\n";
  gp::test::write_text(k.dir / "model.toml", text + sweep);
  const auto res = run_cli({"run", (k.dir / "model.toml").string(), "-o", (k.dir / "out.tif").string(),
                            "--device", "cpu", "--quiet"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const auto rows = gp::test::read_csv_rows(k.dir / "out_sweep.csv");
  ASSERT_EQ(rows.size(), 4u);
  double best = -1.0;
  std::size_t best_row = 0;
  for (std::size_t v = 0; v < 4; ++v) {
    const double gamma = v < 2 ? 0.1 : 0.9;
    const double wb = v % 2 == 0 ? 0.0 : 3.0;
    std::string t = text;
    t.replace(t.find("gamma = 0.5"), 11, std::string("gamma = ").append(std::to_string(gamma)));
    t.replace(t.find("weights = [1, 1]"), 16, std::string("weights = [1, ").append(std::to_string(wb)).append("]"));
    const fs::path dir = k.dir / std::string("g").append(std::to_string(v));
    fs::create_directories(dir);
    for (const char* f : {"a.tif", "b.tif", "deposits.csv"}) fs::copy_file(k.dir / f, dir / f);
    gp::test::write_text(dir / "model.toml", t);
    ASSERT_EQ(run_cli({"run", (dir / "model.toml").string(), "-o", (dir / "m.tif").string(),
                       "--device", "cpu", "--quiet"}).exit_code, 0);
    const auto [success, roc] = direct_aucs(gp::test::read_raster(dir / "m.tif"), k.deps);
    EXPECT_NEAR(std::stod(rows[v].at("success_auc")), success, 1e-12) << v;
    EXPECT_NEAR(std::stod(rows[v].at("roc_auc")), roc, 1e-12) << v;
    if (success > best + 1e-12) {
      best = success;
      best_row = v;
    }
  }
  EXPECT_EQ(rows[best_row].at("rank"), "1");
  EXPECT_FALSE(fs::exists(k.dir / "out_sweep_best.tif"));
}

// Bad sweeps: one line naming the file, the table and what was expected; exit 3; no output.
TEST(Sweep, BadSweepsAreRefusedInOneLine) {
  const Case k = make_case();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"[[sweep]]\nlayer = \"b\"\nkey = \"midpoint\"\nvalues = [1]\n", "which has no midpoint"},
      {"[[sweep]]\nlayer = \"aa\"\nkey = \"spread\"\nvalues = [1]\n", "did you mean 'a'"},
      {"[[sweep]]\nlayer = \"a\"\nkey = \"spread\"\nvalues = [-1]\n", "expected spread >= 0"},
      {"[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\n", "expected values = [...] or range"},
      {"[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\nvalues = [1, 1]\n", "comes twice"},
      {"[[sweep]]\nlayer = \"a\"\nkey = \"midpint\"\nvalues = [1]\n", "did you mean 'midpoint'"},
      {"[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\nrange = { from = 1, to = 3000, step = 1 }\n"
       "[[sweep]]\nlayer = \"a\"\nkey = \"weight\"\nvalues = [1, 2]\n", "more than 4096 variants"},
      {"[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\nvalues = [1]\n"
       "[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\nvalues = [2]\n", "the same parameter as table #1"},
      {"[[sweep]]\ngroup = \"final\"\nkey = \"gamma\"\nvalues = [0.5]\n", "has no gamma"},
  };
  for (const auto& [sweep, expected] : cases) {
    gp::test::write_text(k.dir / "model.toml", model_text(45, 1, sweep));
    const auto r = run_cli({"run", (k.dir / "model.toml").string(), "-o", (k.dir / "bad.tif").string(),
                            "--device", "cpu"});
    EXPECT_EQ(r.exit_code, gp::test::exit_code::model) << sweep << r.err;
    const auto err = gp::test::lines(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_NE(err[0].find("[[sweep]]"), std::string::npos) << err[0];
    EXPECT_NE(err[0].find(expected), std::string::npos) << err[0];
    EXPECT_FALSE(fs::exists(k.dir / "bad.tif"));
  }
  // Without [validation] there is nothing to rank against.
  std::string text = model_text(45, 1, "[[sweep]]\nlayer = \"a\"\nkey = \"midpoint\"\nvalues = [1]\n");
  text.erase(text.find("[validation]"), text.find("capture = [5, 10]\n") + 18 - text.find("[validation]"));
  gp::test::write_text(k.dir / "model.toml", text);
  const auto r = run_cli({"run", (k.dir / "model.toml").string(), "-o", (k.dir / "bad.tif").string()});
  EXPECT_EQ(r.exit_code, gp::test::exit_code::model) << r.err;
  EXPECT_NE(r.err.find("add a [validation] table"), std::string::npos) << r.err;
}
