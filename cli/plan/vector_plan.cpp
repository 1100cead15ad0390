#include "plan/vector_plan.hpp"

#include "plan/grid.hpp"

#include "run/cluster.hpp"
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/geo/territory.hpp"
#include "gp/geo/vector_source.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <unistd.h>

#include <cmath>
#include <memory>
#include <optional>

namespace gp::cli {
namespace fs = std::filesystem;

namespace {

std::string layer_what(const model::LayerSpec& L) { return "layer '" + L.name + "'"; }

geo::VectorSpec vector_spec(const model::LayerSpec& L) {
  geo::VectorSpec s;
  s.path = L.path.string();
  s.layer = L.vector.layer;
  s.sql = L.vector.sql;
  s.where = L.vector.where;
  s.x_column = L.vector.x_column;
  s.y_column = L.vector.y_column;
  s.crs = L.vector.crs;
  s.what = layer_what(L);
  return s;
}

std::string fmt_bounds(const std::array<double, 4>& b) {
  return "[" + text::shortest_plain(b[0]) + ", " + text::shortest_plain(b[1]) + ", " +
         text::shortest_plain(b[2]) + ", " + text::shortest_plain(b[3]) + "]";
}


/// A grid whose edges are exactly `ext` (as resolve_grid does with an explicit extent).
geo::Grid exact_grid(const std::string& wkt, const std::array<double, 4>& ext, double dx,
                     double dy) {
  constexpr double eps = 1e-6;
  geo::Grid g;
  g.crs_wkt = wkt;
  g.dx = dx;
  g.dy = dy;
  g.x0 = ext[0];
  g.y0 = ext[3];
  g.width = static_cast<std::int64_t>(std::ceil((ext[2] - ext[0]) / dx - eps));
  g.height = static_cast<std::int64_t>(std::ceil((ext[3] - ext[1]) / dy - eps));
  return g;
}

}  // namespace

GridPlan plan_grid(const model::Model& m) {
  model::Model r = m;  // raster-only view, handed to resolve_grid
  r.layers.clear();
  std::vector<const model::LayerSpec*> vectors;
  for (const auto& L : m.layers) {
    if (L.mask) continue;
    if (is_vector_layer(L)) vectors.push_back(&L);
    else r.layers.push_back(L);
  }
  r.grid.territory.reset();
  r.grid.boundary.reset();
  r.grid.boundary_layer.clear();
  r.grid.boundary_where.clear();
  const geo::Territory* terr =
      m.grid.territory ? &geo::find_territory(*m.grid.territory, "[grid] territory") : nullptr;

  std::string wkt;
  if (m.grid.crs) {
    wkt = geo::crs_wkt(*m.grid.crs, "[grid] crs");
  } else if (terr != nullptr) {
    wkt = geo::crs_wkt(terr->crs, "territory " + terr->code);
  } else if (!r.layers.empty()) {
    wkt = geo::describe_raster(r.layers.front().path.string(), layer_what(r.layers.front())).crs_wkt;
  } else if (m.grid.boundary) {
    geo::VectorSpec s;
    s.path = m.grid.boundary->string();
    s.layer = m.grid.boundary_layer;
    s.what = "[grid] boundary";
    wkt = geo::VectorSource(s).crs_wkt();
  } else if (!vectors.empty()) {
    wkt = geo::VectorSource(vector_spec(*vectors.front())).crs_wkt();
  }
  if (!wkt.empty()) {
    r.grid.crs = wkt;
    check_grid_units(m.grid, wkt);
  }

  GridPlan plan;
  if (!wkt.empty() && terr != nullptr) {
    plan.boundary = geo::territory_boundary(*terr, wkt);
    plan.mask_name = "territory " + terr->code;
    gp::log::info("territory " + terr->code + " (" + terr->name + "): " + terr->crs + " by "
                  "default; cells outside its boundary are nodata");
  } else if (!wkt.empty() && m.grid.boundary) {
    plan.boundary = geo::boundary_from_file(m.grid.boundary->string(), m.grid.boundary_layer,
                                            m.grid.boundary_where, wkt, "[grid] boundary");
    plan.mask_name = "boundary";
  }

  std::optional<std::array<double, 2>> res = m.grid.resolution;
  if (!res) {
    if (r.layers.empty()) {
      throw config_error("[grid] resolution: required when every layer is a vector layer "
                         "(vector layers have no cell size of their own)");
    }
    const geo::Grid g0 = resolve_grid(r);
    if (!plan.boundary || m.grid.extent) {
      plan.grid = g0;
      return plan;
    }
    res = std::array<double, 2>{g0.dx, g0.dy};
  }
  r.grid.resolution = res;
  std::optional<std::array<double, 4>> ext = m.grid.extent;
  if (!ext && plan.boundary) {
    const auto b = geo::geometry_extent(*plan.boundary);
    const geo::Grid a = geo::aligned_grid(wkt, b, (*res)[0], (*res)[1]);
    ext = std::array<double, 4>{a.x0, a.ymin(), a.xmax(), a.y0};
    gp::log::info(plan.mask_name + ": extent " + fmt_bounds(*ext) + " in " +
                  geo::crs_label_wkt(wkt));
  }
  if (!r.layers.empty()) {
    r.grid.extent = ext;
    plan.grid = resolve_grid(r);
    return plan;
  }
  if (!ext) {
    throw config_error("[grid] extent: required when every layer is a vector layer (or give "
                       "territory or boundary)");
  }
  if (wkt.empty()) throw config_error("[grid] crs: required (no layer has a CRS)");
  plan.grid = exact_grid(wkt, *ext, (*res)[0], (*res)[1]);
  if (plan.grid.width < 1 || plan.grid.height < 1) {
    throw input_error("the grid is empty: extent " + fmt_bounds(*ext) + " holds no cell");
  }
  check_grid_size(plan.grid);
  return plan;
}

bool is_vector_layer(const model::LayerSpec& L) {
  if (L.mask) return false;
  if (L.vector.given()) return true;
  return geo::probe_source(L.path.string()) == geo::SourceKind::vector;
}

bool needs_vector_plan(const model::Model& m) {
  if (m.grid.territory || m.grid.boundary) return true;
  for (const auto& L : m.layers) {
    if (is_vector_layer(L)) return true;
  }
  return false;
}

geo::Grid resolve_vector_grid(const model::Model& m) { return plan_grid(m).grid; }

VectorPlan::VectorPlan(const model::Model& m, GridPlan plan, const fs::path& output,
                       const RunOptions& opt) {
  grid_ = plan.grid;
  model_ = m;
  model_.grid = model::GridSpec{};
  model_.grid.crs = grid_.crs_wkt;
  model_.grid.resolution = std::array<double, 2>{grid_.dx, grid_.dy};
  model_.grid.extent = std::array<double, 4>{grid_.x0, grid_.ymin(), grid_.xmax(), grid_.y0};

  const std::string rank =
      cluster::size() > 1 ? "r" + std::to_string(cluster::rank()) + "-" : std::string();
  auto temp_name = [&](const std::string& what) {
    return hidden_sibling(fs::absolute(output), "gp-tmp", rank + what + ".tif");
  };
  const EngineDevice device = engine_device(opt.device, opt.devices);
  try {
    for (std::size_t i = 0; i < model_.layers.size(); ++i) {
      model::LayerSpec& L = model_.layers[i];
      if (!is_vector_layer(L)) continue;
      geo::RasteriseOptions ro;
      const std::string mode = L.vector.mode.empty() ? "presence" : L.vector.mode;
      if (L.vector.mode.empty()) {
        gp::log::info(layer_what(L) + ": " + L.path.string() +
                      " is a vector source; vector = \"presence\" (the default)");
      }
      ro.mode = geo::parse_vector_mode(mode, layer_what(L));
      ro.attribute = L.vector.attribute;
      ro.all_touched = L.vector.all_touched;
      ro.max_distance = L.vector.max_distance.value_or(-1.0);
      ro.radius_m = L.vector.radius.value_or(0.0);
      ro.use_cuda = device.cuda;
      ro.cuda_device = device.id;
      ro.threads = opt.threads;
      ro.memory_limit_bytes = opt.vector_memory_mib * 1024ull * 1024ull;
      const fs::path tmp = temp_name(std::to_string(i));
      add_temp(tmp);
      const geo::VectorSpec vs = vector_spec(L);
      geo::materialise_vector(vs, ro, grid_, tmp);
      L.vector_source = L.path;
      L.vector_selection = geo::describe_source(vs) + ", vector = \"" + mode + "\"";
      L.path = tmp;
      L.vector = model::VectorLayerSpec{};
      L.band = 1;
      L.resampling = "nearest";
    }
    if (plan.boundary) {
      const fs::path tmp = temp_name("mask");
      add_temp(tmp);
      geo::write_boundary_mask(*plan.boundary, grid_, tmp, plan.mask_name);
      model::LayerSpec M;
      M.name = "(" + plan.mask_name + " mask)";
      M.path = tmp;
      M.mask = true;
      M.resampling = "nearest";
      M.weight = 0.0;
      model_.layers.push_back(M);
    }
  } catch (...) {
    remove_temps();
    throw;
  }
}

VectorPlan::~VectorPlan() { remove_temps(); }

void VectorPlan::add_temp(const fs::path& p) {
  temps_.push_back(p);
  registrations_.push_back(register_temporary(p));
}

void VectorPlan::remove_temps() noexcept {
  for (std::size_t i = 0; i < temps_.size(); ++i) {
    remove_with_side_files(temps_[i]);
    unregister_temporary(registrations_[i]);
  }
  temps_.clear();
  registrations_.clear();
}

}  // namespace gp::cli
