#pragma once
// Model + whole-grid statistics -> the per-cell program the kernels run (kernels/program.hpp):
// each layer's transform with its numbers, the groups in evaluation order with normalised
// weights, the output bands and the mask layer. To add a transform: its kind in
// model/model.hpp (and the reader), its parameters here (transform_params), its math in
// kernels/include/gp/kernels/cell_ops.hpp.

#include "model/model.hpp"

#include "gp/kernels/backend.hpp"
#include "gp/kernels/percentile.hpp"
#include "gp/kernels/program.hpp"

#include <string>
#include <vector>

namespace gp::cli {

/// True when the layer's transform needs whole-grid statistics (range, moments, percentiles).
bool needs_stats(const model::LayerSpec& L);

/// Names of the output bands: "prospectivity" for the final map, then [output] bands.
std::vector<std::string> band_names(const model::Model& m);

/// The per-cell program for a model. `stats[l]` holds whole-grid statistics of layer l where
/// its transform needs them; `aux` receives the percentile knots (built from `percentiles`,
/// one per layer, used where the transform is "percentile").
kernels::Program build_program(const model::Model& m,
                               const std::vector<kernels::LayerStats>& stats,
                               const std::vector<kernels::PercentileBuilder>& percentiles,
                               std::vector<double>& aux);

/// The layers of build_program's program only (transforms, mask, nodata; no group, no band):
/// what the tree ensembles (train/trees.cpp) put their trees on.
void build_layers(const model::Model& m, const std::vector<kernels::LayerStats>& stats,
                  const std::vector<kernels::PercentileBuilder>& percentiles,
                  std::vector<double>& aux, kernels::Program& p);

}  // namespace gp::cli
