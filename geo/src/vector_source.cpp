#include "gp/geo/vector_source.hpp"

#include "ogr_crs.hpp"
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/kernels/device_fallback.hpp"
#include "gp/kernels/distance.hpp"
#include "gp/log.hpp"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal_alg.h>
#include <gdal_priv.h>
#include <ogr_geometry.h>
#include <ogrsf_frmts.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace gp::geo {
namespace fs = std::filesystem;

namespace {

struct CtDeleter {
  void operator()(OGRCoordinateTransformation* ct) const {
    OGRCoordinateTransformation::DestroyCT(ct);
  }
};
using CtPtr = std::unique_ptr<OGRCoordinateTransformation, CtDeleter>;

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// Parses a number without locale influence; false when the text is not a whole number.
bool parse_number(const char* text, double& out) {
  if (text == nullptr) return false;
  while (*text == ' ') ++text;
  if (*text == '\0') return false;
  char* end = nullptr;
  out = CPLStrtod(text, &end);
  while (end != nullptr && *end == ' ') ++end;
  return end != nullptr && *end == '\0' && std::isfinite(out);
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void check_memory(const Grid& grid, std::uint64_t bytes_per_cell, const RasteriseOptions& opt,
                  const std::string& what) {
  const std::uint64_t need = grid.cells() * bytes_per_cell;
  if (need > opt.memory_limit_bytes) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.0f MiB (limit %.0f MiB)", mib(need),
                  mib(opt.memory_limit_bytes));
    throw config_error(what + ": vector = \"" + to_string(opt.mode) + "\" holds the whole grid (" +
                       std::to_string(grid.width) + " x " + std::to_string(grid.height) +
                       " cells, " + std::to_string(bytes_per_cell) + " bytes per cell) in memory: " +
                       buf + "; use a coarser resolution, a smaller extent or raise the limit "
                       "(--vector-memory-mib)");
  }
}

/// Adds what one simple geometry contributes to per-cell density values.
class DensityBurner {
 public:
  DensityBurner(const Grid& g, std::vector<float>& values, double unit_m)
      : g_(g), v_(values), unit_m_(unit_m),
        step_(std::min(g.dx, g.dy) / 4.0) {}

  void add(const OGRGeometry* geom) {
    if (geom == nullptr || geom->IsEmpty()) return;
    const OGRwkbGeometryType t = wkbFlatten(geom->getGeometryType());
    if (OGR_GT_IsNonLinear(t)) {
      std::unique_ptr<OGRGeometry> lin(geom->getLinearGeometry());
      add(lin.get());
      return;
    }
    switch (t) {
      case wkbPoint: {
        const auto* p = geom->toPoint();
        add_at(p->getX(), p->getY(), 1.0);
        break;
      }
      case wkbLineString:
      case wkbLinearRing:
        add_line(geom->toSimpleCurve());
        break;
      case wkbPolygon: {
        OGRPoint p;
        if (geom->toPolygon()->PointOnSurface(&p) == OGRERR_NONE) add_at(p.getX(), p.getY(), 1.0);
        break;
      }
      default:
        if (OGR_GT_IsSubClassOf(t, wkbGeometryCollection)) {
          for (const OGRGeometry* part : geom->toGeometryCollection()) add(part);
        }
        break;
    }
  }

 private:
  void add_at(double x, double y, double w) {
    const double c = std::floor((x - g_.x0) / g_.dx);
    const double r = std::floor((g_.y0 - y) / g_.dy);
    if (c < 0 || r < 0 || c >= static_cast<double>(g_.width) || r >= static_cast<double>(g_.height)) return;
    v_[static_cast<std::size_t>(r) * static_cast<std::size_t>(g_.width) + static_cast<std::size_t>(c)] +=
        static_cast<float>(w);
  }
  // Line length (km) shared among cells: each segment is cut into pieces no longer than a
  // quarter cell, and each piece counts in the cell of its midpoint.
  void add_line(const OGRSimpleCurve* line) {
    for (int i = 0; i + 1 < line->getNumPoints(); ++i) {
      const double x0 = line->getX(i);
      const double y0 = line->getY(i);
      const double x1 = line->getX(i + 1);
      const double y1 = line->getY(i + 1);
      const double len = std::hypot(x1 - x0, y1 - y0);
      if (!(len > 0.0)) continue;
      const auto n = static_cast<int>(std::min(1e7, std::ceil(len / step_)));
      const double piece_km = len / n * unit_m_ / 1000.0;
      for (int k = 0; k < n; ++k) {
        const double t = (k + 0.5) / n;
        add_at(x0 + t * (x1 - x0), y0 + t * (y1 - y0), piece_km);
      }
    }
  }
  const Grid& g_;
  std::vector<float>& v_;
  double unit_m_;
  double step_;
};

/// The transformation from `src_wkt` to `target_wkt`; null when no transformation is needed
/// (no target, or the same CRS).
CtPtr transformation_to(const std::string& src_wkt, const std::string& target_wkt,
                        const std::string& what) {
  if (target_wkt.empty() || same_crs(src_wkt, target_wkt)) return nullptr;
  OGRSpatialReference src;
  src.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  src.importFromWkt(src_wkt.c_str());
  OGRSpatialReference dst;
  dst.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  dst.importFromWkt(target_wkt.c_str());
  reset_gdal_error();
  CtPtr ct(OGRCreateCoordinateTransformation(&src, &dst));
  if (!ct) {
    throw input_error(what + ": no transformation from its CRS (" + crs_label(src) +
                      ") to the grid CRS (" + crs_label(dst) + "): " + last_gdal_error());
  }
  return ct;
}

/// Field `i` of `f` as a number (numeric types as they are, text parsed); false when the text
/// is not a number.
bool field_number(const OGRFeatureDefn* defn, OGRFeature& f, int i, double& v) {
  const OGRFieldType t = defn->GetFieldDefn(i)->GetType();
  if (t == OFTInteger || t == OFTInteger64 || t == OFTReal) {
    v = f.GetFieldAsDouble(i);
    return true;
  }
  return parse_number(f.GetFieldAsString(i), v);
}

/// Burns `handles` (with `values`) into band 1 of `ds`, every touched cell when `all_touched`.
void rasterise_geometries(GDALDataset* ds, std::vector<OGRGeometryH>& handles,
                          const double* values, bool all_touched, const std::string& what) {
  const int band = 1;
  CPLStringList opts;
  if (all_touched) opts.SetNameValue("ALL_TOUCHED", "TRUE");
  reset_gdal_error();
  if (GDALRasterizeGeometries(GDALDataset::ToHandle(ds), 1, &band,
                              static_cast<int>(handles.size()), handles.data(), nullptr, nullptr,
                              values, opts.List(), nullptr, nullptr) != CE_None) {
    throw input_error(what + ": rasterising its features failed: " + last_gdal_error());
  }
}

// Column names that hold a table's coordinates when x_column / y_column are not given,
// compared without regard to case (as GDAL compares X_/Y_POSSIBLE_NAMES). Longitude/latitude
// names say the coordinates are degrees (EPSG:4326 unless crs says otherwise); x/y and
// easting/northing say nothing of the CRS, which crs must then give.
constexpr std::array<const char*, 4> lon_names{"longitude", "lon", "long", "lng"};
constexpr std::array<const char*, 2> lat_names{"latitude", "lat"};
constexpr std::array<const char*, 2> x_names{"x", "easting"};
constexpr std::array<const char*, 2> y_names{"y", "northing"};

/// The first field of `defn` named like one of `names` (in the order of `names`); empty if none.
template <std::size_t N>
std::string field_named(OGRFeatureDefn* defn, const std::array<const char*, N>& names) {
  for (const char* n : names) {
    for (int i = 0; i < defn->GetFieldCount(); ++i) {
      if (EQUAL(defn->GetFieldDefn(i)->GetNameRef(), n)) return defn->GetFieldDefn(i)->GetNameRef();
    }
  }
  return {};
}

bool is_linear(const OGRGeometry* g) {
  if (g == nullptr) return false;
  const OGRwkbGeometryType t = wkbFlatten(g->getGeometryType());
  return OGR_GT_IsCurve(t) || OGR_GT_IsSubClassOf(t, wkbMultiCurve);
}

}  // namespace

SourceKind probe_source(const std::string& path) {
  reset_gdal_error();
  {
    GDALDatasetUniquePtr r(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    if (r && r->GetRasterCount() > 0) return SourceKind::raster;
  }
  GDALDatasetUniquePtr v(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  reset_gdal_error();
  if (v && v->GetLayerCount() > 0) return SourceKind::vector;
  return SourceKind::unreadable;
}

std::string describe_source(const VectorSpec& spec) {
  std::string sel;
  auto add = [&sel](const std::string& part) { sel += (sel.empty() ? "" : ", ") + part; };
  if (!spec.layer.empty()) add("layer '" + spec.layer + "'");
  if (!spec.sql.empty()) add("sql \"" + spec.sql + "\"");
  if (!spec.where.empty()) add("where \"" + spec.where + "\"");
  return sel.empty() ? spec.path : spec.path + " (" + sel + ")";
}

void throw_no_features(const VectorSpec& spec, const std::vector<SkippedFeature>& skipped,
                       const std::string& filter) {
  std::string msg = spec.what + ": no feature with a geometry in " + describe_source(spec);
  if (!filter.empty()) msg += " with " + filter;
  if (!skipped.empty()) {
    msg += "; " + std::to_string(skipped.size()) + " skipped (first: " + skipped.front().name +
           ": " + skipped.front().reason + ")";
  }
  throw input_error(msg + " (check the file, its layer and the filters)");
}

VectorMode parse_vector_mode(const std::string& text, const std::string& what) {
  if (text == "presence") return VectorMode::presence;
  if (text == "burn") return VectorMode::burn;
  if (text == "distance") return VectorMode::distance;
  if (text == "density") return VectorMode::density;
  throw config_error(what + ": unknown vector mode '" + text +
                     "' (expected presence, burn, distance or density)");
}

std::string to_string(VectorMode mode) {
  switch (mode) {
    case VectorMode::presence: return "presence";
    case VectorMode::burn: return "burn";
    case VectorMode::distance: return "distance";
    case VectorMode::density: return "density";
  }
  return "?";
}

VectorSource::VectorSource(const VectorSpec& spec) : spec_(spec) {
  const std::string& what = spec_.what;
  if (!fs::exists(spec_.path)) throw input_error(what + ": file not found: " + spec_.path);
  open(nullptr);
  if (spec_.x_column.empty()) find_table_coordinates();
  select_layer();
  if (spec_.x_column.empty() != spec_.y_column.empty()) {
    throw config_error(what + ": x_column and y_column go together (give both or neither)");
  }
  if (!spec_.x_column.empty()) {
    OGRFeatureDefn* defn = layer_->GetLayerDefn();
    x_field_ = defn->GetFieldIndex(spec_.x_column.c_str());
    y_field_ = defn->GetFieldIndex(spec_.y_column.c_str());
    if (x_field_ < 0 || y_field_ < 0) {
      const std::string missing = x_field_ < 0 ? spec_.x_column : spec_.y_column;
      throw input_error(what + ": " + spec_.path + " has no column '" + missing +
                        "' (its columns: " + join(field_names()) + ")");
    }
  }
  resolve_crs();
}

void VectorSource::open(const char* const* open_options) {
  reset_gdal_error();
  ds_.reset(GDALDataset::Open(spec_.path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY, nullptr,
                              open_options, nullptr));
  if (!ds_ || ds_->GetLayerCount() == 0) {
    const std::string why = last_gdal_error();
    throw input_error(spec_.what + ": cannot read " + spec_.path + " as a vector source" +
                      (why.empty() ? std::string(" (no driver recognises it, or it has no layer)")
                                   : " (GDAL: " + why + ")"));
  }
}

void VectorSource::find_table_coordinates() {
  // A table (CSV) without a geometry column of its own (WKT, GeoJSON or GDAL's own naming):
  // its points come from coordinate columns with the usual names, which GDAL's CSV driver
  // reads as point geometries when told their names (X_/Y_POSSIBLE_NAMES).
  if (!EQUAL(ds_->GetDriver()->GetDescription(), "CSV")) return;
  OGRFeatureDefn* defn = ds_->GetLayer(0)->GetLayerDefn();
  if (defn->GetGeomFieldCount() > 0) return;
  coord_x_ = field_named(defn, lon_names);
  coord_y_ = field_named(defn, lat_names);
  coord_degrees_ = !coord_x_.empty() && !coord_y_.empty();
  if (!coord_degrees_) {
    coord_x_ = field_named(defn, x_names);
    coord_y_ = field_named(defn, y_names);
  }
  if (coord_x_.empty() || coord_y_.empty()) {
    std::vector<std::string> cols;
    for (int i = 0; i < defn->GetFieldCount(); ++i) cols.emplace_back(defn->GetFieldDefn(i)->GetNameRef());
    throw input_error(spec_.what + ": " + spec_.path + " has no coordinate columns (its columns: " +
                      join(cols) + "; expected longitude/latitude, lon/lat, long/lat, x/y or "
                      "easting/northing, or set x_column and y_column)");
  }
  CPLStringList oo;
  oo.SetNameValue("X_POSSIBLE_NAMES", coord_x_.c_str());
  oo.SetNameValue("Y_POSSIBLE_NAMES", coord_y_.c_str());
  open(oo.List());
}

void VectorSource::select_layer() {
  const std::string& what = spec_.what;
  std::vector<std::string> names;
  for (int i = 0; i < ds_->GetLayerCount(); ++i) names.emplace_back(ds_->GetLayer(i)->GetName());
  if (!spec_.sql.empty()) {
    reset_gdal_error();
    layer_ = ds_->ExecuteSQL(spec_.sql.c_str(), nullptr, nullptr);
    if (layer_ == nullptr) {
      throw input_error(what + ": sql failed on " + spec_.path + ": " + last_gdal_error());
    }
    result_set_ = true;
  } else if (!spec_.layer.empty()) {
    layer_ = ds_->GetLayerByName(spec_.layer.c_str());
    if (layer_ == nullptr) {
      throw input_error(what + ": " + spec_.path + " has no layer '" + spec_.layer +
                        "' (it has: " + join(names) + ")");
    }
  } else if (names.size() == 1) {
    layer_ = ds_->GetLayer(0);
  } else {
    throw input_error(what + ": " + spec_.path + " has " + std::to_string(names.size()) +
                      " layers (" + join(names) + "); choose one with layer = \"...\"");
  }
  if (spec_.where.empty()) return;
  reset_gdal_error();
  if (layer_->SetAttributeFilter(spec_.where.c_str()) != OGRERR_NONE) {
    throw input_error(what + ": where = \"" + spec_.where + "\" is not a valid filter on " +
                      spec_.path + ": " + last_gdal_error());
  }
  // Some drivers (GeoPackage/SQLite) only find a bad filter when reading: try one feature.
  reset_gdal_error();
  OGRFeature::DestroyFeature(layer_->GetNextFeature());
  if (CPLGetLastErrorType() == CE_Failure) {
    throw input_error(what + ": where = \"" + spec_.where + "\" is not a valid filter on " +
                      spec_.path + ": " + last_gdal_error());
  }
  layer_->ResetReading();
}

void VectorSource::resolve_crs() {
  const std::string& what = spec_.what;
  OGRSpatialReference srs;
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  if (!spec_.crs.empty()) {
    srs = parse_crs(spec_.crs, what + " crs");
  } else if (x_field_ >= 0 || coord_degrees_) {
    srs = parse_crs("EPSG:4326", what);
    if (coord_degrees_) {
      gp::log::info(what + ": " + spec_.path + ": points from columns '" + coord_x_ + "', '" +
                    coord_y_ + "' as EPSG:4326 longitude/latitude (set crs = \"EPSG:...\" "
                    "for another datum)");
    }
  } else if (const OGRSpatialReference* s = layer_->GetSpatialRef()) {
    srs = *s;
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  } else if (!coord_x_.empty()) {
    throw input_error(what + ": " + spec_.path + " has no CRS for its coordinate columns '" +
                      coord_x_ + "', '" + coord_y_ + "' (set crs = \"EPSG:...\")");
  } else {
    throw input_error(what + ": " + spec_.path +
                      " has no CRS (set crs = \"EPSG:...\" for its coordinates)");
  }
  crs_wkt_ = to_wkt(srs);
}

VectorSource::~VectorSource() {
  if (result_set_ && layer_ != nullptr) ds_->ReleaseResultSet(layer_);
}

std::vector<std::string> VectorSource::field_names() const {
  std::vector<std::string> out;
  OGRFeatureDefn* defn = layer_->GetLayerDefn();
  for (int i = 0; i < defn->GetFieldCount(); ++i) out.emplace_back(defn->GetFieldDefn(i)->GetNameRef());
  return out;
}

bool VectorSource::has_field(const std::string& name) const {
  return layer_->GetLayerDefn()->GetFieldIndex(name.c_str()) >= 0;
}

std::vector<Feature> VectorSource::read(const std::string& target_wkt,
                                        const std::string& value_field,
                                        const std::string& name_field,
                                        std::vector<SkippedFeature>* skipped,
                                        const std::string& tag_field) {
  const std::string& what = spec_.what;
  OGRFeatureDefn* defn = layer_->GetLayerDefn();
  auto field_index = [&](const std::string& f, const char* role) {
    if (f.empty()) return -1;
    const int i = defn->GetFieldIndex(f.c_str());
    if (i < 0) {
      throw input_error(what + ": " + spec_.path + " has no attribute '" + f + "' (" + role +
                        "; its attributes: " + join(field_names()) + ")");
    }
    return i;
  };
  const int value_i = field_index(value_field, "the attribute to burn");
  const int name_i = field_index(name_field, "the name column");
  const int tag_i = field_index(tag_field, "the filter column");

  const CtPtr ct = transformation_to(crs_wkt_, target_wkt, what);
  std::vector<Feature> out;
  auto skip = [&](const Feature& ft, std::string reason) {
    if (skipped != nullptr) skipped->push_back({ft.name, std::move(reason), ft.tag});
  };
  // A table's row whose coordinate columns are empty or not numbers has no geometry.
  const std::string no_geometry =
      coord_x_.empty() ? std::string("no geometry")
                       : "no usable coordinates in columns '" + coord_x_ + "', '" + coord_y_ + "'";
  layer_->ResetReading();
  reset_gdal_error();
  for (auto& f : *layer_) {
    Feature feat;
    if (name_i >= 0) {
      feat.name = f->GetFieldAsString(name_i);
    } else {
      feat.name = std::to_string(f->GetFID());
      feat.name.insert(feat.name.begin(), '#');
    }
    if (tag_i >= 0) feat.tag = f->GetFieldAsString(tag_i);
    if (value_i >= 0 && f->IsFieldSetAndNotNull(value_i)) {
      double v = 0.0;
      if (!field_number(defn, *f, value_i, v)) {
        skip(feat, "attribute '" + value_field + "' is not a number ('" +
                            f->GetFieldAsString(value_i) + "')");
        continue;
      }
      feat.value = v;
    }
    if (x_field_ >= 0) {
      double x = 0.0;
      double y = 0.0;
      if (!parse_number(f->GetFieldAsString(x_field_), x) ||
          !parse_number(f->GetFieldAsString(y_field_), y)) {
        skip(feat, "no usable coordinates in columns '" + spec_.x_column + "', '" +
                            spec_.y_column + "'");
        continue;
      }
      feat.geometry.reset(new OGRPoint(x, y));
    } else {
      feat.geometry.reset(f->StealGeometry());
      if (!feat.geometry || feat.geometry->IsEmpty()) {
        skip(feat, no_geometry);
        continue;
      }
    }
    if (ct && feat.geometry->transform(ct.get()) != OGRERR_NONE) {
      skip(feat, "cannot be projected to the grid CRS");
      continue;
    }
    out.push_back(std::move(feat));
  }
  if (CPLGetLastErrorType() == CE_Failure) {
    throw input_error(what + ": reading " + spec_.path + " failed: " + last_gdal_error());
  }
  return out;
}

std::optional<std::array<double, 2>> representative_point(const OGRGeometry& g) {
  OGRPoint p;
  if (wkbFlatten(g.getGeometryType()) == wkbPoint) {
    p = *g.toPoint();
  } else if (g.Centroid(&p) != OGRERR_NONE) {
    return std::nullopt;
  }
  return std::array<double, 2>{p.getX(), p.getY()};
}

std::vector<std::uint8_t> rasterise_mask(const std::vector<Feature>& features, const Grid& grid,
                                         bool all_touched, const std::string& what) {
  std::vector<std::uint8_t> mask(grid.cells(), 0);
  if (features.empty() || mask.empty()) return mask;
  // A MEM dataset over our own buffer: GDAL rasterises straight into it.
  char ptr[64];
  std::snprintf(ptr, sizeof(ptr), "%p", static_cast<void*>(mask.data()));
  const std::string open = std::string("MEM:::DATAPOINTER=") + ptr +
                           ",PIXELS=" + std::to_string(grid.width) +
                           ",LINES=" + std::to_string(grid.height) + ",BANDS=1,DATATYPE=Byte";
  CPLConfigOptionSetter enable_mem("GDAL_MEM_ENABLE_OPEN", "YES", false);
  reset_gdal_error();
  GDALDatasetUniquePtr ds(GDALDataset::Open(open.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
  if (!ds) throw error(what + ": cannot create an in-memory raster: " + last_gdal_error());
  auto gt = grid.geotransform();
  ds->SetGeoTransform(gt.data());
  std::vector<OGRGeometryH> geoms;
  geoms.reserve(features.size());
  for (const auto& f : features) geoms.push_back(OGRGeometry::ToHandle(f.geometry.get()));
  const std::vector<double> burn(geoms.size(), 1.0);
  rasterise_geometries(ds.get(), geoms, burn.data(), all_touched, what);
  return mask;
}

void write_grid_tiff(const fs::path& out, const Grid& grid, const float* data,
                     const std::string& description, const std::string& compress) {
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
  CPLStringList co;
  co.SetNameValue("TILED", "YES");
  co.SetNameValue("BLOCKXSIZE", "512");
  co.SetNameValue("BLOCKYSIZE", "512");
  co.SetNameValue("COMPRESS", compress.c_str());
  if (compress == "ZSTD") co.SetNameValue("ZSTD_LEVEL", "1");
  co.SetNameValue("BIGTIFF", "IF_SAFER");
  co.SetNameValue("NUM_THREADS", "ALL_CPUS");
  reset_gdal_error();
  GDALDataset* ds = drv->Create(out.c_str(), static_cast<int>(grid.width),
                                static_cast<int>(grid.height), 1, GDT_Float32, co.List());
  if (ds == nullptr) throw io_error("cannot create " + out.string() + ": " + last_gdal_error());
  auto gt = grid.geotransform();
  ds->SetGeoTransform(gt.data());
  OGRSpatialReference srs;
  srs.importFromWkt(grid.crs_wkt.c_str());
  ds->SetSpatialRef(&srs);
  GDALRasterBand* b = ds->GetRasterBand(1);
  b->SetNoDataValue(std::numeric_limits<double>::quiet_NaN());
  b->SetDescription(description.c_str());
  CPLErr err = CE_None;
  if (data != nullptr) {
    err = b->RasterIO(GF_Write, 0, 0, static_cast<int>(grid.width), static_cast<int>(grid.height),
                      const_cast<float*>(data), static_cast<int>(grid.width),
                      static_cast<int>(grid.height), GDT_Float32, 0, 0, nullptr);
  }
  GDALClose(ds);
  if (err != CE_None || CPLGetLastErrorType() == CE_Failure) {
    throw io_error("cannot write " + out.string() + ": " + last_gdal_error());
  }
}

void burn_geometries_tiff(const std::vector<const OGRGeometry*>& geometries,
                          const std::vector<double>& values, double fill, bool all_touched,
                          const Grid& grid, const fs::path& out, const std::string& what) {
  write_grid_tiff(out, grid, nullptr, what);
  reset_gdal_error();
  GDALDatasetUniquePtr ds(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
  if (!ds) throw io_error("cannot reopen " + out.string() + ": " + last_gdal_error());
  if (ds->GetRasterBand(1)->Fill(fill) != CE_None) {
    throw io_error("cannot write " + out.string() + ": " + last_gdal_error());
  }
  if (!geometries.empty()) {
    std::vector<OGRGeometryH> handles;
    handles.reserve(geometries.size());
    for (const OGRGeometry* g : geometries) handles.push_back(OGRGeometry::ToHandle(const_cast<OGRGeometry*>(g)));
    rasterise_geometries(ds.get(), handles, values.data(), all_touched, what);
  }
  GDALClose(GDALDataset::ToHandle(ds.release()));
  if (CPLGetLastErrorType() == CE_Failure) {
    throw io_error("cannot write " + out.string() + ": " + last_gdal_error());
  }
}

std::size_t materialise_vector(const VectorSpec& spec, const RasteriseOptions& opt,
                               const Grid& grid, const fs::path& out) {
  const std::string& what = spec.what;
  VectorSource src(spec);
  if (opt.mode == VectorMode::burn && opt.attribute.empty()) {
    throw config_error(what + ": vector = \"burn\" needs attribute = \"<numeric field>\"");
  }
  std::vector<SkippedFeature> skipped;
  std::vector<Feature> feats =
      src.read(grid.crs_wkt, opt.mode == VectorMode::burn ? opt.attribute : std::string(), {},
               &skipped);
  if (!skipped.empty()) {
    gp::log::warning(what + ": " + std::to_string(skipped.size()) + " feature" +
                     (skipped.size() == 1 ? "" : "s") + " skipped (first: " +
                     skipped.front().name + ": " + skipped.front().reason + ")");
  }
  if (feats.empty()) throw_no_features(spec, skipped);
  gp::log::info(what + ": " + std::to_string(feats.size()) + " features, vector = \"" +
                to_string(opt.mode) + "\"");

  switch (opt.mode) {
    case VectorMode::presence:
    case VectorMode::burn: {
      const bool burn = opt.mode == VectorMode::burn;
      std::vector<const OGRGeometry*> geoms;
      std::vector<double> values;
      for (const auto& f : feats) {
        if (burn && std::isnan(f.value)) continue;  // a null attribute burns nothing
        geoms.push_back(f.geometry.get());
        values.push_back(burn ? f.value : 1.0);
      }
      burn_geometries_tiff(geoms, values, burn ? std::numeric_limits<double>::quiet_NaN() : 0.0,
                           opt.all_touched, grid, out, what);
      break;
    }
    case VectorMode::distance: {
      check_memory(grid, 5, opt, what);
      const std::vector<std::uint8_t> mask = rasterise_mask(feats, grid, opt.all_touched, what);
      std::vector<float> dist(grid.cells());
      const kernels::DistanceParams p{grid.dx, grid.dy, opt.max_distance};
      const auto on_cpu = [&] {
        kernels::distance_transform_cpu(mask.data(), grid.width, grid.height, p, dist.data(),
                                        opt.threads);
      };
      if (opt.use_cuda) {
        // The transform is a pure function of the mask: out of device memory, redo it on the CPU.
        kernels::with_device_fallback(
            [&] {
              kernels::distance_transform_cuda(mask.data(), grid.width, grid.height, p,
                                               dist.data(), opt.cuda_device);
            },
            on_cpu,
            [&](const device_out_of_memory& e) {
              gp::log::warning(what + ": the distance transform ran out of device memory (" +
                               e.what() + "); computing it on the CPU");
            });
      } else {
        on_cpu();
      }
      write_grid_tiff(out, grid, dist.data(), spec.what);
      break;
    }
    case VectorMode::density: {
      check_memory(grid, 16, opt, what);
      if (!(opt.radius_m > 0.0)) {
        throw config_error(what + ": vector = \"density\" needs radius = <metres> (> 0)");
      }
      OGRSpatialReference srs;
      srs.importFromWkt(grid.crs_wkt.c_str());
      if (!srs.IsProjected()) {
        throw config_error(what + ": vector = \"density\" needs a projected grid CRS (per km²), "
                           "the grid is in " + crs_label(srs));
      }
      const double unit_m = srs.GetLinearUnits();
      bool lines = false;
      bool others = false;
      std::vector<float> values(grid.cells(), 0.0f);
      DensityBurner burner(grid, values, unit_m);
      for (const auto& f : feats) {
        (is_linear(f.geometry.get()) ? lines : others) = true;
        burner.add(f.geometry.get());
      }
      if (lines && others) {
        gp::log::warning(what + ": mixes lines with points/polygons; density adds line length "
                                "(km) and feature counts together");
      }
      std::vector<float> dens(grid.cells());
      kernels::disc_density_cpu(values.data(), grid.width, grid.height, grid.dx, grid.dy,
                                opt.radius_m / unit_m, 1e6 / (unit_m * unit_m),
                                dens.data(), opt.threads);
      write_grid_tiff(out, grid, dens.data(), spec.what);
      break;
    }
  }
  return feats.size();
}

}  // namespace gp::geo
