// Tree ensembles (boosted trees, random forests): the kernel's trees against XGBoost's own
// prediction, a stump worked by hand, the background draw, and bad input.

#include "model/model.hpp"
#include "run/runner.hpp"
#include "train/trees.hpp"

#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <xgboost/c_api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <fstream>
#include <limits>
#include <random>

namespace fs = std::filesystem;
namespace gc = gp::cli;
namespace gk = gp::kernels;
namespace gm = gp::model;

namespace {

const float nan_f = std::numeric_limits<float>::quiet_NaN();

/// A program of `n` identity layers and one tree_ensemble group `g` over them.
gk::Program ensemble_program(int n, gk::GroupOp g) {
  gk::Program p;
  p.n_layers = n;
  g.first_input = 0;
  g.n_inputs = n;
  for (int k = 0; k < n; ++k) p.inputs[k] = k;
  p.groups[0] = g;
  p.n_groups = 1;
  p.n_bands = 1;
  p.bands[0] = n;
  return p;
}

/// The columns of row-major rows `x` of `nf` features: the layers a backend scores.
std::vector<std::vector<float>> columns_of(const std::vector<float>& x, std::size_t nf) {
  const std::size_t n = x.size() / nf;
  std::vector<std::vector<float>> cols(nf, std::vector<float>(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < nf; ++k) cols[k][i] = x[i * nf + k];
  }
  return cols;
}

/// The map values of rows of `x` (n_rows x n_features, row-major) by eval_cell and by the CPU
/// backend; the two must agree bit for bit.
std::vector<float> kernel_values(const gk::Program& p, const std::vector<double>& aux,
                                 const std::vector<float>& x, std::size_t nf) {
  const std::size_t n = x.size() / nf;
  const std::vector<std::vector<float>> cols = columns_of(x, nf);
  std::vector<const float*> layers;
  for (const auto& c : cols) layers.push_back(c.data());
  std::vector<float> out(n);
  float* bands[1] = {out.data()};
  auto be = gk::make_cpu_backend(2);
  be->set_program(p, aux);
  be->score(layers.data(), n, bands);
  for (std::size_t i = 0; i < n; ++i) {
    float v = 0.0f;
    gk::eval_cell(
        p, aux.data(), [&](int l) { return cols[static_cast<std::size_t>(l)][i]; },
        [&](int, double r) { v = gk::store_value(p, r); });
    EXPECT_EQ(std::memcmp(&v, &out[i], sizeof v), 0) << "eval_cell vs CPU backend, row " << i;
  }
  return out;
}

TEST(TreeKernel, StumpWorkedByHand) {
  // One stump on input 1 at 0.5, missing goes left; leaves -0.3 (left) and 0.7; base margin
  // 0.2. Input 0 is never split on.
  // aux: the tree at 2, depth 1; then its complete layout: the split {input 1 with the
  // missing-goes-left bit, 0.5} and the two leaves (slots 1 and 2, left and right).
  const auto bits = [](float f) {
    std::uint32_t u = 0;
    std::memcpy(&u, &f, sizeof u);
    return u;
  };
  std::vector<double> aux{2.0,
                          1.0,
                          gk::tree_word(1u | 0x80000000u, bits(0.5f)),
                          gk::tree_word(0, bits(-0.3f)),
                          gk::tree_word(0, bits(0.7f))};
  gk::GroupOp g;
  g.method = gk::CombineMethod::tree_ensemble;
  g.bias = 0.2;
  g.aux_first = 0;
  g.aux_count = 1;
  gk::Program p = ensemble_program(2, g);
  p.out_nodata = -1.0f;
  const std::vector<float> x{1.0f, 0.2f, 1.0f, 0.8f, 1.0f, 0.5f, 1.0f, nan_f, nan_f, nan_f};
  const std::vector<float> v = kernel_values(p, aux, x, 2);
  const auto sig = [](double m) { return 1.0 / (1.0 + std::exp(-m)); };
  EXPECT_NEAR(v[0], sig(0.2f - 0.3f), 1e-7);  // 0.2 < 0.5: left
  EXPECT_NEAR(v[1], sig(0.2f + 0.7f), 1e-7);  // right
  EXPECT_NEAR(v[2], sig(0.2f + 0.7f), 1e-7);  // 0.5 is not < 0.5: right
  EXPECT_NEAR(v[3], sig(0.2f - 0.3f), 1e-7);  // missing: the default (left)
  EXPECT_EQ(v[4], -1.0f);                      // every input nodata: nodata
  EXPECT_NEAR(v[0], 0.47502081, 1e-7);
  EXPECT_NEAR(v[1], 0.71094950, 1e-7);
}

/// Random rows: 5 features in [0, 1), 15 % missing (never all of a row).
std::vector<float> random_rows(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(n * 5);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < 5; ++k) x[i * 5 + k] = u(rng) < 0.15f ? nan_f : u(rng);
    x[i * 5 + 4] = u(rng);
  }
  return x;
}

/// XGBoost's own mean gain per feature column of `model_json` (0 for unused features).
std::vector<double> xgboost_gain(const std::string& model_json, std::size_t nf) {
  void* b = nullptr;
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &b), 0);
  EXPECT_EQ(XGBoosterLoadModelFromBuffer(b, model_json.data(), model_json.size()), 0);
  bst_ulong n = 0, dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  EXPECT_EQ(XGBoosterFeatureScore(b, R"({"importance_type": "gain", "feature_map": ""})", &n,
                                  &names, &dim, &shape, &scores),
            0)
      << XGBGetLastError();
  std::vector<double> out(nf, 0.0);
  for (bst_ulong i = 0; i < n; ++i) {
    const std::size_t k = std::stoul(std::string(names[i]).substr(1));  // "f<column>"
    if (k < nf) out[k] = scores[i];
  }
  XGBoosterFree(b);
  return out;
}

/// XGBoost's own prediction of `model_json` (reloaded into a fresh booster) on rows `x`.
std::vector<float> xgboost_predict(const std::string& model_json, const std::vector<float>& x,
                                   std::size_t nf) {
  void* b = nullptr;
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &b), 0);
  EXPECT_EQ(XGBoosterLoadModelFromBuffer(b, model_json.data(), model_json.size()), 0);
  void* dm = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(x.data(), x.size() / nf, nf, nan_f, &dm), 0);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  EXPECT_EQ(XGBoosterPredictFromDMatrix(
                b, dm, R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
                &shape, &dim, &res),
            0)
      << XGBGetLastError();
  std::vector<float> out(res, res + x.size() / nf);
  XGDMatrixFree(dm);
  XGBoosterFree(b);
  return out;
}

/// An ensemble trained on random rows and flattened into a program (5 features).
struct Ensemble {
  std::string model_json;
  gk::Program program;
  std::vector<double> aux;
};

Ensemble train_ensemble(gm::Method method, const gm::TreesSpec& spec) {
  gc::trees::Table t;
  t.n_features = 5;
  t.names = {"a", "b", "c", "d", "e"};
  t.x = random_rows(800, 1);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t i = 0; i < 800; ++i) {
    const float a = t.x[i * 5];
    const float b = t.x[i * 5 + 1];
    const float s = (a == a ? a : 0.3f) + 0.5f * (b == b ? b : 0.8f) + 0.3f * u(rng);
    t.label.push_back(s > 1.0f ? 1.0f : 0.0f);
  }
  Ensemble e;
  e.model_json = gc::trees::train_booster(t, method, spec).model_json;
  const gk::GroupOp g = gc::trees::flatten_model(e.model_json, e.aux);
  EXPECT_EQ(g.aux_count, spec.n_trees);
  e.program = ensemble_program(5, g);
  return e;
}

/// Trains on random rows, flattens, and compares the kernel with XGBoost on other rows.
double max_error_vs_xgboost(gm::Method method, gm::TreesSpec spec) {
  const Ensemble e = train_ensemble(method, spec);
  const std::vector<float> rows = random_rows(600, 3);
  const std::vector<float> mine = kernel_values(e.program, e.aux, rows, 5);
  const std::vector<float> ref = xgboost_predict(e.model_json, rows, 5);
  double err = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(mine[i]) - ref[i]));
  }
  return err;
}

TEST(TreeKernel, BoostedTreesEqualXGBoostsPrediction) {
  gm::TreesSpec spec;
  spec.n_trees = 80;
  spec.max_depth = 5;
  spec.seed = 11;
  const double err = max_error_vs_xgboost(gm::Method::boosted_trees, spec);
  std::cout << "boosted trees: max |kernel - XGBoost| = " << err << "\n";
  EXPECT_LE(err, 1e-6);
}

TEST(TreeKernel, RandomForestEqualsXGBoostsPrediction) {
  gm::TreesSpec spec;
  spec.n_trees = 50;
  spec.max_depth = 6;
  spec.seed = 5;
  const double err = max_error_vs_xgboost(gm::Method::random_forest, spec);
  std::cout << "random forest: max |kernel - XGBoost| = " << err << "\n";
  EXPECT_LE(err, 1e-6);
}

// The CUDA backend (on a GPU, or the device sources run on the host: preset device-on-host)
// against the CPU backend, cell by cell, for both boosters, with missing values. The trees'
// float sums are the same code; only the final exp may differ in the last ulp on a GPU.
TEST(TreeKernelCuda, BothBoostersEqualTheCpuCellByCell) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const gm::Method method : {gm::Method::boosted_trees, gm::Method::random_forest}) {
    gm::TreesSpec spec;
    spec.n_trees = 60;
    spec.max_depth = 6;
    spec.seed = 13;
    const Ensemble e = train_ensemble(method, spec);
    const std::size_t n = 100003;  // not a multiple of any block size
    const std::vector<float> rows = random_rows(n, 7);
    const std::vector<std::vector<float>> cols = columns_of(rows, 5);
    std::vector<const float*> layers;
    for (const auto& c : cols) layers.push_back(c.data());
    std::vector<float> cpu(n), dev(n);
    float* cpu_bands[1] = {cpu.data()};
    float* dev_bands[1] = {dev.data()};
    auto c = gk::make_cpu_backend(2);
    c->set_program(e.program, e.aux);
    c->score(layers.data(), n, cpu_bands);
    auto d = gk::make_cuda_backend(0);
    d->set_program(e.program, e.aux);
    d->score(layers.data(), n, dev_bands);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(cpu[i], dev[i], 1e-6) << "cell " << i;
    }
  }
}

// pu-bagging's program shape: a tree_ensemble group per bag over the same inputs, then their
// mean (a weighted sum, 1/2 each). CPU against the mean of XGBoost's own predictions, and the
// CUDA backend (GPU or device-on-host) against the CPU cell by cell.
TEST(TreeKernelCuda, BaggedMeanEqualsXGBoostAndTheCpu) {
  gm::TreesSpec spec;
  spec.n_trees = 40;
  spec.seed = 21;  // max_depth 6, the default
  const Ensemble e0 = train_ensemble(gm::Method::boosted_trees, spec);
  spec.seed = 22;
  spec.subsample = 0.6;
  const Ensemble e1 = train_ensemble(gm::Method::boosted_trees, spec);
  std::vector<double> aux;
  gk::Program p = ensemble_program(5, gc::trees::flatten_model(e0.model_json, aux));
  p.groups[1] = gc::trees::flatten_model(e1.model_json, aux);
  p.groups[1].first_input = 0;
  p.groups[1].n_inputs = 5;
  p.inputs[5] = 5;  // node 5: group 0, node 6: group 1
  p.inputs[6] = 6;
  p.input_weights[5] = 0.5;
  p.input_weights[6] = 0.5;
  p.groups[2].method = gk::CombineMethod::weighted_sum;
  p.groups[2].first_input = 5;
  p.groups[2].n_inputs = 2;
  p.n_groups = 3;
  p.bands[0] = 7;
  const std::vector<float> rows = random_rows(600, 9);
  const std::vector<float> cpu = kernel_values(p, aux, rows, 5);
  const std::vector<float> r0 = xgboost_predict(e0.model_json, rows, 5);
  const std::vector<float> r1 = xgboost_predict(e1.model_json, rows, 5);
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_NEAR(cpu[i], (static_cast<double>(r0[i]) + r1[i]) / 2.0, 1e-6) << "row " << i;
  }
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<std::vector<float>> cols = columns_of(rows, 5);
  std::vector<const float*> layers;
  for (const auto& c : cols) layers.push_back(c.data());
  std::vector<float> dev(cpu.size());
  float* bands[1] = {dev.data()};
  auto d = gk::make_cuda_backend(0);
  d->set_program(p, aux);
  d->score(layers.data(), cpu.size(), bands);
  for (std::size_t i = 0; i < cpu.size(); ++i) ASSERT_NEAR(cpu[i], dev[i], 1e-6) << "cell " << i;
}

TEST(TreeKernel, BaseScoreIsTheStartingProbability) {
  gm::TreesSpec spec;
  spec.n_trees = 30;
  spec.xgboost = {{"base_score", "0.3"}, {"lambda", "2"}};
  EXPECT_LE(max_error_vs_xgboost(gm::Method::boosted_trees, spec), 1e-6);
}

// ---- runs on a small grid ----

constexpr int w = 60;
constexpr int h = 50;
constexpr double x0 = 1000000.0;
constexpr double y0 = -2000000.0;
const std::vector<std::pair<int, int>> deposits{{3, 4},   {5, 40},  {10, 12}, {12, 50}, {20, 8},
                                                {22, 30}, {25, 55}, {30, 20}, {33, 44}, {40, 5},
                                                {44, 35}, {47, 52}};

/// Two layers (a has a nodata band in rows 15-17), deposits.csv, model.toml with `trees`.
void write_grid(const fs::path& dir, const std::string& trees, bool constant_b = false,
                std::size_t n_deposits = deposits.size()) {
  std::vector<float> a(static_cast<std::size_t>(w * h));
  std::vector<float> b(a.size());
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const auto i = static_cast<std::size_t>(r * w + c);
      a[i] = (r >= 15 && r <= 17) ? -9999.0f : static_cast<float>(std::sin(r * 0.3) + c * 0.02);
      b[i] = constant_b ? 2.0f : static_cast<float>((r * 7 + c * 3) % 11);
    }
  }
  const double nd = -9999.0;
  gp::test::write_raster(dir / "a.tif", "EPSG:3577", x0, y0, 200, 200, w, h, a, &nd);
  gp::test::write_raster(dir / "b.tif", "EPSG:3577", x0, y0, 200, 200, w, h, b, &nd);
  gp::test::write_deposit_cells(
      dir / "deposits.csv", x0, y0, 200,
      {deposits.begin(), deposits.begin() + static_cast<std::ptrdiff_t>(n_deposits)});
  std::ofstream(dir / "model.toml") << R"([training]
deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
[[layer]]
name = "a"
path = "a.tif"
[[layer]]
name = "b"
path = "b.tif"
transform = { kind = "minmax" }
[combine]
method = "boosted-trees"
[trees]
)" << trees << "\n";
}

const std::string default_trees = "n_trees = 20\nmax_depth = 3\nseed = 3\n"
                                  "negatives = { ratio = 5, buffer_km = 1.0 }";

void run(const fs::path& dir, const std::string& out, std::int64_t window_rows, int threads) {
  gc::RunOptions o;
  o.output = dir / out;
  o.device = gc::DeviceChoice::cpu;
  o.progress = false;
  o.overwrite = true;
  o.window_rows = window_rows;
  o.threads = threads;
  gc::run_model(gm::load_model(dir / "model.toml"), o);
}

/// Each cell's features (row-major, 2 per cell), worked out here: a raw, b min-max scaled over
/// the grid.
std::vector<float> grid_features(const fs::path& dir) {
  const auto a = gp::test::read_raster(dir / "a.tif");
  const auto b = gp::test::read_raster(dir / "b.tif");
  const float bmin = *std::min_element(b.begin(), b.end());
  const float bmax = *std::max_element(b.begin(), b.end());
  std::vector<float> x;
  for (std::size_t i = 0; i < a.size(); ++i) {
    x.push_back(a[i] == -9999.0f ? nan_f : a[i]);
    x.push_back(static_cast<float>((static_cast<double>(b[i]) - bmin) * (1.0 / (static_cast<double>(bmax) - bmin))));
  }
  return x;
}

TEST(TreeRun, BackgroundCellsAreOutsideTheBufferAndTheMapIsXGBoosts) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, default_trees);
  run(dir, "m.tif", 7, 1);
  const auto rows = gp::test::read_csv_rows(dir / "m_training.csv");
  std::size_t neg = 0;
  std::size_t pos = 0;
  for (const auto& row : rows) {
    const double x = std::stod(row.at("X"));
    const double y = std::stod(row.at("Y"));
    if (row.at("LABEL") == "1") {
      ++pos;
      continue;
    }
    ++neg;
    for (const auto& [dr, dc] : deposits) {
      const double ex = x - (x0 + (dc + 0.5) * 200);
      const double ey = y - (y0 - (dr + 0.5) * 200);
      EXPECT_GT(std::hypot(ex, ey), 1000.0) << x << " " << y;
    }
    // Never on the nodata band of a and b together (b is valid everywhere, so any row).
  }
  EXPECT_EQ(pos, deposits.size());
  EXPECT_EQ(neg, 5 * deposits.size());

  // The map: XGBoost's prediction from the saved model on each cell's features.
  const std::vector<float> x = grid_features(dir);
  const std::string model = gp::test::file_bytes(dir / "m_model.json");
  const std::vector<float> ref = xgboost_predict(model, x, 2);
  const auto map = gp::test::read_raster(dir / "m.tif");
  double err = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) err = std::max(err, std::abs(double(map[i]) - ref[i]));
  std::cout << "map vs XGBoost (reloaded JSON), " << ref.size() << " cells: max error " << err << "\n";
  EXPECT_LE(err, 1e-6);
  // Gain per layer: XGBoost's own feature score of the reloaded model (features f0, f1 by
  // column), and both layers are used by these trees.
  const auto imp = gp::test::read_csv_rows(dir / "m_importance.csv");
  ASSERT_EQ(imp.size(), 2u);
  const std::vector<double> gain = xgboost_gain(model, 2);
  for (std::size_t k = 0; k < 2; ++k) {
    EXPECT_GT(gain[k], 0.0);
    EXPECT_NEAR(std::stod(imp[k].at("GAIN")), gain[k], 1e-6 * gain[k]) << imp[k].at("LAYER");
  }
  std::ifstream rin(dir / "m_report.json");
  const auto rep = nlohmann::json::parse(rin);
  EXPECT_EQ(rep.at("trees").at("trees").get<int>(), 20);
}

TEST(TreeRun, SameSeedSameBitsOnAnyWindowAndThreadCount) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, default_trees);
  run(dir, "one.tif", 7, 1);
  run(dir, "two.tif", 0, 4);
  EXPECT_EQ(gp::test::read_raster(dir / "one.tif"), gp::test::read_raster(dir / "two.tif"));
  EXPECT_EQ(gp::test::file_bytes(dir / "one_training.csv"),
            gp::test::file_bytes(dir / "two_training.csv"));
  EXPECT_EQ(gp::test::file_bytes(dir / "one_model.json"), gp::test::file_bytes(dir / "two_model.json"));
  write_grid(dir, "n_trees = 20\nmax_depth = 3\nseed = 4\nnegatives = { ratio = 5, buffer_km = 1.0 }");
  run(dir, "three.tif", 0, 4);
  EXPECT_NE(gp::test::file_bytes(dir / "one_training.csv"),
            gp::test::file_bytes(dir / "three_training.csv"));
}

/// Runs the CLI on `dir`'s model; expects `code`, a message containing `text`, and no map.
void expect_refused(const fs::path& dir, int code, const std::string& text) {
  const auto r = gp::test::run_cli({"run", (dir / "model.toml").string(), "-o",
                                    (dir / "bad.tif").string(), "--device", "cpu"});
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "bad.tif"));
  EXPECT_FALSE(fs::exists(dir / "bad_training.csv"));
}

TEST(TreeRun, BadInputIsOneLineAndNoOutput) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, "xgboost = { min_child_weigth = 2 }");
  expect_refused(dir, 3, "did you mean 'min_child_weight'?");
  write_grid(dir, "negatives = { ratio = 1000, buffer_km = 1.0 }");
  expect_refused(dir, 3, "asks for 12000 background cells");
  write_grid(dir, "seed = 1", true);
  expect_refused(dir, 4, "layer 'b': the same value");
  write_grid(dir, "learning_rate = 2");
  expect_refused(dir, 3, "learning_rate");
  write_grid(dir, "seed = 1\n[uncertainty]\ndraws = 10");
  expect_refused(dir, 3, "[uncertainty]: not used with method \"boosted-trees\"");
  write_grid(dir, "seed = 1", false, 4);
  expect_refused(dir, 4, "4 deposit cells inside the grid and on data");
}

// ---- permutation importance ----

TEST(TreePermutation, RocAucIsValidationsExactOneWorkedByHand) {
  // Positives 0.9 and 0.8, negatives 0.8 and 0.3: of the 4 pairs, 0.9 beats both, 0.8 ties
  // 0.8 (one half) and beats 0.3: U = 3.5, AUC = 3.5 / 4.
  EXPECT_DOUBLE_EQ(gc::trees::roc_auc({0.9f, 0.8f, 0.8f, 0.3f}, {1.0f, 0.0f, 1.0f, 0.0f}), 0.875);
  EXPECT_DOUBLE_EQ(gc::trees::roc_auc({0.1f, 0.2f, 0.7f}, {1.0f, 0.0f, 0.0f}), 0.0);
}

/// 200 deposit rows and 800 background rows: feature "decides" is the label (1 or 0: every
/// split on it falls between them, on any rows), feature "noise" is uniform in [0, 1) for both.
gc::trees::Table deciding_and_noise_table() {
  gc::trees::Table t;
  t.n_features = 2;
  t.names = {"decides", "noise"};
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int i = 0; i < 1000; ++i) {
    const bool pos = i % 5 == 0;
    t.x.push_back(pos ? 1.0f : 0.0f);
    t.x.push_back(u(rng));
    t.label.push_back(pos ? 1.0f : 0.0f);
    t.col.push_back(i);
    t.row.push_back(0);
  }
  return t;
}

TEST(TreePermutation, DecidingLayerDropsByHalfNoiseLayerByNothing) {
  const gc::trees::Table t = deciding_and_noise_table();
  for (const gm::Method method : {gm::Method::boosted_trees, gm::Method::random_forest}) {
    gm::TreesSpec spec;
    spec.n_trees = 20;
    spec.max_depth = 3;
    spec.colsample = 1.0;  // every tree sees "decides" (0.8 of 2 layers would be 1 layer)
    spec.seed = 9;
    const auto pi = gc::trees::permutation_importance(t, method, spec);
    ASSERT_TRUE(pi.skipped.empty()) << pi.skipped;
    // The hold-out: 25 % of each class, 50 of the 200 deposit rows, 200 of the 800 others.
    EXPECT_EQ(pi.positives, 50u);
    EXPECT_EQ(pi.negatives, 200u);
    EXPECT_EQ(pi.train_rows, 750u);
    // A perfect separator on unseen rows: AUC 1. Shuffled, the score is independent of the
    // label: expected AUC 1/2 (per shuffle sd about 0.035 for 50 vs 200 rows, mean of 5),
    // so the drop is 1/2 +- 0.1.
    EXPECT_DOUBLE_EQ(pi.auc, 1.0);
    EXPECT_NEAR(pi.drop[0], 0.5, 0.1);
    // The trees never split on the noise (after the split on "decides" both sides are pure,
    // where no split gains): shuffling it changes no prediction.
    EXPECT_NEAR(pi.drop[1], 0.0, 1e-12);
    EXPECT_NEAR(pi.drop_sd[1], 0.0, 1e-12);
    EXPECT_GT(pi.drop_sd[0], 0.0);
    std::cout << gm::name_str(method) << ": drop decides " << pi.drop[0] << " +- "
              << pi.drop_sd[0] << ", noise " << pi.drop[1] << "\n";
    // Same seed, same numbers; another seed, other shuffles.
    const auto again = gc::trees::permutation_importance(t, method, spec);
    EXPECT_EQ(again.drop, pi.drop);
    EXPECT_EQ(again.drop_sd, pi.drop_sd);
    spec.seed = 10;
    EXPECT_NE(gc::trees::permutation_importance(t, method, spec).drop[0], pi.drop[0]);
  }
}

TEST(TreeRun, PermutationImportanceInTheCsvAndTheReport) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, default_trees);
  run(dir, "m.tif", 0, 2);
  const auto imp = gp::test::read_csv_rows(dir / "m_importance.csv");
  ASSERT_EQ(imp.size(), 2u);
  for (const auto& row : imp) {
    EXPECT_FALSE(row.at("HOLDOUT_AUC_DROP").empty()) << row.at("LAYER");
    EXPECT_FALSE(row.at("HOLDOUT_AUC_DROP_SD").empty()) << row.at("LAYER");
    EXPECT_GE(std::stod(row.at("HOLDOUT_AUC_DROP_SD")), 0.0);
  }
  std::ifstream rin(dir / "m_report.json");
  const auto rep = nlohmann::json::parse(rin);
  const auto& p = rep.at("trees").at("permutation_importance");
  // 12 deposit cells and 5 x 12 = 60 background cells: a quarter of each held out.
  EXPECT_EQ(p.at("holdout_deposit_rows").get<int>(), 3);
  EXPECT_EQ(p.at("holdout_background_rows").get<int>(), 15);
  EXPECT_EQ(p.at("training_rows").get<int>(), 54);
  EXPECT_EQ(p.at("repeats").get<int>(), 5);
  EXPECT_NE(p.at("measured_on").get<std::string>().find("hold-out"), std::string::npos);
  const auto& li = rep.at("trees").at("importance");
  for (std::size_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(li[k].at("holdout_auc_drop").get<double>(),
                std::stod(imp[k].at("HOLDOUT_AUC_DROP")), 1e-11);  // the CSV: 12 digits
  }
}

// ---- a random forest's learning rate ----

/// write_grid's model as a random forest.
void write_forest_grid(const fs::path& dir, const std::string& trees) {
  write_grid(dir, trees);
  std::string m = gp::test::file_bytes(dir / "model.toml");
  m.replace(m.find("\"boosted-trees\""), 15, "\"random-forest\"");
  std::ofstream(dir / "model.toml") << m;
}

TEST(TreeRun, RandomForestRefusesALearningRateOtherThanOne) {
  const fs::path dir = gp::test::scratch_dir();
  write_forest_grid(dir, default_trees + "\nlearning_rate = 0.1");
  expect_refused(dir, 3, "learning_rate = 0.1: a random forest uses learning_rate = 1");
  const auto r = gp::test::run_cli({"run", (dir / "model.toml").string(), "-o",
                                    (dir / "bad.tif").string(), "--device", "cpu"});
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  EXPECT_NE(r.err.find("num_parallel_tree"), std::string::npos) << r.err;
  write_forest_grid(dir, default_trees + "\nlearning_rate = 1");
  run(dir, "one.tif", 0, 2);
  EXPECT_TRUE(fs::exists(dir / "one.tif"));
}

// ---- categorical layers (one-hot) ----

/// Layer a (as write_grid's) and layer k of 3 classes coded codes[0..2]: class codes[1] on
/// every deposit cell and on a third of the others, codes[0] and codes[2] elsewhere; k is
/// `categorical = true`. `extra`: more lines of k's [[layer]].
void write_categorical_grid(const fs::path& dir, const std::array<float, 3>& codes,
                            const std::string& extra = "") {
  write_grid(dir, "");
  std::vector<float> k(static_cast<std::size_t>(w * h));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) k[static_cast<std::size_t>(r * w + c)] = codes[static_cast<std::size_t>((r * 5 + c) % 3)];
  }
  for (const auto& [r, c] : deposits) k[static_cast<std::size_t>(r * w + c)] = codes[1];
  const double nd = -9999.0;
  gp::test::write_raster(dir / "k.tif", "EPSG:3577", x0, y0, 200, 200, w, h, k, &nd);
  // write_grid's model up to layer b, then k instead of b.
  std::string m = gp::test::file_bytes(dir / "model.toml");
  m = m.substr(0, m.find("[[layer]]\nname = \"b\""));
  m += "[[layer]]\nname = \"k\"\npath = \"k.tif\"\ncategorical = true\n" + extra;
  m += "[combine]\nmethod = \"boosted-trees\"\n[trees]\nn_trees = 20\nmax_depth = 3\nseed = 3\n"
       "subsample = 1\ncolsample = 1\nnegatives = { ratio = 5, buffer_km = 1.0 }\n";
  std::ofstream(dir / "model.toml") << m;
}

TEST(TreeRun, CategoricalLayerIsOneHotAndItsCodesOrderDoesNotMatter) {
  const fs::path dir = gp::test::scratch_dir();
  write_categorical_grid(dir, {1.0f, 2.0f, 3.0f});
  run(dir, "m.tif", 7, 2);
  // The training table: a, then one column per class of k, named k=<class>.
  const auto rows = gp::test::read_csv_rows(dir / "m_training.csv");
  ASSERT_FALSE(rows.empty());
  // (Names are quoted in the CSV, and read_csv_rows keeps the quotes.)
  for (const char* col : {"\"a\"", "\"k=1\"", "\"k=2\"", "\"k=3\""}) {
    EXPECT_EQ(rows[0].count(col), 1u) << col;
  }
  for (const auto& row : rows) {
    if (row.at("LABEL") == "1") {
      EXPECT_EQ(row.at("\"k=2\""), "1");  // every deposit in class 2
    }
  }
  // The map: XGBoost's prediction from the saved model on each cell's one-hot row, worked
  // out here from the rasters.
  const auto a = gp::test::read_raster(dir / "a.tif");
  const auto k = gp::test::read_raster(dir / "k.tif");
  std::vector<float> x;
  for (std::size_t i = 0; i < a.size(); ++i) {
    x.push_back(a[i] == -9999.0f ? nan_f : a[i]);
    for (float cls : {1.0f, 2.0f, 3.0f}) x.push_back(k[i] == cls ? 1.0f : 0.0f);
  }
  const std::vector<float> ref = xgboost_predict(gp::test::file_bytes(dir / "m_model.json"), x, 4);
  const auto map = gp::test::read_raster(dir / "m.tif");
  double err = 0.0;
  double in_class = 0.0, out_class = 0.0;
  std::size_t n_in = 0, n_out = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(double(map[i]) - ref[i]));
    (k[i] == 2.0f ? in_class : out_class) += map[i];
    (k[i] == 2.0f ? n_in : n_out) += 1;
  }
  std::cout << "categorical map vs XGBoost on the one-hot table: max error " << err << "\n";
  EXPECT_LE(err, 1e-6);
  EXPECT_GT(in_class / double(n_in), out_class / double(n_out));  // the deposits' class scores higher
  // The same classes coded 30, 10, 20 (the deposits' class now the smallest code, not the
  // middle one): the same map.
  const fs::path dir2 = gp::test::scratch_dir();
  write_categorical_grid(dir2, {30.0f, 10.0f, 20.0f});
  run(dir2, "m.tif", 0, 1);
  const auto map2 = gp::test::read_raster(dir2 / "m.tif");
  ASSERT_EQ(map2.size(), map.size());
  double diff = 0.0;
  for (std::size_t i = 0; i < map.size(); ++i) diff = std::max(diff, std::abs(double(map[i]) - map2[i]));
  std::cout << "categorical codes 1,2,3 vs 30,10,20: max map difference " << diff << "\n";
  EXPECT_LE(diff, 1e-6);
}

TEST(TreeRun, CategoricalLayerRefusesATransform) {
  const fs::path dir = gp::test::scratch_dir();
  write_categorical_grid(dir, {1.0f, 2.0f, 3.0f}, "transform = { kind = \"minmax\" }\n");
  expect_refused(dir, 3, "layer 'k' categorical: its classes are its values as read");
}

// ---- positive-unlabelled bagging ----

std::string bagged_trees(int bags, int seed = 3) {
  return "n_trees = 20\nmax_depth = 3\nseed = " + std::to_string(seed) +
         "\nnegatives = { ratio = 5, buffer_km = 1.0, method = \"pu-bagging\", bags = " +
         std::to_string(bags) + " }";
}

TEST(TreeRun, PuBaggingMapIsTheMeanOfTheBagsXGBoostPredictions) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, bagged_trees(3));
  run(dir, "p.tif", 7, 1);
  const std::vector<float> x = grid_features(dir);
  std::vector<double> mean(x.size() / 2, 0.0);
  std::vector<double> gain(2, 0.0);
  for (int k = 0; k < 3; ++k) {
    // Each bag's model as saved: XGBoost (a fresh booster from the JSON) predicts every cell.
    const std::string model = gp::test::file_bytes(dir / ("p_model_bag" + std::to_string(k) + ".json"));
    const std::vector<float> ref = xgboost_predict(model, x, 2);
    for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += ref[i] / 3.0;
    const std::vector<double> g = xgboost_gain(model, 2);
    for (std::size_t f = 0; f < 2; ++f) gain[f] += g[f] / 3.0;
  }
  const auto map = gp::test::read_raster(dir / "p.tif");
  double err = 0.0;
  for (std::size_t i = 0; i < mean.size(); ++i) err = std::max(err, std::abs(double(map[i]) - mean[i]));
  std::cout << "pu-bagging map vs the mean of 3 bags' XGBoost predictions: max error " << err << "\n";
  EXPECT_LE(err, 1e-6);
  // The bags drew different background cells.
  EXPECT_NE(gp::test::file_bytes(dir / "p_training_bag0.csv"), gp::test::file_bytes(dir / "p_training_bag1.csv"));
  EXPECT_NE(gp::test::file_bytes(dir / "p_training_bag1.csv"), gp::test::file_bytes(dir / "p_training_bag2.csv"));
  // Importance: the mean of XGBoost's own gain of each bag's model.
  const auto imp = gp::test::read_csv_rows(dir / "p_importance.csv");
  ASSERT_EQ(imp.size(), 2u);
  for (std::size_t f = 0; f < 2; ++f) {
    EXPECT_NEAR(std::stod(imp[f].at("GAIN")), gain[f], 1e-6 * gain[f]) << imp[f].at("LAYER");
  }
  std::ifstream rin(dir / "p_report.json");
  const auto rep = nlohmann::json::parse(rin);
  EXPECT_EQ(rep.at("trees").at("bags").size(), 3u);
  EXPECT_EQ(rep.at("trees").at("negatives").at("method"), "pu-bagging");
  // Python users load a bag with xgboost.Booster (Debian's python3-xgboost).
  const std::string py = "/usr/bin/python3 -c \"import xgboost; b = xgboost.Booster(model_file='" +
                         (dir / "p_model_bag2.json").string() +
                         "'); assert b.num_boosted_rounds() == 20\"";
  EXPECT_EQ(std::system(py.c_str()), 0) << py;
}

TEST(TreeRun, PuBaggingOneBagIsThePlainModelAndSeedsReproduce) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, default_trees);
  run(dir, "plain.tif", 7, 1);
  write_grid(dir, bagged_trees(1));
  run(dir, "one.tif", 0, 2);
  EXPECT_EQ(gp::test::read_raster(dir / "plain.tif"), gp::test::read_raster(dir / "one.tif"));
  EXPECT_EQ(gp::test::file_bytes(dir / "plain_model.json"), gp::test::file_bytes(dir / "one_model_bag0.json"));
  EXPECT_EQ(gp::test::file_bytes(dir / "plain_training.csv"), gp::test::file_bytes(dir / "one_training_bag0.csv"));
  write_grid(dir, bagged_trees(4));
  run(dir, "w7.tif", 7, 1);
  run(dir, "w0.tif", 0, 4);
  EXPECT_EQ(gp::test::read_raster(dir / "w7.tif"), gp::test::read_raster(dir / "w0.tif"));
  for (int k = 0; k < 4; ++k) {
    const std::string bag = "_model_bag" + std::to_string(k) + ".json";
    EXPECT_EQ(gp::test::file_bytes(dir / ("w7" + bag)), gp::test::file_bytes(dir / ("w0" + bag))) << bag;
  }
  write_grid(dir, bagged_trees(4, 9));
  run(dir, "s9.tif", 0, 4);
  EXPECT_NE(gp::test::file_bytes(dir / "w7_training_bag1.csv"), gp::test::file_bytes(dir / "s9_training_bag1.csv"));
}

TEST(TreeRun, PuBaggingBadKeysAreOneLine) {
  const fs::path dir = gp::test::scratch_dir();
  write_grid(dir, bagged_trees(0));
  expect_refused(dir, 3, "negatives bags: expected");
  write_grid(dir, "negatives = { ratio = 5, bags = 3 }");
  expect_refused(dir, 3, "only with method = \"pu-bagging\"");
  write_grid(dir, "negatives = { ratio = 5, method = \"pu-bagin\" }");
  expect_refused(dir, 3, "did you mean 'pu-bagging'?");
  // pu-bagging belongs to [trees], which only the tree methods take.
  write_grid(dir, bagged_trees(3));
  std::string text = gp::test::file_bytes(dir / "model.toml");
  text.replace(text.find("boosted-trees"), 13, "weighted-sum");
  std::ofstream(dir / "model.toml") << text;
  expect_refused(dir, 3, "pu-bagging\": only with [combine] method = \"boosted-trees\"");
}

}  // namespace

namespace {

// Categorical layers with pu-bagging are refused in one line (each bag would one-hot the
// classes of its own draw); the bags' report says permutation importance was not measured.
TEST(TreeRun, CategoricalWithPuBaggingIsRefusedAndBagsSayNoPermutationImportance) {
  const fs::path dir = gp::test::scratch_dir();
  write_categorical_grid(dir, {1.0f, 2.0f, 3.0f});
  std::string text = gp::test::file_bytes(dir / "model.toml");
  const std::string plain = "negatives = { ratio = 5, buffer_km = 1.0 }";
  text.replace(text.find(plain), plain.size(),
               "negatives = { ratio = 5, buffer_km = 1.0, method = \"pu-bagging\", bags = 2 }");
  std::ofstream(dir / "model.toml") << text;
  expect_refused(dir, 3, "layer 'k' categorical: not yet with [trees] negatives method = \"pu-bagging\"");
  write_grid(dir, bagged_trees(2));
  run(dir, "m.tif", 7, 2);
  std::ifstream in(dir / "m_report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report["trees"]["permutation_importance"]["skipped"], "pu-bagging (a mean of bagged models)");
  const auto rows = gp::test::read_csv_rows(dir / "m_importance.csv");
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) EXPECT_EQ(row.at("HOLDOUT_AUC_DROP"), "");
}

}  // namespace
