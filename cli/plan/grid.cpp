#include "plan/grid.hpp"

#include "plan/vector_plan.hpp"

#include "gp/error.hpp"
#include "gp/text.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/raster_source.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace gp::cli {

namespace {

std::string fmt_bounds(const std::array<double, 4>& b) {
  return "[" + text::shortest_plain(b[0]) + ", " + text::shortest_plain(b[1]) + ", " +
         text::shortest_plain(b[2]) + ", " + text::shortest_plain(b[3]) + "]";
}

/// The grid's extent: [grid] extent (every layer must overlap it), else the layers' common
/// footprint. Throws gp::input_error naming the layer that does not overlap.
std::array<double, 4> grid_extent(const model::Model& m, const std::vector<geo::RasterInfo>& infos,
                                  const std::vector<geo::Footprint>& fps,
                                  const std::string& crs_wkt) {
  std::array<double, 4> ext{};
  if (m.grid.extent) {
    ext = *m.grid.extent;
    for (std::size_t i = 0; i < fps.size(); ++i) {
      const auto& b = fps[i].bounds;
      if (b[0] >= ext[2] || b[2] <= ext[0] || b[1] >= ext[3] || b[3] <= ext[1]) {
        throw input_error(m.layers[i].what() + ": " + infos[i].path +
                          " does not overlap the grid extent " + fmt_bounds(ext) + " (its extent is " +
                          fmt_bounds(b) + " in " + geo::crs_label_wkt(crs_wkt) + ")");
      }
    }
  } else {
    ext = fps.front().bounds;
    for (std::size_t i = 1; i < fps.size(); ++i) {
      const auto& b = fps[i].bounds;
      const std::array<double, 4> next{std::max(ext[0], b[0]), std::max(ext[1], b[1]),
                                       std::min(ext[2], b[2]), std::min(ext[3], b[3])};
      if (!(next[0] < next[2]) || !(next[1] < next[3])) {
        throw input_error(m.layers[i].what() + ": " + infos[i].path +
                          " does not overlap the layers before it (its extent " + fmt_bounds(b) +
                          ", theirs " + fmt_bounds(ext) + " in " + geo::crs_label_wkt(crs_wkt) +
                          ")");
      }
      ext = next;
    }
  }

  return ext;
}

/// "EPSG:5070 (unit: metre)".
std::string crs_with_unit(const std::string& wkt) {
  return geo::crs_label_wkt(wkt) + " (unit: " + geo::crs_unit(wkt).name + ")";
}

}  // namespace

void check_grid_units(const model::GridSpec& spec, const std::string& crs_wkt) {
  const geo::CrsUnit unit = geo::crs_unit(crs_wkt);
  if (!unit.angular && spec.extent) {
    // Every number within longitude/latitude range: on a projected CRS that is a box of at
    // most 360 x 180 units around the projection's origin, never a map area (a few hundred
    // metres or feet), while it is exactly what a box in degrees looks like.
    const auto& e = *spec.extent;
    const bool degree_like = std::abs(e[0]) <= 180.0 && std::abs(e[2]) <= 180.0 &&
                             std::abs(e[1]) <= 90.0 && std::abs(e[3]) <= 90.0;
    if (degree_like && unit.to_base > 0.1) {
      throw config_error("[grid] extent " + fmt_bounds(e) + " looks like longitude/latitude "
                         "degrees, but the grid CRS is " + crs_with_unit(crs_wkt) +
                         ": give the extent in that CRS's unit, " + unit.name + " (e.g. transform "
                         "the corners with gdaltransform -s_srs EPSG:4326 -t_srs <crs>), or "
                         "leave extent out to use the layers' or the territory's");
    }
  }
  if (unit.angular && spec.resolution) {
    // A cell over 10 degrees (1100 km) is no prospectivity map: it is metres typed on a
    // geographic CRS.
    const auto& r = *spec.resolution;
    if (r[0] > 10.0 || r[1] > 10.0) {
      throw config_error("[grid] resolution " + text::shortest_plain(r[0]) + " x " +
                         text::shortest_plain(r[1]) + " looks like metres, but the grid CRS is " +
                         crs_with_unit(crs_wkt) + ": give it in degrees (0.01 is about 1 km) or "
                         "use a projected CRS (e.g. crs = \"EPSG:5070\" for the conterminous "
                         "US)");
    }
  }
}

void check_grid_size(const geo::Grid& g) {
  const std::string res = text::shortest_plain(g.dx) + " x " + text::shortest_plain(g.dy) + " " +
                          geo::crs_unit(g.crs_wkt).name + " per cell in " +
                          geo::crs_label_wkt(g.crs_wkt);
  constexpr std::int64_t max_side = (std::int64_t{1} << 31) - 1;
  if (g.width > max_side || g.height > max_side) {
    throw config_error("[grid]: " + std::to_string(g.width) + " x " + std::to_string(g.height) +
                       " cells exceeds the limit of 2^31-1 cells per side (check resolution: " +
                       res + ")");
  }
  // A sane total (2^40 = 1.1e12 cells, e.g. the whole Earth at 40 m); more is a
  // resolution typed in the wrong unit, not a map. Beyond 2^32 cells is fine (64-bit indices).
  constexpr std::uint64_t max_cells = std::uint64_t{1} << 40;
  if (g.cells() > max_cells) {
    throw config_error("[grid]: " + std::to_string(g.width) + " x " + std::to_string(g.height) +
                       " cells exceeds the limit of 2^40 cells (check resolution: " + res + ")");
  }
}

geo::Grid resolve_grid(const model::Model& m) {
  // Vector layers, territories, boundaries (plan/vector_plan.cpp): worked out there, from a
  // raster-only view of the model that comes back here.
  if (needs_vector_plan(m)) return resolve_vector_grid(m);
  GP_EXPECTS(!m.layers.empty(), config_error, "model has no layers");
  std::vector<geo::RasterInfo> infos;
  for (const auto& L : m.layers) infos.push_back(geo::describe_raster(L.path.string(), L.what()));
  const geo::RasterInfo& first = infos.front();
  const std::string first_what = m.layers.front().what();
  if (first.crs_wkt.empty() && !m.grid.crs) {
    throw input_error(first_what + ": " + first.path +
                      " has no CRS (expected a georeferenced raster, or set [grid] crs)");
  }
  geo::Grid g;
  g.crs_wkt = m.grid.crs ? geo::crs_wkt(*m.grid.crs, "[grid] crs") : first.crs_wkt;
  check_grid_units(m.grid, g.crs_wkt);

  std::vector<geo::Footprint> fps;
  for (std::size_t i = 0; i < infos.size(); ++i) {
    fps.push_back(geo::footprint_in(infos[i], g.crs_wkt, m.layers[i].what()));
  }
  const bool first_on_crs = geo::same_crs(first.crs_wkt, g.crs_wkt) &&
                            first.geotransform[2] == 0.0 && first.geotransform[4] == 0.0 &&
                            first.geotransform[5] < 0.0;
  if (m.grid.resolution) {
    g.dx = (*m.grid.resolution)[0];
    g.dy = (*m.grid.resolution)[1];
  } else if (first_on_crs) {
    g.dx = first.geotransform[1];
    g.dy = -first.geotransform[5];
  } else {
    g.dx = g.dy = fps.front().cell_size;
  }

  const std::array<double, 4> ext = grid_extent(m, infos, fps, g.crs_wkt);

  // Default grids keep the first layer's cell edges, so that layer is read without resampling.
  constexpr double eps = 1e-6;
  if (!m.grid.extent && first_on_crs && std::abs(g.dx - first.geotransform[1]) <= 1e-9 * g.dx &&
      std::abs(g.dy + first.geotransform[5]) <= 1e-9 * g.dy) {
    const double ox = first.geotransform[0];
    const double oy = first.geotransform[3];
    const double c0 = std::ceil((ext[0] - ox) / g.dx - eps);
    const double c1 = std::floor((ext[2] - ox) / g.dx + eps);
    const double r0 = std::ceil((oy - ext[3]) / g.dy - eps);
    const double r1 = std::floor((oy - ext[1]) / g.dy + eps);
    g.x0 = ox + c0 * g.dx;
    g.y0 = oy - r0 * g.dy;
    g.width = static_cast<std::int64_t>(c1 - c0);
    g.height = static_cast<std::int64_t>(r1 - r0);
  } else if (!m.grid.extent) {
    // Target-aligned pixels (gdalwarp -tap): edges on multiples of the cell size, covering the
    // layers' common footprint.
    g.x0 = std::floor(ext[0] / g.dx + eps) * g.dx;
    g.y0 = std::ceil(ext[3] / g.dy - eps) * g.dy;
    g.width = static_cast<std::int64_t>(std::ceil((ext[2] - g.x0) / g.dx - eps));
    g.height = static_cast<std::int64_t>(std::ceil((g.y0 - ext[1]) / g.dy - eps));
  } else {
    g.x0 = ext[0];
    g.y0 = ext[3];
    g.width = static_cast<std::int64_t>(std::ceil((ext[2] - ext[0]) / g.dx - eps));
    g.height = static_cast<std::int64_t>(std::ceil((ext[3] - ext[1]) / g.dy - eps));
  }
  if (g.width < 1 || g.height < 1) {
    throw input_error("the grid is empty: extent " + fmt_bounds(ext) + " holds no cell of size " +
                      text::shortest_plain(g.dx) + " x " + text::shortest_plain(g.dy));
  }
  check_grid_size(g);
  return g;
}

}  // namespace gp::cli
