#include "gp/geo/band_scan.hpp"

#include "gp/error.hpp"
#include "gp/geo/band_reader.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/raster_writer.hpp"

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
    // The strip's blocks are not read again: drop them from GDAL's block cache, so that a pass
    // over a large map holds one strip, not a cache full of its blocks (memory flat in size).
    b.FlushCache(false);
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

std::vector<std::uint64_t> classify_rows(const fs::path& src, int band,
                                         const std::vector<double>& thresholds,
                                         const std::function<void(const float*, std::int64_t)>& sink) {
  const std::size_t n_classes = thresholds.size() + 1;
  GP_EXPECTS(n_classes <= 254, io_error, "classify_band: at most 254 classes");
  GP_EXPECTS(std::is_sorted(thresholds.begin(), thresholds.end()), io_error,
             "classify_band: thresholds must ascend");
  GDALDatasetUniquePtr in = open_read(src);
  GDALRasterBand* b = band_of(*in, band, src);
  const Validity valid(*b);
  std::vector<std::uint64_t> counts(n_classes + 1, 0);
  // Scores are Float32: compare in Float32 so that a break written as 0.9 holds the cells whose
  // score is 0.9f (a double 0.9 is above 0.9f and would push them a class down).
  const std::vector<float> thr(thresholds.begin(), thresholds.end());
  std::vector<float> cls;
  for_each_strip(*b, src, [&](const float* v, int, int rows) {
    const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(b->GetXSize());
    cls.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t c = 0;
      if (valid(v[i])) {
        // Thresholds ascend: the count of those <= v is the upper bound's index.
        c = 1 + static_cast<std::size_t>(std::upper_bound(thr.begin(), thr.end(), v[i]) - thr.begin());
      }
      cls[i] = static_cast<float>(c);
      ++counts[c];
    }
    sink(cls.data(), rows);
  });
  return counts;
}

std::vector<std::uint64_t> classify_band(const fs::path& src, int band,
                                         const std::vector<double>& thresholds,
                                         const fs::path& dst, const ClassRasterOptions& opt) {
  WriterOptions w;
  w.type = PixelType::byte;
  w.compress = opt.compress;
  w.level = opt.level;
  w.predictor = 1;
  w.tile = 512;
  w.threads = opt.threads;
  w.nodata = 0.0;
  w.band_descriptions = {opt.description};
  for (const auto& [k, v] : opt.metadata) w.metadata[k] = v;
  w.colors.assign(opt.colors.begin(),
                  opt.colors.begin() + static_cast<std::ptrdiff_t>(
                                           std::min(opt.colors.size(), thresholds.size() + 2)));
  w.category_names = opt.names;
  // The source's grid; a raster without a north-up geotransform is classified on a unit grid.
  Grid grid;
  if (const auto g = BandReader(src, "the raster to classify").grid()) {
    grid = *g;
  } else {
    const GDALDatasetUniquePtr ds = open_read(src);
    grid.width = ds->GetRasterXSize();
    grid.height = ds->GetRasterYSize();
  }
  RasterWriter out(dst, grid, w);
  const auto counts = classify_rows(src, band, thresholds, [&](const float* v, std::int64_t rows) {
    out.write_rows(v, rows);
  });
  out.close();
  return counts;
}

}  // namespace gp::geo
