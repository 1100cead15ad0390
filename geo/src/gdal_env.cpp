#include "gp/geo/gdal_env.hpp"

#include "gp/geo/gdal_fwd.hpp"
#include "gp/log.hpp"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <gdal_priv.h>
#include <ogr_geometry.h>

#include <atomic>
#include <mutex>
#include <string>

namespace gp::geo {
namespace {

// Failures are reported by the caller through exceptions (it reads CPLGetLastErrorMsg);
// warnings go to our log so that GDAL never prints raw lines of its own.
std::atomic<bool> g_out_of_memory{false};

void CPL_STDCALL route_gdal_error(CPLErr cls, CPLErrorNum num, const char* msg) {
  if (num == CPLE_OutOfMemory && cls >= CE_Failure) g_out_of_memory = true;
  if (cls == CE_Warning) {
    gp::log::write(gp::log::Level::debug, std::string("GDAL warning: ") + msg);
  } else if (cls == CE_Debug) {
    gp::log::write(gp::log::Level::debug, std::string("GDAL: ") + msg);
  }
}

}  // namespace

void init_gdal(int cache_mib, int threads) {
  static std::once_flag once;
  std::call_once(once, [] {
    GDALAllRegister();
    CPLSetErrorHandler(route_gdal_error);
  });
  GDALSetCacheMax64(static_cast<GIntBig>(cache_mib) * 1024 * 1024);
  const std::string n = threads > 0 ? std::to_string(threads) : std::string("ALL_CPUS");
  // Multi-threaded GeoTIFF decoding (GDAL >= 3.6) and warping use this.
  CPLSetConfigOption("GDAL_NUM_THREADS", n.c_str());
}

std::string last_gdal_error() {
  const char* m = CPLGetLastErrorMsg();
  return m != nullptr ? std::string(m) : std::string();
}

void reset_gdal_error() { CPLErrorReset(); }

bool gdal_ran_out_of_memory() { return g_out_of_memory; }
void DatasetCloser::operator()(GDALDataset* ds) const {
  if (ds != nullptr) GDALClose(GDALDataset::ToHandle(ds));
}

void GeometryDeleter::operator()(OGRGeometry* g) const { OGRGeometryFactory::destroyGeometry(g); }

}  // namespace gp::geo
