// Cross-validation that retrains (analysis/crossval.hpp) and spatial folds, through the CLI.
// The test works out every expected number itself: the fold's weights of evidence from its own
// count of cells and training deposits, the held-out AUCs by a direct count of (deposit cell,
// other cell) pairs, the spatial blocks from the deposits' coordinates, and the buffer by its
// own distances.
#include "test_support.hpp"

#include <gdal_priv.h>
#include <ogrsf_frmts.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using gp::test::run_cli;
using nlohmann::json;

namespace {

constexpr double grid_x0 = 1000000.0;
constexpr double grid_y0 = -2000000.0;
constexpr double cell = 1000.0;  // 1 km cells: one unit cell (1 km²) each

/// The binary geology layer: class 2 on diagonal stripes, else 1.
float geology(int c, int r) { return ((c / 5 + r / 7) % 3 == 0) ? 2.0f : 1.0f; }

struct Deposit {
  std::string name;
  int col;
  int row;
  [[nodiscard]] double x() const { return grid_x0 + (col + 0.5) * cell; }
  [[nodiscard]] double y() const { return grid_y0 - (row + 0.5) * cell; }
};

struct Case {
  fs::path dir;
  fs::path model;
  int side{0};
  std::vector<Deposit> deps;
};

/// A `side` x `side` grid, the geology layer, deposits at distinct cells (on class 2 for two
/// thirds of them) and a WofE model with `validation` as its [validation] table.
Case make_case(int side, int n_deps, const std::string& validation) {
  Case k;
  k.dir = gp::test::scratch_dir();
  k.side = side;
  std::vector<float> g(static_cast<std::size_t>(side * side));
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) g[static_cast<std::size_t>(r * side + c)] = geology(c, r);
  }
  const double nd = -9999.0;
  gp::test::write_raster(k.dir / "geology.tif", "EPSG:3577", grid_x0, grid_y0, cell, cell, side, side, g, &nd);
  std::set<std::pair<int, int>> used;
  for (int i = 0; static_cast<int>(k.deps.size()) < n_deps; ++i) {
    const int c = (i * 7 + 3) % side;
    const int r = (i * 11 + 5 + i / side) % side;
    const bool want2 = k.deps.size() % 3 != 2;
    if ((geology(c, r) == 2.0f) != want2 || !used.insert({c, r}).second) continue;
    std::string name = "d";  // appended: GCC 12's -Wrestrict false positive on "d" + string
    name += std::to_string(k.deps.size());
    k.deps.push_back({name, c, r});
  }
  std::ofstream csv(k.dir / "deposits.csv");
  csv << "name,x,y\n";
  csv.precision(12);
  for (const auto& d : k.deps) csv << d.name << "," << d.x() << "," << d.y() << "\n";
  csv.close();
  k.model = k.dir / "model.toml";
  // The same deposit keys for [training] and [validation]: the folds hold out training deposits.
  const std::string deposit_keys =
      "deposits = \"deposits.csv\"\nx_column = \"x\"\ny_column = \"y\"\n"
      "crs = \"EPSG:3577\"\nname_column = \"name\"\n";
  std::ofstream(k.model) << "[model]\nname = \"cv\"\n[training]\n" << deposit_keys
                         << "[[layer]]\nname = \"geology\"\npath = \"geology.tif\"\n"
                            "resampling = \"nearest\"\nwofe = { type = \"categorical\" }\n"
                            "[combine]\nmethod = \"wofe\"\n[validation]\n"
                         << deposit_keys << validation << "[output]\npath = \"out.tif\"\n";
  return k;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

/// W+ of class `cls` of the geology layer (class vs the rest), areas in unit cells (= cells).
double class_weight(const Case& k, const std::set<std::string>& training, float cls,
                    const std::set<std::pair<int, int>>& blanked = {}) {
  double area_b = 0;
  double area_t = 0;
  for (int r = 0; r < k.side; ++r) {
    for (int c = 0; c < k.side; ++c) {
      if (blanked.count({c, r}) != 0) continue;
      area_t += 1;
      area_b += geology(c, r) == cls ? 1 : 0;
    }
  }
  double d_b = 0;
  double d_t = 0;
  for (const auto& d : k.deps) {
    if (training.count(d.name) == 0) continue;
    d_t += 1;
    d_b += geology(d.col, d.row) == cls ? 1 : 0;
  }
  return std::log((d_b / d_t) / ((area_b - d_b) / (area_t - d_t)));
}

/// The weight the trained table gives class `cls` (its generalised class of that value).
double table_weight(const json& layer, double cls) {
  for (const auto& g : layer["generalised"]) {
    if (g["gen_class"].get<double>() == cls) return g["weight"].get<double>();
  }
  ADD_FAILURE() << "no generalised class " << cls << " in " << layer.dump();
  return NAN;
}

/// Held-out figures by direct pair counts: the held-out deposit cells against every other cell
/// (ROC, ties one half), and the success-rate AUC 1 - mean (G + E/2) / N over the deposits.
std::pair<double, double> direct_aucs(const Case& k, const std::vector<Deposit>& held, double w1,
                                      double w2) {
  auto score = [&](int c, int r) { return geology(c, r) == 2.0f ? w2 : w1; };
  std::set<std::pair<int, int>> pos;
  for (const auto& d : held) pos.insert({d.col, d.row});
  double u = 0;
  double negatives = 0;
  double rank_sum = 0;
  const double n = static_cast<double>(k.side) * k.side;
  for (const auto& d : held) {
    double above = 0;
    double equal = 0;
    for (int r = 0; r < k.side; ++r) {
      for (int c = 0; c < k.side; ++c) {
        const double s = score(c, r);
        above += s > score(d.col, d.row) ? 1 : 0;
        equal += s == score(d.col, d.row) ? 1 : 0;
        if (pos.count({c, r}) != 0) continue;
        u += s < score(d.col, d.row) ? 1.0 : (s == score(d.col, d.row) ? 0.5 : 0.0);
      }
    }
    rank_sum += (above + equal / 2) / n;
  }
  negatives = n - static_cast<double>(pos.size());
  return {1.0 - rank_sum / static_cast<double>(held.size()),
          u / (static_cast<double>(pos.size()) * negatives)};
}

std::vector<Deposit> held_out_of(const Case& k, const json& fold) {
  std::set<std::string> names;
  for (const auto& n : fold["held_out"]) names.insert(n.get<std::string>());
  std::vector<Deposit> held;
  for (const auto& d : k.deps) {
    if (names.count(d.name) != 0) held.push_back(d);
  }
  return held;
}

}  // namespace

// Each fold is retrained on its training deposits: its weights equal the test's own weights of
// those deposits (and differ from the full model's), and its held-out AUCs equal a direct pair
// count on the fold model's scores.
TEST(CrossValidation, WofeFoldsAreRetrainedAndScoredExactly) {
  const Case k = make_case(40, 15, "kfold = 3\nseed = 5\n");
  const auto res = run_cli({"run", k.model.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.err.find("folds retrained"), std::string::npos) << res.err;
  EXPECT_EQ(res.err.find("re-scored, not retrained:"), std::string::npos) << res.err;
  const json v = read_json(k.dir / "out_validation.json");
  ASSERT_TRUE(v["split"]["retrained"].get<bool>());
  EXPECT_EQ(v["split"]["fold_assignment"], "random");
  const json report = read_json(k.dir / "out_report.json");
  const json& full_layer = report["weights_of_evidence"]["layers"][0];
  std::set<std::string> all;
  for (const auto& d : k.deps) all.insert(d.name);
  ASSERT_EQ(v["split"]["folds"].size(), 3u);
  double auc_sum = 0;
  for (const auto& fold : v["split"]["folds"]) {
    const std::vector<Deposit> held = held_out_of(k, fold);
    ASSERT_FALSE(held.empty());
    std::set<std::string> training = all;
    for (const auto& d : held) training.erase(d.name);
    const double w1 = class_weight(k, training, 1.0f);
    const double w2 = class_weight(k, training, 2.0f);
    const json& layer = fold["trained"]["layers"][0];
    EXPECT_NEAR(table_weight(layer, 1), w1, 1e-9);
    EXPECT_NEAR(table_weight(layer, 2), w2, 1e-9);
    EXPECT_GT(std::abs(table_weight(layer, 2) - table_weight(full_layer, 2)), 1e-6)
        << "the fold's weight is the full model's: not retrained";
    EXPECT_EQ(fold["trained"]["deposits"]["used_cells"].get<std::size_t>(), training.size());
    const auto [auc, roc] = direct_aucs(k, held, w1, w2);
    EXPECT_NEAR(fold["prediction_rate"]["auc"].get<double>(), auc, 1e-12);
    EXPECT_NEAR(fold["prediction_rate"]["roc_auc"].get<double>(), roc, 1e-12);
    auc_sum += auc;
  }
  EXPECT_NEAR(v["split"]["summary"]["auc"]["mean"].get<double>(), auc_sum / 3, 1e-12);
  // The per-fold CSV: 1 + 3 folds + mean + sd rows, marked retrained.
  const auto rows = gp::test::read_csv_rows(k.dir / "out_folds.csv");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[1].at("retrained"), "true");
  EXPECT_EQ(rows[4].at("row"), "mean");
  EXPECT_NEAR(std::stod(rows[4].at("auc")), auc_sum / 3, 1e-12);
}

// Spatial blocks: every deposit's block worked out from its coordinates; a block never spans two
// folds. Buffer: no deposit a fold trains on lies within buffer_km of one it holds out, every
// deposit within it is left out, and the fold's study area loses exactly the cells within it.
TEST(CrossValidation, SpatialBlocksAndBuffer) {
  const double block_m = 15000.0;
  const double buffer_m = 5000.0;
  const Case k = make_case(60, 30, "kfold = 3\nseed = 11\nblocks = { size_km = 15 }\nbuffer_km = 5\n");
  const auto res = run_cli({"run", k.model.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const json v = read_json(k.dir / "out_validation.json");
  EXPECT_EQ(v["split"]["fold_assignment"], "spatial blocks of 15 km");
  EXPECT_TRUE(v["split"]["retrained"].get<bool>());
  std::map<std::string, int> fold_of;
  for (const auto& fold : v["split"]["folds"]) {
    for (const auto& n : fold["held_out"]) fold_of[n.get<std::string>()] = fold["fold"].get<int>();
  }
  std::map<std::pair<long, long>, std::set<int>> block_folds;
  for (const auto& d : k.deps) {
    ASSERT_EQ(fold_of.count(d.name), 1u) << d.name;
    block_folds[{std::lround(std::floor(d.x() / block_m)), std::lround(std::floor(d.y() / block_m))}]
        .insert(fold_of[d.name]);
  }
  for (const auto& [block, folds] : block_folds) EXPECT_EQ(folds.size(), 1u) << "a block split across folds";
  EXPECT_GT(block_folds.size(), 3u);
  for (const auto& fold : v["split"]["folds"]) {
    const std::vector<Deposit> held = held_out_of(k, fold);
    std::set<std::string> excluded;
    for (const auto& n : fold["trained"]["deposits"]["fold_excluded"]) excluded.insert(n.get<std::string>());
    for (const auto& d : k.deps) {
      double nearest = INFINITY;
      for (const auto& h : held) nearest = std::min(nearest, std::hypot(d.x() - h.x(), d.y() - h.y()));
      if (excluded.count(d.name) == 0) {
        EXPECT_GT(nearest, buffer_m) << d.name << " trains fold " << fold["fold"] << " within the buffer";
      } else {
        EXPECT_LE(nearest, buffer_m) << d.name << " left out of fold " << fold["fold"] << " for nothing";
      }
    }
    // Cells within the buffer are not training cells: the study area shrinks by them.
    std::set<std::pair<int, int>> blanked;
    for (int r = 0; r < k.side; ++r) {
      for (int c = 0; c < k.side; ++c) {
        for (const auto& h : held) {
          if (std::hypot((c - h.col) * cell, (r - h.row) * cell) <= buffer_m) blanked.insert({c, r});
        }
      }
    }
    EXPECT_EQ(fold["trained"]["study_area"]["cells"].get<std::size_t>(),
              static_cast<std::size_t>(k.side * k.side) - blanked.size());
    std::set<std::string> training;
    for (const auto& d : k.deps) {
      if (excluded.count(d.name) == 0) training.insert(d.name);
    }
    const json& layer = fold["trained"]["layers"][0];
    EXPECT_NEAR(table_weight(layer, 2), class_weight(k, training, 2.0f, blanked), 1e-9);
  }
}

// A knowledge-driven map is re-scored: said once, plainly, and the JSON says retrained false.
TEST(CrossValidation, ValidateOnAFinishedMapSaysReScoredOnce) {
  const Case k = make_case(40, 15, "kfold = 3\n");
  const auto res = run_cli({"validate", (k.dir / "geology.tif").string(), "--deposits",
                            (k.dir / "deposits.csv").string(), "--x-column", "x", "--y-column",
                            "y", "--crs", "EPSG:3577", "--kfold", "3", "--out", k.dir.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  std::size_t said = 0;
  for (std::size_t p = res.err.find("re-scored, not retrained"); p != std::string::npos;
       p = res.err.find("re-scored, not retrained", p + 1)) {
    ++said;
  }
  EXPECT_EQ(said, 1u) << res.err;
  const json v = read_json(k.dir / "geology_validation.json");
  EXPECT_FALSE(v["split"]["retrained"].get<bool>());
  EXPECT_EQ(v["split"]["fold_assignment"], "random");
}

namespace {

/// A deposit row's map_value against the map at the cell its point falls in, and its percentile
/// against a count of the cells scoring lower (ties half). Returns that cell's index.
std::size_t expect_value_and_percentile(OGRFeature& f, const std::vector<float>& map, int side) {
  const OGRPoint* p = f.GetGeometryRef()->toPoint();
  const int c = static_cast<int>(std::floor((p->getX() - grid_x0) / cell));
  const int r = static_cast<int>(std::floor((grid_y0 - p->getY()) / cell));
  const auto i = static_cast<std::size_t>(r * side + c);
  const float v = map[i];
  EXPECT_EQ(static_cast<float>(f.GetFieldAsDouble("map_value")), v) << f.GetFieldAsString("name");
  double below = 0;
  for (const float m : map) below += m < v ? 1.0 : (m == v ? 0.5 : 0.0);
  EXPECT_NEAR(f.GetFieldAsDouble("percentile"), 100.0 * below / static_cast<double>(map.size()), 1e-9);
  return i;
}

}  // namespace

// <base>_deposits.gpkg: every deposit with the map's value and the class raster's class at its
// cell (both read here with GDAL at the cell the point falls in) and its percentile among the
// valid cells (counted here); rejected ones with their reason and class 0.
TEST(CrossValidation, DepositsGeoPackageHoldsTheMapValues) {
  Case k = make_case(40, 15, "kfold = 3\nseed = 2\n");
  {
    std::ofstream csv(k.dir / "deposits.csv", std::ios::app);
    csv << "outside," << grid_x0 - 5000.0 << "," << grid_y0 + 5000.0 << "\n";  // off the grid
  }
  const auto res = run_cli({"run", k.model.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const std::vector<float> map = gp::test::read_raster(k.dir / "out.tif");
  const std::vector<float> classes = gp::test::read_raster(k.dir / "out_classes.tif");
  GDALDatasetUniquePtr ds(GDALDataset::Open((k.dir / "out_deposits.gpkg").c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(ds);
  OGRLayer* layer = ds->GetLayer(0);
  std::size_t used = 0;
  std::size_t rejected = 0;
  for (auto& f : *layer) {
    const std::string status = f->GetFieldAsString("status");
    if (status == "rejected") {
        ++rejected;
      EXPECT_STREQ(f->GetFieldAsString("name"), "outside");
      EXPECT_NE(std::string(f->GetFieldAsString("reason")).find("outside"), std::string::npos);
      EXPECT_EQ(f->GetFieldAsInteger("class"), 0);  // the class raster's nodata
      continue;
    }
    ++used;
    const std::size_t i = expect_value_and_percentile(*f, map, k.side);
    // The class the class raster holds at that cell.
    EXPECT_EQ(f->GetFieldAsInteger("class"), static_cast<int>(classes[i])) << f->GetFieldAsString("name");
    if (std::string(f->GetFieldAsString("role")) == "validation") {
      EXPECT_GE(f->GetFieldAsInteger("fold"), 1);
    }
  }
  // Each deposit twice: as a validation deposit and as a training deposit.
  EXPECT_EQ(used, 2 * k.deps.size());
  EXPECT_EQ(rejected, 2u);
}

// The folds were retrained: a training deposit's fold is the fold that held its cell out of
// training, i.e. the fold of the validation deposit at the same cell (the same deposits here).
TEST(CrossValidation, DepositsGeoPackageGivesTrainingRowsTheirFold) {
  const Case k = make_case(40, 15, "kfold = 3\nseed = 5\n");
  const auto res = run_cli({"run", k.model.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  GDALDatasetUniquePtr ds(GDALDataset::Open((k.dir / "out_deposits.gpkg").c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(ds);
  std::map<std::string, int> validation_fold;
  std::map<std::string, int> training_fold;
  for (auto& f : *ds->GetLayer(0)) {
    auto& into = std::string(f->GetFieldAsString("role")) == "validation" ? validation_fold : training_fold;
    into[f->GetFieldAsString("name")] = f->GetFieldAsInteger("fold");
  }
  ASSERT_EQ(training_fold.size(), k.deps.size());
  std::set<int> folds;
  for (const auto& [name, fold] : training_fold) {
    EXPECT_EQ(fold, validation_fold.at(name)) << name;
    folds.insert(fold);
  }
  EXPECT_EQ(folds, (std::set<int>{1, 2, 3}));
}

// A trained run without [validation] writes <base>_training_deposits.gpkg: its training deposits
// with the map's value at their cells and their percentile among the valid cells (counted
// here), fold 0 (no split), and the rejected ones with their reason.
TEST(CrossValidation, TrainingOnlyRunWritesTrainingDepositsGeoPackage) {
  Case k = make_case(30, 9, "");
  {
    std::ifstream in(k.model);
    std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto a = toml.find("[validation]");
    const auto b = toml.find("[output]");
    ASSERT_NE(a, std::string::npos);
    toml.erase(a, b - a);
    std::ofstream(k.model) << toml;
    std::ofstream csv(k.dir / "deposits.csv", std::ios::app);
    csv << "outside," << grid_x0 - 5000.0 << "," << grid_y0 + 5000.0 << "\n";
  }
  const auto res = run_cli({"run", k.model.string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.err.find("out_training_deposits.gpkg"), std::string::npos) << res.err;  // a "wrote" line
  EXPECT_FALSE(fs::exists(k.dir / "out_deposits.gpkg"));  // validate's name stays free
  const std::vector<float> map = gp::test::read_raster(k.dir / "out.tif");
  GDALDatasetUniquePtr ds(GDALDataset::Open((k.dir / "out_training_deposits.gpkg").c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(ds);
  std::size_t used = 0;
  std::size_t rejected = 0;
  for (auto& f : *ds->GetLayer(0)) {
    EXPECT_STREQ(f->GetFieldAsString("role"), "training");
    if (std::string(f->GetFieldAsString("status")) == "rejected") {
      ++rejected;
      EXPECT_STREQ(f->GetFieldAsString("name"), "outside");
      continue;
    }
    ++used;
    expect_value_and_percentile(*f, map, k.side);
    EXPECT_EQ(f->GetFieldAsInteger("fold"), 0);
  }
  EXPECT_EQ(used, k.deps.size());
  EXPECT_EQ(rejected, 1u);
}

// Bad spatial-fold keys: one line naming the key, exit 3 (model), nothing written.
TEST(CrossValidation, BadBlockKeysAreRefused) {
  for (const std::string bad : {"kfold = 3\nblocks = { size_km = 0 }\n", "kfold = 3\nbuffer_km = -1\n",
                                "blocks = { size_km = 10 }\n", "kfold = 3\nsplit_by = \"name\"\nblocks = { size_km = 10 }\n"}) {
    const Case k = make_case(20, 6, bad);
    const auto res = run_cli({"run", k.model.string()});
    EXPECT_EQ(res.exit_code, 3) << bad << res.err;
    EXPECT_NE(res.err.find("[validation]"), std::string::npos) << res.err;
    EXPECT_FALSE(fs::exists(k.dir / "out.tif"));
  }
}
