#pragma once
// Coordinate reference systems as WKT text. Parsing goes through GDAL/PROJ inside geo/
// (OGRSpatialReference with the traditional GIS axis order: geo/src/ogr_crs.hpp).

#include <string>

namespace gp::geo {

/// WKT2 of any CRS string GDAL/PROJ accepts ("EPSG:3577", WKT, PROJ string, ...).
/// Throws gp::config_error naming `what` (e.g. "[grid] crs") when it is not a CRS.
std::string crs_wkt(const std::string& text, const std::string& what);

/// Short label for messages and logs: "EPSG:3577" when it has an EPSG code, else its name.
std::string crs_label_wkt(const std::string& wkt);

/// The unit of a CRS's coordinates, for telling a number typed in the wrong unit (degrees on a
/// metre CRS and the other way round).
struct CrsUnit {
  bool angular{false};  ///< a geographic CRS (degrees); else linear (projected)
  std::string name;     ///< "degree", "metre", "US survey foot", ...
  double to_base{1.0};  ///< metres (linear) or radians (angular) per unit
};
/// The unit of `wkt`'s axes; {false, "unknown", 1} when it cannot be read.
CrsUnit crs_unit(const std::string& wkt);

/// True when two WKTs describe the same CRS (axis order ignored, as GDAL does for warping).
bool same_crs(const std::string& wkt_a, const std::string& wkt_b);

}  // namespace gp::geo
