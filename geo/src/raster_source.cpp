#include "gp/geo/raster_source.hpp"

#include "raster_open.hpp"

#include "ogr_crs.hpp"
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <cpl_string.h>
#include <sys/stat.h>
#include <gdal_alg.h>
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <gdalwarper.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <vector>

namespace gp::geo {
namespace {

/// Counts of one row's validity pass.
struct RowCounts {
  std::uint32_t invalid;  ///< non-finite values that are not the nodata value (NaN nodata: inf)
  std::uint32_t nodata;   ///< cells that became NaN (nodata value or not finite)
};

// The validity pass below built for AVX-512, AVX2 and baseline x86-64, picked at load time
// (as the scoring kernel, kernels/src/cpu_backend.cpp): AVX-512's masked stores write only the
// cells that become NaN, so the cache lines of a row without nodata stay clean.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define GP_GEO_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GP_GEO_CLONES
#endif

/// One row of read_direct's validity pass without a mask band: nodata and non-finite cells
/// become NaN. 32-bit counters, as wide as the floats (a row has fewer than 2^31 cells), and
/// finiteness as |v| <= FLT_MAX (false for NaN): the loop vectorises without widening masks.
GP_GEO_CLONES RowCounts validity_pass(float* row, std::int64_t n, bool has_nd, float nd,
                                      bool nan_is_nodata) {
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  constexpr float fmax = std::numeric_limits<float>::max();
  const auto nd_flag = static_cast<std::uint32_t>(has_nd);
  const auto nan_flag = static_cast<std::uint32_t>(nan_is_nodata);
  std::uint32_t row_invalid = 0;
  std::uint32_t row_nodata = 0;
  for (std::int64_t c = 0; c < n; ++c) {
    const float v = row[c];
    // Bitwise, not short-circuit: no branches in the loop.
    const std::uint32_t masked = nd_flag & static_cast<std::uint32_t>(v == nd);
    const auto finite = static_cast<std::uint32_t>(std::fabs(v) <= fmax);
    const auto is_nan = static_cast<std::uint32_t>(v != v);
    const std::uint32_t gone = masked | (finite ^ 1U);
    row_invalid += (masked ^ 1U) & (finite ^ 1U) & ((nan_flag & is_nan) ^ 1U);
    row_nodata += gone;
    if (gone != 0) row[c] = nan;  // a masked store where vectorised
  }
  return {row_invalid, row_nodata};
}

struct TransformerDeleter {
  void operator()(void* p) const {
    if (p != nullptr) GDALDestroyGenImgProjTransformer(p);
  }
};

}  // namespace

void check_input_path(const std::string& path, const std::string& what) {
  if (path.rfind("/vsi", 0) == 0) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENAMETOOLONG) {
      throw input_error(what + ": file name too long (expected names of at most " +
                        std::to_string(NAME_MAX) + " bytes and paths of at most " +
                        std::to_string(PATH_MAX - 1) + "): " + path);
    }
    return;  // missing or unreadable: the open says so
  }
  const char* kind = S_ISFIFO(st.st_mode)   ? "a FIFO (named pipe)"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                                            : nullptr;
  if (kind != nullptr) {
    throw input_error(what + ": " + path + " is " + kind + " (expected a regular file)");
  }
}

GDALDatasetUniquePtr open_raster(const std::string& path, const std::string& what) {
  reset_gdal_error();
  check_input_path(path, what);
  // GDAL virtual file systems (/vsizip/, /vsimem/, ...) are not on disk: GDAL says if missing.
  std::error_code ec;
  if (path.rfind("/vsi", 0) != 0 && !std::filesystem::exists(path, ec)) {
    throw input_error(what + ": file not found: " + path);
  }
  GDALDatasetUniquePtr ds(
      GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, nullptr, nullptr, nullptr));
  if (!ds) {
    const std::string why = last_gdal_error();
    throw input_error(what + ": " + path + " is not a raster GDAL can read" +
                      (why.empty() ? std::string(" (expected a GeoTIFF or another GDAL raster)")
                                   : " (GDAL: " + why + ")"));
  }
  if (ds->GetRasterCount() < 1) {
    throw input_error(what + ": " + path + " has no raster band");
  }
  return ds;
}

std::string wkt_of(GDALDataset& ds) {
  const OGRSpatialReference* srs = ds.GetSpatialRef();
  return srs != nullptr ? to_wkt(*srs) : std::string();
}

RasterInfo describe_raster(const std::string& path, const std::string& what) {
  GDALDatasetUniquePtr ds = open_raster(path, what);
  RasterInfo info;
  info.path = path;
  info.crs_wkt = wkt_of(*ds);
  info.has_geotransform = ds->GetGeoTransform(info.geotransform.data()) == CE_None;
  info.width = ds->GetRasterXSize();
  info.height = ds->GetRasterYSize();
  info.band_count = ds->GetRasterCount();
  return info;
}

Footprint footprint_in(const RasterInfo& info, const std::string& target_wkt,
                       const std::string& what) {
  if (info.crs_wkt.empty()) {
    throw input_error(what + ": " + info.path +
                      " has no CRS (expected a georeferenced raster; assign one with "
                      "gdal_edit.py -a_srs)");
  }
  if (!info.has_geotransform) {
    throw input_error(what + ": " + info.path + " has no geotransform (expected a georeferenced raster)");
  }
  const auto& gt = info.geotransform;
  Footprint fp;
  if (same_crs(info.crs_wkt, target_wkt) && gt[2] == 0.0 && gt[4] == 0.0) {
    const double xa = gt[0];
    const double xb = gt[0] + gt[1] * static_cast<double>(info.width);
    const double ya = gt[3];
    const double yb = gt[3] + gt[5] * static_cast<double>(info.height);
    fp.bounds = {std::min(xa, xb), std::min(ya, yb), std::max(xa, xb), std::max(ya, yb)};
    fp.cell_size = std::abs(gt[1]);
    return fp;
  }
  GDALDatasetUniquePtr ds = open_raster(info.path, what);
  CPLStringList opts;
  opts.SetNameValue("DST_SRS", target_wkt.c_str());
  reset_gdal_error();
  std::unique_ptr<void, TransformerDeleter> tr(
      GDALCreateGenImgProjTransformer2(ds.get(), nullptr, opts.List()));
  if (!tr) {
    throw input_error(what + ": no transformation from its CRS (" + crs_label_wkt(info.crs_wkt) +
                      ") to the grid CRS (" + crs_label_wkt(target_wkt) + "): " + last_gdal_error());
  }
  double out_gt[6];
  int px = 0;
  int ln = 0;
  double ext[4];
  if (GDALSuggestedWarpOutput2(ds.get(), GDALGenImgProjTransform, tr.get(), out_gt, &px, &ln, ext,
                               0) != CE_None) {
    throw input_error(what + ": cannot compute its footprint in the grid CRS (" +
                      crs_label_wkt(target_wkt) + "): " + last_gdal_error());
  }
  fp.bounds = {ext[0], ext[1], ext[2], ext[3]};
  fp.cell_size = std::abs(out_gt[1]);
  return fp;
}

std::string gdal_resampling_name(const std::string& method) {
  static const char* const names[] = {"bilinear", "cubic", "cubicspline", "lanczos", "average",
                                      "mode",     "min",   "max",         "med",     "q1",
                                      "q3",       "sum",   "rms"};
  if (method == "nearest" || method == "near") return "near";
  for (const char* n : names) {
    if (method == n) return n;
  }
  return {};
}

RasterSource::RasterSource(const std::string& path, int band, const std::string& resampling,
                           const Grid& grid, const std::string& what)
    : what_(what), path_(path), grid_(grid) {
  src_.reset(open_raster(path, what).release());
  if (band < 1 || band > src_->GetRasterCount()) {
    throw input_error(what + ": band " + std::to_string(band) + " does not exist in " + path +
                      " (it has " + std::to_string(src_->GetRasterCount()) + " band" +
                      (src_->GetRasterCount() == 1 ? "" : "s") + ")");
  }
  const std::string src_wkt = wkt_of(*src_);
  if (src_wkt.empty()) {
    throw input_error(what + ": " + path + " has no CRS (expected a georeferenced raster)");
  }
  double gt[6];
  if (src_->GetGeoTransform(gt) != CE_None) {
    throw input_error(what + ": " + path + " has no geotransform (expected a georeferenced raster)");
  }
  const std::string alg = gdal_resampling_name(resampling);
  if (alg.empty()) {
    throw config_error(what + ": unknown resampling '" + resampling +
                       "' (expected nearest, bilinear, cubic, average or mode)");
  }

  // On the grid already: same CRS, same cell size, cell edges aligned -> read directly.
  const double ox = (grid_.x0 - gt[0]) / gt[1];
  const double oy = (gt[3] - grid_.y0) / -gt[5];
  const bool aligned = gt[2] == 0.0 && gt[4] == 0.0 && gt[5] < 0.0 &&
                       std::abs(gt[1] - grid_.dx) <= 1e-9 * grid_.dx &&
                       std::abs(-gt[5] - grid_.dy) <= 1e-9 * grid_.dy &&
                       std::abs(ox - std::round(ox)) < 1e-6 && std::abs(oy - std::round(oy)) < 1e-6;
  if (aligned && same_crs(src_wkt, grid_.crs_wkt)) {
    direct_ = true;
    off_col_ = static_cast<std::int64_t>(std::llround(ox));
    off_row_ = static_cast<std::int64_t>(std::llround(oy));
    band_ = src_->GetRasterBand(band);
    int has = 0;
    const double nd = band_->GetNoDataValue(&has);
    if (has != 0) nodata_ = nd;
    return;
  }

  // Warped: GDAL's own gdalwarp (library form) builds a warped VRT over the whole target grid;
  // reading a window of it warps only what that window needs, block by block.
  reset_gdal_error();
  GDALDatasetH warp_src = GDALDataset::ToHandle(src_.get());
  if (band != 1 || src_->GetRasterCount() > 1) {
    CPLStringList targs;
    targs.AddString("-of");
    targs.AddString("VRT");
    targs.AddString("-b");
    targs.AddString(std::to_string(band).c_str());
    GDALTranslateOptions* topt = GDALTranslateOptionsNew(targs.List(), nullptr);
    band_vrt_ = GDALDataset::FromHandle(GDALTranslate("", warp_src, topt, nullptr));
    GDALTranslateOptionsFree(topt);
    if (band_vrt_ == nullptr) {
      throw input_error(what + ": cannot select band " + std::to_string(band) + " of " + path +
                        ": " + last_gdal_error());
    }
    warp_src = GDALDataset::ToHandle(band_vrt_);
  }
  CPLStringList args;
  auto add = [&args](const std::string& s) { args.AddString(s.c_str()); };
  add("-of");
  add("VRT");
  add("-t_srs");
  add(grid_.crs_wkt);
  add("-te");
  add(text::shortest_plain(grid_.x0));
  add(text::shortest_plain(grid_.ymin()));
  add(text::shortest_plain(grid_.xmax()));
  add(text::shortest_plain(grid_.y0));
  add("-ts");
  add(std::to_string(grid_.width));
  add(std::to_string(grid_.height));
  add("-r");
  add(alg);
  add("-ot");
  add("Float32");
  add("-dstnodata");
  add("nan");
  // Exact transformation for every cell: values then do not depend on how the grid is chunked.
  add("-et");
  add("0");
  add("-wo");
  add("NUM_THREADS=ALL_CPUS");
  int usage_error = 0;
  GDALWarpAppOptions* wopt = GDALWarpAppOptionsNew(args.List(), nullptr);
  warped_ = GDALDataset::FromHandle(GDALWarp("", nullptr, 1, &warp_src, wopt, &usage_error));
  GDALWarpAppOptionsFree(wopt);
  if (warped_ == nullptr) {
    throw input_error(what + ": cannot warp " + path + " onto the grid: " + last_gdal_error());
  }
  band_ = warped_->GetRasterBand(1);
  gp::log::debug(what + ": warped from " + crs_label_wkt(src_wkt) + " with " + alg);
}

RasterSource::~RasterSource() {
  if (warped_ != nullptr) GDALClose(GDALDataset::ToHandle(warped_));
  if (band_vrt_ != nullptr) GDALClose(GDALDataset::ToHandle(band_vrt_));
}

void RasterSource::read(const Window& w, float* out) {
  if (w.cells() == 0) return;
  if (direct_) {
    read_direct(w, out);
  } else {
    reset_gdal_error();
    if (band_->RasterIO(GF_Read, static_cast<int>(w.col), static_cast<int>(w.row),
                        static_cast<int>(w.cols), static_cast<int>(w.rows), out,
                        static_cast<int>(w.cols), static_cast<int>(w.rows), GDT_Float32, 0, 0,
                        nullptr) != CE_None) {
      throw input_error(what_ + ": " + path_ + ": reading grid rows " + std::to_string(w.row) +
                        ".." + std::to_string(w.row + w.rows - 1) +
                        " failed (corrupt or truncated file?): " + last_gdal_error());
    }
    std::uint64_t inf = 0;
    std::uint64_t valid = 0;
    for (std::size_t i = 0; i < w.cells(); ++i) {
      if (!std::isfinite(out[i])) {
        inf += std::isinf(out[i]) ? 1 : 0;
        out[i] = std::numeric_limits<float>::quiet_NaN();
      } else {
        ++valid;
      }
    }
    invalid_ += inf;
    valid_ += valid;
  }
}

void RasterSource::read_direct(const Window& w, float* out) {
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  const std::int64_t sw = src_->GetRasterXSize();
  const std::int64_t sh = src_->GetRasterYSize();
  const std::int64_t c0 = std::max<std::int64_t>(w.col + off_col_, 0);
  const std::int64_t r0 = std::max<std::int64_t>(w.row + off_row_, 0);
  const std::int64_t c1 = std::min<std::int64_t>(w.col + w.cols + off_col_, sw);
  const std::int64_t r1 = std::min<std::int64_t>(w.row + w.rows + off_row_, sh);
  const std::int64_t nc = c1 > c0 ? c1 - c0 : 0;
  const std::int64_t nr = r1 > r0 ? r1 - r0 : 0;
  // Cells of the window outside the source are nodata (no pass when the source covers it).
  if (nc != w.cols || nr != w.rows) std::fill(out, out + w.cells(), nan);
  if (nc == 0 || nr == 0) return;
  float* dst = out + (r0 - off_row_ - w.row) * w.cols + (c0 - off_col_ - w.col);
  const auto line = static_cast<GSpacing>(w.cols) * static_cast<GSpacing>(sizeof(float));
  reset_gdal_error();
  if (band_->RasterIO(GF_Read, static_cast<int>(c0), static_cast<int>(r0), static_cast<int>(nc),
                      static_cast<int>(nr), dst, static_cast<int>(nc), static_cast<int>(nr),
                      GDT_Float32, sizeof(float), line, nullptr) != CE_None) {
    throw input_error(what_ + ": " + path_ + ": reading rows " + std::to_string(r0) + ".." +
                      std::to_string(r1 - 1) + " failed (corrupt or truncated file?): " +
                      last_gdal_error());
  }
  // Each window's blocks are read once: drop them from GDAL's block cache so that memory stays
  // bounded by the window whatever the raster's width.
  band_->FlushCache(false);
  // A mask band other than "all valid" or "nodata value" (alpha, per-dataset or internal
  // masks) marks further invalid cells.
  std::vector<std::uint8_t> mask;
  const int flags = band_->GetMaskFlags();
  if ((flags & (GMF_ALL_VALID | GMF_NODATA)) == 0) {
    mask.resize(static_cast<std::size_t>(nc * nr));
    if (band_->GetMaskBand()->RasterIO(GF_Read, static_cast<int>(c0), static_cast<int>(r0),
                                       static_cast<int>(nc), static_cast<int>(nr), mask.data(),
                                       static_cast<int>(nc), static_cast<int>(nr), GDT_Byte, 0, 0,
                                       nullptr) != CE_None) {
      throw input_error(what_ + ": " + path_ + ": reading its mask failed: " + last_gdal_error());
    }
  }
  const bool has_nd = nodata_.has_value() && !std::isnan(*nodata_);
  const float nd = has_nd ? static_cast<float>(*nodata_) : 0.0f;
  // NaN nodata: NaN cells are nodata, infinities invalid. Otherwise every non-finite value in a
  // cell that is neither nodata nor masked is invalid: nodata as well, but counted.
  const bool nan_is_nodata = nodata_.has_value() && std::isnan(*nodata_);
  std::uint64_t invalid = 0;
  std::uint64_t nodata = 0;
  for (std::int64_t r = 0; r < nr; ++r) {
    float* row = dst + r * w.cols;
    if (mask.empty()) {  // the common case, without the per-cell mask test (vectorised)
      const RowCounts rc = validity_pass(row, nc, has_nd, nd, nan_is_nodata);
      invalid += rc.invalid;
      nodata += rc.nodata;
      continue;
    }
    for (std::int64_t c = 0; c < nc; ++c) {
      const float v = row[c];
      const bool masked = (has_nd && v == nd) ||
                          (!mask.empty() && mask[static_cast<std::size_t>(r * nc + c)] == 0);
      if (!masked && !std::isfinite(v) && !(nan_is_nodata && std::isnan(v))) ++invalid;
      if (masked || !std::isfinite(v)) {
        row[c] = nan;
        ++nodata;
      }
    }
  }
  invalid_ += invalid;
  valid_ += static_cast<std::uint64_t>(nc) * static_cast<std::uint64_t>(nr) - nodata;
}

}  // namespace gp::geo
