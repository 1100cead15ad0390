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

/// One band of the contributions program: what input `input` (an index into Program::inputs)
/// adds to the group of node `group_node`.
struct ContributionBand {
  int group_node{0};
  int input{0};
  std::string input_name;
  std::string group_name;
  kernels::CombineMethod method{kernels::CombineMethod::weighted_sum};
  /// A TreeSHAP band (method tree_ensemble): the input buffer (model layer) whose SHAP value it
  /// holds, group_node the score's node; -1 otherwise.
  int source{-1};
};

/// The program behind `[output] contributions`: `map`'s network with band 0 = the map's score
/// (map.bands[0]), then one band per input of every group that the score depends on and that
/// has per-input shares (kernels::input_contribution: not wofe_std, ratio, tree_ensemble), in
/// evaluation order; or, when the score depends on tree ensembles, one TreeSHAP band per layer
/// their inputs read (kernels::tree_shap_sources: a categorical layer's class indicators in
/// one band; pu-bagging's bags averaged). `node_names` names each node of `map` (layers, then
/// groups). `bands` receives the contribution bands (band 1 onwards); none when the score's
/// group has no shares. Throws gp::config_error when they do not fit kernels::max_bands.
kernels::Program contributions_program(const kernels::Program& map,
                                       const std::vector<std::string>& node_names,
                                       std::vector<ContributionBand>& bands);

}  // namespace gp::cli
