#pragma once
// geo/-private: CRS helpers on OGRSpatialReference (traditional GIS axis order). Outside geo/
// CRSs travel as WKT text (gp/geo/crs.hpp).

#include <ogr_spatialref.h>

#include <string>

namespace gp::geo {

/// Parses any CRS string GDAL/PROJ accepts ("EPSG:3577", WKT, PROJ string, ...).
/// Throws gp::config_error naming `what` (e.g. "[grid] crs") when it is not a CRS.
OGRSpatialReference parse_crs(const std::string& text, const std::string& what);

/// WKT2 of a CRS.
std::string to_wkt(const OGRSpatialReference& srs);

/// Short label for messages and logs: "EPSG:3577" when it has an EPSG code, else its name.
std::string crs_label(const OGRSpatialReference& srs);

}  // namespace gp::geo
