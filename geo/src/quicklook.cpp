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
  std::array<double, 6> gt{0, 1, 0, 0, 0, -1};
  bool north_up{false};  ///< a geotransform without rotation: ticks and north arrow apply
  std::string crs_wkt;
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
  const bool has_gt = src.ds->GetGeoTransform(src.gt.data()) == CE_None;
  src.north_up = has_gt && src.gt[2] == 0.0 && src.gt[4] == 0.0 && src.gt[1] > 0.0 && src.gt[5] < 0.0;
  const char* wkt = src.ds->GetProjectionRef();
  src.crs_wkt = wkt != nullptr ? wkt : "";
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

/// True for a cell that holds data: finite and not the band's nodata value.
struct ValidCell {
  int has_nd{0};
  float nd{0.0f};
  explicit ValidCell(GDALRasterBand* band) : nd(static_cast<float>(band->GetNoDataValue(&has_nd))) {}
  bool operator()(float x) const { return std::isfinite(x) && !(has_nd != 0 && x == nd); }
};

/// The ramp's value range: min..max, or the stretch's percentiles of the valid values `v`
/// (the nearest rank); `stretched` says which.
struct RampRange {
  double lo{0.0};
  double hi{1.0};
  bool stretched{false};
};

RampRange ramp_range(const std::vector<float>& v, const ValidCell& valid, const QuicklookOptions& opt) {
  RampRange r{opt.min, opt.max, false};
  if (!(opt.stretch_low_pct > 0.0 || opt.stretch_high_pct < 100.0)) return r;
  std::vector<float> vals;
  vals.reserve(v.size());
  for (float x : v) {
    if (valid(x)) vals.push_back(x);
  }
  if (vals.size() < 2) return r;
  auto at = [&](double pct) {
    const double pos = std::clamp(pct, 0.0, 100.0) / 100.0 * static_cast<double>(vals.size() - 1);
    const auto k = static_cast<std::ptrdiff_t>(std::lround(pos));
    std::nth_element(vals.begin(), vals.begin() + k, vals.end());
    return static_cast<double>(vals[static_cast<std::size_t>(k)]);
  };
  const double lo = at(opt.stretch_low_pct);
  const double hi = at(opt.stretch_high_pct);
  if (hi > lo) r = {lo, hi, true};
  return r;
}

/// The rw x rh values `v` (row-major) coloured by the ramp over [range.lo, range.hi], nodata
/// (non-finite or the band's nodata value) in grey.
Surface colour_image(const std::vector<float>& v, int rw, int rh, const ValidCell& valid,
                     const Ramp& ramp, const RampRange& range) {
  const double span = range.hi > range.lo ? range.hi - range.lo : 1.0;
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
      if (valid(x)) {
        const double t = std::clamp((x - range.lo) / span, 0.0, 1.0);
        col = ramp[static_cast<std::size_t>(std::lround(t * 255.0))];
      }
      row[c] = (std::uint32_t{col.r} << 16) | (std::uint32_t{col.g} << 8) | col.b;
    }
  }
  cairo_surface_mark_dirty(img.get());
  return img;
}

/// Where the map lies on the canvas: top-left corner, size, and the height of the content
/// row it sits in (map and x tick labels; the legend needs at least min_content_h).
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

/// Canvas position of a point in the raster's CRS (north-up geotransform).
std::pair<double, double> to_canvas(const SourceBand& src, const MapFrame& f, double x, double y) {
  return {f.x + (x - src.gt[0]) / (src.gt[1] * src.w) * f.w,
          f.y + (src.gt[3] - y) / (-src.gt[5] * src.h) * f.h};
}

/// Tick labels: the CRS's numbers as they are (no exponent).
std::string tick_label(double v) { return text::shortest_plain(std::abs(v) < 1e-9 ? 0.0 : v); }

/// Whether a 10 px tick label centred at `at` stays within [lo, hi] along its edge (labels at
/// the corners would run into the other edge's labels or the title).
bool label_fits(cairo_t* c, const std::string& label, double at, double lo, double hi) {
  cairo_select_font_face(c, font, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(c, 10);
  cairo_text_extents_t ext;
  cairo_text_extents(c, label.c_str(), &ext);
  return at - ext.x_advance / 2.0 >= lo - 1.0 && at + ext.x_advance / 2.0 <= hi + 1.0;
}

/// Ticks on all four edges of the map, labelled in CRS units below (x) and left (y, rotated).
void draw_coordinate_ticks(cairo_t* c, const SourceBand& src, const MapFrame& f) {
  if (!src.north_up) return;
  const double x0 = src.gt[0];
  const double x1 = x0 + src.gt[1] * src.w;
  const double y1 = src.gt[3];
  const double y0 = y1 + src.gt[5] * src.h;
  cairo_set_line_width(c, 1.0);
  cairo_set_source_rgb(c, 0.3, 0.3, 0.3);
  for (double t : nice_ticks(x0, x1, std::max(2, f.w / 150))) {
    const double px = std::round(to_canvas(src, f, t, y1).first) + 0.5;
    cairo_move_to(c, px, f.y - 1);
    cairo_line_to(c, px, f.y - 5);
    cairo_move_to(c, px, f.y + f.h + 1);
    cairo_line_to(c, px, f.y + f.h + 5);
    cairo_stroke(c);
    if (label_fits(c, tick_label(t), px, f.x, f.x + f.w)) {
      text_at(c, px, f.y + f.h + 15, tick_label(t), 10, false, 0.5);
    }
  }
  for (double t : nice_ticks(y0, y1, std::max(2, f.h / 150))) {
    const double py = std::round(to_canvas(src, f, x0, t).second) + 0.5;
    cairo_move_to(c, f.x - 1, py);
    cairo_line_to(c, f.x - 5, py);
    cairo_move_to(c, f.x + f.w + 1, py);
    cairo_line_to(c, f.x + f.w + 5, py);
    cairo_stroke(c);
    if (!label_fits(c, tick_label(t), py, f.y, f.y + f.h)) continue;
    cairo_save(c);
    cairo_translate(c, f.x - 7, py);
    cairo_rotate(c, -M_PI / 2.0);
    text_at(c, 0, 0, tick_label(t), 10, false, 0.5);
    cairo_restore(c);
  }
}

using Kind = QuicklookPoint::Kind;
constexpr Rgb validation_red{228, 26, 28};

/// One deposit symbol centred at (x, y): used = a filled symbol (validation: red disc;
/// training: white triangle), rejected = a cross in the same colour; each with a contrasting
/// outline so it reads on every ramp colour.
void draw_symbol(cairo_t* c, Kind k, double x, double y) {
  const bool validation = k == Kind::validation_used || k == Kind::validation_rejected;
  const Rgb fill = validation ? validation_red : Rgb{255, 255, 255};
  const Rgb edge = validation ? Rgb{255, 255, 255} : Rgb{0, 0, 0};
  if (k == Kind::validation_used) {
    cairo_arc(c, x, y, 4.0, 0.0, 2.0 * M_PI);
  } else if (k == Kind::training_used) {
    cairo_move_to(c, x, y - 5.0);
    cairo_line_to(c, x + 4.5, y + 3.5);
    cairo_line_to(c, x - 4.5, y + 3.5);
    cairo_close_path(c);
  }
  if (k == Kind::validation_used || k == Kind::training_used) {
    set_rgb(c, fill);
    cairo_fill_preserve(c);
    set_rgb(c, edge);
    cairo_set_line_width(c, 1.2);
    cairo_stroke(c);
    return;
  }
  for (const auto& [w, col] : {std::pair{3.6, Rgb{255, 255, 255}},
                               std::pair{1.6, validation ? validation_red : Rgb{0, 0, 0}}}) {
    cairo_move_to(c, x - 3.5, y - 3.5);
    cairo_line_to(c, x + 3.5, y + 3.5);
    cairo_move_to(c, x + 3.5, y - 3.5);
    cairo_line_to(c, x - 3.5, y + 3.5);
    set_rgb(c, col);
    cairo_set_line_width(c, w);
    cairo_stroke(c);
  }
}

/// The deposits inside the map, rejected under used, training under validation.
void draw_points(cairo_t* c, const SourceBand& src, const MapFrame& f,
                 const std::vector<QuicklookPoint>& pts) {
  if (!src.north_up) return;
  cairo_save(c);
  cairo_rectangle(c, f.x, f.y, f.w, f.h);
  cairo_clip(c);
  for (Kind k : {Kind::training_rejected, Kind::validation_rejected, Kind::training_used,
                 Kind::validation_used}) {
    for (const auto& p : pts) {
      if (p.kind != k) continue;
      const auto [x, y] = to_canvas(src, f, p.x, p.y);
      if (x < f.x - 6 || y < f.y - 6 || x > f.x + f.w + 6 || y > f.y + f.h + 6) continue;
      draw_symbol(c, k, x, y);
    }
  }
  cairo_restore(c);
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
  cairo_set_line_width(c, 1.0);
  cairo_rectangle(c, lx - 0.5, ly - 0.5, bar_w + 1, bar_h + 1);
  cairo_stroke(c);
}

/// A value label beside the bar: the ends say "<=" / ">=" when the ramp is stretched.
std::string bar_label(double v, int end, bool stretched) {
  std::string s = text::significant(v, 3);
  if (stretched && end < 0) return "\u2264 " + s;
  if (stretched && end > 0) return "\u2265 " + s;
  return s;
}

/// The bar's labels: (value, text) per tick, the five even ticks or, with class breaks, the
/// ends and the breaks inside the range.
struct BarTick {
  double v{0.0};
  std::string label;
  bool is_break{false};
};

std::vector<BarTick> bar_ticks(const RampRange& r, const std::vector<double>& breaks) {
  std::vector<BarTick> ticks;
  if (breaks.empty()) {
    for (int k = 0; k <= 4; ++k) {
      const double v = r.lo + k / 4.0 * (r.hi - r.lo);
      ticks.push_back({v, bar_label(v, k == 0 ? -1 : (k == 4 ? 1 : 0), r.stretched), false});
    }
    return ticks;
  }
  ticks.push_back({r.lo, bar_label(r.lo, -1, r.stretched), false});
  for (double b : breaks) {
    if (b > r.lo && b < r.hi) ticks.push_back({b, text::significant(b, 3), true});
  }
  ticks.push_back({r.hi, bar_label(r.hi, 1, r.stretched), false});
  return ticks;
}

/// Label heights pushed apart (at least `gap` px, inside [top, bottom]), keeping their order.
std::vector<double> spread_labels(std::vector<double> ys, double gap, double top, double bottom) {
  // ys ascending on the canvas (top first).
  for (std::size_t i = 1; i < ys.size(); ++i) ys[i] = std::max(ys[i], ys[i - 1] + gap);
  if (!ys.empty() && ys.back() > bottom) ys.back() = bottom;
  for (std::size_t i = ys.size(); i-- > 1;) ys[i - 1] = std::min(ys[i - 1], ys[i] - gap);
  for (std::size_t i = 0; i < ys.size(); ++i) ys[i] = std::max(ys[i], top + gap * static_cast<double>(i));
  return ys;
}

/// The ticks and labels right of the bar; class breaks cross the bar in black with a white
/// edge.
void draw_bar_ticks(cairo_t* c, const RampRange& r, const std::vector<BarTick>& ticks, double lx,
                    double ly, double bar_w, double bar_h) {
  const double span = r.hi > r.lo ? r.hi - r.lo : 1.0;
  std::vector<double> ys;
  for (auto it = ticks.rbegin(); it != ticks.rend(); ++it) {
    ys.push_back(ly + bar_h * (1.0 - std::clamp((it->v - r.lo) / span, 0.0, 1.0)));
  }
  const std::vector<double> label_ys = spread_labels(ys, 13.0, ly - 6.0, ly + bar_h + 6.0);
  for (std::size_t i = 0; i < ys.size(); ++i) {
    const BarTick& t = ticks[ticks.size() - 1 - i];
    const double y = std::round(ys[i]) + 0.5;
    if (t.is_break) {
      cairo_set_source_rgb(c, 1, 1, 1);
      cairo_set_line_width(c, 3.0);
      cairo_move_to(c, lx, y);
      cairo_line_to(c, lx + bar_w, y);
      cairo_stroke(c);
      cairo_set_source_rgb(c, 0, 0, 0);
      cairo_set_line_width(c, 1.0);
      cairo_move_to(c, lx - 3, y);
      cairo_line_to(c, lx + bar_w, y);
      cairo_stroke(c);
    }
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
    cairo_set_line_width(c, 1.0);
    cairo_move_to(c, lx + bar_w, y);
    cairo_line_to(c, lx + bar_w + 5, label_ys[i]);
    cairo_stroke(c);
    text_at(c, lx + bar_w + 8, label_ys[i] + 4, t.label, 12, t.is_break);
  }
}

/// What the legend lists under the bar: nodata, the class breaks when marked, and each kind
/// of deposit drawn.
struct LegendEntries {
  bool breaks{false};
  std::vector<Kind> kinds;
};

LegendEntries legend_entries(const std::vector<QuicklookPoint>& pts, bool breaks) {
  LegendEntries e;
  e.breaks = breaks;
  for (Kind k : {Kind::validation_used, Kind::validation_rejected, Kind::training_used,
                 Kind::training_rejected}) {
    if (std::any_of(pts.begin(), pts.end(), [k](const QuicklookPoint& p) { return p.kind == k; })) {
      e.kinds.push_back(k);
    }
  }
  return e;
}

const char* kind_label(Kind k) {
  switch (k) {
    case Kind::validation_used: return "validation deposit";
    case Kind::validation_rejected: return "validation, not used";
    case Kind::training_used: return "training deposit";
    case Kind::training_rejected: return "training, not used";
  }
  return "";
}

/// The entries' rows from `y` down, 16 px each.
void draw_legend_entries(cairo_t* c, const LegendEntries& e, double lx, double y, double bar_w) {
  set_rgb(c, nodata_grey);
  cairo_rectangle(c, lx, y, bar_w, 11);
  cairo_fill(c);
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, lx + bar_w + 8, y + 10, "nodata", 12, false);
  y += 16;
  if (e.breaks) {
    cairo_set_source_rgb(c, 0, 0, 0);
    cairo_set_line_width(c, 1.0);
    cairo_move_to(c, lx - 3, y + 6.5);
    cairo_line_to(c, lx + bar_w, y + 6.5);
    cairo_stroke(c);
    text_at(c, lx + bar_w + 8, y + 10, "class break", 12, false);
    y += 16;
  }
  for (Kind k : e.kinds) {
    draw_symbol(c, k, lx + bar_w / 2.0, y + 6);
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
    text_at(c, lx + bar_w + 8, y + 10, kind_label(k), 12, false);
    y += 16;
  }
}

/// The legend right of the map: the quantity, the ramp bar with its ticks (value ticks, or the
/// class breaks), then nodata, the class-break line and the deposits' symbols.
void draw_legend(cairo_t* c, const Ramp& ramp, const QuicklookOptions& opt, const RampRange& r,
                 const std::vector<double>& breaks, const MapFrame& f) {
  const LegendEntries entries = legend_entries(opt.points, !breaks.empty());
  const double rows = 1.0 + (entries.breaks ? 1.0 : 0.0) + static_cast<double>(entries.kinds.size());
  const double lx = f.x + f.w + 28;
  const double ly = f.y + 24;
  const double bar_w = 22;
  const double bar_h = f.content_h - 36.0 - 16.0 * rows;
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, lx, f.y + 10, opt.legend_label, 13, true);
  draw_ramp_bar(c, ramp, lx, ly, bar_w, bar_h);
  draw_bar_ticks(c, r, bar_ticks(r, breaks), lx, ly, bar_w, bar_h);
  draw_legend_entries(c, entries, lx, ly + bar_h + 12, bar_w);
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

/// A north arrow (the grid is north-up) with its "N", centred at x, from fy down.
void draw_north_arrow(cairo_t* c, double x, double fy) {
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, x, fy + 12, "N", 13, true, 0.5);
  cairo_move_to(c, x, fy + 16);
  cairo_line_to(c, x + 7, fy + 42);
  cairo_line_to(c, x, fy + 35);
  cairo_close_path(c);
  cairo_fill(c);
  cairo_move_to(c, x, fy + 16);
  cairo_line_to(c, x - 7, fy + 42);
  cairo_line_to(c, x, fy + 35);
  cairo_close_path(c);
  cairo_set_line_width(c, 1.0);
  cairo_stroke(c);
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

/// The footer below the map: the scale bar (projected CRS only), a line with the cell size,
/// the grid size and the CRS, a line with the stretch when one was applied, and the north
/// arrow under the legend.
void draw_footer(cairo_t* c, const SourceBand& src, const MapFrame& f, const RampRange& r,
                 const QuicklookOptions& opt) {
  const double fy = f.y + f.content_h + 4;
  const double unit_m = crs_linear_unit_m(src.crs_wkt);
  std::string note;
  if (unit_m > 0.0) {
    draw_scale_bar(c, f, fy, src.gt[1] * unit_m * src.w / f.w);
    note = "cells " + length_label(std::abs(src.gt[1]) * unit_m) + " x " +
           length_label(std::abs(src.gt[5]) * unit_m);
  } else {
    note = "cells " + text::significant(std::abs(src.gt[1]), 4) + " x " +
           text::significant(std::abs(src.gt[5]), 4) + " (CRS units)";
  }
  note += ", " + std::to_string(src.w) + " x " + std::to_string(src.h) + " cells, " +
          crs_note(src.crs_wkt);
  cairo_set_source_rgb(c, 0.25, 0.25, 0.25);
  text_at(c, f.x, fy + 38, note, 12, false);
  if (r.stretched) {
    text_at(c, f.x, fy + 54,
            "colours: " + text::shortest_plain(opt.stretch_low_pct) + "-" +
                text::shortest_plain(opt.stretch_high_pct) + " % percentile stretch, " +
                text::significant(r.lo, 3) + " to " + text::significant(r.hi, 3) +
                " (beyond: the end colours)",
            12, false);
  }
  if (src.north_up) draw_north_arrow(c, f.x + f.w + QuicklookLayout::legend_w - 24, fy);
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
  return {2 * L::margin + L::axis_w + mw + L::legend_w,
          2 * L::margin + L::title_h + std::max(mh + L::axis_h, L::min_content_h) + L::footer_h};
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> out;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi) || target < 1) return out;
  double step = nice_length((hi - lo) / target);
  // At least two ticks when a smaller round step gives them.
  for (int i = 0; i < 3 && (hi - lo) < step * 1.5; ++i) {
    step = nice_length(step * 0.99);
  }
  const double slack = step * 1e-9;  // a tick on an end stays despite rounding
  for (double k = std::ceil((lo - slack) / step); k * step <= hi + slack; k += 1.0) out.push_back(k * step);
  return out;
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
  const ValidCell valid(src.band);
  RampRange range;
  const Surface img = [&] {
    const std::vector<float> values = read_decimated(src, rw, rh, raster);
    range = ramp_range(values, valid, opt);
    return colour_image(values, rw, rh, valid, ramp, range);
  }();

  Surface canvas(cairo_image_surface_create(CAIRO_FORMAT_RGB24, cw, ch));
  Context cr(cairo_create(canvas.get()));
  cairo_t* c = cr.get();
  cairo_set_source_rgb(c, 1, 1, 1);
  cairo_paint(c);
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  text_at(c, L::margin, L::margin + 24, opt.title, 20, true);
  const MapFrame frame{L::margin + L::axis_w, L::margin + L::title_h, mw, mh,
                       std::max(mh + L::axis_h, L::min_content_h)};
  draw_map(c, img.get(), rw, rh, frame);
  draw_points(c, src, frame, opt.points);
  draw_coordinate_ticks(c, src, frame);
  const std::vector<double> breaks = opt.class_breaks ? opt.class_breaks() : std::vector<double>{};
  draw_legend(c, ramp, opt, range, breaks, frame);
  draw_footer(c, src, frame, range, opt);
  write_png(canvas.get(), c, png);
}

}  // namespace gp::geo
