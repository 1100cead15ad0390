// End-to-end tests of vector layers and territories through the `geoprospect` binary: a model
// mixing a raster layer, a distance-to-fault layer from a GeoPackage written here and the CONUS
// mask, checked against values worked out here (gdal_rasterize for the fault cells, a brute-force
// distance, PROJ for which cells lie south of the 49th parallel); and bad input, one line each.

#include "test_support.hpp"
#include "../geo/vector_test_util.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using gp::test::write_text;

namespace fs = std::filesystem;
using gp::test::run_cli;

constexpr int exit_model = gp::test::exit_code::model;
constexpr int exit_input = gp::test::exit_code::input;

// A 5 km grid in EPSG:5070 across the US-Canada border around 100 W (49 N is near y = 2.89e6).
constexpr double x0 = -500000, y0 = 2980000, cell = 5000;
constexpr int w = 80, h = 44;

/// Files left in a folder other than those expected (temporary rasters must be gone).
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.find("gp-tmp") != std::string::npos) out.push_back(n);
  }
  return out;
}

TEST(VectorE2E, RasterPlusDistanceToFaultsPlusTerritoryMask) {
  const auto dir = gp::test::scratch_dir();
  // Raster evidence on the grid itself: value = col + row (0 .. 121).
  std::vector<float> mag(static_cast<std::size_t>(w * h));
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) mag[static_cast<std::size_t>(r * w + c)] = static_cast<float>(c + r);
  gp::test::write_raster(dir / "mag.tif", "EPSG:5070", x0, y0, cell, cell, w, h, mag);
  // Faults in lon/lat.
  gp::test::write_vector(dir / "faults.gpkg", "faults", "EPSG:4326",
                         {{"LINESTRING (-103.5 47.8, -101.0 48.6, -99.2 49.7)", {}},
                          {"LINESTRING (-98.0 47.7, -97.6 48.9)", {}}});
  write_text(dir / "model.toml", R"(
[model]
name = "vector-e2e"

[grid]
territory = "CONUS"
resolution = 5000
extent = [-500000, 2760000, -100000, 2980000]

[[layer]]
name = "mag"
path = "mag.tif"
transform = { kind = "linear", min = 0, max = 100 }

[[layer]]
name = "faults"
path = "faults.gpkg"
vector = "distance"
layer = "faults"
max_distance = 40000
transform = { kind = "linear", min = 40000, max = 0 }

[output]
path = "out/map.tif"
)");
  fs::create_directories(dir / "out");
  const auto r = run_cli({"run", (dir / "model.toml").string(), "--quiet", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(leftovers(dir / "out").empty());
  const auto out = gp::test::read_raster(dir / "out/map.tif");
  ASSERT_EQ(out.size(), static_cast<std::size_t>(w * h));

  // Fault cells from gdal_rasterize on the same grid (an independent rasteriser).
  std::vector<float> zeros(static_cast<std::size_t>(w * h), 0.0f);
  gp::test::write_raster(dir / "fmask.tif", "EPSG:5070", x0, y0, cell, cell, w, h, zeros);
  const std::string cmd = "gdal_rasterize -q -burn 1 -l faults " + (dir / "faults.gpkg").string() +
                          " " + (dir / "fmask.tif").string() + " >/dev/null 2>&1";
  ASSERT_EQ(0, std::system(cmd.c_str()));
  const auto fm = gp::test::read_raster(dir / "fmask.tif");
  std::vector<std::pair<int, int>> faults;
  for (int i = 0; i < w * h; ++i)
    if (fm[static_cast<std::size_t>(i)] == 1.0f) faults.emplace_back(i % w, i / w);
  ASSERT_GT(faults.size(), 50u);

  OGRSpatialReference albers;
  albers.SetFromUserInput("EPSG:5070");
  albers.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference ll;
  ll.SetFromUserInput("EPSG:4326");
  ll.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  auto* ct = OGRCreateCoordinateTransformation(&albers, &ll);
  int checked_in = 0, checked_out = 0;
  for (int r0 = 0; r0 < h; ++r0) {
    for (int c0 = 0; c0 < w; ++c0) {
      double lon = x0 + (c0 + 0.5) * cell, lat = y0 - (r0 + 0.5) * cell;
      ASSERT_TRUE(ct->Transform(1, &lon, &lat));
      const float got = out[static_cast<std::size_t>(r0 * w + c0)];
      if (lat > 49.1) {  // Canada: outside the mask
        EXPECT_EQ(got, -9999.0f) << c0 << "," << r0;
        ++checked_out;
      } else if (lat < 48.9) {  // well inside CONUS
        double best = 1e300;
        for (auto [fc, fr] : faults) best = std::min(best, std::hypot((c0 - fc) * cell, (r0 - fr) * cell));
        const double dist = std::min(best, 40000.0);
        const double fav_fault = (dist - 40000.0) / (0.0 - 40000.0);
        const double fav_mag = std::min(1.0, (c0 + r0) / 100.0);
        const double want = 0.5 * fav_mag + 0.5 * fav_fault;
        EXPECT_NEAR(got, want, 1e-5) << c0 << "," << r0;
        ++checked_in;
      }
    }
  }
  OGRCoordinateTransformation::DestroyCT(ct);
  EXPECT_GT(checked_in, 1500);
  EXPECT_GT(checked_out, 500);
}

TEST(VectorE2E, VectorOnlyModelWithBoundaryFile) {
  // Presence of polygons, a user boundary, everything in EPSG:3577 with unit-ish cells.
  const auto dir = gp::test::scratch_dir();
  gp::test::write_vector(dir / "units.gpkg", "units", "EPSG:3577",
                         {{"POLYGON ((1000 1000, 3000 1000, 3000 4000, 1000 4000, 1000 1000))", {}}});
  gp::test::write_vector(dir / "b.gpkg", "b", "EPSG:3577",
                         {{"POLYGON ((0 0, 4000 0, 4000 5000, 0 5000, 0 0))", {}}});
  write_text(dir / "model.toml", R"(
[grid]
boundary = "b.gpkg"
resolution = 1000

[[layer]]
name = "units"
path = "units.gpkg"

[output]
path = "map.tif"
)");
  const auto r = run_cli({"run", (dir / "model.toml").string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = gp::test::read_raster(dir / "map.tif");
  ASSERT_EQ(v.size(), 20u);  // 4 x 5 cells from the boundary's extent
  for (int r0 = 0; r0 < 5; ++r0)
    for (int c0 = 0; c0 < 4; ++c0) {
      const bool in = c0 >= 1 && c0 <= 2 && r0 >= 1 && r0 <= 3;  // y 4000..1000
      EXPECT_EQ(v[static_cast<std::size_t>(r0 * 4 + c0)], in ? 1.0f : 0.0f) << c0 << "," << r0;
    }
  EXPECT_TRUE(leftovers(dir).empty());
}

struct BadCase {
  const char* label;
  const char* layer_toml;
  const char* grid_extra;
  int code;
  const char* must_say;
};

TEST(VectorE2E, BadInputOneClearLineEach) {
  const auto dir = gp::test::scratch_dir();
  gp::test::write_raster(dir / "r.tif", "EPSG:3577", 0, 5000, 1000, 1000, 5, 5,
                         std::vector<float>(25, 1.0f));
  write_text(dir / "junk.gpkg", "this is not a geopackage");
  gp::test::write_vector(dir / "f.gpkg", "f", "EPSG:3577",
                         {{"LINESTRING (0 0, 5000 5000)", {{"age", 10.0}}}});
  write_text(dir / "pts.csv", "name,lat,lon\nA,-30,121\n");
  const BadCase cases[] = {
      {"unreadable vector source", "path = \"junk.gpkg\"\nvector = \"distance\"", "", exit_input,
       "cannot read"},
      {"missing attribute", "path = \"f.gpkg\"\nvector = \"burn\"\nattribute = \"grade\"", "",
       exit_input, "no attribute 'grade'"},
      {"unknown territory", "path = \"f.gpkg\"\nvector = \"distance\"", "territory = \"CONSU\"",
       exit_model, "CONUS"},
      {"csv without the named columns",
       "path = \"pts.csv\"\nvector = \"presence\"\nx_column = \"longitude\"\ny_column = \"lat\"", "",
       exit_input, "no column 'longitude'"},
      {"burn without attribute", "path = \"f.gpkg\"\nvector = \"burn\"", "", exit_model,
       "attribute"},
  };
  for (const auto& c : cases) {
    const fs::path model = dir / "model.toml";
    write_text(model, std::string("[grid]\nresolution = 1000\n") + c.grid_extra +
                          "\n\n[[layer]]\nname = \"base\"\npath = \"r.tif\"\n\n[[layer]]\n"
                          "name = \"v\"\n" + c.layer_toml + "\n\n[output]\npath = \"o/map.tif\"\n");
    fs::create_directories(dir / "o");
    const auto r = run_cli({"run", model.string(), "--quiet"});
    EXPECT_EQ(r.exit_code, c.code) << c.label << ": " << r.err;
    const auto ls = gp::test::lines(r.err);
    ASSERT_EQ(ls.size(), 1u) << c.label << ": " << r.err;
    EXPECT_EQ(ls[0].rfind("geoprospect: error:", 0), 0u) << ls[0];
    EXPECT_NE(ls[0].find(c.must_say), std::string::npos) << c.label << ": " << ls[0];
    EXPECT_FALSE(fs::exists(dir / "o/map.tif")) << c.label;
    EXPECT_TRUE(leftovers(dir / "o").empty()) << c.label;
  }
}

// --- issue 19: a US user's CSV, extents and resolutions in the wrong unit ----------------------

/// A distance model in EPSG:5070 on `source` (a vector file written by the test).
std::string distance_model(const std::string& source, const std::string& grid) {
  return "[grid]\n" + grid +
         "\n\n[[layer]]\nname = \"occ\"\npath = \"" + source +
         "\"\nvector = \"distance\"\n\n[output]\npath = \"map.tif\"\n";
}

constexpr const char* conus_5km =
    "crs = \"EPSG:5070\"\nresolution = 5000\nextent = [-1200000, 2250000, -900000, 2550000]";

TEST(VectorE2E, CsvWithLatitudeLongitudeColumnsIsReadAsWgs84Points) {
  // Three points in Wyoming as lon/lat. The same points as a GeoPackage in EPSG:4326 are the
  // reference; a hand value checks the distance at the cell holding the first point.
  const std::vector<std::array<double, 2>> pts{{-108.2, 44.5}, {-107.0, 45.0}, {-110.1, 43.2}};
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Latitude", "Longitude"}, {"lat", "lon"}, {"LAT", "LONG"}};
  for (const auto& [lat, lon] : headers) {
    SCOPED_TRACE(lat + "/" + lon);
    const auto dir = gp::test::scratch_dir();
    std::string csv = "name," + lat + "," + lon + "\n";
    std::vector<gp::test::WktFeature> feats;
    for (const auto& p : pts) {
      char row[128];
      std::snprintf(row, sizeof row, "p,%.6f,%.6f\n", p[1], p[0]);
      csv += row;
      std::snprintf(row, sizeof row, "POINT (%.6f %.6f)", p[0], p[1]);
      feats.push_back({row, {}});
    }
    csv += "blank,,\n";  // a row without coordinates: skipped, said so
    write_text(dir / "occ.csv", csv);
    gp::test::write_vector(dir / "occ.gpkg", "occ", "EPSG:4326", feats);
    write_text(dir / "csv.toml", distance_model("occ.csv", conus_5km));
    write_text(dir / "gpkg.toml", distance_model("occ.gpkg", conus_5km));
    const auto a = run_cli({"run", (dir / "csv.toml").string(), "-o", (dir / "a.tif").string()});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_NE(a.err.find("EPSG:4326"), std::string::npos) << a.err;
    EXPECT_NE(a.err.find("1 feature skipped"), std::string::npos) << a.err;
    const auto b = run_cli({"run", (dir / "gpkg.toml").string(), "-o", (dir / "b.tif").string(),
                            "--quiet"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    const auto va = gp::test::read_raster(dir / "a.tif");
    const auto vb = gp::test::read_raster(dir / "b.tif");
    ASSERT_EQ(va.size(), 60u * 60u);
    EXPECT_EQ(va, vb);
    // By hand: the first point's cell (PROJ in the test) is at distance 0; the cell 3 columns
    // east of it, 15 km, unless another point is nearer (they are hundreds of km apart).
    OGRSpatialReference ll, albers;
    ll.SetFromUserInput("EPSG:4326");
    ll.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    albers.SetFromUserInput("EPSG:5070");
    auto* ct = OGRCreateCoordinateTransformation(&ll, &albers);
    double x = pts[0][0], y = pts[0][1];
    ASSERT_TRUE(ct->Transform(1, &x, &y));
    OGRCoordinateTransformation::DestroyCT(ct);
    const int c = static_cast<int>(std::floor((x + 1200000) / 5000));
    const int r = static_cast<int>(std::floor((2550000 - y) / 5000));
    ASSERT_TRUE(c >= 0 && c + 3 < 60 && r >= 0 && r < 60) << c << "," << r;
    EXPECT_EQ(va[static_cast<std::size_t>(r * 60 + c)], 0.0f);
    EXPECT_EQ(va[static_cast<std::size_t>(r * 60 + c + 3)], 15000.0f);
    // The report names the CSV, not the temporary raster it became.
    const std::string report = gp::test::file_bytes(dir / "a_report.json");
    EXPECT_NE(report.find((dir / "occ.csv").string()), std::string::npos) << report;
    EXPECT_EQ(report.find("gp-tmp"), std::string::npos) << report;
    EXPECT_NE(report.find("vector = \\\"distance\\\""), std::string::npos) << report;
  }
}

TEST(VectorE2E, UnusableSelectionsAndWrongUnitsAreOneLineEach) {
  const auto dir = gp::test::scratch_dir();
  write_text(dir / "cols.csv", "name,a,b\nA,1,2\n");
  write_text(dir / "xy.csv", "name,x,y\nA,-1000000,2100000\n");
  write_text(dir / "blank.csv", "name,lat,lon\nA,,\n");
  gp::test::write_vector(dir / "p.gpkg", "p", "EPSG:4326", {{"POINT (-108 44)", {{"kind", 1.0}}}});
  const std::string deg_extent =
      "crs = \"EPSG:5070\"\nresolution = 5000\nextent = [-111.06, 40.99, -104.05, 45.01]";
  struct Case {
    const char* label;
    std::string toml;
    int code;
    std::vector<std::string> says;
  };
  const Case cases[] = {
      {"no coordinate columns", distance_model("cols.csv", conus_5km), exit_input,
       {"cols.csv", "no coordinate columns", "name, a, b"}},
      {"x/y without crs", distance_model("xy.csv", conus_5km), exit_input,
       {"xy.csv", "'x', 'y'", "crs ="}},
      {"no row with coordinates", distance_model("blank.csv", conus_5km), exit_input,
       {"layer 'occ'", "blank.csv", "no feature with a geometry", "no usable coordinates"}},
      {"filter selects nothing",
       "[grid]\n" + std::string(conus_5km) + "\n\n[[layer]]\nname = \"occ\"\npath = \"p.gpkg\"\n"
       "vector = \"distance\"\nwhere = \"kind = 7\"\n\n[output]\npath = \"map.tif\"\n",
       exit_input, {"layer 'occ'", "p.gpkg", "where \"kind = 7\"", "no feature"}},
      {"extent in degrees on EPSG:5070", distance_model("p.gpkg", deg_extent), exit_model,
       {"[grid] extent", "-111.06", "degrees", "EPSG:5070", "metre"}},
      {"resolution in metres on EPSG:4326",
       distance_model("p.gpkg", "crs = \"EPSG:4326\"\nresolution = 1000\n"
                                "extent = [-111.06, 40.99, -104.05, 45.01]"),
       exit_model, {"[grid] resolution 1000", "metres", "EPSG:4326", "degree"}},
      // 4.7e8 x 3e8 cells: the cell-count limit, not the vector memory limit.
      {"resolution 0.01 on a metre CRS over the continent",
       distance_model("p.gpkg", "crs = \"EPSG:5070\"\nresolution = 0.01\n"
                                "extent = [-2400000, 200000, 2300000, 3200000]"),
       exit_model, {"470000000 x 300000000", "2^40", "0.01 x 0.01 metre", "EPSG:5070"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    write_text(dir / "model.toml", c.toml);
    const auto r = run_cli({"run", (dir / "model.toml").string(), "--quiet"});
    EXPECT_EQ(r.exit_code, c.code) << r.err;
    const auto ls = gp::test::lines(r.err);
    ASSERT_EQ(ls.size(), 1u) << r.err;
    EXPECT_EQ(ls[0].rfind("geoprospect: error:", 0), 0u) << ls[0];
    for (const auto& s : c.says) EXPECT_NE(ls[0].find(s), std::string::npos) << s << ": " << ls[0];
    EXPECT_EQ(ls[0].find("vector-memory-mib"), std::string::npos) << ls[0];
    EXPECT_FALSE(fs::exists(dir / "map.tif"));
    EXPECT_TRUE(leftovers(dir).empty());
  }
}

TEST(VectorE2E, TerritoriesCommandListsCodesNamesCrs) {
  const auto r = run_cli({"territories"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"CONUS", "EPSG:5070", "ALASKA", "EPSG:3338", "CAN", "EPSG:3978", "AUS",
                        "EPSG:3577", "EU", "EPSG:3035", "GRL", "JPN", "KOR", "Greenland"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
}

}  // namespace
