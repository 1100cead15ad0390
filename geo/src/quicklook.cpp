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
  reset_gdal_error();
  GDALDatasetUniquePtr ds(GDALDataset::Open(raster.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds) throw io_error("quicklook: cannot open " + raster.string() + ": " + last_gdal_error());
  if (opt.band < 1 || opt.band > ds->GetRasterCount()) {
    throw io_error("quicklook: " + raster.string() + " has no band " + std::to_string(opt.band));
  }
  GDALRasterBand* band = ds->GetRasterBand(opt.band);
  const int gw = ds->GetRasterXSize();
  const int gh = ds->GetRasterYSize();
  const auto [mw, mh] = quicklook_map_size(gw, gh, opt.map_px);
  const auto [cw, ch] = quicklook_size(gw, gh, opt.map_px);

  // Read at the picture's size (GDAL picks the overview that fits and averages from it), or at
  // the grid's own size when the grid is smaller than the picture (cairo enlarges it, nearest).
  const int rw = std::min(gw, mw);
  const int rh = std::min(gh, mh);
  std::vector<float> v(static_cast<std::size_t>(rw) * static_cast<std::size_t>(rh));
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  extra.eResampleAlg = GRIORA_Average;
  reset_gdal_error();
  if (band->RasterIO(GF_Read, 0, 0, gw, gh, v.data(), rw, rh, GDT_Float32, 0, 0, &extra) !=
      CE_None) {
    throw io_error("quicklook: reading " + raster.string() + " failed: " + last_gdal_error());
  }
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

  Surface canvas(cairo_image_surface_create(CAIRO_FORMAT_RGB24, cw, ch));
  Context cr(cairo_create(canvas.get()));
  cairo_t* c = cr.get();
  cairo_set_source_rgb(c, 1, 1, 1);
  cairo_paint(c);

  // Title.
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, L::margin, L::margin + 24, opt.title, 20, true);

  // Map.
  const double mx = L::margin;
  const double my = L::margin + L::title_h;
  cairo_save(c);
  cairo_translate(c, mx, my);
  cairo_scale(c, static_cast<double>(mw) / rw, static_cast<double>(mh) / rh);
  cairo_set_source_surface(c, img.get(), 0, 0);
  cairo_pattern_set_filter(cairo_get_source(c),
                           rw < mw ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_rectangle(c, 0, 0, rw, rh);
  cairo_fill(c);
  cairo_restore(c);
  cairo_set_source_rgb(c, 0.55, 0.55, 0.55);
  cairo_set_line_width(c, 1.0);
  cairo_rectangle(c, mx - 0.5, my - 0.5, mw + 1.0, mh + 1.0);
  cairo_stroke(c);

  // Legend: a vertical ramp bar, high at the top.
  const double lx = mx + mw + 28;
  const double ly = my + 22;
  const double bar_w = 22;
  const double bar_h = std::max(mh, L::min_content_h) - 44.0;
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, lx, my + 12, opt.legend_label, 13, true);
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
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  for (int k = 0; k <= 4; ++k) {
    const double f = k / 4.0;
    const double y = ly + bar_h * (1.0 - f);
    cairo_move_to(c, lx + bar_w, y);
    cairo_line_to(c, lx + bar_w + 5, y);
    cairo_stroke(c);
    const std::string label = text::significant(opt.min + f * (opt.max - opt.min), 3);
    text_at(c, lx + bar_w + 8, y + 4, label, 12, false);
  }
  // Nodata swatch.
  const double sy = ly + bar_h + 12;
  if (sy + 12 <= my + std::max(mh, L::min_content_h) + L::footer_h - 4) {
    set_rgb(c, nodata_grey);
    cairo_rectangle(c, lx, sy, bar_w, 12);
    cairo_fill(c);
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
    text_at(c, lx + bar_w + 8, sy + 10, "nodata", 12, false);
  }

  // Footer: scale bar (projected CRS) and the grid note.
  const double fy = my + std::max(mh, L::min_content_h) + 8;
  const char* wkt = ds->GetProjectionRef();
  const std::string crs_wkt = wkt != nullptr ? wkt : "";
  double gt[6] = {0, 1, 0, 0, 0, -1};
  ds->GetGeoTransform(gt);
  const double unit_m = crs_linear_unit_m(crs_wkt);
  std::string note;
  if (unit_m > 0.0) {
    const double m_per_px = std::abs(gt[1]) * unit_m * gw / mw;
    const double len_m = nice_length(m_per_px * mw / 4.0);
    const double len_px = len_m / m_per_px;
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
    cairo_set_line_width(c, 2.0);
    cairo_move_to(c, mx, fy + 14);
    cairo_line_to(c, mx + len_px, fy + 14);
    cairo_stroke(c);
    cairo_set_line_width(c, 1.0);
    for (double x : {mx, mx + len_px / 2, mx + len_px}) {
      cairo_move_to(c, x + 0.5, fy + 8);
      cairo_line_to(c, x + 0.5, fy + 14);
      cairo_stroke(c);
    }
    text_at(c, mx + len_px + 8, fy + 18, length_label(len_m), 12, false);
    note = "cells " + length_label(std::abs(gt[1]) * unit_m) + " x " +
           length_label(std::abs(gt[5]) * unit_m);
  } else {
    note = "cells " + text::significant(std::abs(gt[1]), 4) + " x " +
           text::significant(std::abs(gt[5]), 4) + " (CRS units)";
  }
  std::string crs = "no CRS";
  if (!crs_wkt.empty()) {
    crs = crs_label_wkt(crs_wkt);
    OGRSpatialReference srs;
    if (srs.importFromWkt(crs_wkt.c_str()) == OGRERR_NONE && srs.GetName() != nullptr &&
        crs != srs.GetName()) {
      crs += std::string(" (") + srs.GetName() + ")";
    }
  }
  note += ", " + std::to_string(gw) + " x " + std::to_string(gh) + " cells, " + crs;
  cairo_set_source_rgb(c, 0.25, 0.25, 0.25);
  text_at(c, mx, fy + 40, note, 12, false);

  cairo_surface_flush(canvas.get());
  if (cairo_status(c) == CAIRO_STATUS_NO_MEMORY) {
    throw host_out_of_memory("out of memory while drawing the quicklook");
  }
  if (cairo_status(c) != CAIRO_STATUS_SUCCESS) {
    throw io_error(std::string("quicklook: drawing failed: ") +
                   cairo_status_to_string(cairo_status(c)));
  }
  const cairo_status_t st = cairo_surface_write_to_png(canvas.get(), png.c_str());
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

}  // namespace gp::geo
