#include "gp/geo/quicklook.hpp"

#include "gp/error.hpp"
#include "gp/geo/colormap.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/text.hpp"

#include <cairo.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <memory>
#include <vector>

namespace gp::geo {
namespace fs = std::filesystem;

namespace {

constexpr Rgb nodata_grey{236, 236, 236};
constexpr const char* font = "DejaVu Sans";

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

void set_rgb(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0); }

void text_at(cairo_t* cr, double x, double y, const std::string& s, double size, bool bold,
             double align = 0.0) {
  cairo_select_font_face(cr, font, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_move_to(cr, x - align * ext.x_advance, y);
  cairo_show_text(cr, s.c_str());
}

/// A round length (1, 2 or 5 times a power of ten) no longer than `at_most`.
double nice_length(double at_most) {
  const double p = std::pow(10.0, std::floor(std::log10(at_most)));
  for (double m : {5.0, 2.0, 1.0}) {
    if (m * p <= at_most) return m * p;
  }
  return p;
}

std::string length_label(double metres) {
  if (metres >= 1000.0) return text::significant(metres / 1000.0, 4) + " km";
  return text::significant(metres, 4) + " m";
}

using Ramp = std::array<Rgb, 256>;

/// The quicklook's band, opened read-only.
struct SourceBand {
  GDALDatasetUniquePtr ds;
  GDALRasterBand* band{nullptr};
  int w{0};  ///< grid columns
  int h{0};  ///< grid rows
};

SourceBand open_band(const fs::path& raster, int band_no) {
  reset_gdal_error();
  SourceBand src;
  src.ds.reset(GDALDataset::Open(raster.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!src.ds) {
    throw io_error("quicklook: cannot open " + raster.string() + ": " + last_gdal_error());
  }
  if (band_no < 1 || band_no > src.ds->GetRasterCount()) {
    throw io_error("quicklook: " + raster.string() + " has no band " + std::to_string(band_no));
  }
  src.band = src.ds->GetRasterBand(band_no);
  src.w = src.ds->GetRasterXSize();
  src.h = src.ds->GetRasterYSize();
  return src;
}

/// The whole band read at rw x rh (GDAL picks the overview that fits and averages from it).
std::vector<float> read_decimated(const SourceBand& src, int rw, int rh, const fs::path& raster) {
  std::vector<float> v(static_cast<std::size_t>(rw) * static_cast<std::size_t>(rh));
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  extra.eResampleAlg = GRIORA_Average;
  reset_gdal_error();
  if (src.band->RasterIO(GF_Read, 0, 0, src.w, src.h, v.data(), rw, rh, GDT_Float32, 0, 0,
                         &extra) != CE_None) {
    throw io_error("quicklook: reading " + raster.string() + " failed: " + last_gdal_error());
  }
  return v;
}

/// The rw x rh values `v` (row-major) coloured by the ramp over [opt.min, opt.max], nodata
/// (non-finite or the band's nodata value) in grey.
Surface colour_image(const std::vector<float>& v, int rw, int rh, GDALRasterBand* band,
                     const Ramp& ramp, const QuicklookOptions& opt) {
  int has_nd = 0;
  const auto nd = static_cast<float>(band->GetNoDataValue(&has_nd));
  const double span = opt.max > opt.min ? opt.max - opt.min : 1.0;
  Surface img(cairo_image_surface_create(CAIRO_FORMAT_RGB24, rw, rh));
  if (cairo_surface_status(img.get()) != CAIRO_STATUS_SUCCESS) {
    throw io_error("quicklook: cannot allocate a " + std::to_string(rw) + " x " +
                   std::to_string(rh) + " image");
  }
  cairo_surface_flush(img.get());
  unsigned char* px = cairo_image_surface_get_data(img.get());
  const int stride = cairo_image_surface_get_stride(img.get());
  for (int r = 0; r < rh; ++r) {
    auto* row = reinterpret_cast<std::uint32_t*>(px + static_cast<std::ptrdiff_t>(r) * stride);
    for (int c = 0; c < rw; ++c) {
      const float x = v[static_cast<std::size_t>(r) * static_cast<std::size_t>(rw) +
                        static_cast<std::size_t>(c)];
      Rgb col = nodata_grey;
      if (std::isfinite(x) && !(has_nd && x == nd)) {
        const double t = std::clamp((x - opt.min) / span, 0.0, 1.0);
        col = ramp[static_cast<std::size_t>(std::lround(t * 255.0))];
      }
      row[c] = (std::uint32_t{col.r} << 16) | (std::uint32_t{col.g} << 8) | col.b;
    }
  }
  cairo_surface_mark_dirty(img.get());
  return img;
}

/// Where the map lies on the canvas: top-left corner, size, and the height of the content
/// row it sits in (the legend needs at least min_content_h).
struct MapFrame {
  double x{0.0};
  double y{0.0};
  int w{0};
  int h{0};
  int content_h{0};
};

/// The coloured image scaled onto the map frame (nearest when enlarged), with a thin border.
void draw_map(cairo_t* c, cairo_surface_t* img, int rw, int rh, const MapFrame& f) {
  cairo_save(c);
  cairo_translate(c, f.x, f.y);
  cairo_scale(c, static_cast<double>(f.w) / rw, static_cast<double>(f.h) / rh);
  cairo_set_source_surface(c, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(c),
                           rw < f.w ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_rectangle(c, 0, 0, rw, rh);
  cairo_fill(c);
  cairo_restore(c);
  cairo_set_source_rgb(c, 0.55, 0.55, 0.55);
  cairo_set_line_width(c, 1.0);
  cairo_rectangle(c, f.x - 0.5, f.y - 0.5, f.w + 1.0, f.h + 1.0);
  cairo_stroke(c);
}

/// The ramp as a vertical bar at (lx, ly), high at the top, with a border.
void draw_ramp_bar(cairo_t* c, const Ramp& ramp, double lx, double ly, double bar_w,
                   double bar_h) {
  cairo_pattern_t* grad = cairo_pattern_create_linear(0, ly + bar_h, 0, ly);
  for (int i = 0; i < 256; i += 5) {
    const Rgb col = ramp[static_cast<std::size_t>(i)];
    cairo_pattern_add_color_stop_rgb(grad, i / 255.0, col.r / 255.0, col.g / 255.0,
                                     col.b / 255.0);
  }
  cairo_pattern_add_color_stop_rgb(grad, 1.0, ramp[255].r / 255.0, ramp[255].g / 255.0,
                                   ramp[255].b / 255.0);
  cairo_rectangle(c, lx, ly, bar_w, bar_h);
  cairo_set_source(c, grad);
  cairo_fill(c);
  cairo_pattern_destroy(grad);
  cairo_set_source_rgb(c, 0.3, 0.3, 0.3);
  cairo_rectangle(c, lx - 0.5, ly - 0.5, bar_w + 1, bar_h + 1);
  cairo_stroke(c);
}

/// The legend right of the map: its label, the ramp bar with five value ticks, and the nodata
/// swatch below when it fits above the footer's end.
void draw_legend(cairo_t* c, const Ramp& ramp, const QuicklookOptions& opt, const MapFrame& f) {
  using L = QuicklookLayout;
  const double lx = f.x + f.w + 28;
  const double ly = f.y + 22;
  const double bar_w = 22;
  const double bar_h = f.content_h - 44.0;
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, lx, f.y + 12, opt.legend_label, 13, true);
  draw_ramp_bar(c, ramp, lx, ly, bar_w, bar_h);
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  for (int k = 0; k <= 4; ++k) {
    const double t = k / 4.0;
    const double y = ly + bar_h * (1.0 - t);
    cairo_move_to(c, lx + bar_w, y);
    cairo_line_to(c, lx + bar_w + 5, y);
    cairo_stroke(c);
    const std::string label = text::significant(opt.min + t * (opt.max - opt.min), 3);
    text_at(c, lx + bar_w + 8, y + 4, label, 12, false);
  }
  const double sy = ly + bar_h + 12;
  if (sy + 12 <= f.y + f.content_h + L::footer_h - 4) {
    set_rgb(c, nodata_grey);
    cairo_rectangle(c, lx, sy, bar_w, 12);
    cairo_fill(c);
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
    text_at(c, lx + bar_w + 8, sy + 10, "nodata", 12, false);
  }
}

/// A scale bar of a round length about a quarter of the map wide, at footer height fy, for
/// `m_per_px` metres per canvas pixel.
void draw_scale_bar(cairo_t* c, const MapFrame& f, double fy, double m_per_px) {
  const double len_m = nice_length(m_per_px * f.w / 4.0);
  const double len_px = len_m / m_per_px;
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  cairo_set_line_width(c, 2.0);
  cairo_move_to(c, f.x, fy + 14);
  cairo_line_to(c, f.x + len_px, fy + 14);
  cairo_stroke(c);
  cairo_set_line_width(c, 1.0);
  for (double x : {f.x, f.x + len_px / 2, f.x + len_px}) {
    cairo_move_to(c, x + 0.5, fy + 8);
    cairo_line_to(c, x + 0.5, fy + 14);
    cairo_stroke(c);
  }
  text_at(c, f.x + len_px + 8, fy + 18, length_label(len_m), 12, false);
}

/// "EPSG:... (name)" for the footer, or "no CRS".
std::string crs_note(const std::string& crs_wkt) {
  if (crs_wkt.empty()) return "no CRS";
  std::string crs = crs_label_wkt(crs_wkt);
  OGRSpatialReference srs;
  if (srs.importFromWkt(crs_wkt.c_str()) == OGRERR_NONE && srs.GetName() != nullptr &&
      crs != srs.GetName()) {
    crs += std::string(" (") + srs.GetName() + ")";
  }
  return crs;
}

/// The footer below the map: the scale bar (projected CRS only) and a note of the cell size,
/// the grid size and the CRS.
void draw_footer(cairo_t* c, const SourceBand& src, const MapFrame& f) {
  const double fy = f.y + f.content_h + 8;
  const char* wkt = src.ds->GetProjectionRef();
  const std::string crs_wkt = wkt != nullptr ? wkt : "";
  double gt[6] = {0, 1, 0, 0, 0, -1};
  src.ds->GetGeoTransform(gt);
  const double unit_m = crs_linear_unit_m(crs_wkt);
  std::string note;
  if (unit_m > 0.0) {
    draw_scale_bar(c, f, fy, std::abs(gt[1]) * unit_m * src.w / f.w);
    note = "cells " + length_label(std::abs(gt[1]) * unit_m) + " x " +
           length_label(std::abs(gt[5]) * unit_m);
  } else {
    note = "cells " + text::significant(std::abs(gt[1]), 4) + " x " +
           text::significant(std::abs(gt[5]), 4) + " (CRS units)";
  }
  note += ", " + std::to_string(src.w) + " x " + std::to_string(src.h) + " cells, " +
          crs_note(crs_wkt);
  cairo_set_source_rgb(c, 0.25, 0.25, 0.25);
  text_at(c, f.x, fy + 40, note, 12, false);
}

/// Checks the drawing and writes the canvas as a PNG; `png` is removed when writing fails.
void write_png(cairo_surface_t* canvas, cairo_t* c, const fs::path& png) {
  cairo_surface_flush(canvas);
  if (cairo_status(c) == CAIRO_STATUS_NO_MEMORY) {
    throw host_out_of_memory("out of memory while drawing the quicklook");
  }
  if (cairo_status(c) != CAIRO_STATUS_SUCCESS) {
    throw io_error(std::string("quicklook: drawing failed: ") +
                   cairo_status_to_string(cairo_status(c)));
  }
  const cairo_status_t st = cairo_surface_write_to_png(canvas, png.c_str());
  if (st != CAIRO_STATUS_SUCCESS) {
    std::error_code ec;
    fs::remove(png, ec);
    if (st == CAIRO_STATUS_NO_MEMORY) {
      throw host_out_of_memory("out of memory while writing the quicklook " + png.string());
    }
    throw io_error("output " + png.string() + ": cannot write the PNG: " +
                   cairo_status_to_string(st));
  }
}

}  // namespace

double crs_linear_unit_m(const std::string& wkt) {
  OGRSpatialReference srs;
  if (wkt.empty() || srs.importFromWkt(wkt.c_str()) != OGRERR_NONE) return 0.0;
  if (!srs.IsProjected()) return 0.0;
  return srs.GetLinearUnits(nullptr);
}

std::pair<int, int> quicklook_map_size(std::int64_t width, std::int64_t height, int map_px) {
  GP_EXPECTS(width > 0 && height > 0 && map_px > 0, io_error, "quicklook: empty grid");
  const double w = static_cast<double>(width);
  const double h = static_cast<double>(height);
  if (width >= height) {
    return {map_px, std::max(1, static_cast<int>(std::lround(map_px * h / w)))};
  }
  return {std::max(1, static_cast<int>(std::lround(map_px * w / h))), map_px};
}

std::pair<int, int> quicklook_size(std::int64_t width, std::int64_t height, int map_px) {
  using L = QuicklookLayout;
  const auto [mw, mh] = quicklook_map_size(width, height, map_px);
  return {2 * L::margin + mw + L::legend_w,
          2 * L::margin + L::title_h + std::max(mh, L::min_content_h) + L::footer_h};
}

void write_quicklook(const fs::path& raster, const fs::path& png, const QuicklookOptions& opt) {
  using L = QuicklookLayout;
  const auto& ramp = colormap(opt.colormap);  // throws on an unknown name, before any work
  const SourceBand src = open_band(raster, opt.band);
  const auto [mw, mh] = quicklook_map_size(src.w, src.h, opt.map_px);
  const auto [cw, ch] = quicklook_size(src.w, src.h, opt.map_px);

  // Read at the picture's size, or at the grid's own size when the grid is smaller than the
  // picture (cairo enlarges it, nearest).
  const int rw = std::min(src.w, mw);
  const int rh = std::min(src.h, mh);
  const Surface img = colour_image(read_decimated(src, rw, rh, raster), rw, rh, src.band, ramp, opt);

  Surface canvas(cairo_image_surface_create(CAIRO_FORMAT_RGB24, cw, ch));
  Context cr(cairo_create(canvas.get()));
  cairo_t* c = cr.get();
  cairo_set_source_rgb(c, 1, 1, 1);
  cairo_paint(c);
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, L::margin, L::margin + 24, opt.title, 20, true);
  const MapFrame frame{L::margin, L::margin + L::title_h, mw, mh, std::max(mh, L::min_content_h)};
  draw_map(c, img.get(), rw, rh, frame);
  draw_legend(c, ramp, opt, frame);
  draw_footer(c, src, frame);
  write_png(canvas.get(), c, png);
}

}  // namespace gp::geo
