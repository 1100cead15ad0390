#include "run/runner.hpp"

#include "outputs/outputs.hpp"
#include "run/cluster.hpp"
#include "run/pipeline.hpp"
#include "run/progress.hpp"
#include "train/trained.hpp"
#include "analysis/uncertainty.hpp"  // issue 6: validation + uncertainty hook
#include "plan/vector_plan.hpp"
#include "gp/geo/territory.hpp"

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

namespace gp::cli {
namespace {

std::string layer_what(const model::LayerSpec& L) { return "layer '" + L.name + "'"; }

std::string fmt_bounds(const std::array<double, 4>& b) {
  return "[" + text::shortest_plain(b[0]) + ", " + text::shortest_plain(b[1]) + ", " +
         text::shortest_plain(b[2]) + ", " + text::shortest_plain(b[3]) + "]";
}

bool needs_stats(const model::LayerSpec& L) {
  return L.transform.needs_minmax() || L.transform.needs_moments() ||
         L.transform.needs_percentiles();
}

kernels::TransformKind kind_of(const std::string& k) {
  using K = kernels::TransformKind;
  if (k == "identity") return K::identity;
  if (k == "linear") return K::linear;
  if (k == "large") return K::large;
  if (k == "small") return K::small;
  if (k == "gaussian") return K::gaussian;
  if (k == "near") return K::near;
  if (k == "ms-large") return K::ms_large;
  if (k == "ms-small") return K::ms_small;
  if (k == "reclass") return K::reclass;
  if (k == "minmax") return K::minmax;
  if (k == "zscore") return K::zscore;
  if (k == "percentile") return K::percentile;
  if (k == "log") return K::log10;
  if (k == "clamp") return K::clamp;
  throw config_error("unknown transform kind '" + k + "'");
}

kernels::CombineMethod method_of(const std::string& m) {
  using M = kernels::CombineMethod;
  if (m == "weighted-sum") return M::weighted_sum;
  if (m == "fuzzy-and") return M::fuzzy_and;
  if (m == "fuzzy-or") return M::fuzzy_or;
  if (m == "fuzzy-product") return M::fuzzy_product;
  if (m == "fuzzy-sum") return M::fuzzy_sum;
  if (m == "fuzzy-gamma") return M::fuzzy_gamma;
  if (m == "index-overlay") return M::index_overlay;
  throw config_error("unknown combine method '" + m + "'");
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

/// Every listed CUDA device (all visible ones when the list is empty) as one backend.
std::unique_ptr<kernels::Backend> make_cuda_backends(const std::vector<int>& wanted,
                                                     int threads) {
  const int count = kernels::cuda_device_count();
  std::vector<int> ids = wanted;
  if (ids.empty()) {
    for (int d = 0; d < count; ++d) ids.push_back(d);
  }
  if (ids.empty()) ids.push_back(0);  // make_cuda_backend explains that there is none
  std::vector<std::unique_ptr<kernels::Backend>> parts;
  for (int d : ids) {
    // Out of device memory even in small chunks: that device's share moves to the CPU.
    parts.push_back(kernels::make_fallback_backend(
        kernels::make_cuda_backend(d), [threads] { return kernels::make_cpu_backend(threads); },
        [](const std::string& w) { gp::log::warning(w); }));
  }
  return kernels::make_multi_backend(std::move(parts));
}

DeviceChoice parse_device(const std::string& s) {
  if (s == "auto") return DeviceChoice::automatic;
  if (s == "cpu") return DeviceChoice::cpu;
  if (s == "cuda") return DeviceChoice::cuda;
  throw config_error("--device: unknown device '" + s + "' (expected auto, cpu or cuda)");
}

geo::Grid resolve_grid(const model::Model& m) {
  // Vector layers, territories, boundaries (issue 4, vector_plan.cpp): worked out there, from a
  // raster-only view of the model that comes back here.
  if (needs_vector_plan(m)) return resolve_vector_grid(m);
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
  g.crs_wkt = m.grid.crs ? geo::crs_wkt(*m.grid.crs, "[grid] crs") : first.crs_wkt;

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
                      text::shortest_plain(g.dx) + " x " + text::shortest_plain(g.dy));
  }
  constexpr std::int64_t max_side = (std::int64_t{1} << 31) - 1;
  if (g.width > max_side || g.height > max_side) {
    throw config_error("[grid]: " + std::to_string(g.width) + " x " + std::to_string(g.height) +
                       " cells exceeds the limit of 2^31-1 cells per side (check resolution)");
  }
  // Issue 9: a sane total (2^40 = 1.1e12 cells, e.g. the whole Earth at 40 m); more is a
  // resolution typed in the wrong unit, not a map. Beyond 2^32 cells is fine (64-bit indices).
  constexpr std::uint64_t max_cells = std::uint64_t{1} << 40;
  if (g.cells() > max_cells) {
    throw config_error("[grid]: " + std::to_string(g.width) + " x " + std::to_string(g.height) +
                       " cells exceeds the limit of 2^40 cells (check resolution: " +
                       text::shortest_plain(g.dx) + " x " + text::shortest_plain(g.dy) +
                       " CRS units per cell)");
  }
  return g;
}

std::vector<std::string> band_names(const model::Model& m) {
  std::vector<std::string> names{"prospectivity"};
  for (const auto& b : m.output.bands) {
    if (b != m.combine.final) names.push_back(b);
  }
  return names;
}

kernels::Program build_program(const model::Model& m,
                               const std::vector<kernels::LayerStats>& stats,
                               const std::vector<kernels::PercentileBuilder>& percentiles,
                               std::vector<double>& aux) {
  if (m.layers.size() > static_cast<std::size_t>(kernels::max_layers)) {
    throw config_error("model has " + std::to_string(m.layers.size()) + " layers (at most " +
                       std::to_string(kernels::max_layers) + " are supported)");
  }
  if (m.groups.size() > static_cast<std::size_t>(kernels::max_groups)) {
    throw config_error("model has " + std::to_string(m.groups.size()) + " groups (at most " +
                       std::to_string(kernels::max_groups) + " are supported)");
  }
  kernels::Program p;
  p.n_layers = static_cast<std::int32_t>(m.layers.size());
  p.out_nodata = static_cast<float>(m.output.nodata);
  int n_rules = 0;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& L = m.layers[i];
    const auto& T = L.transform;
    kernels::LayerOp& op = p.layers[i];
    op.weight = L.weight;
    op.skip_missing = L.missing_skip ? 1 : 0;
    kernels::TransformParams& t = op.transform;
    t.kind = kind_of(T.kind);
    t.invert = T.invert ? 1 : 0;
    const bool have_stats = i < stats.size() && stats[i].valid > 0;
    if (needs_stats(L) && !have_stats) {
      throw input_error(layer_what(L) + ": no valid cell on the grid (all nodata); its \"" +
                        T.kind + "\" transform needs statistics of the layer");
    }
    switch (t.kind) {
      case kernels::TransformKind::linear:
      case kernels::TransformKind::minmax:
        t.a = T.kind == "linear" && T.min ? *T.min : stats[i].min;
        t.b = T.kind == "linear" && T.max ? *T.max : stats[i].max;
        if (t.a == t.b) {
          gp::log::warning(layer_what(L) + ": the layer is " + text::shortest_plain(t.a) +
                           " everywhere on the grid; its favourability is 0 everywhere");
        }
        break;
      case kernels::TransformKind::large:
      case kernels::TransformKind::small:
      case kernels::TransformKind::gaussian:
      case kernels::TransformKind::near:
        t.a = *T.midpoint;
        t.b = *T.spread;
        break;
      case kernels::TransformKind::ms_large:
      case kernels::TransformKind::ms_small:
        t.a = stats[i].mean;
        t.b = stats[i].stddev();
        t.c = *T.a;
        t.d = *T.b;
        break;
      case kernels::TransformKind::zscore:
        t.a = stats[i].mean;
        t.b = stats[i].stddev();
        if (t.b == 0.0) {
          gp::log::warning(layer_what(L) + ": constant layer; its z-score is 0 everywhere");
        }
        break;
      case kernels::TransformKind::log10:
        t.a = T.offset;
        break;
      case kernels::TransformKind::clamp:
        t.a = *T.min;
        t.b = *T.max;
        break;
      case kernels::TransformKind::percentile: {
        const auto& pb = percentiles.at(i);
        const auto [first, count] = pb.append_knots(aux);
        t.first = first;
        t.count = count;
        // The knots' start table (see percentile_rank): its bins and range.
        if (pb.hi() > pb.lo()) {
          t.a = pb.lo();
          t.b = pb.hi();
          t.has_default = kernels::PercentileBuilder::coarse_bins;
        }
        break;
      }
      case kernels::TransformKind::reclass:
        if (n_rules + static_cast<int>(T.table.size()) > kernels::max_rules) {
          throw config_error(layer_what(L) + ": too many reclass entries (at most " +
                             std::to_string(kernels::max_rules) + " in a model)");
        }
        t.first = n_rules;
        t.count = static_cast<std::int32_t>(T.table.size());
        for (const auto& r : T.table) {
          kernels::ReclassRule& rule = p.rules[n_rules++];
          rule.lo = r.lo;
          rule.hi = r.hi;
          rule.score = r.score;
          rule.is_value = r.is_value ? 1 : 0;
        }
        t.has_default = T.fallback ? 1 : 0;
        t.fallback = T.fallback.value_or(0.0);
        break;
      case kernels::TransformKind::identity:
        break;
    }
  }

  // Groups in evaluation order: a group after every group it reads.
  std::vector<int> order;
  std::vector<int> state(m.groups.size(), 0);
  auto group_index = [&](const std::string& name) {
    for (std::size_t g = 0; g < m.groups.size(); ++g) {
      if (m.groups[g].name == name) return static_cast<int>(g);
    }
    return -1;
  };
  std::function<void(int)> visit = [&](int g) {
    if (state[static_cast<std::size_t>(g)] != 0) return;
    state[static_cast<std::size_t>(g)] = 1;
    for (const auto& in : m.groups[static_cast<std::size_t>(g)].inputs) {
      const int j = group_index(in);
      if (j >= 0) visit(j);
    }
    order.push_back(g);
  };
  for (std::size_t g = 0; g < m.groups.size(); ++g) visit(static_cast<int>(g));
  std::vector<int> node_of_group(m.groups.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    node_of_group[static_cast<std::size_t>(order[k])] = p.n_layers + static_cast<int>(k);
  }
  auto node_of = [&](const std::string& name) {
    for (std::size_t l = 0; l < m.layers.size(); ++l) {
      if (m.layers[l].name == name) return static_cast<int>(l);
    }
    const int g = group_index(name);
    if (g < 0) throw config_error("unknown layer or group '" + name + "'");
    return node_of_group[static_cast<std::size_t>(g)];
  };
  int n_inputs = 0;
  p.n_groups = static_cast<std::int32_t>(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    const model::GroupSpec& G = m.groups[static_cast<std::size_t>(order[k])];
    kernels::GroupOp& op = p.groups[k];
    op.method = method_of(G.method);
    op.gamma = G.gamma;
    op.skip_missing = G.missing_skip ? 1 : 0;
    op.first_input = n_inputs;
    op.n_inputs = static_cast<std::int32_t>(G.inputs.size());
    if (n_inputs + op.n_inputs > kernels::max_inputs) {
      throw config_error("model has more than " + std::to_string(kernels::max_inputs) +
                         " group inputs in all");
    }
    double wsum = 0.0;
    for (double w : G.weights) wsum += w;
    for (std::size_t j = 0; j < G.inputs.size(); ++j) {
      p.inputs[n_inputs] = node_of(G.inputs[j]);
      const double w = j < G.weights.size() ? G.weights[j] : 1.0;
      p.input_weights[n_inputs] = wsum > 0.0 ? w / wsum : 0.0;
      ++n_inputs;
    }
  }
  const std::vector<std::string> names = band_names(m);
  if (names.size() > static_cast<std::size_t>(kernels::max_bands)) {
    throw config_error("[output] bands: at most " + std::to_string(kernels::max_bands - 1) +
                       " extra bands");
  }
  p.n_bands = static_cast<std::int32_t>(names.size());
  p.bands[0] = node_of(m.combine.final);
  for (std::size_t b = 1; b < names.size(); ++b) p.bands[b] = node_of(names[b]);
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    if (m.layers[l].mask) p.mask_layer = static_cast<std::int32_t>(l);  // territory (issue 4)
  }
  return p;
}

std::int64_t default_window_cols(std::int64_t window_cells, std::int64_t width) {
  // Full width while one tile row of it fits in about `window_cells`; wider grids are cut into
  // windows of one tile row and whole column segments, so that memory stays bounded by the
  // window whatever the width (a CONUS-wide 30 m row is ~150 000 cells).
  const std::int64_t tile = geo::WriterOptions{}.tile;
  const std::int64_t seg = geo::segment_columns(tile);
  if (width <= seg || window_cells >= tile * width) return width;
  const std::int64_t cols = std::max<std::int64_t>(seg, window_cells / tile / seg * seg);
  return std::min(cols, width);
}

std::int64_t default_window_rows(std::int64_t window_cells, std::int64_t width,
                                 std::int64_t height) {
  // Whole rows of output tiles, so the writer never stages rows (geo::WriterOptions::tile):
  // about `window_cells` cells, at least one tile row.
  const std::int64_t tile = geo::WriterOptions{}.tile;
  const std::int64_t rows = window_cells / std::max<std::int64_t>(width, 1);
  const std::int64_t aligned = std::max<std::int64_t>(tile, rows / tile * tile);
  return std::min(aligned, std::max<std::int64_t>(height, 1));
}

namespace {

/// The run, with the files it must not overwrite: those of the model as the user wrote it
/// (a vector plan replaces vector layers by temporary rasters, and the inputs stay the user's).
RunResult run_model_protecting(const model::Model& m, const RunOptions& opt,
                               const std::vector<ProtectedInput>& inputs) {
  RunResult res;
  res.output = opt.output.empty() ? m.output.path : opt.output;
  if (res.output.empty()) {
    throw config_error("no output path: set [output] path in the model or pass -o OUT.tif");
  }
  StagedFiles(opt.overwrite, inputs).check(res.output);
  if (needs_vector_plan(m)) {
    // Issue 4: vector layers and the territory mask become temporary rasters on the grid (in
    // the output folder, removed when `plan` goes, also on failure); then a raster-only run.
    // Under mpirun every rank materialises its own copy (names carry the rank), so no rank
    // waits on another's files; the copies are identical, and each rank reads its windows.
    const VectorPlan plan(m, res.output, opt);
    return run_model_protecting(plan.model(), opt, inputs);
  }
  // Side files checked up front; every file of the run is staged in outputs.files().
  OutputSet outputs(m, res.output, opt.overwrite, opt.threads, inputs);
  const geo::Grid grid = resolve_grid(m);
  res.grid = grid;
  if (const std::string w = geo::area_of_use_warning(grid); !w.empty()) gp::log::warning(w);

  std::unique_ptr<kernels::Backend> backend;
  std::string why;
  switch (opt.device) {
    case DeviceChoice::cpu:
      backend = kernels::make_cpu_backend(opt.threads);
      why = "requested";
      break;
    case DeviceChoice::cuda:
      backend = make_cuda_backends(opt.devices, opt.threads);
      why = "requested";
      break;
    case DeviceChoice::automatic:
      if (kernels::cuda_device_count() > 0) {
        backend = make_cuda_backends(opt.devices, opt.threads);
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
                " cells of " + text::shortest_plain(grid.dx) + " x " + text::shortest_plain(grid.dy) +
                " in " + geo::crs_label_wkt(grid.crs_wkt));

  std::vector<std::unique_ptr<geo::RasterSource>> sources;
  for (const auto& L : m.layers) {
    sources.push_back(std::make_unique<geo::RasterSource>(L.path.string(), L.band, L.resampling,
                                                          grid, layer_what(L)));
    res.layer_modes.emplace_back(sources.back()->direct() ? "direct" : "warped");
  }

  // Windows: bands of whole tile rows, each cut into column windows of whole segments when
  // the grid is too wide for full-width windows (default_window_cols). Window w is column
  // window w % n_col_windows of band w / n_col_windows; an MPI rank owns whole bands.
  const std::int64_t cols_per_window =
      opt.window_rows > 0 ? grid.width : default_window_cols(opt.window_cells, grid.width);
  const std::int64_t rows_per_window =
      opt.window_rows > 0 ? opt.window_rows
      : cols_per_window < grid.width
          ? std::min<std::int64_t>(geo::WriterOptions{}.tile, grid.height)
          : default_window_rows(opt.window_cells, grid.width, grid.height);
  const std::int64_t n_col_windows = (grid.width + cols_per_window - 1) / cols_per_window;
  const std::size_t win_cells =
      static_cast<std::size_t>(std::min(rows_per_window, grid.height)) *
      static_cast<std::size_t>(cols_per_window);
  const std::size_t n_layers = m.layers.size();
  // Window buffers from the backend: pinned host memory on CUDA (full-speed transfers).
  std::vector<kernels::HostFloats> buf;
  for (std::size_t l = 0; l < n_layers; ++l) buf.push_back(backend->host_floats(win_cells));

  const std::int64_t n_bands_of_rows = (grid.height + rows_per_window - 1) / rows_per_window;
  const std::int64_t n_windows = n_bands_of_rows * n_col_windows;
  auto owns = [&](std::int64_t w) { return cluster::owns(w / n_col_windows); };
  auto owner = [&](std::int64_t w) { return cluster::owner(w / n_col_windows); };
  res.report["windows"] = {{"rows", rows_per_window}, {"cols", cols_per_window},
                           {"count", n_windows}};
  std::size_t n_stats_layers = 0;
  std::size_t n_pct_layers = 0;
  for (const auto& L : m.layers) {
    n_stats_layers += needs_stats(L) ? 1 : 0;
    n_pct_layers += L.transform.needs_percentiles() ? 1 : 0;
  }
  // Work units for the progress bar: one per layer-window read (refinement pass estimated).
  const double total_work = static_cast<double>(n_windows) *
                            static_cast<double>(n_layers + n_stats_layers + 2 * n_pct_layers);
  double done_work = 0.0;
  Progress bar(opt.progress);
  auto progress = [&](double add) {
    done_work += add;
    bar.update(std::min(1.0, done_work / total_work));
  };
  bar.update(0.0);

  auto window_at = [&](std::int64_t w) {
    geo::Window win;
    win.col = (w % n_col_windows) * cols_per_window;
    win.cols = std::min(cols_per_window, grid.width - win.col);
    win.row = (w / n_col_windows) * rows_per_window;
    win.rows = std::min(rows_per_window, grid.height - win.row);
    return win;
  };
  // Statistics of each row of a window, folded segment by segment (geo::column_segment) into
  // acc[0 .. win.rows): the same bits whether a row came in one window or in several.
  const std::int64_t seg_cols = geo::segment_columns(geo::WriterOptions{}.tile);
  std::vector<kernels::LayerStats> seg_tmp;
  // `row_stats(data, rows, length, out)`: Backend::row_stats or an equivalent.
  auto fold_rows = [&](auto&& row_stats, const float* data, const geo::Window& win,
                       kernels::LayerStats* acc) {
    const auto rows = static_cast<std::size_t>(win.rows);
    const auto cols = static_cast<std::size_t>(win.cols);
    const auto seg = static_cast<std::size_t>(seg_cols);
    const std::size_t full = cols / seg;
    const std::size_t rem = cols % seg;
    if (full == 0 || (full == 1 && rem == 0)) {  // one segment per row
      seg_tmp.resize(rows);
      row_stats(data, rows, cols, seg_tmp.data());
      for (std::size_t r = 0; r < rows; ++r) acc[r].merge(seg_tmp[r]);
      return;
    }
    if (rem == 0) {  // rows of whole segments: every segment is a "row" of seg cells
      seg_tmp.resize(rows * full);
      row_stats(data, rows * full, seg, seg_tmp.data());
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t k = 0; k < full; ++k) acc[r].merge(seg_tmp[r * full + k]);
      }
      return;
    }
    seg_tmp.resize(full + 1);
    for (std::size_t r = 0; r < rows; ++r) {
      row_stats(data + r * cols, full, seg, seg_tmp.data());
      row_stats(data + r * cols + full * seg, 1, rem, seg_tmp.data() + full);
      for (std::size_t k = 0; k <= full; ++k) acc[r].merge(seg_tmp[k]);
    }
  };

  // Statistics passes (only for layers whose transform needs them): moments and range, then
  // for percentile layers a histogram over the range and a refinement of its heavy bins.
  auto t_stats = Clock::now();
  std::vector<kernels::LayerStats> stats(n_layers);
  std::vector<kernels::PercentileBuilder> pct(n_layers);
  auto for_each_window = [&](auto&& wanted, auto&& fn) {
    for (std::int64_t w = 0; w < n_windows; ++w) {
      if (!owns(w)) continue;  // each MPI rank reads only its own windows
      const geo::Window win = window_at(w);
      for (std::size_t l = 0; l < n_layers; ++l) {
        if (!wanted(l)) continue;
        sources[l]->read(win, buf[l].data());
        fn(w, l, win);
        progress(static_cast<double>(cluster::size()));
      }
    }
  };
  if (n_stats_layers > 0) {
    // Per-row partial statistics, folded in row order: the result is the same bits whatever
    // the window size, thread count or number of MPI ranks.
    const auto H = static_cast<std::size_t>(grid.height);
    std::vector<kernels::LayerStats> per_row(H * n_layers);
    for_each_window([&](std::size_t l) { return needs_stats(m.layers[l]); },
                    [&](std::int64_t, std::size_t l, const geo::Window& win) {
                      fold_rows(
                          [&](const float* d, std::size_t r, std::size_t len,
                              kernels::LayerStats* o) { backend->row_stats(d, r, len, o); },
                          buf[l].data(), win,
                                per_row.data() + l * H + static_cast<std::size_t>(win.row));
                    });
    cluster::allreduce_bor(per_row.data(), per_row.size() * sizeof(kernels::LayerStats));
    for (std::size_t l = 0; l < n_layers; ++l) {
      for (std::size_t r = 0; r < H; ++r) stats[l].merge(per_row[l * H + r]);
    }
  }
  if (n_pct_layers > 0) {
    auto is_pct = [&](std::size_t l) {
      return m.layers[l].transform.needs_percentiles() && stats[l].valid > 0;
    };
    for (std::size_t l = 0; l < n_layers; ++l) {
      if (is_pct(l)) pct[l] = kernels::PercentileBuilder(stats[l].min, stats[l].max, stats[l].valid);
    }
    for_each_window(is_pct, [&](std::int64_t, std::size_t l, const geo::Window& win) {
      backend->histogram(buf[l].data(), win.cells(), pct[l].lo(), pct[l].hi(),
                         kernels::PercentileBuilder::coarse_bins, nullptr, 0, pct[l].coarse());
    });
    std::vector<bool> refine(n_layers, false);
    for (std::size_t l = 0; l < n_layers; ++l) {
      if (!is_pct(l)) continue;
      cluster::allreduce_sum(pct[l].coarse(), kernels::PercentileBuilder::coarse_bins);
      refine[l] = pct[l].plan_refinement();
    }
    for_each_window([&](std::size_t l) { return static_cast<bool>(refine[l]); },
                    [&](std::int64_t, std::size_t l, const geo::Window& win) {
                      backend->histogram(buf[l].data(), win.cells(), pct[l].lo(), pct[l].hi(),
                                         kernels::PercentileBuilder::coarse_bins, pct[l].slots(),
                                         kernels::PercentileBuilder::sub_bins, pct[l].fine());
                    });
    for (std::size_t l = 0; l < n_layers; ++l) {
      if (refine[l]) cluster::allreduce_sum(pct[l].fine(), pct[l].fine_size());
    }
  }
  res.seconds_stats = seconds_since(t_stats);
  res.layer_stats = stats;
  // Issue 5 (trained.hpp): weights of evidence / logistic regression train on the deposits
  // first; their program, band names and report sections replace the model's own. Under
  // mpirun every rank trains on its own windows and ends with the same program (issue 8).
  std::unique_ptr<Trained> trained;
  if (is_trained_method(m)) {
    trained = train_model({m, grid, sources, *backend, rows_per_window, res.output,
                           outputs.files(), cols_per_window});
  }
  std::vector<double> aux;
  const kernels::Program program = trained ? trained->program : build_program(m, stats, pct, aux);
  if (trained) aux = trained->aux;
  backend->set_program(program, aux);

  // Scoring pass: read every layer's window, one fused kernel for the whole network, write.
  auto t_score = Clock::now();
  const std::vector<std::string> names = trained ? trained->band_names : band_names(m);
  const std::size_t n_bands = names.size();
  geo::WriterOptions wopt;
  wopt.compress = m.output.compress;
  wopt.predictor = m.output.compress == "ZSTD" || m.output.compress == "DEFLATE" ||
                           m.output.compress == "LZW"
                       ? 3
                       : 1;
  wopt.nodata = m.output.nodata;
  wopt.report_as = res.output;  // messages name the map asked for, not its staging name
  wopt.threads = opt.threads;
  wopt.band_descriptions = names;
  wopt.metadata["GP_MODEL_NAME"] = m.name;
  wopt.metadata["GP_MODEL_SHA256"] = m.sha256;
  wopt.metadata["GP_VERSION"] = GP_VERSION;
  wopt.metadata["GP_FINAL_GROUP"] = m.combine.final;
  outputs.configure_writer(wopt);  // the staging file's codec (issue 7)
  // Only rank 0 writes (the other MPI ranks send it their windows).
  std::optional<geo::RasterWriter> writer;
  if (cluster::is_root()) writer.emplace(outputs.map_temp(), grid, wopt);

  // Window buffers: `depth` slots circulate between reading (a reader thread), scoring (this
  // thread) and encoding/writing (a writer thread), so the three overlap (pipeline.hpp).
  struct Slot {
    std::vector<kernels::HostFloats> in;
    std::vector<kernels::HostFloats> out;
    std::vector<const float*> in_ptrs;
    std::vector<float*> out_ptrs;
  };
  const int depth = std::max(1, opt.pipeline_depth);
  std::vector<Slot> slots(static_cast<std::size_t>(depth));
  for (std::size_t k = 0; k < slots.size(); ++k) {
    Slot& sl = slots[k];
    if (k == 0) {
      sl.in = std::move(buf);  // the statistics passes' buffers
    } else {
      for (std::size_t l = 0; l < n_layers; ++l) sl.in.push_back(backend->host_floats(win_cells));
    }
    for (std::size_t b = 0; b < n_bands; ++b) sl.out.push_back(backend->host_floats(win_cells));
    for (auto& v : sl.in) sl.in_ptrs.push_back(v.data());
    for (auto& v : sl.out) sl.out_ptrs.push_back(v.data());
  }
  std::vector<kernels::LayerStats> band_acc(n_bands);
  const float nd = program.out_nodata;
  // Per band, the rows of the current band of windows, folded segment by segment as its column
  // windows come, then into band_acc row by row once the band is complete.
  const auto band_rows = static_cast<std::size_t>(std::min(rows_per_window, grid.height));
  std::vector<std::vector<kernels::LayerStats>> row_acc(n_bands,
                                                        std::vector<kernels::LayerStats>(band_rows));
  std::vector<kernels::LayerStats> seg_stats;  // the current window's, [band][row][segment]
  // Issue 9: valid cells per layer on the grid (an all-nodata layer is refused below) and
  // NaN/infinity counted by the sources in this pass only (the statistics pass read some too).
  std::vector<std::uint64_t> layer_valid(n_layers, 0);
  std::vector<std::uint64_t> invalid_before(n_layers, 0);
  std::vector<std::uint64_t> valid_before(n_layers, 0);
  for (std::size_t l = 0; l < n_layers; ++l) {
    invalid_before[l] = sources[l]->invalid_cells();
    valid_before[l] = sources[l]->valid_cells();
  }
  const bool root = cluster::is_root();
  // Testing hook: GP_TEST_FAIL_RANK=r makes rank r fail at its second window (tests/cli/mpi_test.sh).
  const char* fault_env = std::getenv("GP_TEST_FAIL_RANK");
  const int fault_rank = fault_env != nullptr ? std::atoi(fault_env) : -1;
  run_pipeline(
      n_windows, depth,
      [&](std::int64_t w, int s) {  // reader thread: only this rank's windows
        if (!owns(w)) return;
        if (fault_rank >= 0 && cluster::rank() == fault_rank && w >= cluster::size()) {
          throw input_error("injected fault on rank " + std::to_string(fault_rank) +
                            " (GP_TEST_FAIL_RANK)");
        }
        const geo::Window win = window_at(w);
        Slot& sl = slots[static_cast<std::size_t>(s)];
        for (std::size_t l = 0; l < n_layers; ++l) sources[l]->read(win, sl.in[l].data());
      },
      [&](std::int64_t w, int s) {  // this thread: score, or move windows between ranks
        const geo::Window win = window_at(w);
        Slot& sl = slots[static_cast<std::size_t>(s)];
        const std::size_t cells = win.cells();
        const auto rows = static_cast<std::size_t>(win.rows);
        const auto cols = static_cast<std::size_t>(win.cols);
        const auto seg = static_cast<std::size_t>(seg_cols);
        const std::size_t n_seg = (cols + seg - 1) / seg;
        // Band statistics (rank 0, every window in order), per row segment (fold_rows' cut):
        // the map's nodata value counts as invalid; its invalid cells are the band's nodata.
        seg_stats.resize(n_bands * rows * n_seg);
        if (owns(w)) {
          if (!root) {
            backend->score(sl.in_ptrs.data(), cells, sl.out_ptrs.data());
            for (std::size_t b = 0; b < n_bands; ++b) cluster::send_floats(sl.out_ptrs[b], cells, 0, w);
            return;
          }
          backend->score_with_stats(sl.in_ptrs.data(), rows, cols, sl.out_ptrs.data(), n_bands, nd,
                                    seg, seg_stats.data(), opt.threads);
        } else if (root) {
          for (std::size_t b = 0; b < n_bands; ++b) {
            cluster::recv_floats(sl.out_ptrs[b], cells, owner(w), w);
            kernels::segment_stats_excluding(sl.out_ptrs[b], rows, cols, seg, nd,
                                             seg_stats.data() + b * rows * n_seg, opt.threads);
          }
        } else {
          return;
        }
        // Issue 5: the trained method sees every scored window in order, on rank 0 (which
        // finishes the report), as it would in one process.
        if (trained) trained->on_window(sl.out_ptrs.data(), cells);
        for (std::size_t b = 0; b < n_bands; ++b) {
          auto& rows_b = row_acc[b];
          if (win.col == 0) std::fill(rows_b.begin(), rows_b.end(), kernels::LayerStats{});
          const kernels::LayerStats* st = seg_stats.data() + b * rows * n_seg;
          for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t k = 0; k < n_seg; ++k) rows_b[r].merge(st[r * n_seg + k]);
          }
          if (win.col + win.cols == grid.width) {
            for (std::int64_t r = 0; r < win.rows; ++r) band_acc[b].merge(rows_b[static_cast<std::size_t>(r)]);
          }
        }
        progress(static_cast<double>(n_layers));
      },
      [&](std::int64_t w, int s) {  // writer thread: rank 0 writes every window in order
        if (!root) return;
        const geo::Window win = window_at(w);
        if (win.cols == grid.width) {
          writer->write_rows(slots[static_cast<std::size_t>(s)].out_ptrs.data(), win.rows);
        } else {
          writer->write_window(slots[static_cast<std::size_t>(s)].out_ptrs.data(), win);
        }
      });
  // Per-layer valid counts of every rank (each rank read its own windows in this pass).
  for (std::size_t l = 0; l < n_layers; ++l) {
    layer_valid[l] = sources[l]->valid_cells() - valid_before[l];
  }
  cluster::allreduce_sum(layer_valid.data(), layer_valid.size());
  if (!root) {
    res.seconds_score = seconds_since(t_score);
    return res;  // rank 0 finishes, checks and writes the outputs
  }
  for (std::size_t b = 0; b < n_bands; ++b) {
    BandStats bs;
    bs.name = names[b];
    bs.valid = band_acc[b].valid;
    bs.nodata = band_acc[b].invalid;  // cells holding the nodata value (or not a number)
    bs.min = band_acc[b].min;
    bs.max = band_acc[b].max;
    bs.mean = band_acc[b].mean;
    bs.stddev = band_acc[b].stddev();
    if (bs.valid > 0) {
      writer->set_statistics(static_cast<int>(b) + 1, bs.min, bs.max, bs.mean, bs.stddev);
    }
    res.bands.push_back(bs);
  }
  res.valid_cells = res.bands[0].valid;
  res.nodata_cells = res.bands[0].nodata;
  res.min = res.bands[0].min;
  res.max = res.bands[0].max;
  res.mean = res.bands[0].mean;
  // Issue 9: NaN / infinity inside valid cells are nodata, counted and reported; a layer with
  // no valid cell on the grid, or a map with no valid cell, is an error (no output), not a map.
  nlohmann::ordered_json invalid_report = nlohmann::ordered_json::object();
  for (std::size_t l = 0; l < n_layers; ++l) {
    const auto& L = m.layers[l];
    res.layer_invalid.push_back(sources[l]->invalid_cells() - invalid_before[l]);
    invalid_report[L.name] = res.layer_invalid.back();
    if (res.layer_invalid.back() > 0) {
      gp::log::warning(layer_what(L) + ": " + std::to_string(res.layer_invalid.back()) +
                       " cells hold NaN or infinity (not its nodata value); treated as nodata");
    }
    if (layer_valid[l] == 0) {
      const std::string empty = layer_what(L) + ": " + L.path.string() +
                                " has no valid cell on the grid (every cell is nodata: check its "
                                "nodata value, band and extent)";
      if (!L.missing_skip) throw input_error(empty + "; the map would be all nodata");
      gp::log::warning(empty + "; it is skipped everywhere (missing = \"skip\")");
    }
  }
  res.report["invalid_input_cells"] = invalid_report;
  if (res.valid_cells == 0) {
    throw input_error("every cell of the result is nodata: no cell of the grid has valid values "
                      "in all the layers it needs (check the layers' nodata values and extents)");
  }
  writer->close();
  res.seconds_score = seconds_since(t_score);
  bar.update(1.0);
  // Issue 6: [validation] and [uncertainty] on the committed map (gp/cli/uncertainty.hpp).
  run_analyses(m, opt,
               {grid, program, aux, sources, rows_per_window, outputs.map_temp(), cols_per_window,
                outputs.files()},
               res);
  if (trained) trained->before_outputs(res);  // issue 5: report sections, weights tables
  outputs.finish(res);  // COG, classes, styles, quicklook, report; then all into place
  return res;
}

}  // namespace

RunResult run_model(const model::Model& m, const RunOptions& opt) {
  return run_model_protecting(m, opt, run_inputs(m));
}

}  // namespace gp::cli
