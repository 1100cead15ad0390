#pragma once
// A quicklook PNG of a score band for reports and e-mails: the colour ramp applied, nodata in
// light grey, a title, a legend (ramp bar with min/max labels) and a scale note (cell size,
// grid size, CRS, and a scale bar when the CRS is projected). The band is read decimated, from
// its overviews when it has them, so memory is bounded by the picture, not by the raster.
//
// Layout (pixels): the map is drawn so that its longer side is `map_px` and the other keeps the
// grid's aspect ratio (at least 1 px); the canvas is
//   width  = 2 * margin + map_w + legend_w
//   height = 2 * margin + title_h + max(map_h, min_content_h) + footer_h.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

namespace gp::geo {

struct QuicklookLayout {
  static constexpr int margin = 16;
  static constexpr int title_h = 40;
  static constexpr int legend_w = 160;
  static constexpr int footer_h = 56;
  static constexpr int min_content_h = 240;
};

struct QuicklookOptions {
  std::string title;                  ///< e.g. the model name
  std::string legend_label{"score"};  ///< above the ramp bar
  std::string colormap{"viridis"};
  double min{0.0};  ///< value at the low end of the ramp (the band's minimum)
  double max{1.0};  ///< value at the high end
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

}  // namespace gp::geo
