// cli/outputs: what one run writes beside the map, end to end through the CLI and the
// runner, with counts worked out by hand:
//
// One layer on a 1300 x 1001 grid of 100 m cells in EPSG:3577; cell (r, c) of rows 0..999 holds
// (r * 1300 + c) % 1000, so each of 0..999 appears 1300 times; the last row is nodata. The model
// scales it linearly 0..1000 -> 0..1, so the score keeps that order and every distinct value in
// a histogram bin of its own. The top 2 % of the 1 300 000 valid cells are the 26 000 cells of
// 980..999, the top 5 % those of 950..999 (65 000), the top 10 % 900..999 (130 000) and the top
// 25 % 750..999 (325 000): classes 5..1 hold 26 000, 39 000, 65 000, 195 000 and 975 000 cells.

#include "outputs/outputs.hpp"

#include "model/model.hpp"
#include "run/runner.hpp"
#include "gp/error.hpp"
#include "gp/geo/raster_writer.hpp"
#include "outputs_support.hpp"
#include "test_support.hpp"

#include <cpl_minixml.h>
#include <cpl_string.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

using gp::test::write_text;
using gp::test::partial_files;

namespace fs = std::filesystem;
using gp::test::file_bytes;
using gp::test::lines;
using gp::test::open_raster;
using gp::test::run_cli;
using gp::test::scratch_dir;
using gp::test::validate_cog;

constexpr int W = 1300;
constexpr int H = 1001;
constexpr std::uint64_t valid_cells = 1'300'000;
constexpr std::uint64_t nodata_cells = 1300;

/// The layer and a model over it with `output_table` as its [output] body.
fs::path write_model(const fs::path& dir, const std::string& output_table) {
  const double nd = -1.0;
  std::vector<float> v(static_cast<std::size_t>(W) * H);
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) {
      v[static_cast<std::size_t>(r) * W + c] =
          r == H - 1 ? -1.0f : static_cast<float>((r * W + c) % 1000);
    }
  }
  if (!fs::exists(dir / "layer.tif")) {
    gp::test::write_raster(dir / "layer.tif", "EPSG:3577", 1'000'000.0, -3'000'000.0, 100.0,
                           100.0, W, H, v, &nd);
  }
  const fs::path model = dir / "model.toml";
  write_text(model,
             "[model]\nname = \"outputs-test\"\n\n"
             "[[layer]]\nname = \"ramp\"\npath = \"layer.tif\"\nresampling = \"nearest\"\n"
             "transform = { kind = \"linear\", min = 0.0, max = 1000.0 }\n\n"
             "[output]\n" + output_table);
  return model;
}

std::set<std::string> file_names(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
  return s;
}

std::vector<std::uint64_t> class_histogram(const fs::path& tif) {
  std::vector<std::uint64_t> n(256, 0);
  for (float v : gp::test::read_raster(tif)) ++n[static_cast<std::size_t>(v)];
  return n;
}

const std::vector<std::string> inputs = {"layer.tif", "model.toml"};

TEST(Outputs, DefaultRunWritesEverythingQgisNeeds) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_model(dir, "");
  const fs::path out = dir / "map.tif";
  const auto r = run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(lines(r.err).empty()) << r.err;
  EXPECT_TRUE(partial_files(dir).empty());
  EXPECT_EQ(file_names(dir),
            (std::set<std::string>{"layer.tif", "model.toml", "map.tif", "map.qml",
                                   "map_classes.tif", "map_classes.tif.aux.xml", "map_classes.qml",
                                   "map_quicklook.png", "map_report.json"}));

  // The map: a valid COG with overviews, statistics, band name and nodata.
  {
    const auto v = validate_cog(out);
    EXPECT_EQ(v.exit_code, 0) << v.output;
    EXPECT_EQ(v.output.find("warning"), std::string::npos) << v.output;
    auto ds = open_raster(out);
    ASSERT_TRUE(ds);
    EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
    EXPECT_STREQ(ds->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE"), "ZSTD");
    EXPECT_STREQ(ds->GetMetadataItem("PREDICTOR", "IMAGE_STRUCTURE"), "3")
        << "the map keeps the floating-point predictor (only the staging file drops it)";
    EXPECT_STREQ(ds->GetMetadataItem("GP_MODEL_NAME"), "outputs-test");
    GDALRasterBand* b = ds->GetRasterBand(1);
    EXPECT_STREQ(b->GetDescription(), "prospectivity");
    int has = 0;
    EXPECT_EQ(b->GetNoDataValue(&has), -9999.0);
    EXPECT_TRUE(has);
    EXPECT_EQ(b->GetOverviewCount(), 2);  // 650 x 501, 325 x 251
    double mn = 0, mx = 0, mean = 0, sd = 0;
    ASSERT_EQ(b->GetStatistics(FALSE, FALSE, &mn, &mx, &mean, &sd), CE_None);
    EXPECT_NEAR(mn, 0.0, 1e-7);
    EXPECT_NEAR(mx, 0.999, 1e-6);
    EXPECT_NEAR(mean, 0.4995, 1e-5);
    // Population standard deviation of 0, 0.001, ..., 0.999: 0.001 * sqrt((1000^2 - 1) / 12).
    EXPECT_NEAR(sd, 0.001 * std::sqrt((1e6 - 1.0) / 12.0), 1e-5);
  }

  // The classes: hand-counted, paletted, named, COG with overviews.
  {
    const fs::path cls = dir / "map_classes.tif";
    const auto v = validate_cog(cls);
    EXPECT_EQ(v.exit_code, 0) << v.output;
    const auto n = class_histogram(cls);
    EXPECT_EQ(n[0], nodata_cells);
    EXPECT_EQ(n[1], 975'000u);
    EXPECT_EQ(n[2], 195'000u);
    EXPECT_EQ(n[3], 65'000u);
    EXPECT_EQ(n[4], 39'000u);
    EXPECT_EQ(n[5], 26'000u);
    auto ds = open_raster(cls);
    ASSERT_TRUE(ds);
    EXPECT_STREQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
    GDALRasterBand* b = ds->GetRasterBand(1);
    EXPECT_EQ(b->GetRasterDataType(), GDT_Byte);
    int has = 0;
    EXPECT_EQ(b->GetNoDataValue(&has), 0.0);
    EXPECT_TRUE(has);
    EXPECT_GE(b->GetOverviewCount(), 1);
    EXPECT_EQ(b->GetColorInterpretation(), GCI_PaletteIndex);
    ASSERT_NE(b->GetColorTable(), nullptr);
    EXPECT_EQ(b->GetColorTable()->GetColorEntry(0)->c4, 0);
    // viridis ends for classes 1 and 5.
    EXPECT_EQ(b->GetColorTable()->GetColorEntry(1)->c1, 0x44);
    EXPECT_EQ(b->GetColorTable()->GetColorEntry(5)->c1, 0xfd);
    char** names = b->GetCategoryNames();
    ASSERT_NE(names, nullptr);
    ASSERT_GE(CSLCount(names), 6);
    EXPECT_STREQ(names[1], "very low");
    EXPECT_STREQ(names[3], "moderate");
    EXPECT_STREQ(names[5], "very high");
    // The TIFF alone (a copy without any side file) still names its classes and colours them.
    const fs::path alone = dir / "alone";
    fs::create_directories(alone);
    fs::copy_file(cls, alone / "c.tif");
    auto ads = open_raster(alone / "c.tif");
    ASSERT_TRUE(ads);
    GDALRasterBand* ab = ads->GetRasterBand(1);
    EXPECT_STREQ(ab->GetMetadataItem("CLASS_1_NAME"), "very low");
    EXPECT_STREQ(ab->GetMetadataItem("CLASS_5_NAME"), "very high");
    ASSERT_NE(ab->GetColorTable(), nullptr);
    EXPECT_EQ(ab->GetColorTable()->GetColorEntry(5)->c1, 0xfd);
    ads.reset();
    fs::remove_all(alone);
  }

  // Styles.
  for (const auto& [name, renderer] :
       std::vector<std::pair<std::string, std::string>>{{"map.qml", "singlebandpseudocolor"},
                                                        {"map_classes.qml", "paletted"}}) {
    SCOPED_TRACE(name);
    CPLXMLNode* root = CPLParseXMLFile((dir / name).c_str());
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(std::string(CPLGetXMLValue(root, "=qgis.pipe.rasterrenderer.type", "")), renderer);
    CPLDestroyXMLNode(root);
  }
  {
    CPLXMLNode* root = CPLParseXMLFile((dir / "map_classes.qml").c_str());
    CPLXMLNode* pal = CPLGetXMLNode(root, "=qgis.pipe.rasterrenderer.colorPalette");
    int entries = 0;
    for (CPLXMLNode* c = pal != nullptr ? pal->psChild : nullptr; c != nullptr; c = c->psNext) {
      entries += c->eType == CXT_Element ? 1 : 0;
    }
    EXPECT_EQ(entries, 5);
    CPLDestroyXMLNode(root);
  }

  // Quicklook: 1300 x 1001 -> a 1024 x 788 map; canvas per the documented layout.
  {
    GDALDatasetUniquePtr png(
        GDALDataset::Open((dir / "map_quicklook.png").c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    ASSERT_TRUE(png);
    EXPECT_EQ(png->GetRasterXSize(), 16 + 18 + 1024 + 200 + 16);
    EXPECT_EQ(png->GetRasterYSize(), 16 + 40 + 788 + 18 + 64 + 16);
    std::vector<std::uint8_t> g(static_cast<std::size_t>(png->GetRasterXSize()) *
                                png->GetRasterYSize());
    ASSERT_EQ(png->GetRasterBand(2)->RasterIO(GF_Read, 0, 0, png->GetRasterXSize(),
                                              png->GetRasterYSize(), g.data(),
                                              png->GetRasterXSize(), png->GetRasterYSize(),
                                              GDT_Byte, 0, 0),
              CE_None);
    EXPECT_GT(std::set<std::uint8_t>(g.begin(), g.end()).size(), 50u) << "a single colour";
  }

  // The report.
  {
    const auto j = nlohmann::json::parse(file_bytes(dir / "map_report.json"));
    EXPECT_FALSE(j["geoprospect"]["version"].get<std::string>().empty());
    EXPECT_EQ(j["model"]["name"], "outputs-test");
    EXPECT_EQ(j["model"]["sha256"], gp::test::sha256sum(model));
    ASSERT_EQ(j["inputs"].size(), 1u);
    const auto& in = j["inputs"][0];
    EXPECT_EQ(in["layer"], "ramp");
    EXPECT_EQ(in["sha256"], gp::test::sha256sum(dir / "layer.tif"));
    EXPECT_EQ(in["bytes"], fs::file_size(dir / "layer.tif"));
    EXPECT_EQ(in["crs"], "EPSG:3577");
    EXPECT_EQ(in["width"], W);
    EXPECT_EQ(in["height"], H);
    EXPECT_EQ(in["band"], 1);
    EXPECT_EQ(in["read"], "direct");
    EXPECT_EQ(j["grid"]["crs"], "EPSG:3577");
    EXPECT_EQ(j["grid"]["width"], W);
    EXPECT_EQ(j["grid"]["height"], H);
    EXPECT_EQ(j["grid"]["geotransform"][0], 1'000'000.0);
    EXPECT_EQ(j["grid"]["geotransform"][5], -100.0);
    EXPECT_EQ(j["device"].get<std::string>().rfind("cpu", 0), 0u);
    EXPECT_EQ(j["statistics"]["cells"], static_cast<std::uint64_t>(W) * H);
    EXPECT_EQ(j["statistics"]["valid_cells"], valid_cells);
    EXPECT_EQ(j["statistics"]["nodata_cells"], nodata_cells);
    EXPECT_EQ(j["statistics"]["invalid_cells"], 0);
    EXPECT_EQ(j["statistics"]["bands"][0]["name"], "prospectivity");
    for (const char* k : {"statistics", "score", "cog", "classes", "styles", "quicklook", "total"}) {
      EXPECT_TRUE(j["timings_s"].contains(k)) << k;
    }
    const auto& c = j["classes"];
    EXPECT_EQ(c["method"], "quantile");
    ASSERT_EQ(c["classes"].size(), 5u);
    const std::vector<std::uint64_t> cells = {975'000, 195'000, 65'000, 39'000, 26'000};
    const std::vector<double> pct = {75.0, 15.0, 5.0, 3.0, 2.0};
    const std::vector<double> from = {0.0, 0.75, 0.9, 0.95, 0.98};
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(c["classes"][i]["value"], i + 1);
      EXPECT_EQ(c["classes"][i]["cells"], cells[i]);
      EXPECT_NEAR(c["classes"][i]["percent_of_valid"].get<double>(), pct[i], 1e-9);
      // 100 m cells: 0.01 km2 each.
      EXPECT_NEAR(c["classes"][i]["area_km2"].get<double>(), static_cast<double>(cells[i]) * 0.01,
                  1e-6);
      if (i > 0) {
        EXPECT_NEAR(c["classes"][i]["from"].get<double>(), from[i], 1e-6);
      }
    }
    EXPECT_EQ(c["classes"][4]["label"], "very high (top 2 %)");
    const auto& outs = j["outputs"];
    ASSERT_EQ(outs.size(), 6u);
    EXPECT_EQ(outs.back()["path"], fs::absolute(out).string()) << "the map is moved last";
    std::set<std::string> listed;
    for (const auto& o : outs) listed.insert(fs::path(o["path"].get<std::string>()).filename());
    EXPECT_EQ(listed, (std::set<std::string>{"map.tif", "map.qml", "map_classes.tif",
                                             "map_classes.qml", "map_quicklook.png",
                                             "map_report.json"}));
  }
}

TEST(Outputs, PlainGeoTiffAndEverythingElseOff) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_model(
      dir, "format = \"gtiff\"\nclasses = false\nquicklook = false\nreport = false\n"
           "style = false\n");
  const fs::path out = dir / "plain.tif";
  const auto r = run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(file_names(dir), (std::set<std::string>{"layer.tif", "model.toml", "plain.tif"}));
  auto ds = open_raster(out);
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), nullptr);
  EXPECT_EQ(ds->GetRasterBand(1)->GetOverviewCount(), 0);
  int bx = 0;
  int by = 0;
  ds->GetRasterBand(1)->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, gp::geo::WriterOptions{}.tile) << "the streamed tiles, as written";
  EXPECT_EQ(by, bx);
}

TEST(Outputs, UserBreaksNaturalBreaksAndColormap) {
  const fs::path dir = scratch_dir();
  {
    const fs::path model = write_model(
        dir, "classes = { method = \"breaks\", breaks = [0.5, 0.9], names = [\"a\", \"b\", "
             "\"c\"] }\ncolormap = \"magma\"\nquicklook = false\n");
    const fs::path out = dir / "breaks.tif";
    const auto r =
        run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // 0.5 <= v / 1000 < 0.9: 500..899 (400 values); >= 0.9: 900..999 (100 values).
    const auto n = class_histogram(dir / "breaks_classes.tif");
    EXPECT_EQ(n[1], 500u * 1300u);
    EXPECT_EQ(n[2], 400u * 1300u);
    EXPECT_EQ(n[3], 100u * 1300u);
    auto ds = open_raster(dir / "breaks_classes.tif");
    char** names = ds->GetRasterBand(1)->GetCategoryNames();
    ASSERT_NE(names, nullptr);
    EXPECT_STREQ(names[3], "c");
    // magma's low end in the score style.
    EXPECT_NE(file_bytes(dir / "breaks.qml").find("#000004"), std::string::npos);
  }
  {
    const fs::path model = write_model(
        dir, "classes = { method = \"natural\", n = 2 }\nquicklook = false\nreport = false\n");
    const fs::path out = dir / "natural.tif";
    const auto r =
        run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // 1000 evenly spaced values of equal weight: the optimal 2-split is 0..499 | 500..999.
    const auto n = class_histogram(dir / "natural_classes.tif");
    EXPECT_EQ(n[1], 500u * 1300u);
    EXPECT_EQ(n[2], 500u * 1300u);
  }
}

TEST(Outputs, AnExistingSideFileIsKeptWithoutOverwrite) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_model(dir, "");
  const fs::path out = dir / "map.tif";
  const std::string before = "{\"an\": \"earlier report\"}\n";
  write_text(dir / "map_report.json", before);
  const auto r = run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  ASSERT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find((dir / "map_report.json").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(file_bytes(dir / "map_report.json"), before);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(partial_files(dir).empty());

  const auto again = run_cli(
      {"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet", "--overwrite"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(file_bytes(dir / "map_report.json"), before);
  EXPECT_TRUE(partial_files(dir).empty());
}

TEST(Outputs, BadOutputKeysAreModelErrors) {
  const fs::path dir = scratch_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"format = \"png\"\n", "format"},
      {"colormap = \"jet\"\n", "colormap"},
      {"quicklook = \"yes\"\n", "quicklook"},
      {"report = 1\n", "report"},
      {"classes = \"quantile\"\n", "classes"},
      {"classes = { method = \"quantiles\" }\n", "quantile"},
      {"classes = { top = [5, 2] }\n", "top"},
      {"classes = { top = [0, 2] }\n", "top"},
      {"classes = { method = \"breaks\" }\n", "breaks"},
      {"classes = { method = \"breaks\", breaks = [0.5], names = [\"a\"] }\n", "names"},
      {"classes = { method = \"natural\", n = 1 }\n", "n"},
      {"classes = { method = \"natural\", n = 5, top = [1] }\n", "top"},
  };
  for (const auto& [table, key] : cases) {
    SCOPED_TRACE(table);
    const fs::path model = write_model(dir, table);
    const auto r = run_cli(
        {"run", model.string(), "-o", (dir / "bad.tif").string(), "--device", "cpu", "--quiet"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    ASSERT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("[output]"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "bad.tif"));
  }
}

TEST(OutputSet, AFailedFinishLeavesNothingBehind) {
  const fs::path dir = scratch_dir();
  const gp::model::Model m = gp::model::load_model(write_model(dir, ""));
  const fs::path out = dir / "fail.tif";
  {
    gp::cli::OutputSet set(m, out, false, 1, gp::cli::run_inputs(m));
    EXPECT_EQ(set.map_temp().parent_path(), fs::absolute(dir));
    // Not a GeoTIFF: the COG step cannot read it.
    write_text(set.map_temp(), "not a raster");
    gp::cli::RunResult res;
    res.valid_cells = 1;
    EXPECT_THROW(set.finish(res), gp::io_error);
  }
  EXPECT_EQ(file_names(dir), (std::set<std::string>{"layer.tif", "model.toml"}));
}

TEST(OutputSet, SideFileNamesFollowTheMap) {
  const auto p = gp::cli::output_paths("/data/run 1/ree.map.tif");
  EXPECT_EQ(p.classes, "/data/run 1/ree.map_classes.tif");
  EXPECT_EQ(p.map_style, "/data/run 1/ree.map.qml");
  EXPECT_EQ(p.classes_style, "/data/run 1/ree.map_classes.qml");
  EXPECT_EQ(p.quicklook, "/data/run 1/ree.map_quicklook.png");
  EXPECT_EQ(p.report, "/data/run 1/ree.map_report.json");
}

TEST(Sha256File, MatchesCoreutils) {
  const fs::path dir = scratch_dir();
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  write_text(dir / "big.bin", big);
  EXPECT_EQ(gp::cli::sha256_file(dir / "big.bin"), gp::test::sha256sum(dir / "big.bin"));
  write_text(dir / "empty.bin", "");
  EXPECT_EQ(gp::cli::sha256_file(dir / "empty.bin"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_THROW(gp::cli::sha256_file(dir / "missing.bin"), gp::input_error);
}

}  // namespace
