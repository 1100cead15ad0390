#include "run/stats_pass.hpp"

#include "model/names.hpp"
#include "plan/program.hpp"
#include "run/cluster.hpp"

#include "gp/geo/raster_writer.hpp"
#include "gp/kernels/cell_ops.hpp"

#include <limits>

namespace gp::cli {

namespace {

/// Statistics of each row of a window, folded segment by segment (geo::segment_columns) into
/// acc[0 .. win.rows): the same bits whether a row came in one window or in several.
class RowFolder {
 public:
  RowFolder(kernels::Backend& backend, std::int64_t seg_cols)
      : backend_(backend), seg_(static_cast<std::size_t>(seg_cols)) {}

  void fold(const float* data, const geo::Window& win, kernels::LayerStats* acc) {
    const auto rows = static_cast<std::size_t>(win.rows);
    const auto cols = static_cast<std::size_t>(win.cols);
    const std::size_t full = cols / seg_;
    const std::size_t rem = cols % seg_;
    if (full == 0 || (full == 1 && rem == 0)) {  // one segment per row
      tmp_.resize(rows);
      backend_.row_stats(data, rows, cols, tmp_.data());
      for (std::size_t r = 0; r < rows; ++r) acc[r].merge(tmp_[r]);
      return;
    }
    if (rem == 0) {  // rows of whole segments: every segment is a "row" of seg cells
      tmp_.resize(rows * full);
      backend_.row_stats(data, rows * full, seg_, tmp_.data());
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t k = 0; k < full; ++k) acc[r].merge(tmp_[r * full + k]);
      }
      return;
    }
    tmp_.resize(full + 1);
    for (std::size_t r = 0; r < rows; ++r) {
      backend_.row_stats(data + r * cols, full, seg_, tmp_.data());
      backend_.row_stats(data + r * cols + full * seg_, 1, rem, tmp_.data() + full);
      for (std::size_t k = 0; k <= full; ++k) acc[r].merge(tmp_[k]);
    }
  }

 private:
  kernels::Backend& backend_;
  std::size_t seg_;
  std::vector<kernels::LayerStats> tmp_;
};

/// Cells outside the territory / boundary mask (nodata in `mask`) become NaN in `data`, so that
/// the statistics cover the cells the map covers: the scoring pass makes every band nodata
/// there (Program::mask_layer), and a maximum outside would squeeze the values inside.
void apply_mask(const float* mask, std::size_t cells, float* data) {
  for (std::size_t i = 0; i < cells; ++i) {
    if (!kernels::is_valid(static_cast<double>(mask[i]))) data[i] = std::numeric_limits<float>::quiet_NaN();
  }
}

/// Reads, for every window this rank owns, each layer `wanted(l)` and calls fn(l, window);
/// with a mask layer (model::mask_layer, the one the scoring pass uses), its window is read
/// first and the cells outside it are left out of every layer's window.
template <class Wanted, class Fn>
void for_each_layer_window(const model::Model& m,
                           std::vector<std::unique_ptr<geo::RasterSource>>& sources,
                           const WindowPlan& windows, std::vector<kernels::HostFloats>& buffers,
                           const std::function<void(double)>& progress, Wanted&& wanted,
                           Fn&& fn) {
  const int mask = model::mask_layer(m);
  for (std::int64_t w = 0; w < windows.count(); ++w) {
    if (!windows.owned(w)) continue;  // each MPI rank reads only its own windows
    const geo::Window win = windows.at(w);
    bool mask_read = false;
    for (std::size_t l = 0; l < sources.size(); ++l) {
      if (!wanted(l) || static_cast<int>(l) == mask) continue;
      if (mask >= 0 && !mask_read) {
        sources[static_cast<std::size_t>(mask)]->read(win, buffers[static_cast<std::size_t>(mask)].data());
        mask_read = true;
      }
      sources[l]->read(win, buffers[l].data());
      if (mask >= 0) apply_mask(buffers[static_cast<std::size_t>(mask)].data(), win.cells(), buffers[l].data());
      fn(l, win);
      progress(static_cast<double>(cluster::size()));
    }
  }
}

/// The value below which a fraction `p` of the cells lies, from a percentile layer's knots
/// (values, then fractions below; as PercentileBuilder::append_knots lays them out): the inverse
/// of the piecewise-linear rank the kernels interpolate.
double knot_quantile(const std::vector<double>& aux, std::size_t count, double p) {
  const double* v = aux.data();
  const double* f = aux.data() + count;
  if (count == 1 || p <= f[0]) return v[0];
  for (std::size_t k = 0; k + 1 < count; ++k) {
    if (f[k + 1] < p) continue;
    const double span = f[k + 1] - f[k];
    return span > 0.0 ? v[k] + (p - f[k]) / span * (v[k + 1] - v[k]) : v[k];
  }
  return v[count - 1];
}

/// The transform-specific part of a layer's transform_stats entry.
void add_transform_numbers(const model::LayerSpec& L, const kernels::LayerStats& st,
                           const kernels::PercentileBuilder& pb, nlohmann::ordered_json& e) {
  const auto& T = L.transform;
  if (T.needs_minmax()) {
    // Linear with one end given uses that end and the layer's other (as build_program does).
    const bool lin = T.kind == model::TransformKind::linear;
    e["range_used"] = {lin && T.min ? *T.min : st.min, lin && T.max ? *T.max : st.max};
  }
  if (T.kind == model::TransformKind::ms_large || T.kind == model::TransformKind::ms_small) {
    e["a"] = *T.a;
    e["b"] = *T.b;
    e["a_times_mean"] = *T.a * st.mean;
    e["b_times_std"] = *T.b * st.stddev();
  }
  if (T.needs_percentiles()) {
    std::vector<double> aux;
    const auto count = static_cast<std::size_t>(pb.append_knots(aux).second);
    nlohmann::ordered_json q = nlohmann::ordered_json::object();
    for (const int p : {1, 5, 10, 25, 50, 75, 90, 95, 99}) {
      q[std::to_string(p)] = knot_quantile(aux, count, p / 100.0);
    }
    e["percentiles"] = q;
    e["knots"] = count;
  }
}

}  // namespace

nlohmann::ordered_json transform_stats_json(const model::Model& m, const LayerStatistics& ls) {
  const int mask = model::mask_layer(m);
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (std::size_t l = 0; l < m.layers.size() && l < ls.stats.size(); ++l) {
    const auto& L = m.layers[l];
    if (!needs_stats(L) || static_cast<int>(l) == mask) continue;
    const kernels::LayerStats& st = ls.stats[l];
    nlohmann::ordered_json e;
    e["transform"] = model::name_str(L.transform.kind);
    e["cells"] = st.valid;
    e["inside_mask"] = mask >= 0 ? nlohmann::ordered_json(m.layers[static_cast<std::size_t>(mask)].name)
                                 : nlohmann::ordered_json();
    e["min"] = st.min;
    e["max"] = st.max;
    e["mean"] = st.mean;
    e["std"] = st.stddev();
    if (st.valid > 0) add_transform_numbers(L, st, ls.percentiles[l], e);
    out[L.name] = e;
  }
  return out;
}

std::size_t statistics_reads_per_window(const model::Model& m) {
  std::size_t n = 0;
  for (const auto& L : m.layers) {
    n += needs_stats(L) ? 1 : 0;
    n += L.transform.needs_percentiles() ? 2 : 0;  // histogram and refinement passes
  }
  return n;
}

LayerStatistics gather_layer_statistics(
    const model::Model& m, std::vector<std::unique_ptr<geo::RasterSource>>& sources,
    const WindowPlan& windows, kernels::Backend& backend,
    std::vector<kernels::HostFloats>& buffers, const std::function<void(double)>& progress) {
  const std::size_t n_layers = m.layers.size();
  LayerStatistics out;
  out.stats.resize(n_layers);
  out.percentiles.resize(n_layers);
  auto& stats = out.stats;
  auto& pct = out.percentiles;
  bool any_stats = false;
  bool any_pct = false;
  for (const auto& L : m.layers) {
    any_stats = any_stats || needs_stats(L);
    any_pct = any_pct || L.transform.needs_percentiles();
  }
  if (any_stats) {
    // Per-row partial statistics, folded in row order.
    const auto H = static_cast<std::size_t>(windows.height);
    std::vector<kernels::LayerStats> per_row(H * n_layers);
    RowFolder folder(backend, geo::segment_columns(geo::WriterOptions{}.tile));
    for_each_layer_window(
        m, sources, windows, buffers, progress, [&](std::size_t l) { return needs_stats(m.layers[l]); },
        [&](std::size_t l, const geo::Window& win) {
          folder.fold(buffers[l].data(), win,
                      per_row.data() + l * H + static_cast<std::size_t>(win.row));
        });
    cluster::allreduce_bor(per_row.data(), per_row.size() * sizeof(kernels::LayerStats));
    for (std::size_t l = 0; l < n_layers; ++l) {
      for (std::size_t r = 0; r < H; ++r) stats[l].merge(per_row[l * H + r]);
    }
  }
  if (!any_pct) return out;
  auto is_pct = [&](std::size_t l) {
    return m.layers[l].transform.needs_percentiles() && stats[l].valid > 0;
  };
  for (std::size_t l = 0; l < n_layers; ++l) {
    if (is_pct(l)) pct[l] = kernels::PercentileBuilder(stats[l].min, stats[l].max, stats[l].valid);
  }
  using PB = kernels::PercentileBuilder;
  for_each_layer_window(m, sources, windows, buffers, progress, is_pct,
                        [&](std::size_t l, const geo::Window& win) {
                          backend.histogram(buffers[l].data(), win.cells(), pct[l].lo(),
                                            pct[l].hi(), PB::coarse_bins, nullptr, 0,
                                            pct[l].coarse());
                        });
  std::vector<bool> refine(n_layers, false);
  for (std::size_t l = 0; l < n_layers; ++l) {
    if (!is_pct(l)) continue;
    cluster::allreduce_sum(pct[l].coarse(), PB::coarse_bins);
    refine[l] = pct[l].plan_refinement();
  }
  for_each_layer_window(
      m, sources, windows, buffers, progress, [&](std::size_t l) { return static_cast<bool>(refine[l]); },
      [&](std::size_t l, const geo::Window& win) {
        backend.histogram(buffers[l].data(), win.cells(), pct[l].lo(), pct[l].hi(),
                          PB::coarse_bins, pct[l].slots(), PB::sub_bins, pct[l].fine());
      });
  for (std::size_t l = 0; l < n_layers; ++l) {
    if (refine[l]) cluster::allreduce_sum(pct[l].fine(), pct[l].fine_size());
  }
  return out;
}

}  // namespace gp::cli
