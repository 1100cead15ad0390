// The stated-state check of deposits (geo/us_states.hpp): the parsing of `stprov` texts, and the
// check of the shipped USGS occurrence table against the shipped Census state polygons, with
// the expected mismatches worked out here with OGR (point-in-polygon and distance on the
// file's own `name` / `code` attributes) from the CSV read by the test's own reader.

#include "gp/geo/crs.hpp"
#include "gp/geo/territory.hpp"
#include "gp/geo/us_states.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_geometry.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <set>

namespace {

namespace fs = std::filesystem;
using Codes = std::vector<std::string>;

TEST(UsStates, TableHasEveryStateDcAndInsularArea) {
  const auto& t = gp::geo::us_states();
  EXPECT_EQ(t.size(), 56u);
  EXPECT_EQ(std::count_if(t.begin(), t.end(), [](const auto& s) { return s.insular; }), 5);
}

TEST(UsStates, StatedStatesReadsTheUsgsTexts) {
  EXPECT_EQ(gp::geo::stated_states("Wyoming"), Codes{"WY"});
  EXPECT_EQ(gp::geo::stated_states("Wyoming/Albany County"), Codes{"WY"});
  EXPECT_EQ(gp::geo::stated_states("Idaho/Caribou"), Codes{"ID"});
  EXPECT_EQ(gp::geo::stated_states("New Mexico, Texas"), (Codes{"NM", "TX"}));
  EXPECT_EQ(gp::geo::stated_states("Fl or GA"), (Codes{"FL", "GA"}));
  EXPECT_EQ(gp::geo::stated_states("Ga or Fl"), (Codes{"GA", "FL"}));
  EXPECT_EQ(gp::geo::stated_states("Alaska?"), Codes{"AK"});
  EXPECT_EQ(gp::geo::stated_states("AK"), Codes{"AK"});
  EXPECT_EQ(gp::geo::stated_states("west virginia"), Codes{"WV"});
  EXPECT_EQ(gp::geo::stated_states("Puerto Rico"), Codes{"PR"});
  EXPECT_TRUE(gp::geo::stated_states("").empty());
  EXPECT_TRUE(gp::geo::stated_states("Western Australia").empty());
  EXPECT_TRUE(gp::geo::stated_states("Ontario").empty());
  EXPECT_TRUE(gp::geo::stated_states("Oregonian").empty());
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Whether `word` occurs in `text` (both upper-case) with no letter on either side.
bool has_word(const std::string& text, const std::string& word) {
  for (auto p = text.find(word); p != std::string::npos; p = text.find(word, p + 1)) {
    const bool left = p == 0 || std::isalpha(static_cast<unsigned char>(text[p - 1])) == 0;
    const std::size_t e = p + word.size();
    const bool right = e == text.size() || std::isalpha(static_cast<unsigned char>(text[e])) == 0;
    if (left && right) return true;
  }
  return false;
}

struct CensusState {
  std::string name;  ///< upper-case
  std::string code;  ///< USPS, from the file's own `code` attribute
  std::unique_ptr<OGRGeometry> geometry;  ///< lon/lat
};

std::vector<CensusState> census_states() {
  const fs::path f = gp::test::source_dir() / "data-samples/us_states/states-10m.json";
  GDALDatasetUniquePtr ds(GDALDataset::Open(f.c_str(), GDAL_OF_VECTOR));
  std::vector<CensusState> out;
  if (!ds) return out;
  for (auto& feat : *ds->GetLayerByName("states")) {
    out.push_back({upper(feat->GetFieldAsString("name")), feat->GetFieldAsString("code"),
                   std::unique_ptr<OGRGeometry>(feat->GetGeometryRef()->clone())});
  }
  return out;
}

TEST(UsStates, UsgsOccurrencesOutsideTheirStatedState) {
  const fs::path csv = gp::test::source_dir() / "data-samples/usgs_ree_occurrences/ree_occurrences.csv";
  const auto states = census_states();
  ASSERT_EQ(states.size(), 56u);
  // Expected, worked out here: a US row with coordinates whose stprov names a state (by name or
  // USPS code as a whole word) and whose point lies more than 0.05 degrees from each of them.
  std::set<std::string> expected;
  std::size_t us_rows = 0;
  std::size_t expected_checked = 0;
  for (const auto& r : gp::test::read_csv_rows(csv)) {
    if (r.at("country") != "United States" || r.at("longitude").empty() ||
        r.at("latitude").empty()) {
      continue;
    }
    ++us_rows;
    const OGRPoint p(std::stod(r.at("longitude")), std::stod(r.at("latitude")));
    const std::string stated = upper(r.at("stprov"));
    bool named = false;
    bool near = false;
    for (const auto& s : states) {
      if (!has_word(stated, s.name) && !has_word(stated, s.code)) continue;
      named = true;
      near = near || s.geometry->Distance(&p) <= 0.05;
    }
    if (!named) continue;
    ++expected_checked;
    if (!near) expected.insert(r.at("depname"));
  }
  EXPECT_EQ(us_rows, 84u);  // SOURCES.md: 107 US rows, 84 with coordinates

  gp::geo::DepositSpec spec;
  spec.source.path = csv.string();
  spec.source.x_column = "longitude";
  spec.source.y_column = "latitude";
  spec.name_column = "depname";
  const gp::geo::StateCheck c = gp::geo::check_stated_states(spec);
  EXPECT_EQ(c.column, "stprov");
  EXPECT_EQ(c.checked, expected_checked);
  std::set<std::string> got;
  for (const auto& m : c.mismatches) got.insert(m.name);
  EXPECT_EQ(got, expected);
  // SOURCES.md's known wrong coordinates: a Virginia occurrence at -105.7 (in New Mexico) and a
  // New Mexico one at -100.28 (in Texas).
  bool virginia = false;
  bool new_mexico = false;
  for (const auto& m : c.mismatches) {
    if (m.stated == "Virginia" && std::abs(m.lon + 105.7) < 0.1) virginia = m.found == "NM";
    if (m.stated == "New Mexico" && std::abs(m.lon + 100.28) < 0.01) new_mexico = m.found == "TX";
  }
  EXPECT_TRUE(virginia);
  EXPECT_TRUE(new_mexico);
}

TEST(UsStates, UsgsOccurrencesLieInUsMasks) {
  // Every US row with coordinates falls on a CONUS, Alaska, Hawaii or Puerto Rico mask cell (the
  // known wrong coordinates too: they are in the wrong state, still in CONUS), except those
  // outside every Census state polygon (worked out here with OGR): shoreline sites that the
  // 1:10,000,000 coast leaves at sea.
  const fs::path csv = gp::test::source_dir() / "data-samples/usgs_ree_occurrences/ree_occurrences.csv";
  const auto states = census_states();
  std::set<std::string> at_sea;
  for (const auto& r : gp::test::read_csv_rows(csv)) {
    if (r.at("country") != "United States" || r.at("longitude").empty()) continue;
    const OGRPoint p(std::stod(r.at("longitude")), std::stod(r.at("latitude")));
    if (std::none_of(states.begin(), states.end(),
                     [&](const CensusState& s) { return s.geometry->Intersects(&p); })) {
      at_sea.insert(r.at("depname"));
    }
  }
  EXPECT_LE(at_sea.size(), 2u);
  const auto dir = gp::test::scratch_dir();
  gp::geo::DepositSpec spec;
  spec.source.path = csv.string();
  spec.source.x_column = "longitude";
  spec.source.y_column = "latitude";
  spec.source.where = "country = 'United States'";
  spec.name_column = "depname";
  std::size_t placed = 0;
  std::set<std::string> on_nodata;
  for (const char* code : {"CONUS", "US-AK", "US-HI", "PR"}) {
    const auto& t = gp::geo::find_territory(code, "test");
    const std::string w = gp::geo::crs_wkt(t.crs, "test");
    const auto b = gp::geo::territory_boundary(t, w);
    const auto g = gp::geo::aligned_grid(w, gp::geo::geometry_extent(*b), 2000, 2000);
    const fs::path mask = dir / (std::string(code) + ".tif");
    gp::geo::write_boundary_mask(*b, g, mask, code);
    const auto pl = gp::geo::place_deposits(spec, g, gp::geo::validity_from_raster(mask.string()));
    placed += pl.placed.size();
    for (const auto& r : pl.rejected) {
      if (r.reason == "on a nodata cell") on_nodata.insert(r.name);
    }
  }
  EXPECT_EQ(placed, 84u - at_sea.size());
  EXPECT_EQ(on_nodata, at_sea);
}

}  // namespace

