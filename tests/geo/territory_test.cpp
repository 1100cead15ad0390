// Territories: the table, code lookup, boundaries and masks checked at places whose location is
// known independently (towns well inside a country, islands on both sides of the antimeridian),
// and PROJ's area-of-use warning.

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/deposits.hpp"
#include "gp/geo/territory.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_geometry.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using gp::geo::Grid;

std::string wkt(const std::string& crs) { return gp::geo::crs_wkt(crs, "test"); }

/// A territory's default grid at `cell` metres, with its mask written to `dir`.
struct MaskedGrid {
  Grid grid;
  fs::path mask;
};
MaskedGrid masked(const std::string& code, double cell, const fs::path& dir) {
  const auto& t = gp::geo::find_territory(code, "test");
  const std::string w = wkt(t.crs);
  const auto b = gp::geo::territory_boundary(t, w);
  MaskedGrid m{gp::geo::aligned_grid(w, gp::geo::geometry_extent(*b), cell, cell),
               dir / (code + "_mask.tif")};
  gp::geo::write_boundary_mask(*b, m.grid, m.mask, "territory " + code);
  return m;
}

/// Whether lon/lat falls on a valid mask cell; projected with PROJ here, independently.
bool inside(const MaskedGrid& m, double lon, double lat) {
  OGRSpatialReference ll;
  ll.SetFromUserInput("EPSG:4326");
  ll.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference dst;
  dst.importFromWkt(m.grid.crs_wkt.c_str());
  dst.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  auto* ct = OGRCreateCoordinateTransformation(&ll, &dst);
  double x = lon, y = lat;
  const bool ok = ct->Transform(1, &x, &y);
  OGRCoordinateTransformation::DestroyCT(ct);
  if (!ok) return false;
  const double c = std::floor((x - m.grid.x0) / m.grid.dx);
  const double r = std::floor((m.grid.y0 - y) / m.grid.dy);
  return gp::geo::validity_from_raster(m.mask.string())(static_cast<std::int64_t>(c),
                                                        static_cast<std::int64_t>(r));
}

TEST(Territories, TableIsCompleteAndEveryCrsParses) {
  std::set<std::string> codes;
  for (const auto& t : gp::geo::territories()) {
    EXPECT_TRUE(codes.insert(t.code).second) << "duplicate " << t.code;
    EXPECT_NO_THROW(gp::geo::crs_wkt(t.crs, t.code)) << t.code << ": " << t.crs;
    EXPECT_FALSE(t.ids.empty()) << t.code;
    EXPECT_FALSE(t.crs_note.empty()) << t.code;
  }
  for (const char* c : {"USA", "CONUS", "ALASKA", "HAWAII", "CAN", "AUS", "GBR", "EU", "NOR", "GRL",
                        "JPN", "KOR", "FRA", "DEU", "SWE", "FIN", "ESP", "POL", "IRL", "CYP",
                        "MLT", "EST"}) {
    EXPECT_TRUE(codes.count(c)) << c;
  }
  for (const char* c : {"US-WY", "US-AK", "US-HI", "US-DC", "US-CA", "US-TX", "US-RI", "PR", "GU",
                        "VI", "AS", "MP"}) {
    EXPECT_TRUE(codes.count(c)) << c;
  }
  // 11 + EU, the 27 members, the 50 states, DC and the 5 insular areas.
  EXPECT_EQ(codes.size(), 12u + 27u + 50u + 1u + 5u);
  EXPECT_EQ(gp::geo::find_territory("US-WY", "t").crs, "EPSG:5070");
  EXPECT_EQ(gp::geo::find_territory("US-AK", "t").crs, "EPSG:3338");
  EXPECT_EQ(gp::geo::find_territory("US-HI", "t").crs, "ESRI:102007");
  const auto& eu = gp::geo::find_territory("EU", "t");
  EXPECT_EQ(eu.ids.size(), 28u);  // 27 members + Åland
  EXPECT_EQ(gp::geo::find_territory("CONUS", "t").crs, "EPSG:5070");
  EXPECT_EQ(gp::geo::find_territory("ALASKA", "t").crs, "EPSG:3338");
  EXPECT_EQ(gp::geo::find_territory("CAN", "t").crs, "EPSG:3978");
  EXPECT_EQ(gp::geo::find_territory("AUS", "t").crs, "EPSG:3577");
  EXPECT_EQ(gp::geo::find_territory("DEU", "t").crs, "EPSG:3035");
}

TEST(Territories, LookupIsCaseInsensitiveWithAliases) {
  EXPECT_EQ(gp::geo::find_territory("conus", "t").code, "CONUS");
  EXPECT_EQ(gp::geo::find_territory("US", "t").code, "USA");
  EXPECT_EQ(gp::geo::find_territory("uk", "t").code, "GBR");
  EXPECT_EQ(gp::geo::find_territory("AK", "t").code, "ALASKA");
  EXPECT_EQ(gp::geo::find_territory("us-wy", "t").code, "US-WY");
  EXPECT_EQ(gp::geo::find_territory("US-PR", "t").code, "PR");
  EXPECT_EQ(gp::geo::find_territory("gu", "t").code, "GU");
}

/// The codes an unknown territory's message suggests, in order ("closest: A, B, C").
std::vector<std::string> suggestions(const std::string& code) {
  try {
    gp::geo::find_territory(code, "[grid] territory");
  } catch (const gp::config_error& e) {
    std::string m = e.what();
    const auto a = m.find("closest: ");
    const auto b = m.find(" (", a);
    if (a == std::string::npos || b == std::string::npos) return {m};
    std::vector<std::string> out;
    std::stringstream ss(m.substr(a + 9, b - a - 9));
    for (std::string c; std::getline(ss, c, ',');) out.push_back(c.substr(c.find_first_not_of(' ')));
    return out;
  }
  return {};
}

TEST(Territories, UnknownCodeSuggestsByNameAndUspsCode) {
  for (const char* typed : {"Wyoming", "wyoming", "WY", "wy", "Wyomin"}) {
    const auto s = suggestions(typed);
    ASSERT_FALSE(s.empty()) << typed;
    EXPECT_EQ(s.front(), "US-WY") << typed;
  }
  EXPECT_EQ(suggestions("California").front(), "US-CA");
  EXPECT_EQ(suggestions("CA").front(), "US-CA");  // not Canada: its code is CAN
  EXPECT_EQ(suggestions("Finland").front(), "FIN");
  EXPECT_EQ(suggestions("finland").front(), "FIN");
  EXPECT_EQ(suggestions("Puerto Rico").front(), "PR");
  EXPECT_EQ(suggestions("Norway").front(), "NOR");  // name "Norway (with Svalbard)"
}

TEST(Territories, UnknownCodeNamesTheClosest) {
  try {
    gp::geo::find_territory("CONSU", "[grid] territory");
    FAIL() << "no exception";
  } catch (const gp::config_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[grid] territory"), std::string::npos) << m;
    EXPECT_NE(m.find("'CONSU'"), std::string::npos) << m;
    EXPECT_NE(m.find("CONUS"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_THROW(gp::geo::find_territory("Atlantis", "t"), gp::config_error);
}

TEST(Territories, UsSplitsIntoConusAlaskaHawaii) {
  const auto dir = gp::test::scratch_dir();
  const auto conus = masked("CONUS", 10000, dir);
  const auto ak = masked("ALASKA", 10000, dir);
  const auto hi = masked("HAWAII", 2000, dir);
  // Denver, Anchorage (inland: Palmer), central Oahu, Kansas.
  EXPECT_TRUE(inside(conus, -104.99, 39.74));
  EXPECT_TRUE(inside(conus, -98.0, 38.5));
  EXPECT_FALSE(inside(conus, -149.11, 61.60));
  EXPECT_TRUE(inside(ak, -149.11, 61.60));
  EXPECT_FALSE(inside(ak, -104.99, 39.74));
  EXPECT_TRUE(inside(hi, -157.97, 21.50));
  EXPECT_TRUE(inside(hi, -155.5, 19.6));  // Big Island
  // CONUS in Albers: about 4,600 km wide and 2,900 km tall (USGS's published extent).
  const double wkm = static_cast<double>(conus.grid.width) * conus.grid.dx / 1000;
  const double hkm = static_cast<double>(conus.grid.height) * conus.grid.dy / 1000;
  EXPECT_NEAR(wkm, 4620, 120);
  EXPECT_NEAR(hkm, 2900, 120);
}

/// The Census polygon of the state whose USPS `code` attribute is `usps`, read here with OGR
/// from the shipped file (by its USPS code, not the program's FIPS table), projected to
/// `crs_wkt`: its area (OGR_G_Area, m²) and extent.
struct StatePolygon {
  double area{0.0};
  OGREnvelope env;
};
StatePolygon census_polygon(const std::string& usps, const std::string& crs_wkt) {
  const fs::path f = gp::test::source_dir() / "data-samples/us_states/states-10m.json";
  GDALDatasetUniquePtr ds(GDALDataset::Open(f.c_str(), GDAL_OF_VECTOR));
  EXPECT_TRUE(ds) << f;
  if (!ds) return {};
  OGRLayer* l = ds->GetLayerByName("states");
  l->SetAttributeFilter(("code = '" + usps + "'").c_str());
  OGRSpatialReference ll;
  ll.SetFromUserInput("EPSG:4326");
  ll.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference dst;
  dst.importFromWkt(crs_wkt.c_str());
  dst.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  StatePolygon out;
  int n = 0;
  for (auto& feat : *l) {
    std::unique_ptr<OGRGeometry> g(feat->GetGeometryRef()->clone());
    g->assignSpatialReference(&ll);
    EXPECT_EQ(g->transformTo(&dst), OGRERR_NONE) << usps;
    out.area += OGR_G_Area(OGRGeometry::ToHandle(g.get()));
    g->getEnvelope(&out.env);
    ++n;
  }
  EXPECT_EQ(n, 1) << usps;
  return out;
}

/// Valid cells of a mask (GDAL reads it here).
std::uint64_t valid_cells(const fs::path& mask) {
  const auto v = gp::test::read_raster(mask);
  return static_cast<std::uint64_t>(
      std::count_if(v.begin(), v.end(), [](float x) { return std::isfinite(x); }));
}

TEST(Territories, EveryUsStateMaskHasItsPolygonsArea) {
  // For every state, DC and insular area: mask cells x cell area within 1 % of the area of the
  // state's own Census polygon in the territory's equal-area CRS. Cells are small enough for
  // about 1e5 cells per state (at most 2 km; larger where the extent would pass 1e7 cells:
  // American Samoa and the Northern Marianas are specks spread over hundreds of km).
  const auto dir = gp::test::scratch_dir();
  std::set<std::string> seen;
  for (const auto& t : gp::geo::territories()) {
    if (t.source != gp::geo::BoundarySet::us_census) continue;
    const std::string usps = t.code.substr(t.code.rfind('-') + 1);
    seen.insert(usps);
    const std::string w = wkt(t.crs);
    const StatePolygon ref = census_polygon(usps, w);
    ASSERT_GT(ref.area, 0.0) << t.code;
    const double box = (ref.env.MaxX - ref.env.MinX) * (ref.env.MaxY - ref.env.MinY);
    const double cell = std::round(std::max(std::min(std::sqrt(ref.area / 1e5), 2000.0),
                                            std::sqrt(box / 1e7)));
    const auto m = masked(t.code, cell, dir);
    const double mask_area = static_cast<double>(valid_cells(m.mask)) * cell * cell;
    EXPECT_NEAR(mask_area / ref.area, 1.0, 0.01)
        << t.code << ": mask " << mask_area / 1e6 << " km², polygon " << ref.area / 1e6
        << " km² at " << cell << " m";
    if (usps == "WY") {
      // The Census Bureau's published area of Wyoming: 253,335 km² of land and water.
      EXPECT_NEAR(mask_area / 1e6, 253335.0, 2533.0);
      EXPECT_NEAR(ref.area / 1e6, 253335.0, 2533.0);
    }
    std::filesystem::remove(m.mask);
  }
  EXPECT_EQ(seen.size(), 56u);
}

TEST(Territories, AleutiansAcrossTheAntimeridian) {
  const auto dir = gp::test::scratch_dir();
  const auto ak = masked("ALASKA", 5000, dir);
  // Attu (172.9 E) and Kiska (177.5 E), west of the antimeridian; Adak (176.6 W) east of it.
  EXPECT_TRUE(inside(ak, 172.90, 52.88)) << "Attu";
  EXPECT_TRUE(inside(ak, 177.55, 51.97)) << "Kiska";
  EXPECT_TRUE(inside(ak, -176.62, 51.84)) << "Adak";
  EXPECT_FALSE(inside(ak, 175.0, 55.0)) << "open Bering Sea";
  // The whole of the US, in one equal-area grid, holds them too.
  const auto us = masked("USA", 20000, dir);
  EXPECT_TRUE(inside(us, 172.90, 52.88)) << "Attu";
  EXPECT_TRUE(inside(us, -98.0, 38.5)) << "Kansas";
  EXPECT_TRUE(inside(us, -155.5, 19.6)) << "Hawaii";
  // The Alaska grid stays in its CRS's area of use, which crosses the antimeridian too.
  EXPECT_EQ(gp::geo::area_of_use_warning(ak.grid), "");
}

TEST(Territories, AlliesMasks) {
  const auto dir = gp::test::scratch_dir();
  struct Place {
    const char* code;
    double lon, lat;
    bool in;
    const char* what;
  };
  const Place places[] = {
      {"CAN", -75.70, 45.42, true, "Ottawa"},        {"CAN", -98.0, 38.5, false, "Kansas"},
      {"AUS", 133.88, -23.70, true, "Alice Springs"}, {"AUS", 146.8, -42.0, true, "Tasmania"},
      {"GBR", -1.5, 52.5, true, "Midlands"},          {"GBR", -6.6, 54.6, true, "Northern Ireland"},
      {"FRA", 2.35, 46.5, true, "central France"},    {"FRA", -53.0, 4.0, false, "French Guiana"},
      {"EU", 10.0, 51.0, true, "Germany"},            {"EU", 33.2, 35.0, true, "Cyprus"},
      {"EU", 9.0, 61.0, false, "Norway"},             {"NOR", 9.0, 61.0, true, "Norway"},
      {"GRL", -50.69, 67.01, true, "Kangerlussuaq"},  {"GRL", -40.0, 75.0, true, "ice sheet"},
      {"JPN", 137.97, 36.24, true, "Matsumoto"},      {"JPN", 142.4, 43.4, true, "Hokkaido"},
      {"KOR", 127.5, 36.5, true, "central Korea"},    {"KOR", 127.0, 39.0, false, "North Korea"},
  };
  std::map<std::string, MaskedGrid> grids;
  for (const auto& p : places) {
    if (!grids.count(p.code)) grids.emplace(p.code, masked(p.code, 10000, dir));
    EXPECT_EQ(inside(grids.at(p.code), p.lon, p.lat), p.in) << p.code << ": " << p.what;
  }
}

TEST(Territories, AreaOfUseWarning) {
  // Territory grids stay within their CRS's area of use; a CONUS Albers grid stretched to cover
  // Alaska does not.
  const auto dir = gp::test::scratch_dir();
  for (const char* code : {"CONUS", "CAN", "AUS", "EU", "GRL", "KOR"}) {
    EXPECT_EQ(gp::geo::area_of_use_warning(masked(code, 50000, dir).grid), "") << code;
  }
  Grid g = masked("CONUS", 50000, dir).grid;
  g.x0 -= 2000000;
  g.y0 += 2500000;
  g.width += 40;
  g.height += 50;
  const std::string w = gp::geo::area_of_use_warning(g);
  EXPECT_NE(w.find("EPSG:5070"), std::string::npos) << w;
  EXPECT_NE(w.find("area of use"), std::string::npos) << w;
}

TEST(Territories, UserBoundaryFile) {
  const auto dir = gp::test::scratch_dir();
  // A square in EPSG:3577 plus one filtered out by where.
  OGRSpatialReference srs;
  srs.SetFromUserInput("EPSG:3577");
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GPKG");
  {
    GDALDatasetUniquePtr ds(drv->Create((dir / "b.gpkg").c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    OGRLayer* l = ds->CreateLayer("b", &srs, wkbPolygon, nullptr);
    OGRFieldDefn fd("keep", OFTInteger);
    l->CreateField(&fd);
    for (auto [w, k] : {std::pair{"POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0))", 1},
                        std::pair{"POLYGON ((6 0, 8 0, 8 2, 6 2, 6 0))", 0}}) {
      OGRFeature f(l->GetLayerDefn());
      OGRGeometry* g = nullptr;
      OGRGeometryFactory::createFromWkt(w, &srs, &g);
      f.SetGeometryDirectly(g);
      f.SetField("keep", k);
      ASSERT_EQ(l->CreateFeature(&f), OGRERR_NONE);
    }
  }
  const std::string w3577 = wkt("EPSG:3577");
  const auto b = gp::geo::boundary_from_file((dir / "b.gpkg").string(), "", "keep = 1", w3577, "b");
  const auto e = gp::geo::geometry_extent(*b);
  EXPECT_EQ(e[0], 0.0);
  EXPECT_EQ(e[2], 4.0);
  const Grid g = gp::geo::aligned_grid(w3577, {0, 0, 8, 4}, 1, 1);
  gp::geo::write_boundary_mask(*b, g, dir / "m.tif", "b");
  const auto v = gp::test::read_raster(dir / "m.tif");
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 8; ++c) {
      const float x = v[static_cast<std::size_t>(r * 8 + c)];
      if (c < 4) EXPECT_EQ(x, 1.0f) << c << "," << r;
      else EXPECT_TRUE(std::isnan(x)) << c << "," << r;
    }
  EXPECT_THROW(gp::geo::boundary_from_file((dir / "b.gpkg").string(), "", "keep = 5", w3577, "b"),
               gp::input_error);
}

}  // namespace
