#pragma once
// Streaming passes over a written raster band (the finished map): a fine histogram of the
// valid values, and classification into a paletted Byte GeoTIFF. Both read full-width strips
// of whole blocks, so memory is bounded by the strip, never by the raster.

#include "gp/geo/colormap.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace gp::geo {

/// Statistics GDAL holds for a band (STATISTICS_* metadata), when present.
struct StoredStatistics {
  double min{0.0};
  double max{0.0};
  double mean{0.0};
  double stddev{0.0};
};
std::optional<StoredStatistics> stored_statistics(const std::filesystem::path& path, int band);

/// Histogram of a band's valid values (not nodata, finite) over [lo, hi] in `count.size()`
/// equal bins; each bin also keeps its smallest value and the sum of its values, so that a
/// threshold placed at a bin edge is reported as a real data value (the bin's minimum) and
/// classifying by `value >= bin_min[k]` puts exactly the cells of bins >= k above it.
struct FineHistogram {
  double lo{0.0};
  double hi{0.0};
  std::vector<std::uint64_t> count;
  std::vector<float> bin_min;  ///< +inf for an empty bin
  std::vector<double> bin_sum;
  std::uint64_t valid{0};
  std::uint64_t nodata{0};  ///< nodata or non-finite cells

  /// The bin of `v` (clamped into range). Monotone in v.
  [[nodiscard]] std::size_t bin_of(double v) const {
    const std::size_t n = count.size();
    if (!(hi > lo)) return 0;
    const double x = (v - lo) / (hi - lo) * static_cast<double>(n);
    if (!(x > 0.0)) return 0;
    const auto b = static_cast<std::size_t>(x);
    return b < n ? b : n - 1;
  }
  /// Adds one valid value.
  void add(float v) {
    const std::size_t b = bin_of(v);
    ++count[b];
    bin_sum[b] += v;
    if (v < bin_min[b]) bin_min[b] = v;
    ++valid;
  }
  /// An empty histogram of `bins` bins over [lo, hi].
  static FineHistogram make(double lo, double hi, std::size_t bins) {
    FineHistogram h;
    h.lo = lo;
    h.hi = hi;
    h.count.assign(bins, 0);
    h.bin_min.assign(bins, std::numeric_limits<float>::infinity());
    h.bin_sum.assign(bins, 0.0);
    return h;
  }
};

/// One streaming pass over band `band` of `path`: its histogram over the band's stored
/// min..max (a first min/max pass when the file holds no statistics), `bins` bins.
/// Throws gp::io_error.
FineHistogram histogram_band(const std::filesystem::path& path, int band,
                             std::size_t bins = 65536);

struct ClassRasterOptions {
  /// Per class value, from 0 (nodata) to N: names and colours. names[0] is usually "".
  std::vector<std::string> names;
  std::vector<Rgb> colors;
  std::string description{"class"};
  std::string compress{"ZSTD"};
  int level{1};
  int threads{0};
  std::vector<std::pair<std::string, std::string>> metadata;
};

/// The classification pass alone: band `band` of `src` read once, strip by strip from the top;
/// each strip's class values (as classify_band gives them, as floats) handed to
/// `sink(values, rows)` (full-width rows). Returns the cell count per class value 0..N.
std::vector<std::uint64_t> classify_rows(
    const std::filesystem::path& src, int band, const std::vector<double>& thresholds,
    const std::function<void(const float*, std::int64_t)>& sink);

/// Classifies band `band` of `src` into a tiled Byte GeoTIFF at `dst` (same grid): a valid
/// value v gets class 1 + (number of thresholds t with v >= float(t)), classes 1..N from low to
/// high for N - 1 ascending thresholds; nodata and non-finite cells get 0 (the file's nodata).
/// Writes the colour table (class 0 transparent) and the category names (geo::RasterWriter's
/// Byte file: also as CLASS_<v>_NAME items in the TIFF). Returns the cell
/// count per class value 0..N. Throws gp::io_error; `dst` is removed on failure.
std::vector<std::uint64_t> classify_band(const std::filesystem::path& src, int band,
                                         const std::vector<double>& thresholds,
                                         const std::filesystem::path& dst,
                                         const ClassRasterOptions& options);

}  // namespace gp::geo
