// gp_gen_layers: synthetic evidence layers for machines without Python's GDAL bindings (the
// lent GPU machines: bench/gpu_session.sh packs this program with its GDAL libraries).
//
// The recipe of bench/gen_layers.py, in C++: per layer, sums of separable and diagonal sines
// plus Gaussian noise of 1-4% of the layer's range (so that the floats compress as real data
// do, not as smooth fields), holes of nodata -9999 (discs, a horizontal and a vertical stripe,
// single-cell dropouts); EPSG:5070, 30 m cells, tiled 256 x 256, the codec asked for with the
// floating-point predictor. Deterministic for a seed (counter-based random numbers, so rows can
// be computed by any thread), but not the Python generator's values: compare runs on data from
// one generator.
//
// Usage: gp_gen_layers OUTDIR [--size 8192] [--layers 6] [--seed 42] [--compress ZSTD|DEFLATE|NONE]
// Writes OUTDIR/layer_1.tif .. layer_N.tif and OUTDIR/model.toml (a weighted sum of linear
// transforms, each layer's exact valid min/max written out, as gen_layers.py's model.toml).
#include <cpl_conv.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace {

constexpr float nodata = -9999.0f;
constexpr int block_rows = 256;
constexpr double cell_m = 30.0;
constexpr double origin_x = -1000000.0;
constexpr double origin_y = 2000000.0;
constexpr double two_pi = 6.283185307179586;

struct Kind {
  const char* name;
  double lo;
  double hi;
};
constexpr std::array<Kind, 6> kinds = {{{"potassium_pct", 0.0, 5.0},
                                        {"uranium_ppm", 0.0, 40.0},
                                        {"thorium_ppm", 2.0, 60.0},
                                        {"u_th_ratio", 0.02, 0.6},
                                        {"gravity_mgal", -80.0, 40.0},
                                        {"magnetics_nt", -500.0, 1500.0}}};
constexpr std::array<double, 6> weights_6 = {0.25, 0.2, 0.15, 0.15, 0.15, 0.1};

/// splitmix64: a counter-based generator, so that cell (layer, row, col) draws the same
/// numbers whichever thread computes it.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
/// Uniform in (0, 1) from a 64-bit hash.
double unit(std::uint64_t h) { return (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0; }

struct Recipe {
  std::string name;
  double lo{};
  double hi{};
  std::array<std::array<double, 5>, 3> sep{};   // a, fx, px, fy, py
  std::array<std::array<double, 4>, 2> diag{};  // a, u, v, p
  double amp{};
  double noise{};
  std::vector<std::array<double, 3>> discs;  // cx, cy, r (fractions of the side)
  double h_centre{}, h_half{}, v_centre{}, v_half{};
  double dropout{};
  std::uint64_t key{};

  Recipe(std::uint64_t seed, int index) {
    const Kind& k = kinds[static_cast<std::size_t>(index) % kinds.size()];
    name = k.name;
    if (index >= static_cast<int>(kinds.size())) {
      name += "_" + std::to_string(index / static_cast<int>(kinds.size()) + 1);
    }
    lo = k.lo;
    hi = k.hi;
    std::uint64_t state = mix(seed * 1000003ULL + static_cast<std::uint64_t>(index) * 7919ULL);
    auto uniform = [&state](double a, double b) {
      state = mix(state);
      return a + (b - a) * unit(state);
    };
    for (auto& s : sep) {
      s = {uniform(0.5, 1.5), uniform(0.5, 6.0), uniform(0, 1), uniform(0.5, 6.0), uniform(0, 1)};
      amp += s[0];
    }
    for (auto& d : diag) {
      d = {uniform(0.3, 1.0), uniform(-12, 12), uniform(-12, 12), uniform(0, 1)};
      amp += d[0];
    }
    noise = uniform(0.01, 0.04);
    const int n_discs = 3 + static_cast<int>(uniform(0, 4));
    for (int i = 0; i < n_discs; ++i) {
      discs.push_back({uniform(0.05, 0.95), uniform(0.05, 0.95), uniform(0.01, 0.06)});
    }
    h_centre = uniform(0.05, 0.95);
    h_half = uniform(0.002, 0.008);
    v_centre = uniform(0.05, 0.95);
    v_half = uniform(0.001, 0.004);
    dropout = uniform(0.0005, 0.002);
    state = mix(state);
    key = state;
  }

  /// Value of cell (row, col) of an n x n layer, nodata in the holes.
  [[nodiscard]] float cell(std::int64_t n, std::int64_t row, std::int64_t col) const {
    const double x = (static_cast<double>(col) + 0.5) / static_cast<double>(n);
    const double y = (static_cast<double>(row) + 0.5) / static_cast<double>(n);
    const std::uint64_t h = mix(key ^ (static_cast<std::uint64_t>(row) * 0x100000001b3ULL +
                                       static_cast<std::uint64_t>(col)));
    const double xs = static_cast<double>(col);
    const double ys = static_cast<double>(row);
    const double side = static_cast<double>(n);
    bool hole = unit(mix(h)) < dropout;
    for (const auto& d : discs) {
      const double dx = xs - d[0] * side;
      const double dy = ys - d[1] * side;
      hole = hole || dx * dx + dy * dy < d[2] * side * d[2] * side;
    }
    hole = hole || std::abs(ys - h_centre * side) < std::max(h_half * side, 0.5);
    hole = hole || std::abs(xs - v_centre * side) < std::max(v_half * side, 0.5);
    if (hole) return nodata;
    double f = 0.0;
    for (const auto& s : sep) {
      f += s[0] * std::cos(two_pi * (s[3] * y + s[4])) * std::sin(two_pi * (s[1] * x + s[2]));
    }
    for (const auto& d : diag) f += d[0] * std::sin(two_pi * (d[1] * x + d[2] * y + d[3]));
    // Box-Muller from two more draws.
    const double g = std::sqrt(-2.0 * std::log(unit(mix(h + 1)))) *
                     std::cos(two_pi * unit(mix(h + 2)));
    const double span = hi - lo;
    return static_cast<float>(lo + span * 0.5 * (f / amp + 1.0) + g * noise * span);
  }
};

int usage(const char* msg) {
  std::fprintf(stderr,
               "gp_gen_layers: %s\nusage: gp_gen_layers OUTDIR [--size N] [--layers L] "
               "[--seed S] [--compress ZSTD|DEFLATE|NONE]\n",
               msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("OUTDIR is missing");
  const std::filesystem::path out = argv[1];
  std::int64_t n = 8192;
  int n_layers = 6;
  std::uint64_t seed = 42;
  std::string compress = "ZSTD";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const std::string val = argv[i + 1];
    if (opt == "--size") {
      n = std::atoll(val.c_str());
    } else if (opt == "--layers") {
      n_layers = std::atoi(val.c_str());
    } else if (opt == "--seed") {
      seed = std::strtoull(val.c_str(), nullptr, 10);
    } else if (opt == "--compress") {
      compress = val;
    } else {
      return usage(("unknown option " + opt).c_str());
    }
  }
  if (n < 16 || n_layers < 1 || n_layers > 26) return usage("--size >= 16, 1 <= --layers <= 26");
  if (compress != "ZSTD" && compress != "DEFLATE" && compress != "NONE") {
    return usage("--compress: ZSTD, DEFLATE or NONE");
  }
  GDALAllRegister();
  GDALSetCacheMax64(64 << 20);
  std::filesystem::create_directories(out);
  OGRSpatialReference srs;
  if (srs.importFromEPSG(5070) != OGRERR_NONE) return usage("EPSG:5070 unknown (PROJ data?)");
  char* wkt = nullptr;
  srs.exportToWkt(&wkt);
  const std::string crs = wkt;
  CPLFree(wkt);
  CPLStringList co;
  co.SetNameValue("TILED", "YES");
  co.SetNameValue("BLOCKXSIZE", "256");
  co.SetNameValue("BLOCKYSIZE", "256");
  co.SetNameValue("BIGTIFF", "IF_SAFER");
  co.SetNameValue("NUM_THREADS", "ALL_CPUS");
  co.SetNameValue("COMPRESS", compress.c_str());
  if (compress != "NONE") co.SetNameValue("PREDICTOR", "3");
  if (compress == "ZSTD") co.SetNameValue("ZSTD_LEVEL", "1");

  std::string model = "# Generated by bench/gen_layers.cpp (gp_gen_layers)\n\n[model]\nname = "
                      "\"bench-synthetic-" + std::to_string(n) + "\"\n\n";
  std::vector<float> buf(static_cast<std::size_t>(block_rows * n));
  for (int l = 0; l < n_layers; ++l) {
    const Recipe rec(seed, l);
    const std::filesystem::path path = out / ("layer_" + std::to_string(l + 1) + ".tif");
    const std::string tmp = path.string() + ".partial";
    GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
    GDALDatasetUniquePtr ds(drv->Create(tmp.c_str(), static_cast<int>(n), static_cast<int>(n), 1,
                                        GDT_Float32, co.List()));
    if (!ds) return usage(("cannot create " + tmp).c_str());
    double gt[6] = {origin_x, cell_m, 0.0, origin_y, 0.0, -cell_m};
    ds->SetGeoTransform(gt);
    ds->SetProjection(crs.c_str());
    GDALRasterBand* band = ds->GetRasterBand(1);
    band->SetNoDataValue(nodata);
    band->SetDescription(rec.name.c_str());
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (std::int64_t row0 = 0; row0 < n; row0 += block_rows) {
      const std::int64_t rows = std::min<std::int64_t>(block_rows, n - row0);
      double blo = lo;
      double bhi = hi;
#pragma omp parallel for schedule(static) reduction(min : blo) reduction(max : bhi)
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < n; ++c) {
          const float v = rec.cell(n, row0 + r, c);
          buf[static_cast<std::size_t>(r * n + c)] = v;
          if (v != nodata) {
            blo = std::min(blo, static_cast<double>(v));
            bhi = std::max(bhi, static_cast<double>(v));
          }
        }
      }
      lo = blo;
      hi = bhi;
      if (band->RasterIO(GF_Write, 0, static_cast<int>(row0), static_cast<int>(n),
                         static_cast<int>(rows), buf.data(), static_cast<int>(n),
                         static_cast<int>(rows), GDT_Float32, 0, 0, nullptr) != CE_None) {
        return usage(("writing " + tmp + " failed").c_str());
      }
    }
    ds.reset();
    std::filesystem::rename(tmp, path);
    const double w = n_layers == 6 ? weights_6[static_cast<std::size_t>(l)]
                                   : static_cast<double>(n_layers - l) /
                                         (0.5 * n_layers * (n_layers + 1));
    char line[512];
    std::snprintf(line, sizeof line,
                  "[[layer]]\nname = \"%s\"\npath = \"%s\"\nresampling = \"nearest\"\n"
                  "transform = { kind = \"linear\", min = %.17g, max = %.17g }\nweight = %.17g\n\n",
                  rec.name.c_str(), path.filename().c_str(), lo, hi, w);
    model += line;
    std::printf("  %s: %s min=%.9g max=%.9g\n", path.c_str(), rec.name.c_str(), lo, hi);
  }
  model += "[combine]\nmethod = \"weighted-sum\"\n\n[output]\npath = \"out_gp.tif\"\n";
  std::ofstream(out / "model.toml") << model;
  return 0;
}
