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

#include <cmath>
#include <set>

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
    EXPECT_FALSE(t.iso_ids.empty()) << t.code;
    EXPECT_FALSE(t.crs_note.empty()) << t.code;
  }
  for (const char* c : {"USA", "CONUS", "ALASKA", "HAWAII", "CAN", "AUS", "GBR", "EU", "NOR", "GRL",
                        "JPN", "KOR", "FRA", "DEU", "SWE", "FIN", "ESP", "POL", "IRL", "CYP",
                        "MLT", "EST"}) {
    EXPECT_TRUE(codes.count(c)) << c;
  }
  EXPECT_EQ(codes.size(), 12u + 27u);  // 11 + EU, and the 27 members
  const auto& eu = gp::geo::find_territory("EU", "t");
  EXPECT_EQ(eu.iso_ids.size(), 28u);  // 27 members + Åland
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
