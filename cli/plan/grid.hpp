#pragma once
// The target grid of a model, and its limits, in one place: [grid] keys and the layers'
// footprints (plan/vector_plan.hpp for models with vector layers, a territory or a boundary).

#include "model/model.hpp"

#include "gp/geo/grid.hpp"

namespace gp::cli {

/// The target grid worked out from a model: [grid] keys and the layers' footprints.
/// Throws gp::config_error / gp::input_error.
geo::Grid resolve_grid(const model::Model& m);

/// Refuses [grid] numbers in the wrong unit for the grid CRS `crs_wkt` (gp::config_error, exit
/// 3): an extent whose numbers all look like longitude/latitude on a projected CRS, a
/// resolution over 10 on a degree CRS (metres typed for degrees).
void check_grid_units(const model::GridSpec& spec, const std::string& crs_wkt);

/// Refuses a grid too large to be meant (gp::config_error, exit 3): more than 2^31-1 cells on a
/// side or more than 2^40 cells, naming the resolution and the CRS unit.
void check_grid_size(const geo::Grid& g);

}  // namespace gp::cli
