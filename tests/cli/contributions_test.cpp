// [output] contributions: each method's identity on a small generated grid, against numbers
// worked out here from the input rasters (weights, memberships, class counts), the band
// descriptions, and the report's top-1 % means recomputed from the written bands and the map.
//
// Tolerances come from the Float32 files: a band value c and the score s are each stored
// rounded to float, relative error at most 2^-24, and the kernel's double arithmetic adds far
// less, so |sum float(c_i) - float(s)| <= 2^-24 (sum |c_i| + |s|) (the test allows twice that).
// For a probability p stored as float, logit(p) moves by at most 2^-24 / (1 - p) (d logit / dp
// = 1 / (p (1 - p)), times the rounding 2^-24 p), added to the bound.
#include "outputs_support.hpp"
#include "model/model.hpp"
#include "run/runner.hpp"
#include "gp/kernels/backend.hpp"
#include "small_grid.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace gc = gp::cli;
namespace gm = gp::model;

namespace {

using gp::test::small_grid::cell;
using gp::test::small_grid::h;
using gp::test::small_grid::n_cells;
using gp::test::small_grid::nd;
using gp::test::small_grid::w;
using gp::test::small_grid::write_layer;
using gp::test::small_grid::x0;
using gp::test::small_grid::y0;
const double ulp = std::ldexp(1.0, -24);  // Float32's relative rounding

using gp::test::small_grid::run;

/// Every band of a raster, and their descriptions.
struct Bands {
  std::vector<std::vector<float>> v;
  std::vector<std::string> desc;
};

Bands read_bands(const fs::path& path) {
  Bands b;
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  EXPECT_TRUE(ds) << path;
  if (!ds) return b;
  for (int k = 1; k <= ds->GetRasterCount(); ++k) {
    b.desc.emplace_back(ds->GetRasterBand(k)->GetDescription());
    b.v.push_back(gp::test::read_raster(path, k));
  }
  return b;
}

bool ok(float v) { return v != static_cast<float>(nd) && std::isfinite(v); }

/// The report's top-1 % means against those recomputed here: the ceil(valid / 100) highest
/// scores of the map (ties by cell order), each band's mean over them where it holds data.
void expect_top_means(const nlohmann::json& rep, const std::vector<float>& score, const Bands& c) {
  std::vector<std::size_t> valid;
  for (std::size_t i = 0; i < score.size(); ++i) {
    if (ok(score[i])) valid.push_back(i);
  }
  std::stable_sort(valid.begin(), valid.end(),
                   [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  const std::size_t k = (valid.size() + 99) / 100;
  const auto& top = rep.at("contributions").at("top_cells");
  ASSERT_EQ(top.at("cells").get<std::size_t>(), k);
  const auto& means = top.at("mean_contribution");
  ASSERT_EQ(means.size(), c.v.size());
  for (std::size_t b = 0; b < c.v.size(); ++b) {
    double sum = 0.0;
    int n = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const float v = c.v[b][valid[j]];
      if (!ok(v)) continue;
      sum += v;
      ++n;
    }
    ASSERT_GT(n, 0);
    EXPECT_NEAR(means[b].at("mean").get<double>(), sum / n, 1e-9 * std::max(1.0, std::abs(sum / n)))
        << "band " << b + 1;
  }
}

float lin_a(int r, int c) { return static_cast<float>(3 * c + 2 * r + (r * c) % 7); }
float lin_b(int r, int c) {
  return (r + c) % 9 == 0 ? NAN : static_cast<float>(50.0 * std::sin(0.3 * r) * std::cos(0.2 * c) + 25.0);
}

TEST(Contributions, WeightedSumBandsAreWeightTimesFavourabilityAndSumToTheScore) {
  const fs::path dir = gp::test::scratch_dir();
  const auto a = write_layer(dir, "a", lin_a);
  const auto b = write_layer(dir, "b", lin_b);
  const nlohmann::json rep = run(dir, R"([[layer]]
name = "a"
path = "a.tif"
transform = { kind = "linear", min = 0, max = 150 }
weight = 2
[[layer]]
name = "b"
path = "b.tif"
transform = { kind = "linear", min = 0, max = 50 }
weight = 1
missing = "skip"
[combine]
method = "weighted-sum"
[output]
contributions = true
)");
  const auto score = gp::test::read_raster(dir / "map.tif", 1);
  const Bands c = read_bands(dir / "map_contributions.tif");
  // A Cloud-Optimized GeoTIFF like the map (format "cog", the default).
  const auto valid = gp::test::validate_cog(dir / "map_contributions.tif");
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_NE(valid.output.find("is a valid cloud optimized GeoTIFF"), std::string::npos) << valid.output;
  ASSERT_EQ(c.v.size(), 2u);
  EXPECT_EQ(c.desc[0].rfind("a -> ", 0), 0u) << c.desc[0];
  EXPECT_NE(c.desc[0].find("weighted sum"), std::string::npos) << c.desc[0];
  EXPECT_NE(c.desc[1].find("additive"), std::string::npos) << c.desc[1];
  for (std::size_t i = 0; i < n_cells(); ++i) {
    const double fa = std::clamp(a[i] / 150.0, 0.0, 1.0);
    const bool has_b = ok(b[i]);
    const double fb = has_b ? std::clamp(b[i] / 50.0, 0.0, 1.0) : 0.0;
    // Weights 2/3 and 1/3; where b is missing a's weight is renormalised to 1 and b adds 0.
    const double ca = has_b ? 2.0 / 3.0 * fa : fa;
    const double cb = has_b ? 1.0 / 3.0 * fb : 0.0;
    ASSERT_NEAR(c.v[0][i], ca, 2 * ulp * ca + 1e-12) << i;
    ASSERT_NEAR(c.v[1][i], cb, 2 * ulp * cb + 1e-12) << i;
    const double sum = static_cast<double>(c.v[0][i]) + c.v[1][i];
    ASSERT_NEAR(sum, score[i], 2 * ulp * (std::abs(c.v[0][i]) + std::abs(c.v[1][i]) + std::abs(score[i])))
        << i;
  }
  expect_top_means(rep, score, c);
  EXPECT_TRUE(fs::exists(dir / "map_contributions.qml"));
  EXPECT_TRUE(fs::exists(dir / "map_contributions_b2.qml"));
  EXPECT_TRUE(fs::exists(dir / "map_contributions_b1.png"));
  EXPECT_TRUE(fs::exists(dir / "map_contributions_b2.png"));
  // A diverging style centred on zero.
  const std::string qml = gp::test::file_bytes(dir / "map_contributions_b2.qml");
  EXPECT_NE(qml.find("band=\"2\""), std::string::npos);
  EXPECT_NE(qml.find("classificationMin=\"-"), std::string::npos);
}

TEST(Contributions, OffByDefault) {
  const fs::path dir = gp::test::scratch_dir();
  write_layer(dir, "a", lin_a);
  const nlohmann::json rep = run(dir, R"([[layer]]
name = "a"
path = "a.tif"
transform = { kind = "linear" }
[combine]
method = "weighted-sum"
)");
  EXPECT_FALSE(fs::exists(dir / "map_contributions.tif"));
  EXPECT_FALSE(rep.contains("contributions"));
}

float memb_u(int r, int c) { return static_cast<float>(0.5 + 0.1 * ((r * 7 + c * 3) % 40)); }
float memb_k(int r, int c) {
  return (r * 3 + c) % 11 == 0 ? NAN : static_cast<float>(0.05 * ((r * 5 + c) % 60));
}

/// A network: a weighted sum of u and k (k may be missing) and a fuzzy gamma over it and u.
constexpr const char* network_model = R"([[layer]]
name = "u"
path = "u.tif"
transform = { kind = "large", midpoint = 2.0, spread = 3 }
[[layer]]
name = "k"
path = "k.tif"
transform = { kind = "gaussian", midpoint = 1.0, spread = 2.0 }
missing = "skip"
[[group]]
name = "setting"
method = "weighted-sum"
inputs = ["u", "k"]
weights = [0.25, 0.75]
[[group]]
name = "final"
method = "fuzzy-gamma"
inputs = ["setting", "u"]
gamma = 0.8
[combine]
final = "final"
[output]
bands = ["setting"]
contributions = true
)";

TEST(Contributions, NetworkGivesMembershipsAndWeightedShares) {
  const fs::path dir = gp::test::scratch_dir();
  const auto u = write_layer(dir, "u", memb_u);
  const auto k = write_layer(dir, "k", memb_k);
  const nlohmann::json rep = run(dir, network_model);
  const Bands map = read_bands(dir / "map.tif");
  const Bands c = read_bands(dir / "map_contributions.tif");
  // Groups in evaluation order: setting's inputs (u, k), then final's (setting, u).
  ASSERT_EQ(c.v.size(), 4u);
  EXPECT_EQ(c.desc[2].rfind("setting -> final: fuzzy gamma membership (not additive", 0), 0u)
      << c.desc[2];
  for (std::size_t i = 0; i < n_cells(); ++i) {
    const double mu = 1.0 / (1.0 + std::pow(u[i] / 2.0, -3.0));
    const bool has_k = ok(k[i]);
    const double mk = has_k ? std::exp(-2.0 * (k[i] - 1.0) * (k[i] - 1.0)) : 0.0;
    // Where k is missing, u's weight is renormalised to 1 and k adds 0.
    const double cu = has_k ? 0.25 * mu : mu;
    const double ck = 0.75 * mk;
    ASSERT_NEAR(c.v[0][i], cu, 1e-6 * cu + 1e-12) << i;
    ASSERT_NEAR(c.v[1][i], ck, 1e-6 * ck + 1e-12) << i;
    const double setting = map.v[1][i];
    ASSERT_NEAR(static_cast<double>(c.v[0][i]) + c.v[1][i], setting,
                2 * ulp * (std::abs(c.v[0][i]) + std::abs(c.v[1][i]) + setting)) << i;
    ASSERT_EQ(c.v[2][i], map.v[1][i]) << i;  // the setting's membership as the map stores it
    ASSERT_NEAR(c.v[3][i], mu, 1e-6 * mu + 1e-12) << i;
  }
  expect_top_means(rep, map.v[0], c);
}

/// Deposits at these (row, column) cells, as a CSV in `dir`.
const std::vector<std::pair<int, int>> deposit_cells{{2, 3},   {5, 20}, {12, 4}, {15, 30},
                                                     {25, 8},  {28, 35}, {7, 12}, {20, 22},
                                                     {3, 33},  {18, 10}, {22, 28}, {9, 2}};

void write_deposits(const fs::path& dir) {
  gp::test::write_deposit_cells(dir / "deposits.csv", x0, y0, cell, deposit_cells);
}

constexpr const char* training = R"([training]
deposits = "deposits.csv"
x_column = "x"
y_column = "y"
crs = "EPSG:3577"
unit_cell_km2 = 0.01
)";

/// A trained model over two layers on the test grid: each layer's method key (`key`: e.g.
/// wofe = { type = "categorical" }), [combine] method, contributions on.
std::string trained_model(const std::string& method,
                          const std::vector<std::pair<std::string, std::string>>& layers) {
  std::string t = training;
  for (const auto& [name, key] : layers) {
    t += "[[layer]]\nname = \"" + name + "\"\npath = \"" + name + ".tif\"\nresampling = \"nearest\"\n" +
         key + "\n";
  }
  return t + "[combine]\nmethod = \"" + method + "\"\n[output]\ncontributions = true\n";
}

/// bias + the bands = logit(p) in every cell, within the Float32 bound (file comment).
void expect_logit_sum(double bias, const Bands& c, const std::vector<float>& prob) {
  for (std::size_t i = 0; i < prob.size(); ++i) {
    const double p = prob[i];
    double sum = bias;
    double mag = std::abs(bias) + 1.0 / (1.0 - p);
    for (const auto& band : c.v) {
      sum += band[i];
      mag += std::abs(band[i]);
    }
    ASSERT_NEAR(sum, std::log(p / (1.0 - p)), 2 * ulp * mag) << i;
  }
}

float class_a(int, int c) { return c < 15 ? 1.0f : 2.0f; }
float class_b(int r, int) { return r < 10 ? 1.0f : 2.0f; }

/// W+ of a class against the rest: ln((D_c / D) / ((N_c - D_c) / (N - D))), one unit cell per
/// grid cell.
double class_weight(const std::vector<float>& layer, float cls) {
  double n_c = 0.0;
  double d_c = 0.0;
  for (float v : layer) n_c += v == cls ? 1.0 : 0.0;
  for (const auto& [r, c] : deposit_cells) d_c += layer[static_cast<std::size_t>(r * w + c)] == cls ? 1.0 : 0.0;
  const double d = static_cast<double>(deposit_cells.size());
  const double n = static_cast<double>(n_cells());
  return std::log((d_c / d) / ((n_c - d_c) / (n - d)));
}

TEST(Contributions, WeightsOfEvidenceBandsAreTheWeightsAndAddUpToThePosteriorLogit) {
  const fs::path dir = gp::test::scratch_dir();
  const auto a = write_layer(dir, "a", class_a);
  const auto b = write_layer(dir, "b", class_b);
  write_deposits(dir);
  const std::string categorical = "wofe = { type = \"categorical\" }";
  const nlohmann::json rep = run(dir, trained_model("wofe", {{"a", categorical}, {"b", categorical}}));
  const auto post = gp::test::read_raster(dir / "map.tif", 1);
  const Bands c = read_bands(dir / "map_contributions.tif");
  ASSERT_EQ(c.v.size(), 2u);
  EXPECT_NE(c.desc[1].find("b -> "), std::string::npos);
  EXPECT_NE(c.desc[1].find("weights of evidence"), std::string::npos);
  for (std::size_t i = 0; i < n_cells(); ++i) {
    const double wa = class_weight(a, a[i]);
    const double wb = class_weight(b, b[i]);
    ASSERT_NEAR(c.v[0][i], wa, 1e-6 * std::abs(wa)) << i;
    ASSERT_NEAR(c.v[1][i], wb, 1e-6 * std::abs(wb)) << i;
  }
  const double d = static_cast<double>(deposit_cells.size());
  expect_logit_sum(std::log(d / (static_cast<double>(n_cells()) - d)), c, post);
  expect_top_means(rep, post, c);
}

float cont_x(int r, int c) { return static_cast<float>(100.0 + 10.0 * std::sin(r * 0.5) + c); }
float cat_x(int r, int c) { return r < 6 ? 3.0f : (c < 10 ? 5.0f : 7.0f); }

TEST(Contributions, LogisticRegressionBandsAreBetaTimesXAndAddUpToTheLogit) {
  const fs::path dir = gp::test::scratch_dir();
  const auto x = write_layer(dir, "cont", cont_x);
  const auto k = write_layer(dir, "cat", cat_x);
  write_deposits(dir);
  const nlohmann::json rep =
      run(dir, trained_model("logistic", {{"cont", "logistic = { type = \"continuous\" }"},
                                          {"cat", "logistic = { type = \"categorical\" }"}}));
  const auto prob = gp::test::read_raster(dir / "map.tif", 1);
  const Bands c = read_bands(dir / "map_contributions.tif");
  ASSERT_EQ(c.v.size(), 2u);
  EXPECT_NE(c.desc[0].find("logistic regression: beta*x"), std::string::npos) << c.desc[0];
  // Coefficients by term (intercept, cont, cat=3, cat=5; 7 is the reference class).
  std::map<std::string, double> beta;
  for (const auto& t : rep.at("logistic_regression").at("coefficients")) {
    beta[t.at("term").get<std::string>()] = t.at("coefficient").get<double>();
  }
  ASSERT_EQ(beta.size(), 4u);
  const double intercept = rep.at("logistic_regression").at("coefficients")[0].at("coefficient").get<double>();
  // x standardised with the population mean and standard deviation of the layer's cells.
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n_cells());
  double var = 0.0;
  for (float v : x) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(n_cells()));
  for (std::size_t i = 0; i < n_cells(); ++i) {
    const double want_cont = beta.at("cont") * (x[i] - mean) / sd;
    const double want_cat = k[i] == 7.0f ? 0.0 : beta.at(k[i] == 3.0f ? "cat=3" : "cat=5");
    ASSERT_NEAR(c.v[0][i], want_cont, 1e-6 * std::abs(want_cont) + 1e-9) << i;
    ASSERT_NEAR(c.v[1][i], want_cat, 1e-6 * std::abs(want_cat) + 1e-12) << i;
  }
  expect_logit_sum(intercept, c, prob);
  expect_top_means(rep, prob, c);
}

TEST(Contributions, AnExistingContributionsFileIsRefusedBeforeAnyWork) {
  const fs::path dir = gp::test::scratch_dir();
  write_layer(dir, "u", memb_u);
  write_layer(dir, "k", memb_k);
  gp::test::write_text(dir / "model.toml", network_model);
  gp::test::write_text(dir / "map_contributions.tif", "not mine");
  const auto r = gp::test::run_cli({"run", (dir / "model.toml").string(), "-o",
                                    (dir / "map.tif").string(), "--device", "cpu"});
  EXPECT_EQ(r.exit_code, gp::test::exit_code::output) << r.err;
  EXPECT_NE(r.err.find("map_contributions.tif"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "map.tif"));
  EXPECT_EQ(gp::test::file_bytes(dir / "map_contributions.tif"), "not mine");
}

// Tree ensembles (TreeSHAP): tests/cli/tree_shap_test.cpp.

// ---- CPU and CUDA write the same contributions (gpu label) -----------------------------------

TEST(ContributionsCuda, NetworkContributionsMatchTheCpu) {
  if (gp::kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const fs::path dir = gp::test::scratch_dir();
  write_layer(dir, "u", memb_u);
  write_layer(dir, "k", memb_k);
  run(dir, network_model, gc::DeviceChoice::cpu, "cpu");
  run(dir, network_model, gc::DeviceChoice::cuda, "gpu");
  const Bands a = read_bands(dir / "cpu_contributions.tif");
  const Bands g = read_bands(dir / "gpu_contributions.tif");
  ASSERT_EQ(a.v.size(), 4u);
  ASSERT_EQ(g.desc, a.desc);
  for (std::size_t b = 0; b < a.v.size(); ++b) {
    std::size_t diff = 0;
    for (std::size_t i = 0; i < n_cells(); ++i) {
      // The same program: equal but for CUDA's exp/log rounding (an ulp of a double) before
      // the float store: within 4 float ulps.
      const float x = a.v[b][i];
      const float y = g.v[b][i];
      diff += (x == y || std::abs(x - y) <= 4 * ulp * std::abs(x)) ? 0 : 1;
    }
    EXPECT_EQ(diff, 0u) << "band " << b + 1;
  }
}

}  // namespace
