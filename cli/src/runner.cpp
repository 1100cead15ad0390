#include "gp/cli/runner.hpp"

#include "gp/cli/progress.hpp"

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/log.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

namespace gp::cli {
namespace {

std::string layer_what(const model::LayerSpec& L) { return "layer '" + L.name + "'"; }

std::string fmt_bounds(const std::array<double, 4>& b) {
  return "[" + geo::format_double(b[0]) + ", " + geo::format_double(b[1]) + ", " +
         geo::format_double(b[2]) + ", " + geo::format_double(b[3]) + "]";
}

bool needs_stats(const model::LayerSpec& L) {
  return L.transform.kind == "linear" && (!L.transform.min || !L.transform.max);
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

DeviceChoice parse_device(const std::string& s) {
  if (s == "auto") return DeviceChoice::automatic;
  if (s == "cpu") return DeviceChoice::cpu;
  if (s == "cuda") return DeviceChoice::cuda;
  throw config_error("--device: unknown device '" + s + "' (expected auto, cpu or cuda)");
}

geo::Grid resolve_grid(const model::Model& m) {
  GP_EXPECTS(!m.layers.empty(), config_error, "model has no layers");
  std::vector<geo::RasterInfo> infos;
  for (const auto& L : m.layers) infos.push_back(geo::describe_raster(L.path.string(), layer_what(L)));
  const geo::RasterInfo& first = infos.front();
  const std::string first_what = layer_what(m.layers.front());
  if (first.crs_wkt.empty() && !m.grid.crs) {
    throw input_error(first_what + ": " + first.path +
                      " has no CRS (expected a georeferenced raster, or set [grid] crs)");
  }
  geo::Grid g;
  g.crs_wkt = m.grid.crs ? geo::to_wkt(geo::parse_crs(*m.grid.crs, "[grid] crs")) : first.crs_wkt;

  std::vector<geo::Footprint> fps;
  for (std::size_t i = 0; i < infos.size(); ++i) {
    fps.push_back(geo::footprint_in(infos[i], g.crs_wkt, layer_what(m.layers[i])));
  }
  const bool first_on_crs = geo::same_crs(first.crs_wkt, g.crs_wkt) &&
                            first.geotransform[2] == 0.0 && first.geotransform[4] == 0.0 &&
                            first.geotransform[5] < 0.0;
  if (m.grid.resolution) {
    g.dx = (*m.grid.resolution)[0];
    g.dy = (*m.grid.resolution)[1];
  } else if (first_on_crs) {
    g.dx = first.geotransform[1];
    g.dy = -first.geotransform[5];
  } else {
    g.dx = g.dy = fps.front().cell_size;
  }

  std::array<double, 4> ext{};
  if (m.grid.extent) {
    ext = *m.grid.extent;
    for (std::size_t i = 0; i < fps.size(); ++i) {
      const auto& b = fps[i].bounds;
      if (b[0] >= ext[2] || b[2] <= ext[0] || b[1] >= ext[3] || b[3] <= ext[1]) {
        throw input_error(layer_what(m.layers[i]) + ": " + infos[i].path +
                          " does not overlap the grid extent " + fmt_bounds(ext) + " (its extent is " +
                          fmt_bounds(b) + " in " + geo::crs_label_wkt(g.crs_wkt) + ")");
      }
    }
  } else {
    ext = fps.front().bounds;
    for (std::size_t i = 1; i < fps.size(); ++i) {
      const auto& b = fps[i].bounds;
      const std::array<double, 4> next{std::max(ext[0], b[0]), std::max(ext[1], b[1]),
                                       std::min(ext[2], b[2]), std::min(ext[3], b[3])};
      if (!(next[0] < next[2]) || !(next[1] < next[3])) {
        throw input_error(layer_what(m.layers[i]) + ": " + infos[i].path +
                          " does not overlap the layers before it (its extent " + fmt_bounds(b) +
                          ", theirs " + fmt_bounds(ext) + " in " + geo::crs_label_wkt(g.crs_wkt) +
                          ")");
      }
      ext = next;
    }
  }

  // Default grids keep the first layer's cell edges, so that layer is read without resampling.
  constexpr double eps = 1e-6;
  if (!m.grid.extent && first_on_crs && std::abs(g.dx - first.geotransform[1]) <= 1e-9 * g.dx &&
      std::abs(g.dy + first.geotransform[5]) <= 1e-9 * g.dy) {
    const double ox = first.geotransform[0];
    const double oy = first.geotransform[3];
    const double c0 = std::ceil((ext[0] - ox) / g.dx - eps);
    const double c1 = std::floor((ext[2] - ox) / g.dx + eps);
    const double r0 = std::ceil((oy - ext[3]) / g.dy - eps);
    const double r1 = std::floor((oy - ext[1]) / g.dy + eps);
    g.x0 = ox + c0 * g.dx;
    g.y0 = oy - r0 * g.dy;
    g.width = static_cast<std::int64_t>(c1 - c0);
    g.height = static_cast<std::int64_t>(r1 - r0);
  } else if (!m.grid.extent) {
    // Target-aligned pixels (gdalwarp -tap): edges on multiples of the cell size, covering the
    // layers' common footprint.
    g.x0 = std::floor(ext[0] / g.dx + eps) * g.dx;
    g.y0 = std::ceil(ext[3] / g.dy - eps) * g.dy;
    g.width = static_cast<std::int64_t>(std::ceil((ext[2] - g.x0) / g.dx - eps));
    g.height = static_cast<std::int64_t>(std::ceil((g.y0 - ext[1]) / g.dy - eps));
  } else {
    g.x0 = ext[0];
    g.y0 = ext[3];
    g.width = static_cast<std::int64_t>(std::ceil((ext[2] - ext[0]) / g.dx - eps));
    g.height = static_cast<std::int64_t>(std::ceil((ext[3] - ext[1]) / g.dy - eps));
  }
  if (g.width < 1 || g.height < 1) {
    throw input_error("the grid is empty: extent " + fmt_bounds(ext) + " holds no cell of size " +
                      geo::format_double(g.dx) + " x " + geo::format_double(g.dy));
  }
  constexpr std::int64_t max_side = (std::int64_t{1} << 31) - 1;
  if (g.width > max_side || g.height > max_side) {
    throw config_error("[grid]: " + std::to_string(g.width) + " x " + std::to_string(g.height) +
                       " cells exceeds the limit of 2^31-1 cells per side (check resolution)");
  }
  return g;
}

kernels::Program build_program(const model::Model& m,
                               const std::vector<kernels::LayerStats>& stats) {
  if (m.layers.size() > static_cast<std::size_t>(kernels::max_layers)) {
    throw config_error("model has " + std::to_string(m.layers.size()) + " layers (at most " +
                       std::to_string(kernels::max_layers) + " are supported)");
  }
  kernels::Program p;
  p.n_layers = static_cast<std::int32_t>(m.layers.size());
  p.combine = kernels::CombineMethod::weighted_sum;
  p.out_nodata = static_cast<float>(m.output.nodata);
  double wsum = 0.0;
  for (const auto& L : m.layers) wsum += L.weight;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& L = m.layers[i];
    kernels::LayerOp& op = p.layers[i];
    op.weight = L.weight / wsum;
    op.skip_missing = L.missing_skip ? 1 : 0;
    if (L.transform.kind == "identity") {
      op.transform.kind = kernels::TransformKind::identity;
    } else if (L.transform.kind == "linear") {
      op.transform.kind = kernels::TransformKind::linear;
      const bool need = !L.transform.min || !L.transform.max;
      if (need && (i >= stats.size() || stats[i].valid == 0)) {
        throw input_error(layer_what(L) + ": no valid cell on the grid (all nodata); its linear "
                                          "transform needs min and max from the data");
      }
      op.transform.min = L.transform.min ? *L.transform.min : stats[i].min;
      op.transform.max = L.transform.max ? *L.transform.max : stats[i].max;
      if (op.transform.min == op.transform.max) {
        throw input_error(layer_what(L) + ": linear transform needs min != max, but the layer is " +
                          geo::format_double(op.transform.min) +
                          " everywhere on the grid (give min and max in the model)");
      }
    }
  }
  return p;
}

RunResult run_model(const model::Model& m, const RunOptions& opt) {
  RunResult res;
  res.output = opt.output.empty() ? m.output.path : opt.output;
  if (res.output.empty()) {
    throw config_error("no output path: set [output] path in the model or pass -o OUT.tif");
  }
  geo::check_output_path(res.output, opt.overwrite);
  const geo::Grid grid = resolve_grid(m);
  res.grid = grid;

  std::unique_ptr<kernels::Backend> backend;
  std::string why;
  switch (opt.device) {
    case DeviceChoice::cpu:
      backend = kernels::make_cpu_backend(opt.threads);
      why = "requested";
      break;
    case DeviceChoice::cuda:
      backend = kernels::make_cuda_backend(0);
      why = "requested";
      break;
    case DeviceChoice::automatic:
      if (kernels::cuda_device_count() > 0) {
        backend = kernels::make_cuda_backend(0);
        why = "auto: CUDA device found";
      } else {
        backend = kernels::make_cpu_backend(opt.threads);
        why = kernels::cuda_compiled() ? "auto: no CUDA device found"
                                       : "auto: built without CUDA";
      }
      break;
  }
  res.device = backend->name();
  gp::log::info("device: " + res.device + " (" + why + ")");
  gp::log::info("grid: " + std::to_string(grid.width) + " x " + std::to_string(grid.height) +
                " cells of " + geo::format_double(grid.dx) + " x " + geo::format_double(grid.dy) +
                " in " + geo::crs_label_wkt(grid.crs_wkt));

  std::vector<std::unique_ptr<geo::RasterSource>> sources;
  for (const auto& L : m.layers) {
    sources.push_back(std::make_unique<geo::RasterSource>(L.path.string(), L.band, L.resampling,
                                                          grid, layer_what(L)));
    res.layer_modes.emplace_back(sources.back()->direct() ? "direct" : "warped");
  }

  const std::int64_t rows_per_window =
      opt.window_rows > 0
          ? opt.window_rows
          : std::max<std::int64_t>(1, opt.window_cells / std::max<std::int64_t>(grid.width, 1));
  const std::size_t win_cells =
      static_cast<std::size_t>(std::min(rows_per_window, grid.height)) *
      static_cast<std::size_t>(grid.width);
  const std::size_t n_layers = m.layers.size();
  std::vector<std::vector<float>> buf(n_layers, std::vector<float>(win_cells));
  std::vector<float> out(win_cells);

  const std::int64_t n_windows = (grid.height + rows_per_window - 1) / rows_per_window;
  std::size_t n_stats_layers = 0;
  for (const auto& L : m.layers) n_stats_layers += needs_stats(L) ? 1 : 0;
  const double total_work =
      static_cast<double>(n_windows) * static_cast<double>(n_layers + n_stats_layers);
  double done_work = 0.0;
  Progress bar(opt.progress);
  auto progress = [&](double add) {
    done_work += add;
    bar.update(std::min(1.0, done_work / total_work));
  };
  bar.update(0.0);

  auto window_at = [&](std::int64_t w) {
    geo::Window win;
    win.col = 0;
    win.cols = grid.width;
    win.row = w * rows_per_window;
    win.rows = std::min(rows_per_window, grid.height - win.row);
    return win;
  };

  // Pass 1: whole-grid statistics of the layers whose transform needs them.
  auto t_stats = Clock::now();
  std::vector<kernels::LayerStats> stats(n_layers);
  if (n_stats_layers > 0) {
    for (std::int64_t w = 0; w < n_windows; ++w) {
      const geo::Window win = window_at(w);
      for (std::size_t l = 0; l < n_layers; ++l) {
        if (!needs_stats(m.layers[l])) continue;
        sources[l]->read(win, buf[l].data());
        stats[l].merge(backend->stats(buf[l].data(), win.cells()));
        progress(1.0);
      }
    }
  }
  res.seconds_stats = seconds_since(t_stats);
  const kernels::Program program = build_program(m, stats);

  // Pass 2: score and write.
  auto t_score = Clock::now();
  geo::WriterOptions wopt;
  wopt.compress = m.output.compress;
  wopt.predictor = m.output.compress == "ZSTD" || m.output.compress == "DEFLATE" ||
                           m.output.compress == "LZW"
                       ? 3
                       : 1;
  wopt.nodata = m.output.nodata;
  wopt.overwrite = opt.overwrite;
  wopt.threads = opt.threads;
  wopt.metadata["GP_MODEL_NAME"] = m.name;
  wopt.metadata["GP_MODEL_SHA256"] = m.sha256;
  wopt.metadata["GP_VERSION"] = GP_VERSION;
  wopt.metadata["GP_COMBINE"] = m.combine.method;
  geo::RasterWriter writer(res.output, grid, wopt);

  std::vector<const float*> ptrs(n_layers);
  double sum = 0.0;
  double sum_sq = 0.0;
  bool have = false;
  const float nd = program.out_nodata;
  for (std::int64_t w = 0; w < n_windows; ++w) {
    const geo::Window win = window_at(w);
    for (std::size_t l = 0; l < n_layers; ++l) {
      sources[l]->read(win, buf[l].data());
      ptrs[l] = buf[l].data();
      progress(0.5);
    }
    backend->score(program, ptrs.data(), win.cells(), out.data());
    for (std::size_t i = 0; i < win.cells(); ++i) {
      const float v = out[i];
      if (v == nd) {
        ++res.nodata_cells;
        continue;
      }
      if (!have) {
        res.min = res.max = v;
        have = true;
      }
      res.min = std::min<double>(res.min, v);
      res.max = std::max<double>(res.max, v);
      sum += v;
      sum_sq += static_cast<double>(v) * v;
      ++res.valid_cells;
    }
    writer.write_rows(out.data(), win.rows);
    progress(0.5 * static_cast<double>(n_layers));
  }
  if (res.valid_cells > 0) {
    const auto n = static_cast<double>(res.valid_cells);
    res.mean = sum / n;
    const double var = std::max(0.0, sum_sq / n - res.mean * res.mean);
    writer.set_statistics(res.min, res.max, res.mean, std::sqrt(var));
  } else {
    gp::log::warning("every cell of the result is nodata (check the layers' nodata and extents)");
  }
  writer.commit();
  res.seconds_score = seconds_since(t_score);
  bar.update(1.0);
  return res;
}

}  // namespace gp::cli
