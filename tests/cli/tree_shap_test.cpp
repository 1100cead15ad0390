// TreeSHAP contributions of tree ensembles ([output] contributions = true with method =
// "boosted-trees" | "random-forest"): each band against XGBoost's own pred_contribs (the C API's
// contribution prediction, type 2) on the same cells, and base value + the bands = the margin
// = logit of the map.
//
// Tolerance. XGBoost computes each SHAP value in float; so does the kernel, with the same
// operations in the same order (tree_shap.hpp), so the two normally agree bit for bit. The
// bound allowed is that of two float evaluations of the same sum: per tree of L leaves and
// depth D, each leaf adds a term w (o - z) v, where w (the unwound permutation weight, <= 1),
// o - z (path fractions, |o - z| <= 1) and v (the leaf) come from at most 8 D + 4 rounded
// float operations (ExtendPath and UnwoundPathSum: about four per level each), so the term has
// a relative error <= (8 D + 4) u (u = 2^-24); the at most L terms of a tree and then the T
// trees are summed in float, adding (L + T) u of the magnitudes summed. The magnitudes of one
// tree's terms add up to at most L max|v|. Hence
//   |phi - phi_float| <= u sum_t (8 D_t + 4 + L_t + T) L_t max|v_t|     (per computation),
// and the test allows twice that (XGBoost's and the kernel's), plus the Float32 rounding of the
// stored band (u |phi|). For a band that sums a categorical layer's indicators, or averages
// bags, the bounds of its terms add up.
// The sum identity: base + sum of the bands against logit(p), p the map's Float32 probability:
// the margin's float sum over T trees adds T u sum_t max|v_t|, the float sigmoid and the stored
// p a few ulp of p, which logit turns into 4 u / (1 - p) (d logit / dp = 1 / (p (1 - p))).
#include "model/model.hpp"
#include "plan/program.hpp"
#include "run/runner.hpp"
#include "train/trees.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "small_grid.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace gc = gp::cli;
namespace gk = gp::kernels;
namespace gm = gp::model;

namespace {

const double u = std::ldexp(1.0, -24);
const float nan_f = std::numeric_limits<float>::quiet_NaN();

/// XGBoost's prediction of `type` (1: the margin, 2: pred_contribs, per row nf SHAP values then
/// the bias) of `model_json` on rows `x` (nf features, NaN missing), single-threaded.
std::vector<float> xgboost_predict(const std::string& model_json, const std::vector<float>& x,
                                   std::size_t nf, int type) {
  void* b = nullptr;
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &b), 0);
  EXPECT_EQ(XGBoosterLoadModelFromBuffer(b, model_json.data(), model_json.size()), 0);
  EXPECT_EQ(XGBoosterSetParam(b, "nthread", "1"), 0);
  void* dm = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(x.data(), x.size() / nf, nf, nan_f, &dm), 0);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  const std::string config = "{\"type\": " + std::to_string(type) +
                             R"(, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
                             R"("strict_shape": false})";
  EXPECT_EQ(XGBoosterPredictFromDMatrix(b, dm, config.c_str(), &shape, &dim, &res), 0)
      << XGBGetLastError();
  const std::size_t per_row = type == 2 ? nf + 1 : 1;
  std::vector<float> out(res, res + (x.size() / nf) * per_row);
  XGDMatrixFree(dm);
  XGBoosterFree(b);
  return out;
}

std::vector<float> xgboost_contribs(const std::string& model_json, const std::vector<float>& x,
                                    std::size_t nf) {
  return xgboost_predict(model_json, x, nf, 2);
}

/// The float bounds of the file comment, from XGBoost's JSON model.
struct Bounds {
  double shap{0.0};    ///< one SHAP value computed in float, either way
  double margin{0.0};  ///< the margin's float sum over the trees
};

Bounds bounds_of(const std::string& model_json) {
  const nlohmann::json j = nlohmann::json::parse(model_json);
  const auto& trees = j.at("learner").at("gradient_booster").at("model").at("trees");
  const double n_trees = static_cast<double>(trees.size());
  Bounds b;
  for (const auto& t : trees) {
    const auto& left = t.at("left_children");
    const auto& cond = t.at("split_conditions");
    std::vector<int> depth(left.size(), 0);
    double leaves = 0.0;
    double max_leaf = 0.0;
    int deepest = 0;
    for (std::size_t i = 0; i < left.size(); ++i) {  // children come after their parent
      const auto l = left[i].get<long long>();
      if (l < 0) {
        leaves += 1.0;
        max_leaf = std::max(max_leaf, std::abs(cond[i].get<double>()));
        deepest = std::max(deepest, depth[i]);
        continue;
      }
      const auto r = t.at("right_children")[i].get<long long>();
      depth[static_cast<std::size_t>(l)] = depth[i] + 1;
      depth[static_cast<std::size_t>(r)] = depth[i] + 1;
    }
    b.shap += u * (8.0 * deepest + 4.0 + leaves + n_trees) * leaves * max_leaf;
    b.margin += u * n_trees * max_leaf;
  }
  return b;
}

/// |mine - ref| within two float evaluations' bound plus mine's Float32 rounding.
void expect_shap_near(double mine, double ref, double bound, const std::string& where) {
  ASSERT_NEAR(mine, ref, 2.0 * bound + u * std::abs(ref)) << where;
}

/// The base value + sum of the bands against logit(p) (file comment).
void expect_margin_identity(double base, const std::vector<double>& bands, float p,
                            double shap_bound, const Bounds& b, const std::string& where) {
  double sum = base;
  for (double v : bands) sum += v;
  const double tol = 2.0 * shap_bound * static_cast<double>(bands.size()) + b.margin +
                     4.0 * u / (1.0 - p) + 4.0 * u * std::abs(sum);
  ASSERT_NEAR(sum, std::log(static_cast<double>(p) / (1.0 - p)), tol) << where;
}

/// A raster's values with its nodata as NaN.
std::vector<float> read_with_nan(const fs::path& path) {
  std::vector<float> v = gp::test::read_raster(path, 1);
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  int has = 0;
  const double nd = ds->GetRasterBand(1)->GetNoDataValue(&has);
  if (has != 0) {
    for (float& x : v) {
      if (x == static_cast<float>(nd)) x = nan_f;
    }
  }
  return v;
}

/// Every band of a raster, its descriptions and band metadata item `key`.
struct Bands {
  std::vector<std::vector<float>> v;
  std::vector<std::string> desc;
  std::vector<std::string> meta;
};

Bands read_bands(const fs::path& path, const char* key) {
  Bands b;
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  EXPECT_TRUE(ds) << path;
  if (!ds) return b;
  for (int k = 1; k <= ds->GetRasterCount(); ++k) {
    b.desc.emplace_back(ds->GetRasterBand(k)->GetDescription());
    const char* m = ds->GetRasterBand(k)->GetMetadataItem(key);
    b.meta.emplace_back(m != nullptr ? m : "");
    b.v.push_back(gp::test::read_raster(path, k));
  }
  return b;
}

/// The cells of a demo's map: its model, the program TreeSHAP runs (contributions_program of
/// the flattened model over the layers as inputs 0..n-1) and its aux.
struct DemoModel {
  std::string model_json;
  gk::Program program;
  std::vector<double> aux;
  std::vector<gc::ContributionBand> bands;
};

DemoModel demo_program(const fs::path& model_json, std::size_t n_layers) {
  DemoModel d;
  std::ifstream in(model_json);
  d.model_json.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  gk::GroupOp g = gc::trees::flatten_model(d.model_json, d.aux);
  gk::Program map;
  map.n_layers = static_cast<int>(n_layers);
  g.first_input = 0;
  g.n_inputs = map.n_layers;
  for (int k = 0; k < map.n_layers; ++k) map.inputs[k] = k;
  map.groups[0] = g;
  map.n_groups = 1;
  map.bands[0] = map.n_layers;
  std::vector<std::string> names;
  for (int k = 0; k < map.n_layers; ++k) names.push_back("layer " + std::to_string(k));
  names.emplace_back("boosted trees");
  d.program = gc::contributions_program(map, names, d.bands);
  return d;
}

/// The backend's bands (score, then one per layer) of `rows` (nf features each).
std::vector<std::vector<float>> score_rows(gk::Backend& be, const DemoModel& d,
                                           const std::vector<float>& rows, std::size_t nf) {
  const std::size_t n = rows.size() / nf;
  std::vector<std::vector<float>> cols(nf, std::vector<float>(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < nf; ++k) cols[k][i] = rows[i * nf + k];
  }
  std::vector<const float*> layers;
  for (const auto& c : cols) layers.push_back(c.data());
  std::vector<std::vector<float>> out(static_cast<std::size_t>(d.program.n_bands), std::vector<float>(n));
  std::vector<float*> ptrs;
  for (auto& o : out) ptrs.push_back(o.data());
  be.set_program(d.program, d.aux);
  be.score(layers.data(), n, ptrs.data());
  return out;
}

/// The Cloncurry boosted-trees demo, trained and mapped once for the tests that need it.
struct Demo {
  fs::path dir;
  std::vector<std::vector<float>> layers;
  std::vector<float> map;
};

const Demo& demo() {
  static const Demo d = [] {
    Demo x;
    x.dir = gp::test::scratch_dir();
    const gm::Model m =
        gm::load_model(gp::test::source_dir() / "data-samples/cloncurry/iocg_boosted_trees.toml");
    gc::RunOptions o;
    o.output = x.dir / "map.tif";
    o.device = gc::DeviceChoice::cpu;
    o.progress = false;
    gc::run_model(m, o);
    for (const auto& L : m.layers) x.layers.push_back(read_with_nan(L.path));
    x.map = gp::test::read_raster(x.dir / "map.tif", 1);
    return x;
  }();
  return d;
}

/// Every 499th valid cell of the demo's map, as rows of the layers' values.
std::vector<float> sampled_rows(const Demo& d, std::vector<float>& p) {
  std::vector<float> rows;
  for (std::size_t i = 0; i < d.map.size(); i += 499) {
    if (!(d.map[i] >= 0.0f && d.map[i] <= 1.0f)) continue;  // nodata (-9999)
    for (const auto& L : d.layers) rows.push_back(L[i]);
    p.push_back(d.map[i]);
  }
  return rows;
}

TEST(TreeShapDemo, BandsEqualXGBoostsPredContribsAndAddUpToTheMargin) {
  const Demo& d = demo();
  const std::size_t nf = d.layers.size();
  ASSERT_EQ(nf, 4u);
  for (const auto& L : d.layers) ASSERT_EQ(L.size(), d.map.size());
  std::vector<float> p;
  const std::vector<float> rows = sampled_rows(d, p);
  const std::size_t n = p.size();
  ASSERT_GT(n, 1000u);
  const DemoModel m = demo_program(d.dir / "map_model.json", nf);
  ASSERT_EQ(m.bands.size(), nf);
  const Bounds b = bounds_of(m.model_json);
  auto cpu = gk::make_cpu_backend(2);
  const auto mine = score_rows(*cpu, m, rows, nf);
  const std::vector<float> ref = xgboost_contribs(m.model_json, rows, nf);
  const float base = gk::tree_ensemble_base_value(m.aux.data(), m.program.groups[0].aux_nodes,
                                                  m.program.groups[0].aux_count,
                                                  static_cast<float>(m.program.groups[0].bias));
  std::size_t identical = 0;
  double worst = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(mine[0][i], p[i]) << "the program's score is the map's, cell " << i;
    // XGBoost's bias column is the base value, the same in every row.
    ASSERT_NEAR(ref[i * (nf + 1) + nf], base, 2.0 * b.margin) << i;
    std::vector<double> bands;
    for (std::size_t k = 0; k < nf; ++k) {
      const double v = mine[k + 1][i];
      const double r = ref[i * (nf + 1) + k];
      expect_shap_near(v, r, b.shap, "cell " + std::to_string(i) + " layer " + std::to_string(k));
      identical += v == r ? 1 : 0;
      worst = std::max(worst, std::abs(v - r));
      bands.push_back(v);
    }
    expect_margin_identity(base, bands, p[i], b.shap, b, "cell " + std::to_string(i));
  }
  std::cout << n << " cells x " << nf << " layers: " << identical << " bit-identical to XGBoost, "
            << "largest difference " << worst << " (bound " << 2.0 * b.shap << ")\n";
}

// ---- whole runs on a small grid: the file, categorical layers, pu-bagging ----------------

using gp::test::small_grid::cell;
using gp::test::small_grid::n_cells;
using gp::test::small_grid::nd;
using gp::test::small_grid::x0;
using gp::test::small_grid::y0;

/// Layer `name` on the small grid, its values with nodata as NaN.
std::vector<float> write_layer(const fs::path& dir, const std::string& name, float (*f)(int, int)) {
  std::vector<float> v = gp::test::small_grid::write_layer(dir, name, f);
  for (float& x : v) x = x == static_cast<float>(nd) ? nan_f : x;
  return v;
}

float cont_x(int r, int c) {
  return (r + 2 * c) % 13 == 0 ? NAN : static_cast<float>(100.0 + 10.0 * std::sin(r * 0.5) + c);
}
float cat_x(int r, int c) { return r < 6 ? 3.0f : (c < 10 ? 5.0f : 7.0f); }
float third_x(int r, int c) { return static_cast<float>((r * 7 + c * 3) % 17); }

const std::vector<std::pair<int, int>> deposit_cells{{2, 3},   {5, 20}, {12, 4}, {15, 30},
                                                     {25, 8},  {28, 35}, {7, 12}, {20, 22},
                                                     {3, 33},  {18, 10}, {22, 28}, {9, 2}};

/// A trained model over the given layers ([[layer]] lines each), contributions on.
std::string trees_model(const std::string& layers, const std::string& trees) {
  return std::string(R"([training]
deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
unit_cell_km2 = 0.01
)") + layers + "[combine]\nmethod = \"boosted-trees\"\n[trees]\n" + trees +
         "[output]\ncontributions = true\n";
}

nlohmann::json run(const fs::path& dir, const std::string& toml, gc::DeviceChoice device,
                   const std::string& name) {
  gp::test::write_deposit_cells(dir / "deposits.csv", x0, y0, cell, deposit_cells);
  return gp::test::small_grid::run(dir, toml, device, name);
}

bool ok(float v) { return v != static_cast<float>(nd) && std::isfinite(v); }

const char* categorical_layers = R"([[layer]]
name = "cont"
path = "cont.tif"
[[layer]]
name = "cat"
path = "cat.tif"
categorical = true
)";

TEST(TreeShapRun, CategoricalLayersBandIsTheSumOfItsClassesShap) {
  const fs::path dir = gp::test::scratch_dir();
  const auto x = write_layer(dir, "cont", cont_x);
  const auto k = write_layer(dir, "cat", cat_x);
  const nlohmann::json rep =
      run(dir, trees_model(categorical_layers, "n_trees = 25\nmax_depth = 3\nseed = 1\n"
                                               "negatives = { ratio = 4, buffer_km = 0.2 }\n"),
          gc::DeviceChoice::cpu, "map");
  const Bands c = read_bands(dir / "map_contributions.tif", "GP_TREESHAP_BASE_VALUE");
  ASSERT_EQ(c.v.size(), 2u);
  EXPECT_EQ(c.desc[0].rfind("cont -> boosted-trees: TreeSHAP, margin units (base value ", 0), 0u)
      << c.desc[0];
  EXPECT_EQ(c.desc[1].rfind("cat -> boosted-trees: TreeSHAP, margin units", 0), 0u) << c.desc[1];
  EXPECT_NE(c.desc[1].find("+ sum of bands = margin"), std::string::npos) << c.desc[1];
  // The training table's columns: cont, then one indicator per class of cat (cat=3, cat=5, cat=7).
  std::ifstream in(dir / "map_model.json");
  const std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<float> classes{3.0f, 5.0f, 7.0f};
  std::vector<float> rows;
  for (std::size_t i = 0; i < n_cells(); ++i) {
    rows.push_back(x[i]);
    for (float cls : classes) rows.push_back(k[i] == cls ? 1.0f : 0.0f);
  }
  const std::vector<float> ref = xgboost_contribs(model, rows, 4);
  const Bounds b = bounds_of(model);
  const auto p = gp::test::read_raster(dir / "map.tif", 1);
  const double base = ref[4];
  EXPECT_NEAR(rep.at("contributions").at("tree_shap").at("base_value").get<double>(), base, 2.0 * b.margin);
  EXPECT_NEAR(std::stod(c.meta[0]), base, 2.0 * b.margin);
  EXPECT_EQ(c.meta[1], c.meta[0]);
  for (std::size_t i = 0; i < n_cells(); ++i) {
    ASSERT_TRUE(ok(p[i]) && ok(c.v[0][i]) && ok(c.v[1][i])) << i;  // cat holds data everywhere
    const double want_cont = ref[i * 5];
    const double want_cat = static_cast<double>(ref[i * 5 + 1]) + ref[i * 5 + 2] + ref[i * 5 + 3];
    expect_shap_near(c.v[0][i], want_cont, b.shap, "cont, cell " + std::to_string(i));
    expect_shap_near(c.v[1][i], want_cat, 3.0 * b.shap, "cat, cell " + std::to_string(i));
    expect_margin_identity(base, {c.v[0][i], c.v[1][i]}, p[i], 3.0 * b.shap, b,
                           "cell " + std::to_string(i));
  }
}

const char* two_layers = R"([[layer]]
name = "cont"
path = "cont.tif"
[[layer]]
name = "third"
path = "third.tif"
)";

TEST(TreeShapRun, PuBaggingBandsAreTheMeanOfEachBagsShap) {
  const fs::path dir = gp::test::scratch_dir();
  const auto x = write_layer(dir, "cont", cont_x);
  const auto t = write_layer(dir, "third", third_x);
  const int bags = 3;
  const nlohmann::json rep = run(
      dir, trees_model(two_layers, "n_trees = 15\nmax_depth = 3\nseed = 4\nnegatives = { ratio = 4, "
                                   "buffer_km = 0.2, method = \"pu-bagging\", bags = 3 }\n"),
      gc::DeviceChoice::cpu, "map");
  const Bands c = read_bands(dir / "map_contributions.tif", "GP_TREESHAP_BASE_VALUE");
  ASSERT_EQ(c.v.size(), 2u);
  EXPECT_NE(c.desc[0].find("mean over the 3 bags"), std::string::npos) << c.desc[0];
  EXPECT_NE(c.desc[0].find("not additive to the map's mean probability"), std::string::npos) << c.desc[0];
  EXPECT_FALSE(rep.at("contributions").at("bands")[0].at("additive").get<bool>());
  std::vector<float> rows;
  for (std::size_t i = 0; i < n_cells(); ++i) {
    rows.push_back(x[i]);
    rows.push_back(t[i]);
  }
  std::vector<std::vector<float>> ref;
  std::vector<std::vector<float>> margin;
  double base = 0.0;
  double bound = 0.0;
  Bounds mb;
  for (int k = 0; k < bags; ++k) {
    std::ifstream in(dir / ("map_model_bag" + std::to_string(k) + ".json"));
    const std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ref.push_back(xgboost_contribs(model, rows, 2));
    margin.push_back(xgboost_predict(model, rows, 2, 1));
    base += ref.back()[2] / bags;
    const Bounds b = bounds_of(model);
    bound += b.shap / bags;
    mb.margin += b.margin / bags;
  }
  EXPECT_NEAR(rep.at("contributions").at("tree_shap").at("base_value").get<double>(), base, 2.0 * mb.margin);
  EXPECT_NEAR(std::stod(c.meta[1]), base, 2.0 * mb.margin);
  for (std::size_t i = 0; i < n_cells(); ++i) {
    ASSERT_TRUE(ok(c.v[0][i]) && ok(c.v[1][i])) << i;  // third holds data everywhere
    double want[2] = {0.0, 0.0};
    double mean_margin = 0.0;
    for (int k = 0; k < bags; ++k) {
      want[0] += ref[static_cast<std::size_t>(k)][i * 3] / static_cast<double>(bags);
      want[1] += ref[static_cast<std::size_t>(k)][i * 3 + 1] / static_cast<double>(bags);
      mean_margin += margin[static_cast<std::size_t>(k)][i] / static_cast<double>(bags);
    }
    expect_shap_near(c.v[0][i], want[0], bound, "cont, cell " + std::to_string(i));
    expect_shap_near(c.v[1][i], want[1], bound, "third, cell " + std::to_string(i));
    // base + the bands = the mean of the bags' margins (XGBoost's own margins).
    ASSERT_NEAR(base + c.v[0][i] + c.v[1][i], mean_margin, 4.0 * bound + 2.0 * mb.margin + 1e-6) << i;
  }
}

TEST(TreeShapRun, SaysOnceWhatTreeShapCosts) {
  const fs::path dir = gp::test::scratch_dir();
  write_layer(dir, "cont", cont_x);
  write_layer(dir, "third", third_x);
  gp::test::write_deposit_cells(dir / "deposits.csv", x0, y0, cell, deposit_cells);
  gp::test::write_text(dir / "model.toml",
                       trees_model(two_layers, "n_trees = 5\nmax_depth = 2\nseed = 1\n"
                                               "negatives = { ratio = 2, buffer_km = 0.2 }\n"));
  const auto r = gp::test::run_cli({"run", (dir / "model.toml").string(), "-o",
                                    (dir / "map.tif").string(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::size_t said = 0;
  for (const auto& line : gp::test::lines(r.err)) {
    said += line.find("TreeSHAP per cell costs O(trees x leaves x depth^2), here 5 trees") !=
            std::string::npos;
  }
  EXPECT_EQ(said, 1u) << r.err;
  EXPECT_TRUE(fs::exists(dir / "map_contributions.tif"));
  EXPECT_TRUE(fs::exists(dir / "map_contributions_b2.png"));
}

// ---- CPU and CUDA (a GPU, or the device sources on the host) agree (gpu label) ------------

TEST(TreeShapCuda, DeviceBandsEqualTheCpus) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const fs::path dir = gp::test::scratch_dir();
  write_layer(dir, "cont", cont_x);
  write_layer(dir, "cat", cat_x);
  const std::string toml = trees_model(categorical_layers, "n_trees = 40\nmax_depth = 5\nseed = 2\n"
                                                           "negatives = { ratio = 4, buffer_km = 0.2 }\n");
  run(dir, toml, gc::DeviceChoice::cpu, "cpu");
  run(dir, toml, gc::DeviceChoice::cuda, "gpu");
  const Bands a = read_bands(dir / "cpu_contributions.tif", "GP_TREESHAP_BASE_VALUE");
  const Bands g = read_bands(dir / "gpu_contributions.tif", "GP_TREESHAP_BASE_VALUE");
  ASSERT_EQ(a.v.size(), 2u);
  ASSERT_EQ(g.desc, a.desc);
  ASSERT_EQ(g.meta, a.meta);
  std::ifstream in(dir / "cpu_model.json");
  const std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Bounds b = bounds_of(model);
  for (std::size_t k = 0; k < a.v.size(); ++k) {
    for (std::size_t i = 0; i < n_cells(); ++i) {
      // The same float operations: equal, or within two evaluations' bound.
      expect_shap_near(g.v[k][i], a.v[k][i], 3.0 * b.shap, "band " + std::to_string(k + 1) +
                                                               ", cell " + std::to_string(i));
    }
  }
  // The demo's model on its sampled cells, through both backends directly.
  const Demo& d = demo();
  std::vector<float> p;
  const std::vector<float> rows = sampled_rows(d, p);
  const DemoModel m = demo_program(d.dir / "map_model.json", d.layers.size());
  const Bounds db = bounds_of(m.model_json);
  auto cpu = gk::make_cpu_backend(2);
  auto dev = gk::make_cuda_backend(0);
  const auto x = score_rows(*cpu, m, rows, d.layers.size());
  const auto y = score_rows(*dev, m, rows, d.layers.size());
  for (std::size_t k = 1; k < x.size(); ++k) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      expect_shap_near(y[k][i], x[k][i], db.shap, "demo band " + std::to_string(k) + ", cell " +
                                                      std::to_string(i));
    }
  }
}

}  // namespace
