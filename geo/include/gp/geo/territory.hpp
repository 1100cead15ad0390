#pragma once
// Built-in territories (the US and allied critical-minerals partners) and user boundaries:
// a default CRS, a default extent (the boundary's extent in that CRS) and a mask (cells whose
// centre lies outside the boundary are nodata). Country boundaries come from Natural Earth
// 1:50m (data-samples/boundaries/ne_countries_50m.topojson, public domain), selected by ISO
// 3166-1 numeric id, never by name; countries whose polygons are invalid across the
// antimeridian (Russia, Fiji, Antarctica) are not territories, so they are never read. US
// states, DC and insular areas (US-WY, US-DC, ..., PR, GU, VI, AS, MP) come from the Census
// Bureau's 2019 boundaries (data-samples/us_states/states-10m.json, public domain), selected
// by two-digit FIPS code.

#include "gp/geo/gdal_fwd.hpp"
#include "gp/geo/grid.hpp"

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace gp::geo {

/// A lon/lat box [west, south, east, north] in degrees.
using LonLatBox = std::array<double, 4>;

/// Where a territory's boundary polygons come from.
enum class BoundarySet {
  natural_earth,  ///< boundaries/ne_countries_50m.topojson, layer countries, id = ISO numeric
  us_census,      ///< us_states/states-10m.json, layer states, id = state FIPS code
};

struct Territory {
  std::string code;       ///< e.g. "CONUS", "AUS", "EU"; matched case-insensitively
  std::string name;       ///< e.g. "Contiguous United States"
  std::string crs;        ///< default CRS, e.g. "EPSG:5070"
  std::string crs_note;   ///< why this CRS
  /// The `id`s of the boundary features: ISO 3166-1 numeric (Natural Earth), state FIPS (Census)
  std::vector<std::string> ids;
  /// When not empty, only the polygons whose bounding-box centre lies in one of these boxes are
  /// kept (splits the USA into CONUS / Alaska / Hawaii; keeps European France, Netherlands, ...).
  std::vector<LonLatBox> keep;
  BoundarySet source{BoundarySet::natural_earth};
};

/// Every built-in territory, in display order.
const std::vector<Territory>& territories();

/// The territory with this code or alias (US, UK, AK, HI, US-PR for PR, ...), case-insensitive.
/// Throws gp::config_error naming `what` and listing the closest valid codes, by code and by
/// name: "WY", "Wyoming" and "wyoming" suggest US-WY first, "Finland" FIN.
const Territory& find_territory(const std::string& code, const std::string& what);

/// The territory's boundaries file: $GP_DATA_DIR/<file>, else the source tree's
/// data-samples/<file>, else data-samples/ next to or above the executable, where <file> is
/// boundaries/ne_countries_50m.topojson or us_states/states-10m.json.
/// Throws gp::input_error when none exists.
std::filesystem::path boundaries_file(const Territory& t);

/// The territory's boundary as a multipolygon in `target_wkt` (vertex-wise reprojection).
GeometryPtr territory_boundary(const Territory& t, const std::string& target_wkt);

/// A user boundary: the union of the (multi)polygons of a vector file, optionally filtered by
/// an OGR `where`, in `target_wkt`. Throws gp::input_error naming `what`.
GeometryPtr boundary_from_file(const std::string& path, const std::string& layer,
                               const std::string& where, const std::string& target_wkt,
                               const std::string& what);

/// [xmin, ymin, xmax, ymax] of a geometry.
std::array<double, 4> geometry_extent(const OGRGeometry& g);

/// The grid of dx x dy cells whose edges lie on multiples of the cell size (gdalwarp -tap)
/// covering `extent` [xmin, ymin, xmax, ymax] in `crs_wkt`.
Grid aligned_grid(const std::string& crs_wkt, const std::array<double, 4>& extent, double dx,
                  double dy);

/// Writes the mask of `boundary` (in the grid CRS) on `grid` as a Float32 tiled GeoTIFF:
/// 1 where the cell centre is inside, NaN (nodata) elsewhere.
void write_boundary_mask(const OGRGeometry& boundary, const Grid& grid,
                         const std::filesystem::path& out, const std::string& what);

/// A one-line warning when the grid reaches outside the area of use PROJ records for its CRS
/// (edges sampled every 1/32 of their length); empty when inside or when PROJ has none.
std::string area_of_use_warning(const Grid& grid);

}  // namespace gp::geo
