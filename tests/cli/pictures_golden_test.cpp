// Golden images: one small picture of each kind the program draws (a map's quicklook with its
// legend, class breaks, deposits, ticks and north arrow; the validation figure's PNG, rendered
// from its SVG), drawn from fixed inputs and compared with a checked-in PNG in tests/golden/.
// A pixel differs when one of its channels is off by more than 48 of 255; the test fails when
// more than 0.02 % of the pixels differ (a moved line, a changed label or colour), which
// leaves room for anti-aliasing noise but not for a visible change. On failure the drawn PNG
// and a mask of the differing pixels are kept in the test's scratch folder.
//
// Re-pin after an intended change: GP_REPIN_GOLDEN=1 ctest --test-dir build -R
// cli_pictures_golden_test, then LOOK at tests/golden/*.png and commit them with the change.
// The pictures use DejaVu Sans (fonts-dejavu-core, .ci/setup.sh): without it the test skips.

#include "analysis/validation.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/geo/svg_png.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Rgb8 {
  int w{0};
  int h{0};
  std::vector<std::uint8_t> px;  ///< band-interleaved: all red, then green, then blue
};

Rgb8 decode(const fs::path& p) {
  Rgb8 out;
  GDALDatasetUniquePtr ds(GDALDataset::Open(p.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds || ds->GetRasterCount() < 3) {
    ADD_FAILURE() << "GDAL cannot read " << p << " as an RGB PNG";
    return out;
  }
  out.w = ds->GetRasterXSize();
  out.h = ds->GetRasterYSize();
  out.px.resize(static_cast<std::size_t>(out.w) * out.h * 3);
  int bands[3] = {1, 2, 3};
  EXPECT_EQ(ds->RasterIO(GF_Read, 0, 0, out.w, out.h, out.px.data(), out.w, out.h, GDT_Byte, 3,
                         bands, 0, 0, 0, nullptr),
            CE_None);
  return out;
}

/// Writes a mask (black: differing pixel) as a PNG through GDAL.
void write_mask(const fs::path& p, int w, int h, const std::vector<std::uint8_t>& mask) {
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  GDALDriver* png = GetGDALDriverManager()->GetDriverByName("PNG");
  GDALDatasetUniquePtr ds(mem->Create("", w, h, 1, GDT_Byte, nullptr));
  EXPECT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, w, h, const_cast<std::uint8_t*>(mask.data()),
                                           w, h, GDT_Byte, 0, 0),
            CE_None);
  GDALDatasetUniquePtr out(png->CreateCopy(p.c_str(), ds.get(), FALSE, nullptr, nullptr, nullptr));
  EXPECT_TRUE(out);
}

bool have_dejavu() {
  for (const char* f : {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                        "/usr/share/fonts/TTF/DejaVuSans.ttf"}) {
    if (fs::exists(f)) return true;
  }
  return false;
}

/// Compares `drawn` with tests/golden/<name> (or replaces the golden with GP_REPIN_GOLDEN=1).
void expect_like_golden(const fs::path& drawn, const std::string& name) {
  const fs::path golden = gp::test::source_dir() / "tests" / "golden" / name;
  const char* repin = std::getenv("GP_REPIN_GOLDEN");
  if (repin != nullptr && std::string(repin) == "1") {
    fs::copy_file(drawn, golden, fs::copy_options::overwrite_existing);
    std::cout << "re-pinned " << golden << ": look at it before committing\n";
    return;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing: re-pin (see the file comment)";
  const Rgb8 a = decode(drawn);
  const Rgb8 b = decode(golden);
  ASSERT_EQ(a.w, b.w) << "the picture's size changed: " << drawn;
  ASSERT_EQ(a.h, b.h) << "the picture's size changed: " << drawn;
  const std::size_t n = static_cast<std::size_t>(a.w) * a.h;
  std::vector<std::uint8_t> mask(n, 255);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < 3; ++c) {
      if (std::abs(int{a.px[c * n + i]} - int{b.px[c * n + i]}) > 48) {
        mask[i] = 0;
        ++differing;
        break;
      }
    }
  }
  const double allowed = 0.0002 * static_cast<double>(n);
  if (static_cast<double>(differing) > allowed) {
    const fs::path m = drawn.parent_path() / (drawn.stem().string() + "_diff.png");
    write_mask(m, a.w, a.h, mask);
    ADD_FAILURE() << name << ": " << differing << " of " << n << " pixels differ (at most "
                  << allowed << " may): drawn " << drawn << ", differing pixels in " << m
                  << "; if the change is intended, re-pin (tests/cli/pictures_golden_test.cpp)";
  }
}

// 60 x 40 cells of 500 m in EPSG:3577: a diagonal ramp 0..1 with a nodata corner; a validation
// deposit used and one rejected on nodata, a training deposit used; class breaks 0.5, 0.8;
// the 2-98 % stretch.
TEST(GoldenPicture, Quicklook) {
  if (!have_dejavu()) GTEST_SKIP() << "DejaVu Sans is not installed (fonts-dejavu-core)";
  const fs::path dir = gp::test::scratch_dir();
  const double nd = -9999.0;
  std::vector<float> v(60 * 40);
  for (int r = 0; r < 40; ++r) {
    for (int c = 0; c < 60; ++c) {
      v[static_cast<std::size_t>(r) * 60 + c] =
          (r >= 32 && c < 10) ? -9999.0f : static_cast<float>(c + 2 * (39 - r)) / 137.0f;
    }
  }
  gp::test::write_raster(dir / "map.tif", "EPSG:3577", 500'000.0, -2'000'000.0, 500.0, 500.0, 60,
                         40, v, &nd);
  gp::geo::QuicklookOptions opt;
  opt.title = "golden map";
  opt.legend_label = "posterior probability";
  opt.min = 0.0;
  opt.max = 1.0;
  opt.stretch_low_pct = 2.0;
  opt.stretch_high_pct = 98.0;
  opt.map_px = 300;
  using K = gp::geo::QuicklookPoint::Kind;
  opt.points = {{515'000.0, -2'005'000.0, K::validation_used},
                {502'000.0, -2'018'000.0, K::validation_rejected},
                {508'000.0, -2'008'000.0, K::training_used}};
  opt.class_breaks = [] { return std::vector<double>{0.5, 0.8}; };
  gp::geo::write_quicklook(dir / "map.tif", dir / "quicklook.png", opt);
  expect_like_golden(dir / "quicklook.png", "quicklook.png");
}

/// Eight deposits on 100 valid cells, ranked by hand (cells scoring higher), in two folds.
gp::cli::ValidationResult small_validation() {
  gp::cli::ValidationResult r;
  r.valid_cells = 100;
  r.score_min = 0.0;
  r.score_max = 1.0;
  const std::uint64_t above[8] = {0, 2, 5, 9, 20, 33, 50, 80};
  for (int i = 0; i < 8; ++i) {
    gp::cli::RankedDeposit d;
    d.name = "d" + std::to_string(i);
    d.col = i;
    d.score = 1.0f - static_cast<float>(above[i]) / 100.0f;
    d.above = above[i];
    d.equal = 1;
    d.fold = i % 2;
    r.deposits.push_back(d);
  }
  const std::vector<double> capture{1.0, 5.0, 10.0, 25.0};
  std::vector<const gp::cli::RankedDeposit*> all;
  for (const auto& d : r.deposits) all.push_back(&d);
  r.all = gp::cli::summarise_ranks(r.valid_cells, all, capture);
  r.prediction_area = gp::cli::prediction_area(r.all, r.score_min, r.score_max);
  r.split = "kfold";
  r.kfold = 2;
  r.seed = 7;
  for (int f = 0; f < 2; ++f) {
    gp::cli::FoldResult fr;
    fr.fold = f;
    std::vector<const gp::cli::RankedDeposit*> held;
    std::vector<const gp::cli::RankedDeposit*> rest;
    for (const auto& d : r.deposits) (d.fold == f ? held : rest).push_back(&d);
    fr.prediction = gp::cli::summarise_ranks(r.valid_cells, held, capture);
    fr.training = gp::cli::summarise_ranks(r.valid_cells, rest, capture);
    r.folds.push_back(fr);
  }
  return r;
}

TEST(GoldenPicture, ValidationFigure) {
  if (!have_dejavu()) GTEST_SKIP() << "DejaVu Sans is not installed (fonts-dejavu-core)";
  const fs::path dir = gp::test::scratch_dir();
  const std::string svg = gp::cli::validation_svg(small_validation(), "golden validation");
  gp::geo::write_svg_png(svg, dir / "validation.png", "the golden validation figure", 0.6);
  expect_like_golden(dir / "validation.png", "validation.png");
}

}  // namespace
