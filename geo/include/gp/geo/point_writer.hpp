#pragma once
// A point layer written as a GeoPackage (the deposits beside a map, loadable in QGIS).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gp::geo {

/// One attribute column: text, real (NaN written as null) or integer values, one per point.
struct PointColumn {
  enum class Type { text, real, integer };
  std::string name;
  Type type{Type::text};
  std::vector<std::string> text;
  std::vector<double> real;
  std::vector<std::int64_t> integer;
};

/// Points in one CRS and their attributes; a point without a position (std::nullopt) is
/// written with a null geometry (a record that could not be placed).
struct PointTable {
  std::string layer;
  std::string crs_wkt;
  std::vector<std::optional<std::pair<double, double>>> xy;
  std::vector<PointColumn> columns;
};

/// Writes `t` to a new GeoPackage at `path` (which must not exist). Throws gp::io_error
/// naming `report_as` (the destination the user asked for) when GDAL cannot write it.
void write_points_gpkg(const std::filesystem::path& path, const PointTable& t,
                       const std::string& report_as);

}  // namespace gp::geo
