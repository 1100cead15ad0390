#include "gp/geo/svg_png.hpp"

#include "gp/error.hpp"

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <cmath>
#include <memory>

namespace gp::geo {
namespace fs = std::filesystem;

namespace {

struct GObjectDeleter {
  void operator()(RsvgHandle* h) const { g_object_unref(h); }
};
struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

/// GError's message, freed.
std::string take_message(GError* err) {
  std::string m = err != nullptr && err->message != nullptr ? err->message : "unknown error";
  if (err != nullptr) g_error_free(err);
  return m;
}

}  // namespace

void write_svg_png(std::string_view svg, const fs::path& png, const std::string& what, double scale) {
  GError* err = nullptr;
  std::unique_ptr<RsvgHandle, GObjectDeleter> h(rsvg_handle_new_from_data(
      reinterpret_cast<const guint8*>(svg.data()), svg.size(), &err));
  if (!h) throw io_error(what + ": librsvg cannot read the SVG: " + take_message(err));
  gdouble w = 0.0;
  gdouble hgt = 0.0;
  if (rsvg_handle_get_intrinsic_size_in_pixels(h.get(), &w, &hgt) == FALSE || !(w > 0.0 && hgt > 0.0)) {
    throw io_error(what + ": the SVG has no size in pixels");
  }
  const int pw = static_cast<int>(std::lround(w * scale));
  const int ph = static_cast<int>(std::lround(hgt * scale));
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph));
  std::unique_ptr<cairo_t, ContextDeleter> cr(cairo_create(surface.get()));
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  const RsvgRectangle viewport{0.0, 0.0, static_cast<double>(pw), static_cast<double>(ph)};
  if (rsvg_handle_render_document(h.get(), cr.get(), &viewport, &err) == FALSE) {
    throw io_error(what + ": librsvg cannot draw the SVG: " + take_message(err));
  }
  cairo_surface_flush(surface.get());
  const cairo_status_t drawn = cairo_status(cr.get());
  if (drawn == CAIRO_STATUS_NO_MEMORY) throw host_out_of_memory("out of memory while drawing " + what);
  if (drawn != CAIRO_STATUS_SUCCESS) {
    throw io_error(what + ": drawing failed: " + cairo_status_to_string(drawn));
  }
  const cairo_status_t st = cairo_surface_write_to_png(surface.get(), png.c_str());
  if (st != CAIRO_STATUS_SUCCESS) {
    std::error_code ec;
    fs::remove(png, ec);
    if (st == CAIRO_STATUS_NO_MEMORY) throw host_out_of_memory("out of memory while writing " + what);
    throw io_error("output " + png.string() + ": cannot write the PNG: " + cairo_status_to_string(st));
  }
}

}  // namespace gp::geo
