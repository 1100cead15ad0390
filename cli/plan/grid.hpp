#pragma once
// The target grid of a model, and its limits, in one place: [grid] keys and the layers'
// footprints (plan/vector_plan.hpp for models with vector layers, a territory or a boundary).

#include "model/model.hpp"

#include "gp/geo/grid.hpp"

namespace gp::cli {

/// The target grid worked out from a model: [grid] keys and the layers' footprints.
/// Throws gp::config_error / gp::input_error.
geo::Grid resolve_grid(const model::Model& m);

}  // namespace gp::cli
