// End-to-end tests of the `geoprospect` binary: the shipped demo model, a hand-made model with
// hand-computed values, the --device choices, and bad input (one error line, the documented exit
// code, no output and no leftover temporary file).
//
// Exit codes (cli/app/commands.hpp, README): 2 usage, 3 model, 4 input, 5 output,
// 6 device.

#include "test_support.hpp"

#include "gp/kernels/backend.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <array>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

using gp::test::write_text;
using gp::test::partial_files;
using gp::test::join;

namespace fs = std::filesystem;
using gp::test::CliResult;
using gp::test::file_bytes;
using gp::test::lines;
using gp::test::run_cli;
using gp::test::scratch_dir;
using gp::test::source_dir;
using gp::test::write_raster;

constexpr int exit_usage = gp::test::exit_code::usage;
constexpr int exit_model = gp::test::exit_code::model;
constexpr int exit_input = gp::test::exit_code::input;
constexpr int exit_output = gp::test::exit_code::output;
constexpr int exit_device = gp::test::exit_code::device;
constexpr float out_nodata = -9999.0f;
const std::string error_prefix = "geoprospect: error:";

/// SHA-256 of a file computed by coreutils, independently of the project's own function.
std::string sha256sum(const fs::path& path) {
  const std::string cmd = "sha256sum '" + path.string() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::array<char, 256> buf{};
  std::string out;
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) out += buf.data();
  ::pclose(p);
  return out.substr(0, out.find(' '));
}

// --- Small rasters on one grid: 5 x 4 cells of 100 m in EPSG:3577 -----------------------------

constexpr double x0 = 1'000'000.0;
constexpr double y0 = -3'000'000.0;
constexpr double cell = 100.0;
constexpr int width = 5;
constexpr int height = 4;

void write_small(const fs::path& path, float value = 1.0f, double origin_x = x0,
                 double origin_y = y0) {
  write_raster(path, "EPSG:3577", origin_x, origin_y, cell, cell, width, height,
               std::vector<float>(width * height, value));
}

/// Two good layers, "alpha" (a.tif) and "beta" (b.tif), in `dir`; returns their [[layer]] TOML.
std::string good_layers(const fs::path& dir) {
  write_small(dir / "a.tif", 2.0f);
  write_small(dir / "b.tif", 3.0f);
  return "[[layer]]\n"
         "name = \"alpha\"\n"
         "path = \"a.tif\"\n"
         "transform = { kind = \"linear\", min = 0.0, max = 10.0 }\n"
         "weight = 0.5\n"
         "\n"
         "[[layer]]\n"
         "name = \"beta\"\n"
         "path = \"b.tif\"\n"
         "transform = { kind = \"linear\", min = 0.0, max = 10.0 }\n"
         "weight = 0.5\n";
}

// --- Failure checks ------------------------------------------------------------------------------

/// A quiet failure: exactly one stderr line, the error line, naming every string in `names`.
void expect_quiet_failure(const CliResult& r, int code, const std::vector<std::string>& names) {
  EXPECT_EQ(r.exit_code, code) << "stderr:\n" << r.err;
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << "expected exactly one line on stderr, got:\n" << r.err;
  EXPECT_EQ(err[0].rfind(error_prefix, 0), 0u) << err[0];
  for (const auto& n : names) {
    EXPECT_NE(err[0].find(n), std::string::npos) << "the error line does not name '" << n
                                                 << "': " << err[0];
  }
}

/// A failure with info messages and progress on: still exactly one error line, and the last one.
void expect_verbose_failure(const CliResult& r, int code, const std::vector<std::string>& names) {
  EXPECT_EQ(r.exit_code, code) << "stderr:\n" << r.err;
  const auto err = lines(r.err);
  ASSERT_FALSE(err.empty()) << "nothing on stderr";
  int n_error_lines = 0;
  for (const auto& l : err) n_error_lines += l.rfind(error_prefix, 0) == 0 ? 1 : 0;
  EXPECT_EQ(n_error_lines, 1) << "stderr:\n" << r.err;
  EXPECT_EQ(err.back().rfind(error_prefix, 0), 0u)
      << "the error is not the last line of stderr:\n" << r.err;
  for (const auto& n : names) {
    EXPECT_NE(err.back().find(n), std::string::npos) << "the error line does not name '" << n
                                                     << "': " << err.back();
  }
}

/// No output file and no hidden temporary in its folder.
void expect_no_output(const fs::path& out) {
  EXPECT_FALSE(fs::exists(out)) << out << " was written";
  if (fs::is_directory(out.parent_path())) {
    EXPECT_TRUE(partial_files(out.parent_path()).empty())
        << "leftover temporary files:\n" << join(partial_files(out.parent_path()));
  }
}

/// Runs `run MODEL -o OUT <extra>` quietly and then verbosely; both must fail the same way and
/// leave no output.
void expect_run_fails(const fs::path& model, const fs::path& out, int code,
                      const std::vector<std::string>& names,
                      const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"run", model.string(), "-o", out.string(), "--device", "cpu"};
  args.insert(args.end(), extra.begin(), extra.end());
  {
    SCOPED_TRACE("with --quiet");
    auto quiet = args;
    quiet.emplace_back("--quiet");
    expect_quiet_failure(run_cli(quiet), code, names);
    expect_no_output(out);
  }
  {
    SCOPED_TRACE("without --quiet");
    expect_verbose_failure(run_cli(args), code, names);
    expect_no_output(out);
  }
}

// --- The demo ------------------------------------------------------------------------------------

/// Under GP_TEST_EXPECT_LOCALE (the ctest entry that reruns Demo* under de_DE), the locale must
/// exist and be comma-decimal, or the rerun proves nothing.
void check_expected_locale() {
  const char* want = std::getenv("GP_TEST_EXPECT_LOCALE");
  if (want == nullptr || *want == '\0') return;
  const char* got = std::setlocale(LC_ALL, want);
  if (got == nullptr) {
    std::setlocale(LC_ALL, "C");
    FAIL() << "locale " << want << " is not installed, so this comma-decimal run would test "
           << "nothing: install the `locales` package and generate it (e.g. `sed -i "
           << "'s/^# *" << want << "/" << want << "/' /etc/locale.gen && locale-gen`, or "
           << "`localedef -i de_DE -f UTF-8 " << want << "`); CI generates it.";
  }
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.1f", 0.5);
  const std::string printed = buf.data();
  std::setlocale(LC_ALL, "C");
  ASSERT_EQ(printed, "0,5") << "locale " << want << " is not comma-decimal";
}

TEST(DemoRun, SirSamuelModel) {
  check_expected_locale();
  if (HasFatalFailure()) return;

  const fs::path dir = scratch_dir();
  const fs::path model = source_dir() / "data-samples" / "sirsam" / "ree_radiometric.toml";
  const fs::path out = dir / "demo.tif";
  const CliResult r = run_cli({"run", model.string(), "-o", out.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << "stderr:\n" << r.err;
  EXPECT_NE(r.out.find(out.string()), std::string::npos) << "stdout does not name the output:\n"
                                                         << r.out;
  EXPECT_TRUE(partial_files(dir).empty()) << join(partial_files(dir));

  GDALDatasetUniquePtr ds(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds) << "cannot open " << out;
  ASSERT_EQ(ds->GetRasterCount(), 1);

  // CRS: GDA94 / Australian Albers.
  const OGRSpatialReference* srs = ds->GetSpatialRef();
  ASSERT_NE(srs, nullptr) << "no CRS";
  OGRSpatialReference crs(*srs);
  crs.AutoIdentifyEPSG();
  const char* code = crs.GetAuthorityCode(nullptr);
  ASSERT_NE(code, nullptr) << "CRS not identified as an EPSG code";
  EXPECT_STREQ(code, "3577");

  std::array<double, 6> gt{};
  ASSERT_EQ(ds->GetGeoTransform(gt.data()), CE_None);
  EXPECT_DOUBLE_EQ(gt[1], 90.0);
  EXPECT_DOUBLE_EQ(gt[5], -90.0);
  EXPECT_DOUBLE_EQ(gt[2], 0.0);
  EXPECT_DOUBLE_EQ(gt[4], 0.0);

  GDALRasterBand* band = ds->GetRasterBand(1);
  int has_nodata = 0;
  const double nodata = band->GetNoDataValue(&has_nodata);
  ASSERT_TRUE(has_nodata) << "no nodata value";
  EXPECT_EQ(nodata, -9999.0);
  EXPECT_STREQ(band->GetDescription(), "prospectivity");
  EXPECT_EQ(band->GetRasterDataType(), GDT_Float32);

  int bx = 0;
  int by = 0;
  band->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, 512);
  EXPECT_EQ(by, 512);
  const char* compression = ds->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE");
  EXPECT_NE(compression, nullptr) << "no COMPRESSION in IMAGE_STRUCTURE";

  const char* name = ds->GetMetadataItem("GP_MODEL_NAME");
  ASSERT_NE(name, nullptr);
  EXPECT_STREQ(name, "sirsam-ree-radiometric");
  const char* sha = ds->GetMetadataItem("GP_MODEL_SHA256");
  ASSERT_NE(sha, nullptr);
  const std::string expected_sha = sha256sum(model);
  ASSERT_EQ(expected_sha.size(), 64u) << "sha256sum failed";
  EXPECT_EQ(std::string(sha), expected_sha);

  const std::vector<float> v = gp::test::read_raster(out);
  ASSERT_FALSE(v.empty());
  std::size_t valid = 0;
  std::size_t out_of_range = 0;
  for (const float x : v) {
    if (x == out_nodata) continue;
    ++valid;
    if (!(x >= 0.0f && x <= 1.0f)) ++out_of_range;
  }
  EXPECT_EQ(out_of_range, 0u) << "valid values outside [0, 1]";
  EXPECT_GT(static_cast<double>(valid), 0.5 * static_cast<double>(v.size()))
      << valid << " valid cells of " << v.size();
}

TEST(DemoRun, SirSamuelFuzzyNetwork) {
  const fs::path dir = scratch_dir();
  const fs::path model = source_dir() / "data-samples" / "sirsam" / "ree_fuzzy.toml";
  const fs::path out = dir / "fuzzy.tif";
  const CliResult r = run_cli({"run", model.string(), "-o", out.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << "stderr:\n" << r.err;
  GDALDatasetUniquePtr ds(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds);
  ASSERT_EQ(ds->GetRasterCount(), 3);
  EXPECT_STREQ(ds->GetRasterBand(1)->GetDescription(), "prospectivity");
  EXPECT_STREQ(ds->GetRasterBand(2)->GetDescription(), "radioelements");
  EXPECT_STREQ(ds->GetRasterBand(3)->GetDescription(), "setting");
  EXPECT_STREQ(ds->GetMetadataItem("GP_MODEL_NAME"), "sirsam-ree-fuzzy");
  const auto fin = gp::test::read_raster(out, 1);
  const auto rad = gp::test::read_raster(out, 2);
  const auto set = gp::test::read_raster(out, 3);
  std::size_t valid = 0;
  for (std::size_t i = 0; i < fin.size(); ++i) {
    if (fin[i] == out_nodata) continue;
    ++valid;
    ASSERT_NE(rad[i], out_nodata);
    ASSERT_NE(set[i], out_nodata);
    // The final band is the fuzzy gamma (0.9) of the two group bands written beside it.
    const double a = rad[i];
    const double b = set[i];
    const double expect = std::pow(1.0 - (1.0 - a) * (1.0 - b), 0.9) * std::pow(a * b, 0.1);
    ASSERT_NEAR(fin[i], expect, 2e-6) << "cell " << i;
    ASSERT_GE(fin[i], 0.0f);
    ASSERT_LE(fin[i], 1.0f);
  }
  EXPECT_GT(static_cast<double>(valid), 0.5 * static_cast<double>(fin.size()));
}

// --- A hand-made model, every cell worked out by hand ---------------------------------------------

/// Three layers on one 5 x 4 grid, weights 2:1:1 (normalised 0.5, 0.25, 0.25):
///   alpha: linear 0..10, nodata -999 at (row 1, col 4)
///   beta:  linear 10..0 (inverted): fav = (10 - x) / 10, clamped
///   gamma: linear 0..4, missing = "skip", nodata -32768 at five cells; where it is missing the
///          score is (0.5 fa + 0.25 fb) / 0.75 = (2 fa + fb) / 3
fs::path write_hand_model(const fs::path& dir) {
  const double nd_a = -999.0;
  const double nd_c = -32768.0;
  const float A = -999.0f;
  const float C = -32768.0f;
  // clang-format off
  write_raster(dir / "alpha.tif", "EPSG:3577", x0, y0, cell, cell, width, height,
               { 0,  5, 10, 15, -5,
                 2,  4,  6,  8,  A,
                 1,  3,  7,  9,  5,
                 5,  5,  5,  5,  5}, &nd_a);
  write_raster(dir / "beta.tif", "EPSG:3577", x0, y0, cell, cell, width, height,
               {10,  0,  5, 20, -10,
                 2,  4,  6,  8,   1,
                 5,  5,  5,  5,   5,
                 0,  2,  4,  6,   8});
  write_raster(dir / "gamma.tif", "EPSG:3577", x0, y0, cell, cell, width, height,
               { 2,  2,  2,  2,  2,
                 4,  4,  4,  4,  C,
                 C,  0,  C,  8,  C,
                 C,  1,  3,  C,  2}, &nd_c);
  // clang-format on
  const fs::path model = dir / "hand.toml";
  write_text(model,
             "[model]\n"
             "name = \"hand-made\"\n"
             "\n"
             "[[layer]]\n"
             "name = \"alpha\"\n"
             "path = \"alpha.tif\"\n"
             "resampling = \"nearest\"\n"
             "transform = { kind = \"linear\", min = 0.0, max = 10.0 }\n"
             "weight = 2.0\n"
             "\n"
             "[[layer]]\n"
             "name = \"beta\"\n"
             "path = \"beta.tif\"\n"
             "resampling = \"nearest\"\n"
             "transform = { kind = \"linear\", min = 10.0, max = 0.0 }\n"
             "weight = 1.0\n"
             "\n"
             "[[layer]]\n"
             "name = \"gamma\"\n"
             "path = \"gamma.tif\"\n"
             "resampling = \"nearest\"\n"
             "transform = { kind = \"linear\", min = 0.0, max = 4.0 }\n"
             "weight = 1.0\n"
             "missing = \"skip\"\n"
             "\n"
             "[combine]\n"
             "method = \"weighted-sum\"\n");
  return model;
}

// Worked by hand from the comment on write_hand_model:
//  row 0 (gamma 0.5): 0.5*0 + 0.25*0 + 0.125 = 0.125; 0.25+0.25+0.125 = 0.625;
//        0.5+0.125+0.125 = 0.75; 0.5+0+0.125 = 0.625 (15 and 20 clamp); 0+0.25+0.125 = 0.375
//  row 1 (gamma 1): 0.1+0.2+0.25 = 0.55; 0.2+0.15+0.25 = 0.6; 0.3+0.1+0.25 = 0.65;
//        0.4+0.05+0.25 = 0.7; alpha nodata -> nodata (gamma missing there too)
//  row 2 (beta 0.5): (0.2+0.5)/3 = 0.233333; 0.15+0.125+0 = 0.275; (1.4+0.5)/3 = 0.633333;
//        0.45+0.125+0.25 = 0.825 (8 clamps to 1); (1.0+0.5)/3 = 0.5
//  row 3 (alpha 0.5): (1+1)/3 = 0.666667; 0.25+0.2+0.0625 = 0.5125; 0.25+0.15+0.1875 = 0.5875;
//        (1+0.4)/3 = 0.466667; 0.25+0.05+0.125 = 0.425
// clang-format off
const std::vector<float> hand_expected = {
    0.125f,    0.625f,  0.75f,     0.625f,    0.375f,
    0.55f,     0.6f,    0.65f,     0.7f,      out_nodata,
    0.233333f, 0.275f,  0.633333f, 0.825f,    0.5f,
    0.666667f, 0.5125f, 0.5875f,   0.466667f, 0.425f};
// clang-format on

void expect_hand_values(const fs::path& out) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds) << "cannot open " << out;
  ASSERT_EQ(ds->GetRasterXSize(), width);
  ASSERT_EQ(ds->GetRasterYSize(), height);
  std::array<double, 6> gt{};
  ASSERT_EQ(ds->GetGeoTransform(gt.data()), CE_None);
  EXPECT_DOUBLE_EQ(gt[0], x0);
  EXPECT_DOUBLE_EQ(gt[3], y0);
  EXPECT_DOUBLE_EQ(gt[1], cell);
  EXPECT_DOUBLE_EQ(gt[5], -cell);
  ds.reset();

  const std::vector<float> v = gp::test::read_raster(out);
  ASSERT_EQ(v.size(), hand_expected.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const int row = static_cast<int>(i) / width;
    const int col = static_cast<int>(i) % width;
    if (hand_expected[i] == out_nodata) {
      EXPECT_EQ(v[i], out_nodata) << "row " << row << " col " << col;
    } else {
      EXPECT_NEAR(v[i], hand_expected[i], 1e-5) << "row " << row << " col " << col;
    }
  }
}

TEST(HandModel, EveryCellMatchesHandComputedValues) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_hand_model(dir);
  const fs::path out = dir / "hand.tif";
  const CliResult r =
      run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << "stderr:\n" << r.err;
  EXPECT_TRUE(lines(r.err).empty()) << "--quiet run printed:\n" << r.err;
  expect_hand_values(out);
  EXPECT_TRUE(partial_files(dir).empty()) << join(partial_files(dir));
}

// --- --device ------------------------------------------------------------------------------------

TEST(Device, CpuWorks) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_hand_model(dir);
  const fs::path out = dir / "cpu.tif";
  const CliResult r =
      run_cli({"run", model.string(), "-o", out.string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << "stderr:\n" << r.err;
  expect_hand_values(out);
}

TEST(Device, CudaWithoutGpuExits6) {
  if (gp::kernels::cuda_device_count() > 0) {
    GTEST_SKIP() << "a CUDA device is present; this checks the machine without one";
  }
  const fs::path dir = scratch_dir();
  const fs::path model = write_hand_model(dir);
  const fs::path out = dir / "cuda.tif";
  const CliResult r =
      run_cli({"run", model.string(), "-o", out.string(), "--device", "cuda", "--quiet"});
  // Said once, before any work, and with what to do instead (not "distance transform on
  // CUDA: no CUDA device 0").
  const std::string said =
      gp::kernels::cuda_compiled()
          ? "no CUDA device: --device cuda needs one; use --device auto or cpu"
          : "built without CUDA: --device cuda needs a CUDA build; use --device auto or cpu";
  expect_quiet_failure(r, exit_device, {said});
  expect_no_output(out);
  const CliResult v = run_cli({"validate", out.string(), "--deposits", model.string(), "--device",
                               "cuda"});
  expect_quiet_failure(v, exit_device, {said});
}

TEST(Device, BogusIsAUsageError) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_hand_model(dir);
  const fs::path out = dir / "bogus.tif";
  const CliResult r =
      run_cli({"run", model.string(), "-o", out.string(), "--device", "bogus", "--quiet"});
  expect_quiet_failure(r, exit_usage, {"bogus"});
  expect_no_output(out);
}

// --- Bad input -----------------------------------------------------------------------------------

TEST(BadInput, MissingLayerFile) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  const fs::path model = dir / "model.toml";
  write_text(model,
             "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\n\n"
             "[[layer]]\nname = \"ghost\"\npath = \"missing.tif\"\n");
  const fs::path missing = (dir / "missing.tif").lexically_normal();
  expect_run_fails(model, dir / "out.tif", exit_input, {missing.string(), "ghost"});
}

TEST(BadInput, UnreadableRaster) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  write_text(dir / "garbage.tif", "this is not a GeoTIFF\n\x01\x02\x03 just some bytes\n");
  const fs::path model = dir / "model.toml";
  write_text(model,
             "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\n\n"
             "[[layer]]\nname = \"junk\"\npath = \"garbage.tif\"\n");
  const fs::path garbage = (dir / "garbage.tif").lexically_normal();
  expect_run_fails(model, dir / "out.tif", exit_input, {garbage.string(), "junk"});
}

TEST(BadInput, UnknownKeySuggestsTheRightOne) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  const fs::path model = dir / "model.toml";
  write_text(model, "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\nwieght = 0.5\n");
  expect_run_fails(model, dir / "out.tif", exit_model, {"'wieght'", "'weight'"});
}

TEST(BadInput, WeightNotANumber) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  const fs::path model = dir / "model.toml";
  write_text(model, "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\nweight = \"heavy\"\n");
  expect_run_fails(model, dir / "out.tif", exit_model, {"weight", "alpha"});
}

TEST(BadInput, NegativeWeight) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  const fs::path model = dir / "model.toml";
  write_text(model, "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\nweight = -0.5\n");
  expect_run_fails(model, dir / "out.tif", exit_model, {"weight", "alpha"});
}

TEST(BadInput, AllZeroWeights) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  write_small(dir / "b.tif");
  const fs::path model = dir / "model.toml";
  write_text(model,
             "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\nweight = 0.0\n\n"
             "[[layer]]\nname = \"beta\"\npath = \"b.tif\"\nweight = 0\n");
  expect_run_fails(model, dir / "out.tif", exit_model, {"weight"});
}

TEST(BadInput, LayersDoNotOverlap) {
  const fs::path dir = scratch_dir();
  write_small(dir / "a.tif");
  // 500 km east of the first one.
  write_small(dir / "far.tif", 1.0f, x0 + 500'000.0, y0);
  const fs::path model = dir / "model.toml";
  write_text(model,
             "[[layer]]\nname = \"alpha\"\npath = \"a.tif\"\n\n"
             "[[layer]]\nname = \"faraway\"\npath = \"far.tif\"\n");
  expect_run_fails(model, dir / "out.tif", exit_input, {"faraway"});
}

/// A model whose [grid] extent misses its layers (good_layers): returns its path.
fs::path write_model_outside_extent(const fs::path& dir) {
  const std::string layers = good_layers(dir);
  const fs::path model = dir / "model.toml";
  // The layers cover x 1000000..1000500, y -3000400..-3000000; the extent is 100 km west.
  write_text(model,
             "[grid]\ncrs = \"EPSG:3577\"\nresolution = 100.0\n"
             "extent = [900000.0, -3000400.0, 900500.0, -3000000.0]\n\n" +
                 layers);
  return model;
}

TEST(BadInput, LayerOutsideGridExtent) {
  const fs::path dir = scratch_dir();
  expect_run_fails(write_model_outside_extent(dir), dir / "out.tif", exit_input, {"alpha"});
}

TEST(BadInput, OutputFolderMissing) {
  const fs::path dir = scratch_dir();
  const fs::path model = dir / "model.toml";
  write_text(model, good_layers(dir));
  const fs::path folder = dir / "no_such_folder";
  expect_run_fails(model, folder / "out.tif", exit_output, {folder.string()});
  EXPECT_FALSE(fs::exists(folder)) << "the missing folder was created";
}

TEST(BadInput, TomlSyntaxErrorGivesLineAndColumn) {
  const fs::path dir = scratch_dir();
  const fs::path model = dir / "model.toml";
  // The last line is broken.
  write_text(model, good_layers(dir) + "\n[output]\ncompress = = \"ZSTD\"\n");
  const auto text = file_bytes(model);
  int broken_line = 0;
  {
    int n = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text.compare(i, 10, "compress =") == 0) {
        broken_line = n;
        break;
      }
      if (text[i] == '\n') ++n;
    }
  }
  ASSERT_GT(broken_line, 0);
  expect_run_fails(model, dir / "out.tif", exit_model, {"model.toml"});
  const CliResult r =
      run_cli({"run", model.string(), "-o", (dir / "out.tif").string(), "--quiet"});
  const std::regex line_col("model\\.toml:" + std::to_string(broken_line) + ":[0-9]+");
  EXPECT_TRUE(std::regex_search(r.err, line_col))
      << "expected model.toml:" << broken_line << ":<column> in: " << r.err;
}

TEST(BadInput, ExistingOutputIsKeptWithoutOverwrite) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_hand_model(dir);
  const fs::path out = dir / "out.tif";
  const std::string before = "an earlier map that must survive\n";
  write_text(out, before);

  const std::vector<std::string> args{"run", model.string(), "-o", out.string(), "--device",
                                      "cpu"};
  {
    SCOPED_TRACE("with --quiet");
    auto quiet = args;
    quiet.emplace_back("--quiet");
    expect_quiet_failure(run_cli(quiet), exit_output, {out.string()});
    EXPECT_EQ(file_bytes(out), before) << "the existing output was changed";
    EXPECT_TRUE(partial_files(dir).empty()) << join(partial_files(dir));
  }
  {
    SCOPED_TRACE("without --quiet");
    expect_verbose_failure(run_cli(args), exit_output, {out.string()});
    EXPECT_EQ(file_bytes(out), before) << "the existing output was changed";
    EXPECT_TRUE(partial_files(dir).empty()) << join(partial_files(dir));
  }
}

TEST(BadInput, BrokenModelIsReportedBeforeAnExistingOutput) {
  // The grid is the problem (exit 4, naming the layer), not the map already there (exit 5).
  const fs::path dir = scratch_dir();
  const fs::path model = write_model_outside_extent(dir);
  const fs::path out = dir / "out.tif";
  write_text(out, "an earlier map\n");
  const CliResult r = run_cli({"run", model.string(), "-o", out.string(), "--quiet"});
  expect_quiet_failure(r, exit_input, {"alpha", "does not overlap"});
  EXPECT_EQ(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(file_bytes(out), "an earlier map\n");
}

TEST(Cli, HelpListsQuietAndPrintsPercentPlainly) {
  const CliResult run = run_cli({"run", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("-q,--quiet"), std::string::npos) << run.out;
  const CliResult val = run_cli({"validate", "--help"});
  EXPECT_EQ(val.exit_code, 0);
  EXPECT_NE(val.out.find("--capture"), std::string::npos) << val.out;
  EXPECT_EQ(val.out.find("%%"), std::string::npos) << val.out;
  EXPECT_NE(val.out.find("-q,--quiet"), std::string::npos) << val.out;
}

TEST(Cli, ValidateCreatesAMissingOutFolder) {
  // A 5 x 4 map whose score rises eastwards (value = column), deposits in a CSV with x/y
  // columns found by name (crs given): the outputs land in a folder that did not exist.
  const fs::path dir = scratch_dir();
  std::vector<float> v(width * height);
  for (int i = 0; i < width * height; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i % width);
  write_raster(dir / "map.tif", "EPSG:3577", x0, y0, cell, cell, width, height, v);
  write_text(dir / "dep.csv", "name,x,y\nA,1000450,-3000050\nB,1000350,-3000250\n");
  const fs::path out = dir / "new" / "folder";
  const CliResult r = run_cli({"validate", (dir / "map.tif").string(), "--deposits",
                               (dir / "dep.csv").string(), "--crs", "EPSG:3577", "--out",
                               out.string(), "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 deposits (0 left out)"), std::string::npos) << r.out;
  for (const char* f : {"map_validation.json", "map_success_rate.csv", "map_roc.csv",
                        "map_validation.svg", "map_validation.png"}) {
    EXPECT_TRUE(fs::is_regular_file(out / f)) << f;
  }
  // A bad deposit source is reported before the outputs that now exist.
  write_text(dir / "bad.csv", "name,a,b\nA,1,2\n");
  const CliResult b = run_cli({"validate", (dir / "map.tif").string(), "--deposits",
                               (dir / "bad.csv").string(), "--out", out.string(), "--quiet"});
  expect_quiet_failure(b, exit_input, {"bad.csv", "no coordinate columns", "name, a, b"});
  // A validation that fails after creating its folder removes the folders it made (empty):
  // the deposit lies far off the map, so no deposit is on a valid cell.
  write_text(dir / "far.csv", "name,x,y\nA,0,0\n");
  const CliResult f = run_cli({"validate", (dir / "map.tif").string(), "--deposits",
                               (dir / "far.csv").string(), "--crs", "EPSG:3577", "--out",
                               (dir / "gone" / "sub").string(), "--device", "cpu", "--quiet"});
  EXPECT_EQ(f.exit_code, exit_input) << f.err;
  EXPECT_FALSE(fs::exists(dir / "gone")) << f.err;
  EXPECT_TRUE(fs::is_directory(dir)) << "the scratch folder itself was there before";
}

TEST(BadInput, ExistingOutputIsReplacedWithOverwrite) {
  const fs::path dir = scratch_dir();
  const fs::path model = write_hand_model(dir);
  const fs::path out = dir / "out.tif";
  write_text(out, "an earlier map to be replaced\n");
  const CliResult r = run_cli(
      {"run", model.string(), "-o", out.string(), "--device", "cpu", "--overwrite", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << "stderr:\n" << r.err;
  expect_hand_values(out);
  EXPECT_TRUE(partial_files(dir).empty()) << join(partial_files(dir));
}


// --- OpenMP wait policy --------------------------------------------------------------------------
// geoprospect sets OMP_WAIT_POLICY=passive before libgomp reads its environment
// (cli/app/openmp_wait_policy.cpp); libgomp then takes a spin count of 0: idle OpenMP threads
// sleep at once and leave the cores to GDAL's decoders. libgomp itself reports the spin count it
// took, with OMP_DISPLAY_ENV=verbose; that report is checked here, not the program's own
// environment (libgomp reads it before main, so setting it any later has no effect).

/// Runs `geoprospect --version` with OMP_DISPLAY_ENV=verbose and the given OMP_WAIT_POLICY
/// (unset when null); returns libgomp's report line for its spin count.
std::string spin_count_libgomp_took(const char* user_policy) {
  const char* saved = std::getenv("OMP_WAIT_POLICY");
  const std::string saved_value = saved != nullptr ? saved : "";
  if (user_policy != nullptr) {
    ::setenv("OMP_WAIT_POLICY", user_policy, 1);
  } else {
    ::unsetenv("OMP_WAIT_POLICY");
  }
  ::setenv("OMP_DISPLAY_ENV", "verbose", 1);
  const CliResult r = run_cli({"--version"});
  ::unsetenv("OMP_DISPLAY_ENV");
  if (saved != nullptr) {
    ::setenv("OMP_WAIT_POLICY", saved_value.c_str(), 1);
  } else {
    ::unsetenv("OMP_WAIT_POLICY");
  }
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& line : gp::test::lines(r.err + r.out)) {
    if (line.find("GOMP_SPINCOUNT") != std::string::npos) return line;
  }
  return "";
}

TEST(OpenMp, IdleThreadsSleepAtOnceUnlessTheUserChoseOtherwise) {
  if (std::getenv("GOMP_SPINCOUNT") != nullptr) GTEST_SKIP() << "GOMP_SPINCOUNT is set here";
  const std::string line = spin_count_libgomp_took(nullptr);
  if (line.empty()) GTEST_SKIP() << "the OpenMP runtime is not libgomp (no GOMP_SPINCOUNT shown)";
  EXPECT_NE(line.find("= '0'"), std::string::npos) << line;
  // A user's own policy is kept: active waiting spins (libgomp: 3e10 spins).
  const std::string active = spin_count_libgomp_took("active");
  EXPECT_EQ(active.find("= '0'"), std::string::npos) << active;
  EXPECT_NE(active.find("GOMP_SPINCOUNT"), std::string::npos) << active;
}

}  // namespace
