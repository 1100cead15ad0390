#pragma once
// The model file (TOML): parsed, validated and resolved to absolute paths before any heavy work.
// Every step names its table and key in errors; unknown keys are errors with a "did you mean".

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/names.hpp"        // the enumerations and their names
#include "model/training_spec.hpp"  // wofe / logistic keys
#include "model/analysis_spec.hpp"  // [validation], [uncertainty]

namespace gp::model {

/// One reclass rule: `value` (lo == hi) or the half-open range [lo, hi).
struct ReclassRuleSpec {
  bool is_value{false};
  double lo{0.0};
  double hi{0.0};
  double score{0.0};
};

/// Transform kinds: identity | linear | large | small | gaussian | near | ms-large | ms-small |
/// reclass | minmax | zscore | percentile | log | clamp. Parameters as ArcGIS Pro's Fuzzy
/// Membership tool names them; `invert` follows any kind with 1 - x.
struct TransformSpec {
  TransformKind kind{TransformKind::identity};
  std::optional<double> min;       ///< linear (omitted: the layer's min on the grid), clamp
  std::optional<double> max;       ///< linear (omitted: the layer's max on the grid), clamp
  std::optional<double> midpoint;  ///< large, small, gaussian, near
  std::optional<double> spread;    ///< large, small, gaussian, near
  std::optional<double> a;         ///< ms-large, ms-small: mean multiplier
  std::optional<double> b;         ///< ms-large, ms-small: standard-deviation multiplier
  double offset{0.0};              ///< log: log10(x + offset)
  std::vector<ReclassRuleSpec> table;  ///< reclass
  std::optional<double> fallback;  ///< reclass `default` (omitted: unmatched -> nodata)
  bool invert{false};

  /// True for kinds whose parameters come from whole-grid statistics of the layer.
  [[nodiscard]] bool needs_minmax() const {
    return kind == TransformKind::minmax || (kind == TransformKind::linear && (!min || !max));
  }
  [[nodiscard]] bool needs_moments() const {
    return kind == TransformKind::zscore || kind == TransformKind::ms_large ||
           kind == TransformKind::ms_small;
  }
  [[nodiscard]] bool needs_percentiles() const { return kind == TransformKind::percentile; }
  [[nodiscard]] bool categorical() const {
    for (const auto& r : table) {
      if (r.is_value) return true;
    }
    return false;
  }
};

/// How a vector [[layer]] becomes a raster on the grid (see geo/vector_source.hpp).
struct VectorLayerSpec {
  std::string mode;  ///< presence | burn | distance | density; empty: decided by the path
                     ///< (a raster is read as a raster, a vector source as "presence")
  std::string layer;      ///< OGR layer name
  std::string sql;        ///< OGR SQL selecting the features
  std::string where;      ///< OGR attribute filter
  std::string attribute;  ///< burn: the numeric attribute
  bool all_touched{false};
  std::optional<double> max_distance;  ///< distance: clamp, CRS units
  std::optional<double> radius;        ///< density: disc radius, metres
  std::string x_column;  ///< tables: longitude (or x) column
  std::string y_column;  ///< tables: latitude (or y) column
  std::string crs;       ///< CRS of the features' coordinates (x/y columns default EPSG:4326)
  /// True when any vector key was given (the layer is then read as a vector source).
  [[nodiscard]] bool given() const {
    return !mode.empty() || !layer.empty() || !sql.empty() || !where.empty() ||
           !attribute.empty() || all_touched || max_distance || radius || !x_column.empty() ||
           !y_column.empty() || !crs.empty();
  }
};

struct LayerSpec {
  std::string name;
  std::filesystem::path path;  ///< absolute (relative paths resolve against the model file)
  VectorLayerSpec vector;      ///< vector keys
  bool mask{false};  ///< internal: a territory/boundary mask, Program::mask_layer
  int band{1};
  std::string resampling{"bilinear"};
  TransformSpec transform;
  double weight{1.0};  ///< as written; normalised within the group that uses the layer
  bool missing_skip{false};
  WofeLayerSpec wofe;          ///< [combine] method = "wofe"
  LogisticLayerSpec logistic;  ///< [combine] method = "logistic"
  /// `categorical = true` ([combine] method = "boosted-trees" | "random-forest"): the values
  /// are class codes, one-hot encoded for the trees (one feature per class of the training
  /// table), so their numeric order means nothing.
  bool categorical{false};
  /// internal (plan/vector_plan.cpp): a vector layer read through a temporary raster on the
  /// grid (then `path`): its own source file, and the source with its selection and mode as
  /// run reports name it (the temporary file is gone once the run ends).
  std::filesystem::path vector_source;
  std::string vector_selection;
  /// How messages name the layer: "layer 'name'".
  [[nodiscard]] std::string what() const { return "layer '" + name + "'"; }
  /// The file the user gave: the vector source of a materialised layer, else `path`.
  [[nodiscard]] const std::filesystem::path& input_path() const {
    return vector_source.empty() ? path : vector_source;
  }
};

/// A group of the inference network: combines layers and other groups with one operator.
struct GroupSpec {
  std::string name;
  Method method{Method::weighted_sum};  ///< an operator (not wofe / logistic: whole-model only)
  std::vector<std::string> inputs;     ///< layer or group names
  std::vector<double> weights;         ///< per input (weighted-sum, index-overlay)
  double gamma{0.9};                   ///< fuzzy-gamma
  bool missing_skip{false};
};

struct GridSpec {
  std::optional<std::string> crs;
  std::optional<std::array<double, 2>> resolution;  ///< x, y cell size in CRS units
  std::optional<std::array<double, 4>> extent;      ///< xmin, ymin, xmax, ymax
  /// A built-in territory code (geoprospect territories): default crs and extent, and a mask.
  std::optional<std::string> territory;
  /// A user boundary (vector file, absolute path): default extent and a mask, like territory.
  std::optional<std::filesystem::path> boundary;
  std::string boundary_layer;  ///< OGR layer of the boundary file
  std::string boundary_where;  ///< OGR attribute filter on the boundary file
};

/// `[combine]`: the simple form (one operator over every layer), or with [[group]]s the name of
/// the group that is the final map.
struct CombineSpec {
  Method method{Method::weighted_sum};
  double gamma{0.9};
  std::string final;  ///< with groups: the final group (default: the last one declared)
};

/// `[output] classes`: how the score is cut into classes (1 = lowest ... N = highest; 0 nodata).
struct ClassSpec {
  ClassMethod method{ClassMethod::quantile};
  std::vector<double> top{2.0, 5.0, 10.0, 25.0};  ///< quantile: top % of the valid area, ascending
  std::vector<double> breaks;      ///< breaks: ascending lower bounds of classes 2..N
  int n{5};                        ///< natural: number of classes (Jenks)
  std::vector<std::string> names;  ///< optional, one per class from lowest to highest
};

struct OutputSpec {
  std::filesystem::path path;  ///< absolute
  std::string compress{"ZSTD"};
  double nodata{-9999.0};
  std::vector<std::string> bands;  ///< extra bands: names of groups or layers
  // Finishing; see cli/outputs/outputs.hpp for what each produces.
  OutputFormat format{OutputFormat::cog};  ///< Cloud-Optimized GeoTIFF, or tiled GeoTIFF
  ClassSpec classes;              ///< <base>_classes.tif from the score (band 1)
  std::string colormap{"viridis"};  ///< viridis | magma | inferno | plasma | cividis
  bool quicklook{true};           ///< <base>_quicklook.png
  bool report{true};              ///< <base>_report.json
  bool style{true};               ///< <base>.qml and <base>_classes.qml (QGIS styles)
  bool contributions{false};      ///< <base>_contributions.tif: why each cell scores high
};

struct Model {
  std::filesystem::path file;  ///< the model file (absolute), or empty for in-memory text
  std::string sha256;          ///< SHA-256 of the model file's bytes (hex)
  std::string name;
  GridSpec grid;
  std::vector<LayerSpec> layers;
  std::vector<GroupSpec> groups;  ///< with the simple form: one group "final" over all layers
  CombineSpec combine;
  OutputSpec output;
  TrainingSpec training;  ///< [training] (deposits, unit cell) for wofe / logistic
  TreesSpec trees;        ///< [trees] for boosted-trees / random-forest
  ValidationSpec validation;    ///< [validation] (run after the map)
  UncertaintySpec uncertainty;  ///< [uncertainty] (Monte Carlo, after the map)
  SweepSpec sweep;              ///< [[sweep]] (variants ranked against [validation], after the map)
};

/// Index of the internal territory/boundary mask layer (LayerSpec::mask), or -1 without one:
/// the one mask the scoring pass (Program::mask_layer), the statistics pass and training use.
inline int mask_layer(const Model& m) {
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    if (m.layers[l].mask) return static_cast<int>(l);
  }
  return -1;
}

/// Reads and validates a model file. Throws gp::config_error (one line: file, key, expected).
Model load_model(const std::filesystem::path& file);

/// Parses model text; `source` names it in messages, `base_dir` resolves relative paths.
Model parse_model(std::string_view text, const std::string& source,
                  const std::filesystem::path& base_dir);

/// Hex SHA-256 of bytes.
std::string sha256_hex(std::string_view bytes);

/// A path from the model file: relative ones resolve against `base_dir`. GDAL virtual paths
/// (/vsizip/, /vsicurl/, ...) pass through untouched: their double slashes carry meaning
/// ("/vsizip//abs/file.zip", "/vsicurl/http://host/x.tif") that normalising would remove.
std::filesystem::path resolve_model_path(const std::string& path,
                                         const std::filesystem::path& base_dir);

/// Deepest nesting a model file may have (table headers, dotted keys, arrays, inline tables).
inline constexpr int max_model_nesting = 128;

/// Throws gp::config_error when `text` nests deeper than max_model_nesting: the TOML parser
/// recurses on nesting, and a file of 40,000 levels would exhaust the stack.
void check_model_nesting(std::string_view text, const std::string& source);

}  // namespace gp::model
