#include "gp/geo/crs.hpp"

#include "ogr_crs.hpp"
#include "gp/error.hpp"

#include <cpl_conv.h>

#include <memory>
#include <string>

namespace gp::geo {

OGRSpatialReference parse_crs(const std::string& text, const std::string& what) {
  OGRSpatialReference srs;
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  if (text.empty() || srs.SetFromUserInput(text.c_str()) != OGRERR_NONE) {
    throw config_error(what + ": '" + text +
                       "' is not a CRS that GDAL/PROJ knows (expected e.g. \"EPSG:3577\", WKT or "
                       "a PROJ string)");
  }
  return srs;
}

std::string to_wkt(const OGRSpatialReference& srs) {
  char* wkt = nullptr;
  const char* opts[] = {"FORMAT=WKT2_2019", nullptr};
  srs.exportToWkt(&wkt, opts);
  std::string out = wkt != nullptr ? wkt : "";
  CPLFree(wkt);
  return out;
}

std::string crs_wkt(const std::string& text, const std::string& what) {
  return to_wkt(parse_crs(text, what));
}

std::string crs_label(const OGRSpatialReference& srs) {
  const char* auth = srs.GetAuthorityName(nullptr);
  const char* code = srs.GetAuthorityCode(nullptr);
  if (auth != nullptr && code != nullptr) return std::string(auth) + ":" + code;
  const char* name = srs.GetName();
  return name != nullptr ? std::string(name) : std::string("unknown CRS");
}

std::string crs_label_wkt(const std::string& wkt) {
  OGRSpatialReference srs;
  if (srs.importFromWkt(wkt.c_str()) != OGRERR_NONE) return "unknown CRS";
  return crs_label(srs);
}

CrsUnit crs_unit(const std::string& wkt) {
  OGRSpatialReference srs;
  if (srs.importFromWkt(wkt.c_str()) != OGRERR_NONE) return {false, "unknown", 1.0};
  CrsUnit u;
  const char* name = nullptr;
  u.angular = srs.IsGeographic() != 0;
  u.to_base = u.angular ? srs.GetAngularUnits(&name) : srs.GetLinearUnits(&name);
  u.name = name != nullptr ? name : "unknown";
  return u;
}

bool same_crs(const std::string& wkt_a, const std::string& wkt_b) {
  if (wkt_a == wkt_b) return true;
  OGRSpatialReference a;
  OGRSpatialReference b;
  if (a.importFromWkt(wkt_a.c_str()) != OGRERR_NONE) return false;
  if (b.importFromWkt(wkt_b.c_str()) != OGRERR_NONE) return false;
  const char* opts[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", "CRITERION=EQUIVALENT", nullptr};
  return a.IsSame(&b, opts) != 0;
}

}  // namespace gp::geo
