#include "gp/geo/cog.hpp"

#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_priv.h>

#include <system_error>

namespace gp::geo {
namespace fs = std::filesystem;

namespace {

fs::path with_suffix(const fs::path& p, const char* suffix) {
  return fs::path(p.string() + suffix);
}

bool gdal_failed() {
  const CPLErr e = CPLGetLastErrorType();
  return e == CE_Failure || e == CE_Fatal;
}

}  // namespace

void remove_raster_files(const fs::path& path) noexcept {
  std::error_code ec;
  fs::remove(path, ec);
  for (const char* s : {".aux.xml", ".ovr.tmp", ".ovr"}) fs::remove(with_suffix(path, s), ec);
}

void write_cog(const fs::path& src, const fs::path& dst, const CogOptions& options,
               const std::string& what) {
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("COG");
  if (drv == nullptr) {
    throw io_error(what + ": this GDAL has no COG driver (GDAL >= 3.1 is needed; use "
                          "[output] format = \"gtiff\")");
  }
  reset_gdal_error();
  GDALDatasetUniquePtr in(GDALDataset::Open(src.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!in) {
    throw io_error(what + ": cannot reopen the written raster " + src.string() + ": " +
                   last_gdal_error());
  }
  CPLStringList co;
  co.SetNameValue("COMPRESS", options.compress.c_str());
  if (options.compress == "ZSTD" || options.compress == "DEFLATE") {
    co.SetNameValue("LEVEL", std::to_string(options.level).c_str());
  }
  if (options.compress != "NONE") {
    const char* pred = options.predictor == 3 ? "FLOATING_POINT"
                       : options.predictor == 2 ? "STANDARD"
                                                : "NO";
    co.SetNameValue("PREDICTOR", pred);
  }
  co.SetNameValue("BLOCKSIZE", std::to_string(options.blocksize).c_str());
  co.SetNameValue("OVERVIEW_RESAMPLING", options.overview_resampling.c_str());
  co.SetNameValue("BIGTIFF", "IF_SAFER");
  co.SetNameValue("NUM_THREADS",
                  options.threads > 0 ? std::to_string(options.threads).c_str() : "ALL_CPUS");

  auto fail = [&](const std::string& msg) {
    const std::string gdal = last_gdal_error();
    remove_raster_files(dst);
    throw io_error(what + ": writing the Cloud-Optimized GeoTIFF " + dst.string() + " failed: " +
                   msg + (gdal.empty() ? "" : ": " + gdal));
  };
  reset_gdal_error();
  GDALDataset* out = drv->CreateCopy(dst.c_str(), in.get(), FALSE, co.List(), nullptr, nullptr);
  if (out == nullptr) fail("CreateCopy");
  if (gdal_failed()) {
    GDALClose(GDALDataset::ToHandle(out));
    fail("CreateCopy reported an error");
  }
  reset_gdal_error();
  // Write errors (e.g. a full disk) often surface only at close (GDAL 3.6 has no Close()).
  GDALClose(GDALDataset::ToHandle(out));
  if (gdal_failed()) fail("closing");
  std::error_code ec;
  if (fs::exists(with_suffix(dst, ".ovr.tmp"), ec)) fs::remove(with_suffix(dst, ".ovr.tmp"), ec);
}

}  // namespace gp::geo
