#include "gp/geo/cell_area.hpp"

#include "gp/error.hpp"

#include <ogr_spatialref.h>

namespace gp::geo {

double linear_unit_m(const std::string& crs_wkt, const std::string& what) {
  OGRSpatialReference srs;
  if (crs_wkt.empty() || srs.importFromWkt(crs_wkt.c_str()) != OGRERR_NONE) {
    throw input_error(what + ": the grid has no usable CRS (expected a projected CRS in metres)");
  }
  if (!srs.IsProjected()) {
    throw input_error(what + ": the grid CRS is not projected (areas in km² need a projected, "
                             "preferably equal-area, CRS: set [grid] crs)");
  }
  const double m = srs.GetLinearUnits(nullptr);
  if (!(m > 0.0)) throw input_error(what + ": the grid CRS has no linear unit");
  return m;
}

double cell_area_km2(const Grid& grid, const std::string& what) {
  const double m = linear_unit_m(grid.crs_wkt, what);
  return grid.dx * m * grid.dy * m / 1.0e6;
}

}  // namespace gp::geo
