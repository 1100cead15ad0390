#pragma once
// A quicklook PNG of a raster band for reports and e-mails: the colour ramp applied, nodata in
// light grey, a title, a legend (the quantity's name, the ramp bar with its values or the class
// breaks, nodata and the deposits' symbols), coordinate ticks in CRS units on the map's edges,
// a north arrow, and a footer (scale bar when the CRS is projected, cell size, grid size, CRS,
// and the stretch when one was applied). The band is read decimated, from its overviews when
// it has them, so memory is bounded by the picture, not by the raster.
//
// Layout (pixels): the map is drawn so that its longer side is `map_px` and the other keeps the
// grid's aspect ratio (at least 1 px); the canvas is
//   width  = 2 * margin + axis_w + map_w + legend_w
//   height = 2 * margin + title_h + max(map_h + axis_h, min_content_h) + footer_h
// (axis_w: the y tick labels left of the map; axis_h: the x tick labels below it).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gp::geo {

struct QuicklookLayout {
  static constexpr int margin = 16;
  static constexpr int title_h = 40;
  static constexpr int axis_w = 18;
  static constexpr int axis_h = 18;
  static constexpr int legend_w = 200;
  static constexpr int footer_h = 64;
  static constexpr int min_content_h = 260;
};

/// A deposit drawn on the map, in the raster's CRS. Kinds are told apart by symbol and colour,
/// each with a legend entry: used = placed on a valid cell; rejected = on nodata (a rejected
/// deposit outside the grid is not drawn).
struct QuicklookPoint {
  enum class Kind { validation_used, validation_rejected, training_used, training_rejected };
  double x{0.0};
  double y{0.0};
  Kind kind{Kind::validation_used};
};

struct QuicklookOptions {
  std::string title;                  ///< e.g. the model name
  std::string legend_label{"score"};  ///< the quantity, above the ramp bar
  std::string colormap{"viridis"};
  double min{0.0};  ///< value at the low end of the ramp (the band's minimum)
  double max{1.0};  ///< value at the high end
  /// A percentile stretch: when low > 0 or high < 100, the ramp spans the low..high
  /// percentiles of the picture's valid cells (the decimated read) instead of min..max; cells
  /// beyond take the end colours, and the footer says so. Falls back to min..max when the two
  /// percentiles are equal.
  double stretch_low_pct{0.0};
  double stretch_high_pct{100.0};
  std::vector<QuicklookPoint> points;  ///< deposits to draw (none: no deposit legend)
  /// Class breaks (ascending lower bounds of classes 2..N) marked on the ramp bar, called once
  /// just before the legend is drawn (so the map can be read and coloured while the breaks are
  /// still being worked out); empty function or empty result: the ramp's value ticks instead.
  std::function<std::vector<double>()> class_breaks;
  int band{1};
  int map_px{1024};  ///< the map's longer side in pixels
};

/// The map area (w, h) for a grid of `width` x `height` cells.
std::pair<int, int> quicklook_map_size(std::int64_t width, std::int64_t height, int map_px);

/// The whole PNG's (w, h), per the layout above.
std::pair<int, int> quicklook_size(std::int64_t width, std::int64_t height, int map_px);

/// Draws the quicklook of band `options.band` of `raster` into the PNG `png`.
/// Throws gp::io_error (reading, drawing or writing failed); `png` is removed on failure.
void write_quicklook(const std::filesystem::path& raster, const std::filesystem::path& png,
                     const QuicklookOptions& options);

/// Metres per unit of a projected CRS's axes; 0 for a geographic (or unknown) CRS.
double crs_linear_unit_m(const std::string& wkt);

/// Round tick positions (1, 2 or 5 times a power of ten apart) inside [lo, hi], about
/// `target` of them (at least 2 when the interval holds them).
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace gp::geo
