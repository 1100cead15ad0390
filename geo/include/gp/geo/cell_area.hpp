#pragma once
// Cell areas on a grid (weights of evidence measures areas in km² and unit cells).

#include "gp/geo/grid.hpp"

namespace gp::geo {

/// Metres per linear unit of a projected CRS (WKT). Throws gp::input_error naming `what` when
/// the CRS is geographic or has no linear unit (cell areas would vary across the grid).
double linear_unit_m(const std::string& crs_wkt, const std::string& what);

/// Area of one cell of `grid` in km² (projected CRS only; see linear_unit_m).
double cell_area_km2(const Grid& grid, const std::string& what);

}  // namespace gp::geo
