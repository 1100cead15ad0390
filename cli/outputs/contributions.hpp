#pragma once
// `[output] contributions = true`: why each cell scores high. After the map, one more pass over
// the windows evaluates the map's program with contribution bands (plan/program.hpp
// contributions_program, kernels::input_contribution on the CPU and CUDA alike) and writes
//
//   <base>_contributions.tif        Float32, the map's grid and nodata; one band per input of
//                                   each group the score depends on (one per layer for a simple
//                                   model; per layer and per group in a network), each band
//                                   described as "<input> -> <group>: <method> <what>"
//   <base>_contributions.qml        diverging QGIS style of band 1 (loaded with the raster)
//   <base>_contributions_b<k>.qml   the same style for band k (QGIS: Load Style)
//   <base>_contributions_b<k>.png   quicklook of band k (diverging ramp)
//
// What a band holds, by the group's method (additive where the method is):
//   weighted sum / index overlay: w_i f_i after the missing = "skip" renormalisation; the
//       bands of a group sum to its value;
//   weights of evidence: the weight applied in the cell; logit(prior) + their sum =
//       logit(posterior);
//   logistic regression: beta_i x_i (x_i standardised); intercept + their sum = logit(p);
//   fuzzy operators: the layer's membership (not additive);
//   tree ensembles: the layer's TreeSHAP value (path-dependent, XGBoost's pred_contribs, in
//       margin units: kernels/tree_shap.hpp), a categorical layer's class indicators summed;
//       base value + their sum = margin = logit(p). The base value is in each band's metadata
//       (GP_TREESHAP_BASE_VALUE), its description and the report. pu-bagging: the mean over the
//       bags of each bag's SHAP (base + sum = the mean of the bags' margins, not the logit of
//       the map's mean probability). O(trees x leaves x depth^2) per cell: the run logs one line
//       on the cost (README: measured rates).
// Additive bands are styled over [-M, M] (M the band's largest magnitude), white at 0;
// memberships over [0, 1], white at 0.5. The report's "contributions" section lists the bands
// and, for the top 1 % of valid cells (the ceil(valid / 100) highest scores, ties by cell order,
// row-major), the mean contribution of each band (over the cells where it holds data).

#include "analysis/uncertainty.hpp"
#include "model/model.hpp"
#include "run/runner.hpp"

namespace gp::cli {

/// Writes the contributions of `m`'s map (see above) when [output] contributions is true, and
/// adds res.report["contributions"]. `res.valid_cells` must hold the map's valid cells.
/// Throws gp::config_error / gp::io_error.
void write_contributions(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                         RunResult& res);

}  // namespace gp::cli
