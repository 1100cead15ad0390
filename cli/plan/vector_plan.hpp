#pragma once
// Vector [[layer]]s, [grid] territory and [grid] boundary, planned before the run.
//
// The grid: `crs` defaults to the territory's CRS (then the first raster layer's, then the
// boundary file's or the first vector layer's); `extent` defaults to the territory's or the
// boundary's extent in that CRS, snapped outward to whole cells (then to the raster layers'
// common extent); `resolution` defaults to the first raster layer's. A model with vector layers
// only needs resolution and an extent (or a territory / boundary).
//
// Before the streaming pass, every vector layer is materialised once as a temporary tiled
// GeoTIFF on the grid (distance and density need the whole grid at once), and the territory or
// boundary mask likewise (1 inside, nodata outside). The runner then runs a raster-only copy of
// the model in which those files replace the vector layers (read directly: they are on the
// grid) and the mask is an extra internal layer (LayerSpec::mask -> Program::mask_layer) that
// makes every band nodata outside. The temporary files sit in the output folder, named
// ".<output>.gp-tmp-<pid>.<n>.tif" (hidden_sibling), and are removed when the plan is destroyed,
// on success or failure (and on SIGINT/SIGTERM, through register_temporary).

#include "model/model.hpp"
#include "run/runner.hpp"
#include "gp/geo/gdal_fwd.hpp"
#include "gp/geo/grid.hpp"
#include "outputs/staged_files.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace gp::cli {

/// True when `L` is read as a vector source: a vector key is given, or its path opens as a
/// vector source and not as a raster.
bool is_vector_layer(const model::LayerSpec& L);

/// True when the model has a vector layer, a territory or a boundary.
bool needs_vector_plan(const model::Model& m);

/// The grid of such a model (see above) and its territory / boundary mask.
struct GridPlan {
  geo::Grid grid;
  geo::GeometryPtr boundary;  // in the grid CRS; null without territory/boundary
  std::string mask_name;
};

/// Works out the grid (CRS, extent, units, size) and reads the mask's polygon; logs the
/// territory and its extent. Throws gp::config_error / gp::input_error.
GridPlan plan_grid(const model::Model& m);

/// plan_grid's grid alone.
geo::Grid resolve_vector_grid(const model::Model& m);

class VectorPlan {
 public:
  /// Materialises the vector layers and the mask of `plan` (from plan_grid(m)) next to `output`.
  VectorPlan(const model::Model& m, GridPlan plan, const std::filesystem::path& output,
             const RunOptions& opt);
  ~VectorPlan();
  VectorPlan(const VectorPlan&) = delete;
  VectorPlan& operator=(const VectorPlan&) = delete;

  /// The raster-only model to run (grid fixed to the resolved one).
  [[nodiscard]] const model::Model& model() const { return model_; }
  [[nodiscard]] const geo::Grid& grid() const { return grid_; }
  [[nodiscard]] const std::vector<std::filesystem::path>& temp_files() const { return temps_; }

 private:
  model::Model model_;
  geo::Grid grid_;
  std::vector<std::filesystem::path> temps_;
  std::vector<void*> registrations_;  // register_temporary: removed on SIGINT/SIGTERM too
  void add_temp(const std::filesystem::path& p);
  void remove_temps() noexcept;
};

}  // namespace gp::cli
