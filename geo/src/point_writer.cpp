// GeoPackage point layers; see gp/geo/point_writer.hpp.
#include "gp/geo/point_writer.hpp"

#include "gp/error.hpp"

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <memory>

namespace gp::geo {
namespace {

[[noreturn]] void fail(const std::string& report_as, const std::string& what) {
  const char* msg = CPLGetLastErrorMsg();
  throw io_error(report_as + ": cannot write the GeoPackage (" + what +
                 (msg != nullptr && *msg != '\0' ? std::string(": ") + msg : std::string()) + ")");
}

OGRFieldType ogr_type(PointColumn::Type t) {
  switch (t) {
    case PointColumn::Type::real: return OFTReal;
    case PointColumn::Type::integer: return OFTInteger64;
    case PointColumn::Type::text: break;
  }
  return OFTString;
}

void set_field(OGRFeature& f, int i, const PointColumn& c, std::size_t k) {
  switch (c.type) {
    case PointColumn::Type::real:
      if (std::isfinite(c.real[k])) {
        f.SetField(i, c.real[k]);
      } else {
        f.SetFieldNull(i);
      }
      return;
    case PointColumn::Type::integer:
      f.SetField(i, static_cast<GIntBig>(c.integer[k]));
      return;
    case PointColumn::Type::text:
      f.SetField(i, c.text[k].c_str());
      return;
  }
}

}  // namespace

void write_points_gpkg(const std::filesystem::path& path, const PointTable& t,
                       const std::string& report_as) {
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GPKG");
  if (drv == nullptr) fail(report_as, "GDAL has no GPKG driver");
  std::unique_ptr<GDALDataset> ds(drv->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  if (!ds) fail(report_as, "create");
  OGRSpatialReference srs;
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);  // x = easting / longitude
  const bool has_srs = !t.crs_wkt.empty() && srs.importFromWkt(t.crs_wkt.c_str()) == OGRERR_NONE;
  OGRLayer* layer = ds->CreateLayer(t.layer.c_str(), has_srs ? &srs : nullptr, wkbPoint, nullptr);
  if (layer == nullptr) fail(report_as, "layer");
  for (const auto& c : t.columns) {
    OGRFieldDefn fd(c.name.c_str(), ogr_type(c.type));
    if (layer->CreateField(&fd) != OGRERR_NONE) fail(report_as, "field " + c.name);
  }
  // One transaction: a GeoPackage commits each feature on its own otherwise (slow).
  if (ds->StartTransaction() != OGRERR_NONE) fail(report_as, "transaction");
  for (std::size_t k = 0; k < t.xy.size(); ++k) {
    OGRFeature f(layer->GetLayerDefn());
    if (t.xy[k]) {
      OGRPoint p(t.xy[k]->first, t.xy[k]->second);
      f.SetGeometry(&p);
    }
    for (std::size_t i = 0; i < t.columns.size(); ++i) set_field(f, static_cast<int>(i), t.columns[i], k);
    if (layer->CreateFeature(&f) != OGRERR_NONE) fail(report_as, "feature");
  }
  if (ds->CommitTransaction() != OGRERR_NONE) fail(report_as, "commit");
  ds.reset();  // closes the file; errors on close are reported by GDAL's error state
}

}  // namespace gp::geo
