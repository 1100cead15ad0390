// The streaming runner: grid resolution, statistics pass, window-size independence.
#include "model/model.hpp"
#include "plan/device.hpp"
#include "plan/grid.hpp"
#include "run/runner.hpp"
#include "gp/error.hpp"
#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace fs = std::filesystem;
namespace gc = gp::cli;
namespace gm = gp::model;
using gp::test::scratch_dir;
using gp::test::write_raster;

namespace {

gm::Model model_from(const fs::path& dir, const std::string& text) {
  const fs::path p = dir / "model.toml";
  std::ofstream(p) << text;
  return gm::load_model(p);
}

gc::RunOptions quiet_cpu(const fs::path& out) {
  gc::RunOptions o;
  o.output = out;
  o.device = gc::DeviceChoice::cpu;
  o.progress = false;
  o.overwrite = true;
  return o;
}

const char* three_layer_model = R"(
[model]
name = "three"
[[layer]]
name = "a"
path = "a.tif"
transform = { kind = "linear" }
weight = 2
[[layer]]
name = "b"
path = "b.tif"
resampling = "average"
transform = { kind = "linear", min = 1000, max = 0 }
weight = 1
[[layer]]
name = "c"
path = "c.tif"
resampling = "cubic"
transform = { kind = "linear" }
weight = 1
missing = "skip"
)";

}  // namespace

TEST(ParseDevice, KnownAndUnknown) {
  EXPECT_EQ(gc::parse_device("auto"), gc::DeviceChoice::automatic);
  EXPECT_EQ(gc::parse_device("cpu"), gc::DeviceChoice::cpu);
  EXPECT_EQ(gc::parse_device("cuda"), gc::DeviceChoice::cuda);
  EXPECT_THROW(gc::parse_device("tpu"), gp::config_error);
}

// The single-device engines (distance transform, Monte Carlo, rank and class counters) run on
// the first device the user listed, device 0 when none is; --device cpu keeps them on the CPU.
TEST(EngineDevice, FirstListedDeviceOrZero) {
  const gc::EngineDevice cpu = gc::engine_device(gc::DeviceChoice::cpu, {2, 3});
  EXPECT_FALSE(cpu.cuda);
  const gc::EngineDevice listed = gc::engine_device(gc::DeviceChoice::cuda, {3, 1});
  EXPECT_TRUE(listed.cuda);
  EXPECT_EQ(listed.id, 3);
  const gc::EngineDevice none_listed = gc::engine_device(gc::DeviceChoice::cuda, {});
  EXPECT_TRUE(none_listed.cuda);
  EXPECT_EQ(none_listed.id, 0);
  // auto: CUDA exactly when a device is visible (none on a machine without a GPU).
  EXPECT_EQ(gc::engine_device(gc::DeviceChoice::automatic, {}).cuda,
            gp::kernels::cuda_device_count() > 0);
}

TEST(ResolveGrid, DefaultsToFirstLayerGridOverTheCommonExtent) {
  const fs::path dir = scratch_dir();
  gp::test::write_three_layers(dir);
  const auto g = gc::resolve_grid(model_from(dir, three_layer_model));
  // First layer: 100 m, edges on its own lattice; the extent is the intersection of all three.
  EXPECT_DOUBLE_EQ(g.dx, 100.0);
  EXPECT_DOUBLE_EQ(g.dy, 100.0);
  EXPECT_DOUBLE_EQ(std::fmod(g.x0 - -1060000.0, 100.0), 0.0);
  EXPECT_DOUBLE_EQ(std::fmod(g.y0 - -2985000.0, 100.0), 0.0);
  EXPECT_GE(g.x0, -1060000.0);
  EXPECT_LE(g.y0, -2985000.0);
  EXPECT_LE(g.xmax(), -1060000.0 + 301 * 100.0);
  EXPECT_GE(g.ymin(), -2985000.0 - 211 * 100.0);
  EXPECT_GT(g.width, 100);
  EXPECT_GT(g.height, 100);
}

TEST(ResolveGrid, ExplicitCrsResolutionAndExtent) {
  const fs::path dir = scratch_dir();
  gp::test::write_three_layers(dir);
  const std::string text = std::string("[grid]\ncrs = \"EPSG:3577\"\nresolution = 333\n"
                                       "extent = [-1050000, -3000000, -1040000, -2990000]\n") +
                           three_layer_model;
  const auto g = gc::resolve_grid(model_from(dir, text));
  EXPECT_DOUBLE_EQ(g.x0, -1050000.0);
  EXPECT_DOUBLE_EQ(g.y0, -2990000.0);
  EXPECT_EQ(g.width, 31);  // ceil(10000 / 333)
  EXPECT_EQ(g.height, 31);
}

TEST(ResolveGrid, LayersThatDoNotOverlapAreRefused) {
  const fs::path dir = scratch_dir();
  write_raster(dir / "a.tif", "EPSG:3577", 0, 1000, 100, 100, 10, 10, std::vector<float>(100, 1.0f));
  write_raster(dir / "b.tif", "EPSG:3577", 50000, 1000, 100, 100, 10, 10, std::vector<float>(100, 1.0f));
  const auto m = model_from(dir, "[[layer]]\nname = \"a\"\npath = \"a.tif\"\n"
                                 "[[layer]]\nname = \"b\"\npath = \"b.tif\"\n");
  try {
    gc::resolve_grid(m);
    FAIL() << "expected gp::input_error";
  } catch (const gp::input_error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'b'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not overlap"), std::string::npos) << e.what();
  }
}

TEST(RunModel, LinearMinMaxComeFromTheLayerOnTheGrid) {
  const fs::path dir = scratch_dir();
  // a: 6 x 4 cells, value = col + 10 * row. b covers columns 2..5 only, so the grid is those
  // columns and a's min/max there are 2 (row 0, col 2) and 35 (row 3, col 5), not 0 and 35.
  std::vector<float> a;
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 6; ++c) a.push_back(static_cast<float>(c + 10 * r));
  }
  write_raster(dir / "a.tif", "EPSG:3577", 0, 400, 100, 100, 6, 4, a);
  write_raster(dir / "b.tif", "EPSG:3577", 200, 400, 100, 100, 4, 4, std::vector<float>(16, 1.0f));
  const auto m = model_from(dir, R"(
[[layer]]
name = "a"
path = "a.tif"
transform = { kind = "linear" }
weight = 1
[[layer]]
name = "b"
path = "b.tif"
weight = 0
)");
  const auto res = gc::run_model(m, quiet_cpu(dir / "out.tif"));
  EXPECT_EQ(res.grid.width, 4);
  EXPECT_EQ(res.grid.height, 4);
  const auto out = gp::test::read_raster(dir / "out.tif");
  ASSERT_EQ(out.size(), 16u);
  // Grid cell (row r, col k) is a's (r, k + 2): score = (k + 2 + 10 r - 2) / 33.
  for (int r = 0; r < 4; ++r) {
    for (int k = 0; k < 4; ++k) {
      EXPECT_NEAR(out[static_cast<std::size_t>(r * 4 + k)], (k + 10.0 * r) / 33.0, 1e-7)
          << r << "," << k;
    }
  }
  EXPECT_EQ(res.valid_cells, 16u);
  EXPECT_EQ(res.layer_modes[0], "direct");
}

TEST(RunModel, AllNodataLayerWithAutoLinearIsRefused) {
  const fs::path dir = scratch_dir();
  const double nd = -1.0;
  write_raster(dir / "a.tif", "EPSG:3577", 0, 400, 100, 100, 4, 4, std::vector<float>(16, -1.0f), &nd);
  const auto m = model_from(dir, "[[layer]]\nname = \"a\"\npath = \"a.tif\"\n"
                                 "transform = { kind = \"linear\" }\n");
  EXPECT_THROW(gc::run_model(m, quiet_cpu(dir / "out.tif")), gp::input_error);
  EXPECT_FALSE(fs::exists(dir / "out.tif"));
}

TEST(RunModel, OutputIsByteIdenticalWhateverTheWindowSize) {
  const fs::path dir = scratch_dir();
  gp::test::write_three_layers(dir);
  const auto m = model_from(dir, three_layer_model);
  std::string first;
  for (std::int64_t rows : {std::int64_t{0}, std::int64_t{1}, std::int64_t{17}, std::int64_t{64},
                            std::int64_t{1000}}) {
    auto opt = quiet_cpu(dir / ("out_" + std::to_string(rows) + ".tif"));
    opt.window_rows = rows;
    const auto res = gc::run_model(m, opt);
    EXPECT_EQ(res.layer_modes, (std::vector<std::string>{"direct", "warped", "warped"}));
    const std::string bytes = gp::test::file_bytes(opt.output);
    ASSERT_FALSE(bytes.empty());
    if (first.empty()) {
      first = bytes;
      // Sanity: scores in [0, 1] where valid and some nodata from layer a's holes.
      const auto v = gp::test::read_raster(opt.output);
      std::size_t nodata = 0;
      for (float x : v) {
        if (x == -9999.0f) ++nodata;
        else {
          ASSERT_GE(x, 0.0f);
          ASSERT_LE(x, 1.0f);
        }
      }
      EXPECT_GT(nodata, 0u);
      EXPECT_LT(nodata, v.size() / 2);
    } else {
      EXPECT_TRUE(bytes == first) << "window rows " << rows << " changed the output bytes";
    }
  }
}

TEST(RunModel, ThreadCountDoesNotChangeBytes) {
  const fs::path dir = scratch_dir();
  gp::test::write_three_layers(dir);
  const auto m = model_from(dir, three_layer_model);
  auto o1 = quiet_cpu(dir / "t1.tif");
  o1.threads = 1;
  auto o2 = quiet_cpu(dir / "t2.tif");
  o2.threads = 2;
  gc::run_model(m, o1);
  gc::run_model(m, o2);
  EXPECT_TRUE(gp::test::file_bytes(o1.output) == gp::test::file_bytes(o2.output));
}

// ---- A three-level network on small rasters against a separate reference evaluation ----

namespace {

/// Reference memberships and operators, written independently of kernels/ from the formulas.
double ref_large(double x, double mid, double spread) {
  return x <= 0 ? 0.0 : 1.0 / (1.0 + std::pow(x / mid, -spread));
}
double ref_gauss(double x, double mid, double spread) {
  return std::exp(-spread * (x - mid) * (x - mid));
}
double ref_linear(double x, double lo, double hi) {
  return std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
}

}  // namespace

TEST(RunModel, ThreeLevelNetworkMatchesReference) {
  const fs::path dir = scratch_dir();
  const int w = 37;
  const int h = 23;
  std::vector<float> la(w * h), ce(w * h), dist(w * h), lith(w * h);
  for (int i = 0; i < w * h; ++i) {
    la[static_cast<std::size_t>(i)] = static_cast<float>((i * 37) % 101) * 0.5f;        // 0..50
    ce[static_cast<std::size_t>(i)] = static_cast<float>((i * 53) % 97);                // 0..96
    dist[static_cast<std::size_t>(i)] = static_cast<float>((i * 29) % 2000);            // metres
    lith[static_cast<std::size_t>(i)] = static_cast<float>(i % 5);                      // codes
  }
  ce[10] = -9999.0f;   // nodata in a skip layer
  dist[20] = -9999.0f; // nodata in a required layer
  const double nd = -9999.0;
  for (auto [name, v] : {std::pair{"la", &la}, {"ce", &ce}, {"dist", &dist}, {"lith", &lith}}) {
    write_raster(dir / (std::string(name) + ".tif"), "EPSG:3577", 0, 2300, 100, 100, w, h, *v, &nd);
  }
  const auto m = model_from(dir, R"(
[[layer]]
name = "la"
path = "la.tif"
transform = { kind = "large", midpoint = 20, spread = 3 }
[[layer]]
name = "ce"
path = "ce.tif"
transform = { kind = "gaussian", midpoint = 50, spread = 0.001 }
missing = "skip"
[[layer]]
name = "dist"
path = "dist.tif"
transform = { kind = "linear", min = 1500, max = 0 }
[[layer]]
name = "lith"
path = "lith.tif"
transform = { kind = "reclass", table = [ { value = 1, score = 0.9 }, { value = 3, score = 0.6 } ], default = 0.1 }
[[group]]
name = "geochem"
method = "fuzzy-or"
inputs = ["la", "ce"]
[[group]]
name = "host"
method = "weighted-sum"
inputs = ["dist", "lith"]
weights = [3, 1]
[[group]]
name = "final"
method = "fuzzy-gamma"
inputs = ["geochem", "host"]
gamma = 0.75
[output]
bands = ["geochem", "host", "lith"]
)");
  const auto res = gc::run_model(m, quiet_cpu(dir / "net.tif"));
  ASSERT_EQ(res.bands.size(), 4u);
  const auto f = gp::test::read_raster(dir / "net.tif", 1);
  const auto g = gp::test::read_raster(dir / "net.tif", 2);
  const auto hst = gp::test::read_raster(dir / "net.tif", 3);
  const auto li = gp::test::read_raster(dir / "net.tif", 4);
  for (int i = 0; i < w * h; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double mla = ref_large(la[k], 20, 3);
    const bool ce_ok = ce[k] != -9999.0f;
    const double geo = ce_ok ? std::max(mla, ref_gauss(ce[k], 50, 0.001)) : mla;
    const int code = static_cast<int>(lith[k]);
    const double mlith = code == 1 ? 0.9 : (code == 3 ? 0.6 : 0.1);
    ASSERT_NEAR(g[k], geo, 1e-6) << i;
    ASSERT_NEAR(li[k], mlith, 1e-7) << i;
    if (dist[k] == -9999.0f) {
      EXPECT_EQ(hst[k], -9999.0f);
      EXPECT_EQ(f[k], -9999.0f);
      continue;
    }
    const double host = 0.75 * ref_linear(dist[k], 1500, 0) + 0.25 * mlith;
    const double fsum = 1.0 - (1.0 - geo) * (1.0 - host);
    const double prod = geo * host;
    const double fin = std::pow(fsum, 0.75) * std::pow(prod, 0.25);
    ASSERT_NEAR(hst[k], host, 1e-6) << i;
    ASSERT_NEAR(f[k], fin, 1e-6) << i;
  }
  GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "net.tif").c_str(), GDAL_OF_RASTER));
  EXPECT_STREQ(ds->GetRasterBand(1)->GetDescription(), "prospectivity");
  EXPECT_STREQ(ds->GetRasterBand(2)->GetDescription(), "geochem");
  EXPECT_STREQ(ds->GetRasterBand(4)->GetDescription(), "lith");
}

TEST(RunModel, StatisticsTransformsUseWholeGridStatistics) {
  const fs::path dir = scratch_dir();
  // Values 1..100 on a 10 x 10 grid: mean 50.5, population std sqrt((100^2 - 1) / 12).
  std::vector<float> v(100);
  for (int i = 0; i < 100; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
  write_raster(dir / "a.tif", "EPSG:3577", 0, 1000, 100, 100, 10, 10, v);
  const auto m = model_from(dir, R"(
[[layer]]
name = "a"
path = "a.tif"
transform = "zscore"
[[layer]]
name = "p"
path = "a.tif"
transform = "percentile"
[[layer]]
name = "mm"
path = "a.tif"
transform = "minmax"
[combine]
method = "fuzzy-or"
[output]
bands = ["a", "p", "mm"]
)");
  auto opt = quiet_cpu(dir / "s.tif");
  opt.window_rows = 3;  // statistics must not depend on the windows
  gc::run_model(m, opt);
  const auto z = gp::test::read_raster(dir / "s.tif", 2);
  const auto p = gp::test::read_raster(dir / "s.tif", 3);
  const auto mm = gp::test::read_raster(dir / "s.tif", 4);
  const double sd = std::sqrt((100.0 * 100.0 - 1.0) / 12.0);
  for (int i = 0; i < 100; ++i) {
    const double x = i + 1;
    EXPECT_NEAR(z[static_cast<std::size_t>(i)], (x - 50.5) / sd, 1e-5) << i;
    EXPECT_NEAR(mm[static_cast<std::size_t>(i)], (x - 1.0) / 99.0, 1e-6) << i;
    // Rank of x among 1..100 (mid-rank (x - 0.5) / 100), within 1/4096 plus one cell's
    // share, since 100 cells cannot resolve a rank finer than 1/100 between knots.
    EXPECT_NEAR(p[static_cast<std::size_t>(i)], (x - 0.5) / 100.0, 0.5 / 100.0 + 1.0 / 4096) << i;
  }
}
