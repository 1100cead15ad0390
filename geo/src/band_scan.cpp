#include "gp/geo/band_scan.hpp"

#include "gp/error.hpp"
#include "gp/geo/cog.hpp"
#include "gp/geo/gdal_env.hpp"

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_priv.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace gp::geo {
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t strip_cells = std::int64_t{1} << 22;

GDALDatasetUniquePtr open_read(const fs::path& path) {
  reset_gdal_error();
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds) throw io_error("cannot reopen " + path.string() + ": " + last_gdal_error());
  return ds;
}

GDALRasterBand* band_of(GDALDataset& ds, int band, const fs::path& path) {
  if (band < 1 || band > ds.GetRasterCount()) {
    throw io_error(path.string() + ": has no band " + std::to_string(band));
  }
  return ds.GetRasterBand(band);
}

/// Rows per strip: whole blocks, about strip_cells cells.
int strip_rows(GDALRasterBand& b) {
  int bx = 0;
  int by = 0;
  b.GetBlockSize(&bx, &by);
  by = std::max(by, 1);
  const std::int64_t w = std::max(b.GetXSize(), 1);
  const std::int64_t blocks = std::max<std::int64_t>(1, strip_cells / (w * by));
  return static_cast<int>(std::min<std::int64_t>(blocks * by, b.GetYSize()));
}

/// Calls `fn(values, row0, rows)` for each full-width strip of the band, from the top.
void for_each_strip(GDALRasterBand& b, const fs::path& path,
                    const std::function<void(const float*, int, int)>& fn) {
  const int w = b.GetXSize();
  const int h = b.GetYSize();
  const int step = strip_rows(b);
  std::vector<float> buf(static_cast<std::size_t>(w) * static_cast<std::size_t>(step));
  for (int r = 0; r < h; r += step) {
    const int n = std::min(step, h - r);
    reset_gdal_error();
    if (b.RasterIO(GF_Read, 0, r, w, n, buf.data(), w, n, GDT_Float32, 0, 0, nullptr) !=
        CE_None) {
      throw io_error(path.string() + ": reading rows " + std::to_string(r) + ".." +
                     std::to_string(r + n - 1) + " failed: " + last_gdal_error());
    }
    fn(buf.data(), r, n);
  }
}

/// A cell is valid when finite and not the band's nodata.
struct Validity {
  bool has_nodata{false};
  float nodata{0.0f};
  explicit Validity(GDALRasterBand& b) {
    int has = 0;
    const double nd = b.GetNoDataValue(&has);
    has_nodata = has != 0;
    nodata = static_cast<float>(nd);
  }
  [[nodiscard]] bool operator()(float v) const {
    return std::isfinite(v) && !(has_nodata && v == nodata);
  }
};

}  // namespace

std::optional<StoredStatistics> stored_statistics(const fs::path& path, int band) {
  GDALDatasetUniquePtr ds = open_read(path);
  GDALRasterBand* b = band_of(*ds, band, path);
  StoredStatistics s;
  // bApproxOK = FALSE, bForce = FALSE: only what the file holds, never a scan.
  if (b->GetStatistics(FALSE, FALSE, &s.min, &s.max, &s.mean, &s.stddev) != CE_None) {
    reset_gdal_error();
    return std::nullopt;
  }
  return s;
}

FineHistogram histogram_band(const fs::path& path, int band, std::size_t bins) {
  GP_EXPECTS(bins >= 1, io_error, "histogram_band: bins must be >= 1");
  GDALDatasetUniquePtr ds = open_read(path);
  GDALRasterBand* b = band_of(*ds, band, path);
  const Validity valid(*b);
  double lo = 0.0;
  double hi = 0.0;
  double stats[4] = {0, 0, 0, 0};
  if (b->GetStatistics(FALSE, FALSE, &stats[0], &stats[1], &stats[2], &stats[3]) == CE_None) {
    lo = stats[0];
    hi = stats[1];
  } else {
    reset_gdal_error();
    bool have = false;
    for_each_strip(*b, path, [&](const float* v, int, int rows) {
      const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(b->GetXSize());
      for (std::size_t i = 0; i < n; ++i) {
        if (!valid(v[i])) continue;
        if (!have) lo = hi = v[i];
        have = true;
        lo = std::min<double>(lo, v[i]);
        hi = std::max<double>(hi, v[i]);
      }
    });
  }
  FineHistogram h = FineHistogram::make(lo, hi, bins);
  const auto w = static_cast<std::size_t>(b->GetXSize());
  for_each_strip(*b, path, [&](const float* v, int, int rows) {
    const std::size_t n = static_cast<std::size_t>(rows) * w;
    for (std::size_t i = 0; i < n; ++i) {
      if (valid(v[i])) {
        h.add(v[i]);
      } else {
        ++h.nodata;
      }
    }
  });
  return h;
}

std::vector<std::uint64_t> classify_band(const fs::path& src, int band,
                                         const std::vector<double>& thresholds,
                                         const fs::path& dst, const ClassRasterOptions& opt) {
  const std::size_t n_classes = thresholds.size() + 1;
  GP_EXPECTS(n_classes <= 254, io_error, "classify_band: at most 254 classes");
  GP_EXPECTS(std::is_sorted(thresholds.begin(), thresholds.end()), io_error,
             "classify_band: thresholds must ascend");
  GDALDatasetUniquePtr in = open_read(src);
  GDALRasterBand* b = band_of(*in, band, src);
  const Validity valid(*b);
  const int w = b->GetXSize();
  const int h = b->GetYSize();

  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (drv == nullptr) throw io_error("GDAL has no GTiff driver");
  CPLStringList co;
  co.SetNameValue("TILED", "YES");
  co.SetNameValue("BLOCKXSIZE", "512");
  co.SetNameValue("BLOCKYSIZE", "512");
  co.SetNameValue("BIGTIFF", "IF_SAFER");
  co.SetNameValue("COMPRESS", opt.compress.c_str());
  if (opt.compress == "ZSTD") co.SetNameValue("ZSTD_LEVEL", std::to_string(opt.level).c_str());
  if (opt.compress == "DEFLATE") co.SetNameValue("ZLEVEL", std::to_string(opt.level).c_str());
  co.SetNameValue("NUM_THREADS", opt.threads > 0 ? std::to_string(opt.threads).c_str() : "ALL_CPUS");
  reset_gdal_error();
  GDALDataset* out = drv->Create(dst.c_str(), w, h, 1, GDT_Byte, co.List());
  if (out == nullptr) {
    throw io_error("output " + dst.string() + ": cannot create: " + last_gdal_error());
  }
  auto fail = [&](const std::string& msg) {
    const std::string gdal = last_gdal_error();
    if (out != nullptr) GDALClose(GDALDataset::ToHandle(out));
    out = nullptr;
    remove_raster_files(dst);
    throw io_error("output " + dst.string() + ": " + msg + (gdal.empty() ? "" : ": " + gdal));
  };
  std::vector<std::uint64_t> counts(n_classes + 1, 0);
  // Scores are Float32: compare in Float32 so that a break written as 0.9 holds the cells whose
  // score is 0.9f (a double 0.9 is above 0.9f and would push them a class down).
  std::vector<float> thr(thresholds.begin(), thresholds.end());
  try {
    double gt[6];
    if (in->GetGeoTransform(gt) == CE_None) out->SetGeoTransform(gt);
    if (const OGRSpatialReference* srs = in->GetSpatialRef()) out->SetSpatialRef(srs);
    for (const auto& [k, v] : opt.metadata) out->SetMetadataItem(k.c_str(), v.c_str());
    GDALRasterBand* ob = out->GetRasterBand(1);
    ob->SetNoDataValue(0.0);
    ob->SetDescription(opt.description.c_str());
    GDALColorTable ct;
    for (std::size_t i = 0; i < opt.colors.size() && i <= n_classes; ++i) {
      GDALColorEntry e{opt.colors[i].r, opt.colors[i].g, opt.colors[i].b,
                       static_cast<short>(i == 0 ? 0 : 255)};
      ct.SetColorEntry(static_cast<int>(i), &e);
    }
    if (ob->SetColorTable(&ct) != CE_None) fail("cannot set the colour table");
    if (ob->SetColorInterpretation(GCI_PaletteIndex) != CE_None) {
      fail("cannot set the palette interpretation");
    }
    CPLStringList cats;
    for (const auto& name : opt.names) cats.AddString(name.c_str());
    if (!opt.names.empty() && ob->SetCategoryNames(cats.List()) != CE_None) {
      fail("cannot set the category names");
    }

    std::vector<std::uint8_t> cls;
    for_each_strip(*b, src, [&](const float* v, int row0, int rows) {
      const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(w);
      cls.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        std::uint8_t c = 0;
        if (valid(v[i])) {
          // Thresholds ascend: the count of those <= v is the upper bound's index.
          c = static_cast<std::uint8_t>(1 + (std::upper_bound(thr.begin(), thr.end(), v[i]) -
                                             thr.begin()));
        }
        cls[i] = c;
        ++counts[c];
      }
      reset_gdal_error();
      if (ob->RasterIO(GF_Write, 0, row0, w, rows, cls.data(), w, rows, GDT_Byte, 0, 0,
                       nullptr) != CE_None) {
        fail("writing rows " + std::to_string(row0) + " failed");
      }
    });
    reset_gdal_error();
    GDALClose(GDALDataset::ToHandle(out));
    out = nullptr;
    if (CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal) {
      fail("writing failed at close");
    }
  } catch (...) {
    if (out != nullptr) GDALClose(GDALDataset::ToHandle(out));
    out = nullptr;
    remove_raster_files(dst);
    throw;
  }
  return counts;
}

}  // namespace gp::geo
