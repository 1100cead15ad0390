#pragma once
// Vector evidence: features from anything OGR reads (GeoPackage, Shapefile, GeoJSON, TopoJSON,
// CSV with lon/lat columns, ...), selected by layer name, OGR SQL or an attribute filter,
// reprojected through PROJ (traditional GIS axis order, vertex by vertex as gdal_rasterize does)
// onto the grid CRS, and turned into a raster on the target grid:
//   presence  1 where a feature touches the cell (cell centre inside, or all_touched), else 0
//   burn      an attribute's value where a feature covers the cell, else nodata
//   distance  Euclidean distance (CRS units) from each cell centre to the nearest feature cell
//   density   features (points, polygons) or line length (km) per km² within a radius
// The result is "materialised" once, before the streaming pass, as a tiled GeoTIFF on the grid,
// which the runner then reads like any raster already on the grid.

#include "gp/geo/gdal_fwd.hpp"
#include "gp/geo/grid.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace gp::geo {

/// What a path holds, worked out by opening it (raster first, then vector).
enum class SourceKind { raster, vector, unreadable };
SourceKind probe_source(const std::string& path);

/// Where a vector layer's features come from.
struct VectorSpec {
  std::string path;
  std::string layer;     ///< OGR layer name; empty: the only layer (an error when there are several)
  std::string sql;       ///< OGR SQL statement; replaces layer (where still applies)
  std::string where;     ///< OGR attribute filter, e.g. "CRITICAL_MINERAL LIKE '%Rare-Earth%'"
  /// with y_column: point features from these numeric columns (CSV). Without them a CSV with
  /// no geometry column is read from columns named longitude/latitude, lon/lat, long/lat, lng
  /// (EPSG:4326 unless crs is given), or x/y, easting/northing (crs required), in any case.
  std::string x_column;
  std::string y_column;
  std::string crs;       ///< CRS of the coordinates: required for x/y columns unless EPSG:4326
                         ///< (the default there), overrides the source's CRS when given
  std::string what;      ///< names the culprit in messages, e.g. "layer 'faults'"
};

/// How messages and run reports name a selection: the path, then the layer, sql and where
/// that were given, e.g. "deposits.gpkg (layer 'ree', where \"type = 'REE'\")".
std::string describe_source(const VectorSpec& spec);

/// One feature: its geometry (in the CRS asked for), and the attributes asked for.
struct Feature {
  GeometryPtr geometry;
  double value{std::numeric_limits<double>::quiet_NaN()};  ///< value_field, NaN when null
  std::string name;                                        ///< name_field, or "#FID"
  std::string tag;                                         ///< tag_field's text (filters)
};

/// A feature that could not be used, by name, with the reason.
struct SkippedFeature {
  std::string name;
  std::string reason;
  std::string tag;  ///< as Feature::tag
};

/// An open vector layer (owns the GDAL dataset and, for SQL, the result set).
class VectorSource {
 public:
  /// Opens and selects the layer; checks x/y columns. Throws gp::input_error (unreadable, no
  /// such layer or column, a table without coordinate columns or CRS, bad SQL or filter) or
  /// gp::config_error (bad crs text).
  explicit VectorSource(const VectorSpec& spec);
  ~VectorSource();
  VectorSource(const VectorSource&) = delete;
  VectorSource& operator=(const VectorSource&) = delete;

  /// Reads every selected feature, reprojected to `target_wkt`. `value_field` (optional) is read
  /// as a number (gp::input_error when the layer has no such field), `name_field` (optional) as
  /// text, `tag_field` (optional) as text into Feature::tag. Features without geometry, with unreadable coordinates or that cannot be projected
  /// go to `skipped` (when given) instead of the result.
  std::vector<Feature> read(const std::string& target_wkt, const std::string& value_field = {},
                            const std::string& name_field = {},
                            std::vector<SkippedFeature>* skipped = nullptr,
                            const std::string& tag_field = {});

  /// Names of the layer's attribute fields.
  [[nodiscard]] std::vector<std::string> field_names() const;
  /// True when the layer has this attribute field (exact name).
  [[nodiscard]] bool has_field(const std::string& name) const;
  /// WKT of the features' CRS (after `crs` overrides).
  [[nodiscard]] const std::string& crs_wkt() const { return crs_wkt_; }
  [[nodiscard]] const VectorSpec& spec() const { return spec_; }

 private:
  VectorSpec spec_;
  DatasetPtr ds_;
  OGRLayer* layer_{nullptr};
  bool result_set_{false};
  std::string crs_wkt_;
  int x_field_{-1};
  int y_field_{-1};
  // A table's coordinate columns found by name (find_table_coordinates); empty otherwise.
  std::string coord_x_;
  std::string coord_y_;
  bool coord_degrees_{false};  ///< longitude/latitude names: EPSG:4326 unless crs is given

  void open(const char* const* open_options);
  void find_table_coordinates();
  void select_layer();
  void resolve_crs();
};

/// Throws gp::input_error: `spec` selected no feature with a usable geometry. Names the
/// source (describe_source), `filter` (a further filter, e.g. on deposits), and how many
/// features were skipped and why the first one was. A layer or deposit set that selects nothing
/// is a mistake in the selection, never an empty map or an empty validation.
[[noreturn]] void throw_no_features(const VectorSpec& spec,
                                    const std::vector<SkippedFeature>& skipped,
                                    const std::string& filter = {});

enum class VectorMode { presence, burn, distance, density };

/// "presence" | "burn" | "distance" | "density" -> mode; throws gp::config_error naming `what`.
VectorMode parse_vector_mode(const std::string& text, const std::string& what);
std::string to_string(VectorMode mode);

/// How a vector layer becomes a raster.
struct RasteriseOptions {
  VectorMode mode{VectorMode::presence};
  std::string attribute;      ///< burn: the numeric field to burn
  bool all_touched{false};    ///< every cell a feature touches, not only cells whose centre it covers
  double max_distance{-1.0};  ///< distance: clamp (CRS units) when > 0
  double radius_m{0.0};       ///< density: disc radius in metres (> 0)
  bool use_cuda{false};       ///< distance: run the transform on CUDA device `cuda_device`
  int cuda_device{0};
  int threads{0};             ///< CPU threads (0: every core)
  /// distance and density hold the whole grid in memory (distance: 4 bytes/cell + 1 byte/cell
  /// mask; density: 16 bytes/cell); above this limit the layer is refused.
  std::uint64_t memory_limit_bytes{std::uint64_t{8} << 30};
};

/// A point that stands for a geometry: a point itself, else its centroid (x, y in the
/// geometry's CRS); nullopt when it has none.
std::optional<std::array<double, 2>> representative_point(const OGRGeometry& g);

/// Rasterises geometries (already in the grid CRS) into a whole-grid byte mask: 1 = feature.
std::vector<std::uint8_t> rasterise_mask(const std::vector<Feature>& features, const Grid& grid,
                                         bool all_touched, const std::string& what);

/// Materialises a vector layer on `grid` as a Float32 tiled GeoTIFF at `out` (nodata NaN).
/// Throws gp::input_error / gp::config_error naming spec.what; gp::io_error when `out` cannot be
/// written. Returns the number of features used.
std::size_t materialise_vector(const VectorSpec& spec, const RasteriseOptions& opt,
                               const Grid& grid, const std::filesystem::path& out);

/// Burns geometries (already in the grid CRS) into a new Float32 tiled GeoTIFF on `grid` at
/// `out`: every cell starts at `fill` (NaN = nodata), and each geometry burns its value (later
/// geometries win). GDAL rasterises in chunks, so memory does not grow with the grid.
void burn_geometries_tiff(const std::vector<const OGRGeometry*>& geometries,
                          const std::vector<double>& values, double fill, bool all_touched,
                          const Grid& grid, const std::filesystem::path& out,
                          const std::string& what);

/// Writes a whole-grid Float32 buffer as a tiled GeoTIFF (nodata NaN), compressed with
/// `compress` (ZSTD level 1 by default; "NONE" for none). A null `data` leaves it empty.
void write_grid_tiff(const std::filesystem::path& out, const Grid& grid, const float* data,
                     const std::string& description, const std::string& compress = "ZSTD");

}  // namespace gp::geo
