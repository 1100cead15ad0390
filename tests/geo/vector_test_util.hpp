#pragma once
// Small vector files written by the tests (GeoPackage through OGR), shared by the geo and CLI
// vector tests.

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gp::test {

/// One feature: WKT geometry and (name, value) numeric attributes.
struct WktFeature {
  std::string wkt;
  std::vector<std::pair<std::string, double>> numbers;
};

/// Writes a one-layer GeoPackage (or any OGR driver) with `features` in `crs`.
inline void write_vector(const std::filesystem::path& path, const std::string& layer,
                         const std::string& crs, const std::vector<WktFeature>& features,
                         const std::string& driver = "GPKG") {
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName(driver.c_str());
  if (drv == nullptr) throw std::runtime_error("no driver " + driver);
  GDALDatasetUniquePtr ds(drv->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  if (!ds) throw std::runtime_error("cannot create " + path.string());
  OGRSpatialReference srs;
  srs.SetFromUserInput(crs.c_str());
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRLayer* l = ds->CreateLayer(layer.c_str(), &srs, wkbUnknown, nullptr);
  if (l == nullptr) throw std::runtime_error("cannot create layer " + layer);
  if (!features.empty()) {
    for (const auto& [name, v] : features.front().numbers) {
      OGRFieldDefn fd(name.c_str(), OFTReal);
      l->CreateField(&fd);
    }
  }
  for (const auto& f : features) {
    OGRFeature feat(l->GetLayerDefn());
    OGRGeometry* g = nullptr;
    if (OGRGeometryFactory::createFromWkt(f.wkt.c_str(), &srs, &g) != OGRERR_NONE) {
      throw std::runtime_error("bad WKT " + f.wkt);
    }
    feat.SetGeometryDirectly(g);
    for (const auto& [name, v] : f.numbers) feat.SetField(name.c_str(), v);
    if (l->CreateFeature(&feat) != OGRERR_NONE) throw std::runtime_error("cannot add feature");
  }
}

}  // namespace gp::test
