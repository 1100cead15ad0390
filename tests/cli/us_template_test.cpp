// The US template (data-samples/us/ree_us_template.toml) runs on shipped data alone: a CONUS
// map from the USGS occurrences, validated four ways by state. Checked here against numbers
// worked out independently: the deposit count from the CSV itself, map values from the model's
// own definition (a carbonatite cell scores at least its 0.7 weight; ground more than 150 km
// from any carbonatite/alkaline occurrence and 200 km from any PP 1802 deposit scores 0), read
// back at lon/lat points through GDAL's gdallocationinfo (PROJ does the projection).

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using gp::test::run_cli;
using gp::test::run_shell;
using gp::test::shell_quote;

const std::set<std::string> igneous = {"carb", "carb-re", "alk-ig"};

/// The map value at a lon/lat (WGS84) point, by GDAL (empty outside the raster).
std::string value_at(const fs::path& map, double lon, double lat) {
  // The point goes on stdin: gdallocationinfo would take "-115.5" for an option.
  const auto r = run_shell("echo " + std::to_string(lon) + " " + std::to_string(lat) +
                           " | gdallocationinfo -valonly -wgs84 " + shell_quote(map.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

class UsTemplate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(gp::test::scratch_dir());
    const fs::path model = gp::test::source_dir() / "data-samples/us/ree_us_template.toml";
    result_ = new gp::test::CliResult(
        run_cli({"run", model.string(), "-o", (*dir_ / "us.tif").string(), "--device", "cpu",
                 "--quiet"}));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete dir_;
  }
  static fs::path* dir_;
  static gp::test::CliResult* result_;
};
fs::path* UsTemplate::dir_ = nullptr;
gp::test::CliResult* UsTemplate::result_ = nullptr;

TEST_F(UsTemplate, RunsOnShippedDataAlone) {
  ASSERT_EQ(result_->exit_code, 0) << result_->err;
  EXPECT_TRUE(fs::exists(*dir_ / "us.tif"));
  EXPECT_TRUE(fs::exists(*dir_ / "us_validation.json"));
  EXPECT_TRUE(gp::test::hidden_files(*dir_).empty());
}

TEST_F(UsTemplate, ValidatesOnEveryNonIgneousUsOccurrenceFoldedByState) {
  ASSERT_EQ(result_->exit_code, 0) << result_->err;
  // Expected from the CSV itself: US rows of the non-igneous types, and which have coordinates.
  const auto rows = gp::test::read_csv_rows(gp::test::source_dir() /
                                            "data-samples/usgs_ree_occurrences/ree_occurrences.csv");
  std::size_t selected = 0;
  std::size_t no_coordinates = 0;
  std::map<std::string, std::string> state_of;
  for (const auto& r : rows) {
    if (r.at("country") != "United States" || igneous.count(r.at("deptype")) != 0) continue;
    ++selected;
    if (r.at("latitude").empty() || r.at("longitude").empty()) ++no_coordinates;
    state_of[r.at("depname")] = r.at("stprov");
  }
  ASSERT_GT(selected, 50u);
  std::ifstream in(*dir_ / "us_validation.json");
  const auto j = nlohmann::json::parse(in);
  const std::size_t used = j.at("deposits_used").get<std::size_t>();
  std::size_t left_no_coordinates = 0;
  std::size_t left = 0;
  for (const auto& d : j.at("deposits_left_out")) {
    ++left;
    if (d.at("reason").get<std::string>().find("no usable coordinates") != std::string::npos) {
      ++left_no_coordinates;
    }
  }
  EXPECT_EQ(used + left, selected);
  EXPECT_EQ(left_no_coordinates, no_coordinates);
  // Alaska's occurrences lie outside the CONUS grid: at least those are left out.
  EXPECT_GT(left, no_coordinates);

  const auto& split = j.at("split");
  EXPECT_EQ(split.at("method"), "kfold");
  EXPECT_EQ(split.at("k"), 4);
  EXPECT_EQ(split.at("split_by"), "stprov");
  ASSERT_EQ(split.at("folds").size(), 4u);
  // Folds never split a state: each stated state is held out in one fold only.
  std::map<std::string, int> fold_of_state;
  std::size_t held = 0;
  for (const auto& f : split.at("folds")) {
    for (const auto& name : f.at("held_out")) {
      ++held;
      const std::string st = state_of.at(name.get<std::string>());
      const int fold = f.at("fold").get<int>();
      const auto [it, inserted] = fold_of_state.emplace(st, fold);
      EXPECT_EQ(it->second, fold) << st << " is in two folds";
    }
  }
  EXPECT_EQ(held, used);
}

TEST_F(UsTemplate, MapValuesFollowTheModelsDefinition) {
  ASSERT_EQ(result_->exit_code, 0) << result_->err;
  const fs::path map = *dir_ / "us.tif";
  // Mountain Pass (carbonatite, 35.4833 N 115.5333 W): distance 0 -> membership 1, weight 0.7,
  // plus a non-negative density term.
  EXPECT_GE(std::stod(value_at(map, -115.533333, 35.483333)), 0.7 - 1e-6);
  // Central Maine: no carbonatite/alkaline occurrence within 150 km, no PP 1802 deposit within
  // 200 km (the nearest, Kipawa and Montviel in Quebec, are over 500 km away): exactly 0.
  EXPECT_EQ(std::stod(value_at(map, -69.0, 45.5)), 0.0);
  // The Gulf of Mexico and southern Manitoba lie inside the grid but outside the CONUS mask:
  // the band's nodata value there (as GDAL reports it).
  const auto r = run_shell("gdalinfo -json " + shell_quote(map.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto band = nlohmann::json::parse(r.out).at("bands")[0];
  ASSERT_TRUE(band.at("noDataValue").is_number());
  const double nodata = band.at("noDataValue").get<double>();
  for (const auto& [lon, lat] : {std::pair{-90.0, 26.0}, std::pair{-100.0, 49.6}}) {
    const std::string v = value_at(map, lon, lat);
    ASSERT_FALSE(v.empty()) << lon << "," << lat << " is outside the grid";
    EXPECT_EQ(std::stod(v), nodata) << lon << "," << lat;
  }
}

TEST_F(UsTemplate, ReportListsTheDepositWhoseStatedStateItsCoordinatesContradict) {
  ASSERT_EQ(result_->exit_code, 0) << result_->err;
  // SOURCES.md: "Old Hickory (Stony Creek)" says Virginia but carries 105.73 W, 34.21 N, in New
  // Mexico; it is the one such row among the [validation] deposits (non-igneous US types; the
  // other known case, Caballo Mountains, is alkaline igneous and feeds a layer, not validation).
  std::ifstream in(*dir_ / "us_report.json");
  const auto j = nlohmann::json::parse(in);
  const auto& v = j.at("deposit_checks").at("validation");
  EXPECT_EQ(v.at("state_column"), "stprov");
  // 64 US non-igneous rows with coordinates in the CSV, 2 of them (Kerr-McGee deposit, Eagle
  // Creek) with an empty stprov: 62 checked (counted from the CSV by hand).
  EXPECT_EQ(v.at("checked"), 62);
  const auto& rows = v.at("state_mismatches");
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0].at("name"), "Old Hickory (Stony Creek)");
  EXPECT_EQ(rows[0].at("stated"), "Virginia");
  EXPECT_EQ(rows[0].at("found"), "NM");
}

TEST_F(UsTemplate, ValidateCommandChecksTheStatedStatesToo) {
  ASSERT_EQ(result_->exit_code, 0) << result_->err;
  // All US rows of the USGS table (not only the template's validation types): SOURCES.md's two
  // contradicting rows, Caballo Mountains (says New Mexico, 100.28 W: Texas) and Old Hickory
  // (says Virginia, 105.73 W: New Mexico), are both in; 84 US rows have coordinates, 2 of them
  // (Kerr-McGee deposit, Eagle Creek) an empty stprov: 82 checked (counted from the CSV).
  const fs::path out = *dir_ / "validate";
  const fs::path csv = gp::test::source_dir() / "data-samples/usgs_ree_occurrences/ree_occurrences.csv";
  const auto r = run_cli({"validate", (*dir_ / "us.tif").string(), "--deposits", csv.string(),
                          "--x-column", "longitude", "--y-column", "latitude", "--where",
                          "country = 'United States'", "--name-column", "depname", "--out",
                          out.string(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out / "us_validation.json");
  const auto j = nlohmann::json::parse(in);
  const auto& v = j.at("deposit_checks");
  EXPECT_EQ(v.at("checked"), 82);
  std::set<std::string> names;
  for (const auto& row : v.at("state_mismatches")) names.insert(row.at("name").get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"Caballo Mountains", "Old Hickory (Stony Creek)"}));
  // One warning line for both (count and names), not one per deposit.
  std::istringstream err(r.err);
  int warnings = 0;
  for (std::string line; std::getline(err, line);) warnings += line.find("deposit_checks") != std::string::npos;
  EXPECT_EQ(warnings, 1) << r.err;
}

}  // namespace
