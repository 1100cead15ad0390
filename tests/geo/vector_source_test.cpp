// Vector sources: opening and selecting, bad input (one clear error each), and rasterising in
// each mode, checked against hand-worked cells and against gdal_rasterize on the same grid.

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/vector_source.hpp"
#include "test_support.hpp"
#include "vector_test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using gp::geo::Grid;
using gp::geo::RasteriseOptions;
using gp::geo::VectorMode;
using gp::geo::VectorSpec;
using gp::test::WktFeature;

Grid grid_in(const std::string& crs, double x0, double y0, double dx, double dy, int w, int h) {
  Grid g;
  g.crs_wkt = gp::geo::crs_wkt(crs, "test");
  g.x0 = x0;
  g.y0 = y0;
  g.dx = dx;
  g.dy = dy;
  g.width = w;
  g.height = h;
  return g;
}

VectorSpec spec_of(const fs::path& p, const std::string& layer = {}) {
  VectorSpec s;
  s.path = p.string();
  s.layer = layer;
  s.what = "layer 'test'";
  return s;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(ProbeSource, TellsRastersVectorsAndJunkApart) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_raster(dir / "r.tif", "EPSG:3577", 0, 0, 1, 1, 2, 2, {1, 2, 3, 4});
  gp::test::write_vector(dir / "v.gpkg", "faults", "EPSG:3577", {{"POINT (1 1)", {}}});
  std::ofstream(dir / "junk.gpkg") << "not a geopackage";
  EXPECT_EQ(gp::geo::probe_source((dir / "r.tif").string()), gp::geo::SourceKind::raster);
  EXPECT_EQ(gp::geo::probe_source((dir / "v.gpkg").string()), gp::geo::SourceKind::vector);
  EXPECT_EQ(gp::geo::probe_source((dir / "junk.gpkg").string()), gp::geo::SourceKind::unreadable);
  EXPECT_EQ(gp::geo::probe_source((dir / "missing.shp").string()), gp::geo::SourceKind::unreadable);
}

TEST(VectorSource, UnreadableSourceIsOneClearInputError) {
  const auto dir = gp::test::scratch_dir();
  std::ofstream(dir / "junk.gpkg") << "not a geopackage";
  const std::string msg = message_of([&] { gp::geo::VectorSource s(spec_of(dir / "junk.gpkg")); });
  EXPECT_NE(msg.find("layer 'test'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot read"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_THROW(gp::geo::VectorSource s(spec_of(dir / "junk.gpkg")), gp::input_error);
  EXPECT_THROW(gp::geo::VectorSource s(spec_of(dir / "nope.gpkg")), gp::input_error);
}

TEST(VectorSource, UnknownLayerListsTheLayers) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "v.gpkg", "faults", "EPSG:3577", {{"POINT (1 1)", {}}});
  const std::string msg =
      message_of([&] { gp::geo::VectorSource s(spec_of(dir / "v.gpkg", "dykes")); });
  EXPECT_NE(msg.find("no layer 'dykes'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("faults"), std::string::npos) << msg;
}

TEST(VectorSource, SeveralLayersNeedAName) {
  const fs::path topo = gp::test::source_dir() / "data-samples/boundaries/ne_countries_50m.topojson";
  const std::string msg = message_of([&] { gp::geo::VectorSource s(spec_of(topo)); });
  EXPECT_NE(msg.find("countries"), std::string::npos) << msg;
  EXPECT_NE(msg.find("land"), std::string::npos) << msg;
}

TEST(VectorSource, CsvWithoutTheNamedColumnsIsAnInputError) {
  const auto dir = gp::test::scratch_dir();
  std::ofstream(dir / "pts.csv") << "name,lat,lon\nA,-30.5,121.25\n";
  VectorSpec s = spec_of(dir / "pts.csv");
  s.x_column = "longitude";
  s.y_column = "lat";
  const std::string msg = message_of([&] { gp::geo::VectorSource v(s); });
  EXPECT_NE(msg.find("no column 'longitude'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lon"), std::string::npos) << msg;  // lists what it has
  EXPECT_THROW(gp::geo::VectorSource v(s), gp::input_error);
}

TEST(VectorSource, MissingBurnAttributeIsAnInputError) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "v.gpkg", "units", "EPSG:3577",
                         {{"POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", {{"age_ma", 1800.0}}}});
  RasteriseOptions o;
  o.mode = VectorMode::burn;
  o.attribute = "grade";
  const Grid g = grid_in("EPSG:3577", 0, 10, 1, 1, 10, 10);
  const std::string msg =
      message_of([&] { gp::geo::materialise_vector(spec_of(dir / "v.gpkg"), o, g, dir / "o.tif"); });
  EXPECT_NE(msg.find("no attribute 'grade'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("age_ma"), std::string::npos) << msg;
  EXPECT_THROW(gp::geo::materialise_vector(spec_of(dir / "v.gpkg"), o, g, dir / "o.tif"),
               gp::input_error);
  EXPECT_FALSE(fs::exists(dir / "o.tif"));
}

TEST(VectorSource, BadFilterIsAnInputError) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "v.gpkg", "faults", "EPSG:3577", {{"POINT (1 1)", {{"kind", 1}}}});
  VectorSpec s = spec_of(dir / "v.gpkg");
  s.where = "nosuchcolumn = 3";
  EXPECT_THROW(gp::geo::VectorSource v(s), gp::input_error);
}

TEST(VectorSource, CsvPointsFromNamedColumnsAreReprojected) {
  const auto dir = gp::test::scratch_dir();
  std::ofstream(dir / "pts.csv") << "name,lat,lon\nA,-30.5,121.25\nB,,121\n";
  VectorSpec s = spec_of(dir / "pts.csv");
  s.x_column = "lon";
  s.y_column = "lat";
  gp::geo::VectorSource v(s);
  std::vector<gp::geo::SkippedFeature> skipped;
  const auto feats =
      v.read(gp::geo::crs_wkt("EPSG:3577", "t"), {}, "name", &skipped);
  ASSERT_EQ(feats.size(), 1u);
  EXPECT_EQ(feats[0].name, "A");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].name, "B");
  // Independent: PROJ directly, lon/lat order.
  OGRSpatialReference ll;
  ll.SetFromUserInput("EPSG:4326");
  ll.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference aa;
  aa.SetFromUserInput("EPSG:3577");
  aa.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  auto* ct = OGRCreateCoordinateTransformation(&ll, &aa);
  double x = 121.25, y = -30.5;
  ASSERT_TRUE(ct->Transform(1, &x, &y));
  OGRCoordinateTransformation::DestroyCT(ct);
  const auto* p = feats[0].geometry->toPoint();
  EXPECT_NEAR(p->getX(), x, 1e-6);
  EXPECT_NEAR(p->getY(), y, 1e-6);
}

TEST(Materialise, PresenceMatchesGdalRasterizeAcrossCrs) {
  // A polygon and a line in EPSG:4326 onto an EPSG:5070 grid, against gdal_rasterize burning
  // the same layer into a raster with the same grid (it reprojects vertex by vertex too).
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(
      dir / "f.gpkg", "f", "EPSG:4326",
      {{"POLYGON ((-105.3 39.2, -104.1 39.4, -104.4 40.3, -105.0 40.1, -105.3 39.2))", {}},
       {"LINESTRING (-106.2 38.9, -105.6 39.9, -104.0 40.6)", {}}});
  const Grid g = grid_in("EPSG:5070", -900000, 1950000, 2000, 2000, 97, 83);
  RasteriseOptions o;
  o.mode = VectorMode::presence;
  gp::geo::materialise_vector(spec_of(dir / "f.gpkg"), o, g, dir / "ours.tif");
  std::vector<float> zeros(static_cast<std::size_t>(g.width * g.height), 0.0f);
  gp::test::write_raster(dir / "theirs.tif", "EPSG:5070", g.x0, g.y0, g.dx, g.dy, 97, 83, zeros);
  const std::string cmd = "gdal_rasterize -q -burn 1 -l f " + (dir / "f.gpkg").string() + " " +
                          (dir / "theirs.tif").string() + " >/dev/null 2>&1";
  ASSERT_EQ(0, std::system(cmd.c_str()));
  const auto ours = gp::test::read_raster(dir / "ours.tif");
  const auto theirs = gp::test::read_raster(dir / "theirs.tif");
  ASSERT_EQ(ours.size(), theirs.size());
  int ones = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(ours[i], theirs[i]) << "cell " << i % 97 << "," << i / 97;
    ones += ours[i] == 1.0f;
  }
  EXPECT_GT(ones, 200);  // the polygon covers a few hundred 2 km cells
}

TEST(Materialise, BurnHandWorked) {
  // Unit cells; a polygon covering cell centres of columns 1-2, rows 1-3, value 7.5; a null
  // attribute burns nothing; the rest is nodata.
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "u.gpkg", "u", "EPSG:3577",
                         {{"POLYGON ((1 1, 3 1, 3 4, 1 4, 1 1))", {{"grade", 7.5}}}});
  const Grid g = grid_in("EPSG:3577", 0, 5, 1, 1, 5, 5);
  RasteriseOptions o;
  o.mode = VectorMode::burn;
  o.attribute = "grade";
  gp::geo::materialise_vector(spec_of(dir / "u.gpkg"), o, g, dir / "o.tif");
  const auto v = gp::test::read_raster(dir / "o.tif");
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 5; ++c) {
      const float x = v[static_cast<std::size_t>(r * 5 + c)];
      const bool inside = c >= 1 && c <= 2 && r >= 1 && r <= 3;  // y = 5 - r - 0.5 in (1, 4)
      if (inside) EXPECT_EQ(x, 7.5f) << c << "," << r;
      else EXPECT_TRUE(std::isnan(x)) << c << "," << r;
    }
  }
}

TEST(Materialise, DistanceToALineHandWorked) {
  // A vertical line through the centres of column 3 on 100 x 50 m cells: distance = |c - 3| x
  // 100 m, clamped at 250 m.
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "l.gpkg", "l", "EPSG:3577", {{"LINESTRING (350 0, 350 500)", {}}});
  const Grid g = grid_in("EPSG:3577", 0, 500, 100, 50, 9, 10);
  RasteriseOptions o;
  o.mode = VectorMode::distance;
  o.max_distance = 250;
  o.all_touched = false;
  gp::geo::materialise_vector(spec_of(dir / "l.gpkg"), o, g, dir / "d.tif");
  const auto v = gp::test::read_raster(dir / "d.tif");
  for (int r = 0; r < 10; ++r) {
    for (int c = 0; c < 9; ++c) {
      EXPECT_FLOAT_EQ(v[static_cast<std::size_t>(r * 9 + c)],
                      std::min(250.0f, 100.0f * static_cast<float>(std::abs(c - 3))))
          << c << "," << r;
    }
  }
}

TEST(Materialise, DistanceWithNoFeatureOnTheGridIsMaxDistanceOrNodata) {
  // A feature is selected but lies beyond the grid (no feature selected at all is an error:
  // MaterialiseVector.NothingSelectedIsAnInputErrorNamingTheSelection).
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "l.gpkg", "l", "EPSG:3577",
                         {{"LINESTRING (5350 0, 5350 500)", {{"kind", 1}}}});
  VectorSpec s = spec_of(dir / "l.gpkg");
  const Grid g = grid_in("EPSG:3577", 0, 500, 100, 50, 4, 3);
  RasteriseOptions o;
  o.mode = VectorMode::distance;
  gp::geo::materialise_vector(s, o, g, dir / "a.tif");
  for (float x : gp::test::read_raster(dir / "a.tif")) EXPECT_TRUE(std::isnan(x));
  o.max_distance = 1000;
  gp::geo::materialise_vector(s, o, g, dir / "b.tif");
  for (float x : gp::test::read_raster(dir / "b.tif")) EXPECT_EQ(x, 1000.0f);
}

TEST(Materialise, DistanceRefusesAboveTheMemoryLimit) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "l.gpkg", "l", "EPSG:3577", {{"LINESTRING (350 0, 350 500)", {}}});
  const Grid g = grid_in("EPSG:3577", 0, 500, 1, 1, 1000, 1000);
  RasteriseOptions o;
  o.mode = VectorMode::distance;
  o.memory_limit_bytes = 1 << 20;
  const std::string msg =
      message_of([&] { gp::geo::materialise_vector(spec_of(dir / "l.gpkg"), o, g, dir / "d.tif"); });
  EXPECT_NE(msg.find("whole grid"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "d.tif"));
}

TEST(Materialise, DensityHandWorked) {
  // Two points in the centre cell of a 5 x 5 grid of 1 km cells, radius 1 km: the disc is the
  // centre and its 4 neighbours (5 km²), so they read 2 / 5 = 0.4 per km²; a 2 km line along
  // row 0 (y = 4.5 km) adds 2 km of line... kept in a separate layer below.
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "p.gpkg", "p", "EPSG:3577",
                         {{"POINT (2500 2500)", {}}, {"POINT (2600 2400)", {}}});
  const Grid g = grid_in("EPSG:3577", 0, 5000, 1000, 1000, 5, 5);
  RasteriseOptions o;
  o.mode = VectorMode::density;
  o.radius_m = 1000;
  gp::geo::materialise_vector(spec_of(dir / "p.gpkg"), o, g, dir / "d.tif");
  const auto v = gp::test::read_raster(dir / "d.tif");
  EXPECT_FLOAT_EQ(v[12], 0.4f);
  EXPECT_FLOAT_EQ(v[7], 0.4f);
  EXPECT_FLOAT_EQ(v[13], 0.4f);
  EXPECT_EQ(v[6], 0.0f);
  // Line length: 3 km of line along the centres of row 0 (y = 4500) from x = 0 to 3000.
  // Cell (0, 0) sees cells (0,0), (1,0) and (0,1) of its disc of 5 cells (5 km²), of which the
  // line lies in (0,0) and (1,0), 1 km each: 2 km / 5 km² = 0.4 km per km².
  gp::test::write_vector(dir / "l.gpkg", "l", "EPSG:3577", {{"LINESTRING (0 4500, 3000 4500)", {}}});
  gp::geo::materialise_vector(spec_of(dir / "l.gpkg"), o, g, dir / "dl.tif");
  const auto w = gp::test::read_raster(dir / "dl.tif");
  EXPECT_NEAR(w[0], 0.4f, 1e-5);
  EXPECT_NEAR(w[1], 0.6f, 1e-5);   // (0,0), (1,0), (2,0) all on the line: 3 / 5
  EXPECT_NEAR(w[6], 0.2f, 1e-5);   // (1,1): only (1,0) of its disc is on the line
  EXPECT_NEAR(w[12], 0.0f, 1e-6);
}

TEST(Materialise, DensityNeedsAProjectedGrid) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "p.gpkg", "p", "EPSG:4326", {{"POINT (121 -30)", {}}});
  const Grid g = grid_in("EPSG:4326", 120, -29, 0.1, 0.1, 20, 20);
  RasteriseOptions o;
  o.mode = VectorMode::density;
  o.radius_m = 1000;
  EXPECT_THROW(gp::geo::materialise_vector(spec_of(dir / "p.gpkg"), o, g, dir / "d.tif"),
               gp::config_error);
}

}  // namespace

namespace {

TEST(VectorSource, CsvCoordinateColumnsAreFoundByNameInAnyCase) {
  const auto dir = gp::test::scratch_dir();
  const std::string wgs84 = gp::geo::crs_wkt("EPSG:4326", "test");
  for (const char* header : {"id,latitude,longitude", "id,Lat,Lon", "id,LAT,LONG", "id,lat,lng"}) {
    SCOPED_TRACE(header);
    std::ofstream(dir / "p.csv") << header << "\nA,44.5,-108.25\nB,,\n";
    gp::geo::VectorSource src(spec_of(dir / "p.csv"));
    EXPECT_TRUE(gp::geo::same_crs(src.crs_wkt(), wgs84));
    std::vector<gp::geo::SkippedFeature> skipped;
    const auto f = src.read(wgs84, {}, "id", &skipped);
    ASSERT_EQ(f.size(), 1u);
    const auto p = gp::geo::representative_point(*f[0].geometry);
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)[0], -108.25);  // x = longitude, whatever the column order
    EXPECT_EQ((*p)[1], 44.5);
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_EQ(skipped[0].name, "B");
    EXPECT_NE(skipped[0].reason.find("no usable coordinates"), std::string::npos);
  }
  // x/y columns are read too, in the CRS given; without one, a clear error.
  std::ofstream(dir / "xy.csv") << "id,X,Y\nA,1500,2500\n";
  VectorSpec s = spec_of(dir / "xy.csv");
  s.crs = "EPSG:3577";
  gp::geo::VectorSource xy(s);
  const auto f = xy.read({});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ((*gp::geo::representative_point(*f[0].geometry))[0], 1500.0);
  const std::string no_crs = message_of([&] { gp::geo::VectorSource v(spec_of(dir / "xy.csv")); });
  EXPECT_NE(no_crs.find("no CRS for its coordinate columns 'X', 'Y'"), std::string::npos) << no_crs;
  std::ofstream(dir / "none.csv") << "id,north,east\nA,1,2\n";
  const std::string none = message_of([&] { gp::geo::VectorSource v(spec_of(dir / "none.csv")); });
  EXPECT_NE(none.find("no coordinate columns (its columns: id, north, east;"), std::string::npos)
      << none;
  EXPECT_THROW(gp::geo::VectorSource v(spec_of(dir / "none.csv")), gp::input_error);
}

TEST(MaterialiseVector, NothingSelectedIsAnInputErrorNamingTheSelection) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "v.gpkg", "faults", "EPSG:3577", {{"POINT (1 1)", {{"age", 3.0}}}});
  VectorSpec s = spec_of(dir / "v.gpkg", "faults");
  s.where = "age > 5";
  const Grid g = grid_in("EPSG:3577", 0, 10, 1, 1, 10, 10);
  const std::string msg = message_of([&] {
    gp::geo::materialise_vector(s, RasteriseOptions{}, g, dir / "o.tif");
  });
  EXPECT_NE(msg.find("layer 'test': no feature with a geometry in " + (dir / "v.gpkg").string() +
                     " (layer 'faults', where \"age > 5\")"),
            std::string::npos)
      << msg;
  EXPECT_THROW(gp::geo::materialise_vector(s, RasteriseOptions{}, g, dir / "o.tif"),
               gp::input_error);
  EXPECT_FALSE(fs::exists(dir / "o.tif"));
}

}  // namespace
