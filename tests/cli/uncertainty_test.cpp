// [validation] and [uncertainty] in a model run end to end: the report sections, the
// <base>_uncertainty.tif bands, zero perturbation reproducing the map exactly, the validation
// in the run agreeing with `geoprospect validate` on the written map, and model-file errors.

#include "outputs_support.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <random>

namespace {

using gp::test::write_text;

namespace fs = std::filesystem;

/// Two layers on a 0.01-degree grid (48 x 37 cells) and 30 deposits (some on nodata).
fs::path make_inputs(const fs::path& dir) {
  const int w = 48;
  const int h = 37;
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> a(static_cast<std::size_t>(w) * h);
  std::vector<float> b(a.size());
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const std::size_t i = static_cast<std::size_t>(r) * w + c;
      a[i] = static_cast<float>(c) / w * 0.7f + 0.3f * u(rng);
      b[i] = static_cast<float>(r) / h * 0.8f + 0.2f * u(rng);
      if ((r * 7 + c * 3) % 41 == 0) a[i] = -9999.0f;
    }
  }
  const double nd = -9999.0;
  gp::test::write_raster(dir / "a.tif", "EPSG:4326", 120, -26, 0.01, 0.01, w, h, a, &nd);
  gp::test::write_raster(dir / "b.tif", "EPSG:4326", 120, -26, 0.01, 0.01, w, h, b, &nd);
  std::ofstream csv(dir / "deps.csv");
  csv << "name,lon,lat\n";
  for (int k = 0; k < 30; ++k) {
    const int c = (k * 13) % w;
    const int r = (k * 7) % h;
    csv << "dep" << k << "," << 120.005 + 0.01 * c << "," << -26.005 - 0.01 * r << "\n";
  }
  fs::create_directories(dir / "out");
  return dir;
}

std::string model_text(const std::string& uncertainty) {
  return R"([model]
name = "mc-test"

[[layer]]
name = "a"
path = "a.tif"
resampling = "nearest"
transform = { kind = "linear", min = 0, max = 1 }
weight = 0.6

[[layer]]
name = "b"
path = "b.tif"
resampling = "nearest"
transform = { kind = "large", midpoint = 0.5, spread = 4 }
weight = 0.4

[combine]
method = "weighted-sum"

[output]
path = "out/map.tif"

[validation]
deposits = "deps.csv"
x_column = "lon"
y_column = "lat"
name_column = "name"
holdout = 0.3
seed = 3

[uncertainty]
)" + uncertainty;
}

std::vector<float> band(const fs::path& p, int b) { return gp::test::read_raster(p, b); }

TEST(UncertaintyRun, ReportSectionsBandsAndValidationAgreeWithValidateCommand) {
  const fs::path dir = make_inputs(gp::test::scratch_dir());
  write_text(dir / "m.toml", model_text("draws = 24\nseed = 5\nweights = { dirichlet = 40 }\n"
                                        "membership = { midpoint = 0.1, spread = 0.2 }\n"
                                        "top_percent = 10\n"));
  const auto r = gp::test::run_cli({"run", (dir / "m.toml").string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path map = dir / "out" / "map.tif";
  const fs::path unc = dir / "out" / "map_uncertainty.tif";
  ASSERT_TRUE(fs::exists(unc));
  GDALDatasetUniquePtr ds(GDALDataset::Open(unc.c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(ds);
  ASSERT_EQ(ds->GetRasterCount(), 5);
  const char* names[] = {"mean", "std", "p05", "p95", "p_top"};
  for (int k = 0; k < 5; ++k) EXPECT_STREQ(ds->GetRasterBand(k + 1)->GetDescription(), names[k]);
  // A Cloud-Optimized GeoTIFF like the map (format "cog", the default), with statistics.
  EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
  EXPECT_NE(ds->GetRasterBand(2)->GetMetadataItem("STATISTICS_MEAN"), nullptr);
  ds.reset();
  const auto valid = gp::test::validate_cog(unc);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_NE(valid.output.find("is a valid cloud optimized GeoTIFF"), std::string::npos) << valid.output;
  const auto score = band(map, 1);
  const auto mean = band(unc, 1);
  const auto sd = band(unc, 2);
  const auto p05 = band(unc, 3);
  const auto p95 = band(unc, 4);
  const auto ptop = band(unc, 5);
  bool some_spread = false;
  for (std::size_t i = 0; i < score.size(); ++i) {
    ASSERT_EQ(score[i] == -9999.0f, mean[i] == -9999.0f) << i;
    if (score[i] == -9999.0f) continue;
    EXPECT_NEAR(mean[i], score[i], 0.08) << i;
    EXPECT_GE(sd[i], 0.0f);
    EXPECT_LE(p05[i], p95[i]);
    EXPECT_GE(ptop[i], 0.0f);
    EXPECT_LE(ptop[i], 1.0f);
    some_spread = some_spread || sd[i] > 0.0f;
  }
  EXPECT_TRUE(some_spread);

  std::ifstream rin(dir / "out" / "map_report.json");
  const auto rep = nlohmann::json::parse(rin);
  ASSERT_TRUE(rep.contains("validation"));
  ASSERT_TRUE(rep.contains("uncertainty"));
  EXPECT_EQ(rep["uncertainty"]["draws"], 24);
  EXPECT_EQ(rep["validation"]["split"]["method"], "holdout");
  EXPECT_EQ(rep["validation"]["model_kind"], "knowledge-driven");
  EXPECT_EQ(rep["validation"]["split"]["retrained"], false);
  EXPECT_EQ(rep["validation"]["split"]["fold_assignment"], "random");
  ASSERT_EQ(rep["validation"]["split"]["folds"].size(), 1u);
  EXPECT_TRUE(fs::exists(dir / "out" / "map_validation.svg"));
  EXPECT_TRUE(fs::exists(dir / "out" / "map_success_rate.csv"));
  // The uncertainty raster is first-class: a style, a picture of each band of interest, and
  // it and its side files in the report's outputs (res.files, which the "wrote" lines list
  // too); so is every validation file (the figure's PNG too).
  std::set<std::string> listed;
  for (const auto& e : rep["outputs"]) listed.insert(fs::path(e["path"].get<std::string>()).filename().string());
  for (const char* f : {"map_uncertainty.tif", "map_uncertainty.qml", "map_uncertainty_mean.png",
                        "map_uncertainty_std.png", "map_uncertainty_p_top.png", "map_validation.svg",
                        "map_validation.png", "map_deposits.gpkg", "map_quicklook.png", "map.tif"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / "out" / f)) << f;
    EXPECT_EQ(listed.count(f), 1u) << f << " is not in the report's outputs";
  }
  for (const auto& e : rep["outputs"]) {
    const fs::path p = e["path"].get<std::string>();
    if (p.filename() != "map_report.json") {
      EXPECT_EQ(e["bytes"].get<std::uintmax_t>(), fs::file_size(p)) << p;
    }
  }
  // The uncertainty style is QGIS's pseudocolour over the mean band's range.
  EXPECT_NE(gp::test::file_bytes(dir / "out" / "map_uncertainty.qml").find("singlebandpseudocolor"),
            std::string::npos);

  // The same map validated by the command: the same AUCs.
  fs::create_directories(dir / "v");
  const auto v = gp::test::run_cli({"validate", map.string(), "--deposits", (dir / "deps.csv").string(),
                                    "--x-column", "lon", "--y-column", "lat", "--name-column", "name",
                                    "--out", (dir / "v").string(), "--holdout", "0.3", "--seed", "3"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  std::ifstream vin(dir / "v" / "map_validation.json");
  const auto vj = nlohmann::json::parse(vin);
  EXPECT_DOUBLE_EQ(vj["success_rate"]["auc"].get<double>(),
                   rep["validation"]["success_rate"]["auc"].get<double>());
  EXPECT_DOUBLE_EQ(vj["split"]["folds"][0]["prediction_rate"]["auc"].get<double>(),
                   rep["validation"]["split"]["folds"][0]["prediction_rate"]["auc"].get<double>());
}

TEST(UncertaintyRun, ZeroPerturbationGivesTheMapExactly) {
  const fs::path dir = make_inputs(gp::test::scratch_dir());
  write_text(dir / "m.toml", model_text("draws = 5\nweights = { uniform = 0 }\n"
                                        "membership = { midpoint = 0, spread = 0 }\n"));
  const auto r = gp::test::run_cli({"run", (dir / "m.toml").string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto score = band(dir / "out" / "map.tif", 1);
  const auto mean = band(dir / "out" / "map_uncertainty.tif", 1);
  const auto sd = band(dir / "out" / "map_uncertainty.tif", 2);
  for (std::size_t i = 0; i < score.size(); ++i) {
    ASSERT_EQ(mean[i], score[i]) << i;
    if (score[i] != -9999.0f) {
      ASSERT_EQ(sd[i], 0.0f) << i;
    }
  }
}

TEST(UncertaintyRun, ModelErrorsNameTheKey) {
  const fs::path dir = make_inputs(gp::test::scratch_dir());
  write_text(dir / "m.toml", model_text("draws = 5\ndraw = 3\n"));
  auto r = gp::test::run_cli({"run", (dir / "m.toml").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("did you mean 'draws'"), std::string::npos) << r.err;
  write_text(dir / "m.toml", model_text("weights = { dirichlet = -1 }\n"));
  r = gp::test::run_cli({"run", (dir / "m.toml").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("dirichlet"), std::string::npos) << r.err;
  std::string text = model_text("draws = 5\n");
  text.replace(text.find("holdout = 0.3"), 13, "holdout = 0.3\nkfold = 3");
  write_text(dir / "m.toml", text);
  r = gp::test::run_cli({"run", (dir / "m.toml").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("holdout or kfold"), std::string::npos) << r.err;
}

}  // namespace
