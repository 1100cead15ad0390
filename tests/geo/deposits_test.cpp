// Deposits: reading, filtering and placing known occurrences; every rejected point reported by
// name. The REE check: PP1802 REE deposits in the US, Canada, Australia and Greenland fall
// inside their territory masks.

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/deposits.hpp"
#include "gp/geo/territory.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using gp::geo::DepositSpec;
using gp::geo::Grid;

std::string wkt(const std::string& crs) { return gp::geo::crs_wkt(crs, "test"); }

DepositSpec csv_spec(const fs::path& p) {
  DepositSpec s;
  s.source.path = p.string();
  s.source.x_column = "lon";
  s.source.y_column = "lat";
  s.source.what = "deposits";
  s.name_column = "name";
  return s;
}

std::string reason_of(const gp::geo::DepositPlacement& d, const std::string& name) {
  for (const auto& r : d.rejected)
    if (r.name == name) return r.reason;
  return "(not rejected)";
}

// A 1-degree grid over 120..125 E, 30..26 S in EPSG:4326 (5 x 4 cells); cell (2, 1) is nodata.
struct Fixture {
  fs::path dir = gp::test::scratch_dir();
  Grid grid;
  fs::path valid;
  Fixture() {
    grid.crs_wkt = wkt("EPSG:4326");
    grid.x0 = 120;
    grid.y0 = -26;
    grid.dx = grid.dy = 1;
    grid.width = 5;
    grid.height = 4;
    std::vector<float> v(20, 1.0f);
    v[1 * 5 + 2] = -9999;
    const double nd = -9999;
    valid = dir / "valid.tif";
    gp::test::write_raster(valid, "EPSG:4326", 120, -26, 1, 1, 5, 4, v, &nd);
    std::ofstream(dir / "d.csv")
        << "name,commodity,lat,lon\n"
           "Alpha,Rare-Earth Elements; Nb,-27.5,120.5\n"  // cell (0, 1)
           "Beta,rare-earth elements,-29.25,124.75\n"     // cell (4, 3)
           "Gamma,Rare-Earth Elements,-27.5,122.5\n"      // cell (2, 1): nodata
           "Delta,Rare-Earth Elements,-10.0,122.5\n"      // north of the grid
           "Epsilon,Rare-Earth Elements,,\n"              // no coordinates
           "Zeta,Gold,-27.5,121.5\n";                     // filtered out
  }
};

TEST(Deposits, EveryPointPlacedOrReportedByName) {
  Fixture f;
  const auto d = gp::geo::place_deposits(csv_spec(f.dir / "d.csv"), f.grid,
                                         gp::geo::validity_from_raster(f.valid.string()));
  ASSERT_EQ(d.placed.size(), 3u);  // Alpha, Beta, Zeta
  EXPECT_EQ(d.placed[0].name, "Alpha");
  EXPECT_EQ(d.placed[0].col, 0);
  EXPECT_EQ(d.placed[0].row, 1);
  EXPECT_EQ(d.placed[1].name, "Beta");
  EXPECT_EQ(d.placed[1].col, 4);
  EXPECT_EQ(d.placed[1].row, 3);
  ASSERT_EQ(d.rejected.size(), 3u);
  EXPECT_EQ(reason_of(d, "Gamma"), "on a nodata cell");
  EXPECT_EQ(reason_of(d, "Delta"), "outside the grid");
  EXPECT_NE(reason_of(d, "Epsilon").find("coordinates"), std::string::npos);
}

TEST(Deposits, ContainsFilterIsCaseInsensitive) {
  Fixture f;
  DepositSpec s = csv_spec(f.dir / "d.csv");
  s.filter_column = "commodity";
  s.filter_contains = "RARE-EARTH";
  const auto d = gp::geo::place_deposits(s, f.grid);
  std::vector<std::string> names;
  for (const auto& p : d.placed) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Alpha", "Beta", "Gamma"}));
  EXPECT_EQ(d.rejected.size(), 2u);  // Delta outside, Epsilon without coordinates
}

TEST(Deposits, EqualsFilterAndWhere) {
  Fixture f;
  DepositSpec s = csv_spec(f.dir / "d.csv");
  s.filter_column = "commodity";
  s.filter_equals = "Gold";
  auto d = gp::geo::place_deposits(s, f.grid);
  ASSERT_EQ(d.placed.size(), 1u);
  EXPECT_EQ(d.placed[0].name, "Zeta");
  DepositSpec w = csv_spec(f.dir / "d.csv");
  w.source.where = "commodity LIKE '%Nb%'";
  d = gp::geo::place_deposits(w, f.grid);
  ASSERT_EQ(d.placed.size(), 1u);
  EXPECT_EQ(d.placed[0].name, "Alpha");
}

TEST(Deposits, BadColumnsAreInputErrors) {
  Fixture f;
  DepositSpec s = csv_spec(f.dir / "d.csv");
  s.source.y_column = "latitude";
  EXPECT_THROW(gp::geo::place_deposits(s, f.grid), gp::input_error);
  DepositSpec n = csv_spec(f.dir / "d.csv");
  n.name_column = "deposit_name";
  EXPECT_THROW(gp::geo::place_deposits(n, f.grid), gp::input_error);
  DepositSpec c = csv_spec(f.dir / "d.csv");
  c.filter_column = "mineral";
  c.filter_contains = "REE";
  EXPECT_THROW(gp::geo::place_deposits(c, f.grid), gp::input_error);
}

TEST(Deposits, ReeDepositsFallInsideTheirTerritoryMasks) {
  const auto dir = gp::test::scratch_dir();
  const fs::path csv = gp::test::source_dir() / "data-samples/ree_deposits/usgs_pp1802_ree_deposits.csv";
  struct Case {
    const char* territory;
    const char* country;
    double cell_m;
    std::size_t expected;  // rows of that country in the CSV (counted by hand: 6, 11, 7, 2)
  };
  std::string misses;
  for (const Case& c : {Case{"USA", "United States of America", 2000, 6},
                        Case{"CAN", "Canada", 2000, 11}, Case{"AUS", "Australia", 2000, 7},
                        Case{"GRL", "Greenland", 1000, 2}}) {
    const auto& t = gp::geo::find_territory(c.territory, "test");
    const std::string w = wkt(t.crs);
    const auto b = gp::geo::territory_boundary(t, w);
    const Grid g = gp::geo::aligned_grid(w, gp::geo::geometry_extent(*b), c.cell_m, c.cell_m);
    const fs::path mask = dir / (std::string(c.territory) + ".tif");
    gp::geo::write_boundary_mask(*b, g, mask, c.territory);
    DepositSpec s;
    s.source.path = csv.string();
    s.source.x_column = "longitude";
    s.source.y_column = "latitude";
    s.name_column = "name";
    s.filter_column = "country";
    s.filter_equals = c.country;
    const auto d = gp::geo::place_deposits(s, g, gp::geo::validity_from_raster(mask.string()));
    EXPECT_EQ(d.placed.size() + d.rejected.size(), c.expected) << c.territory;
    for (const auto& r : d.rejected) misses += std::string(c.territory) + ": " + r.name + " (" + r.reason + "); ";
  }
  EXPECT_EQ(misses, "") << "deposits outside their territory mask";
}

}  // namespace
