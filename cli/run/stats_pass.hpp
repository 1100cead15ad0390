#pragma once
// The statistics pass, for layers whose transform needs whole-grid numbers: moments and range
// of each layer (per-row partials folded in row order, so the bits do not depend on the window
// size, the thread count or the number of MPI ranks), then for percentile layers a histogram
// over the range and a refinement of its heavy bins.

#include "model/model.hpp"
#include "plan/windows.hpp"

#include "gp/geo/raster_source.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/percentile.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace gp::cli {

struct LayerStatistics {
  std::vector<kernels::LayerStats> stats;              ///< per layer (empty where not needed)
  std::vector<kernels::PercentileBuilder> percentiles;  ///< per layer (percentile transforms)
};

/// Reads every window this rank owns of the layers that need statistics into `buffers[l]`
/// and reduces them; `progress(units)` is called after each layer-window read. Collective
/// under MPI: every rank returns the same numbers.
LayerStatistics gather_layer_statistics(
    const model::Model& m, std::vector<std::unique_ptr<geo::RasterSource>>& sources,
    const WindowPlan& windows, kernels::Backend& backend,
    std::vector<kernels::HostFloats>& buffers, const std::function<void(double)>& progress);

/// The run report's "transform_stats": per layer whose transform needs statistics, the numbers
/// it used (cells counted, min, max, mean, std; the range of minmax / linear, a x mean and
/// b x std of ms-large / ms-small, percentile values of percentile), over the valid cells
/// inside the territory / boundary mask. An empty object when no layer needs statistics.
nlohmann::ordered_json transform_stats_json(const model::Model& m, const LayerStatistics& ls);

/// Layer-window reads the statistics pass makes per window (for a progress estimate).
std::size_t statistics_reads_per_window(const model::Model& m);

}  // namespace gp::cli
