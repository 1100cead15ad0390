// End-to-end tests of vector layers and territories through the `geoprospect` binary: a model
// mixing a raster layer, a distance-to-fault layer from a GeoPackage written here and the CONUS
// mask, checked against values worked out here (gdal_rasterize for the fault cells, a brute-force
// distance, PROJ for which cells lie south of the 49th parallel); and bad input, one line each.

#include "test_support.hpp"
#include "../geo/vector_test_util.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <cmath>
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

TEST(VectorE2E, TerritoriesCommandListsCodesNamesCrs) {
  const auto r = run_cli({"territories"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"CONUS", "EPSG:5070", "ALASKA", "EPSG:3338", "CAN", "EPSG:3978", "AUS",
                        "EPSG:3577", "EU", "EPSG:3035", "GRL", "JPN", "KOR", "Greenland"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
}

}  // namespace
