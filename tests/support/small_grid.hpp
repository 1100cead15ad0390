#pragma once
// The small test grid of the contributions tests (tests/cli/contributions_test.cpp,
// tests/cli/tree_shap_test.cpp): 40 x 30 cells of 100 m in EPSG:3577, nodata -9999, and a
// writer of generated layers on it.
#include "model/model.hpp"
#include "run/runner.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace gp::test::small_grid {

constexpr int w = 40;
constexpr int h = 30;
constexpr double x0 = 1000000.0;
constexpr double y0 = -2000000.0;
constexpr double cell = 100.0;
constexpr double nd = -9999.0;

inline std::size_t n_cells() { return static_cast<std::size_t>(w * h); }

/// Writes layer `name`.tif on the grid from f(row, col) (NaN: nodata); returns the values
/// written (nodata as -9999).
inline std::vector<float> write_layer(const std::filesystem::path& dir, const std::string& name,
                                      float (*f)(int, int)) {
  std::vector<float> v(n_cells());
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const float x = f(r, c);
      v[static_cast<std::size_t>(r * w + c)] = std::isnan(x) ? static_cast<float>(nd) : x;
    }
  }
  write_raster(dir / (name + ".tif"), "EPSG:3577", x0, y0, cell, cell, w, h, v, &nd);
  return v;
}

/// Runs `toml` (written to `dir`/model.toml) into `dir`/<name>.tif on `device`, windows of 7
/// rows; returns the report.
inline nlohmann::json run(const std::filesystem::path& dir, const std::string& toml,
                          cli::DeviceChoice device = cli::DeviceChoice::cpu,
                          const std::string& name = "map") {
  write_text(dir / "model.toml", toml);
  cli::RunOptions o;
  o.output = dir / (name + ".tif");
  o.device = device;
  o.progress = false;
  o.window_rows = 7;
  cli::run_model(model::load_model(dir / "model.toml"), o);
  std::ifstream in(dir / (name + "_report.json"));
  return nlohmann::json::parse(in);
}

}  // namespace gp::test::small_grid
