#pragma once
// The GDAL/OGR types that geo/ headers name, as forward declarations only: outside geo/src they
// are opaque handles (no GDAL header is included, no member is reachable), so GDAL stays behind
// geo/. Owning handles close or delete through functions defined in geo/src.

#include <memory>

class GDALDataset;
class GDALRasterBand;
class OGRGeometry;
class OGRLayer;

namespace gp::geo {

/// Closes a dataset with GDALClose (the owner of GDALDataset handles in geo/ headers).
struct DatasetCloser {
  void operator()(GDALDataset* ds) const;
};
using DatasetPtr = std::unique_ptr<GDALDataset, DatasetCloser>;

/// Deletes a geometry (OGRGeometryFactory::destroyGeometry).
struct GeometryDeleter {
  void operator()(OGRGeometry* g) const;
};
/// One owned geometry; opaque outside geo/ (see geo::geometry_extent, geo::representative_point).
using GeometryPtr = std::unique_ptr<OGRGeometry, GeometryDeleter>;

}  // namespace gp::geo
