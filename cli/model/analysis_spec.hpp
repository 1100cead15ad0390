#pragma once
// Model-file keys of validation and Monte Carlo uncertainty: the `[validation]` and
// `[uncertainty]` tables. Parsed by parse_validation / parse_uncertainty
// (cli/model/analysis_spec.cpp), called from model.cpp; run after the map by the runner
// (cli/analysis/validation.hpp, uncertainty.hpp).
//
// [validation]
// deposits = "deposits.csv"      # any OGR point source or a CSV (path relative to the model)
// layer / sql / where / x_column / y_column / crs / name_column /
// filter_column / filter_contains / filter_equals   # as [training] (model/deposit_source.hpp)
// holdout = 0.3                   # or kfold = 5 (not both): prediction-rate curves per fold
// seed = 42                       # the random split
// split_by = "region"             # optional: split whole groups of this attribute's values
// blocks = { size_km = 25 }       # optional: spatial folds, whole blocks of 25 km (grid CRS)
// buffer_km = 5                   # optional: a retrained fold leaves out the training deposits
//                                 # and cells within 5 km of its held-out deposits
// capture = [1, 2, 5, 10, 20]     # top % of the area for capture efficiency
//
// [uncertainty]
// draws = 100                     # 1 .. 10000
// seed = 7
// weights = { dirichlet = 100 }   # concentration; or { uniform = 0.1 } (+- 10 %, renormalised)
// membership = { midpoint = 0.1, spread = 0.1 }   # uniform +- fractions
// top_percent = 10                # P(cell in its draw's top 10 % of the area)
//
// [[sweep]]                       # one varied parameter per table; the variants are every
// layer = "magnetics"             # combination of the tables' values (first table slowest)
// key = "midpoint"                # layer: midpoint | spread | min | max | weight
// values = [0.5, 1, 2]            # or range = { from = 0.5, to = 2, step = 0.5 } (to included)
// # group = "g", key = "gamma"    # a group's gamma ("final": the simple form's one group), or
// # group = "g", input = "magnetics", key = "weight"   # one input's weight in that group
// rank_by = "roc"                 # or "success": the AUC that ranks the variants (all tables agree)
// write_best = true               # also write the best variant's map (<base>_sweep_best.tif)

#include "model/deposit_source.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gp::model {

/// `[validation]`: the known deposits (the shared deposit-source keys) and the split.
/// How the deposits are split for prediction rates, and the capture figures reported: the
/// same for `[validation]` and `geoprospect validate`.
struct SplitSpec {
  double holdout{0.0};  ///< fraction of deposits held out (0: none)
  int kfold{0};         ///< k folds (0: none)
  std::uint64_t seed{42};
  std::string split_by;  ///< attribute whose values are kept together when splitting
  /// Spatial folds: side of the square blocks (km on the grid's projected CRS, from its
  /// origin) dealt whole to the folds; 0: folds of single deposit cells ("random").
  double block_km{0.0};
  /// A retrained fold's training leaves out deposits and cells within this distance (km,
  /// between cell centres) of any of its held-out deposits; 0: only their own cells' deposits.
  double buffer_km{0.0};
  std::vector<double> capture_percent{1.0, 2.0, 5.0, 10.0, 20.0};
};

struct ValidationSpec : DepositSourceSpec, SplitSpec {
  bool given{false};
};

struct UncertaintySpec {
  bool given{false};
  int draws{100};
  std::uint64_t seed{1};
  std::string weights_mode{"none"};  ///< none | dirichlet | uniform
  double dirichlet_concentration{0.0};
  double uniform_fraction{0.0};
  double midpoint_fraction{0.0};
  double spread_fraction{0.0};
  double top_percent{10.0};
};

/// One `[[sweep]]` table: a parameter of a layer or a group and the values it takes.
struct SweepAxis {
  std::string layer;  ///< the layer whose parameter varies (or empty)
  std::string group;  ///< the group whose parameter varies (or empty)
  std::string input;  ///< key = "weight" in a group: the input whose weight varies
  std::string key;    ///< midpoint | spread | min | max | weight | gamma
  std::vector<double> values;
  int line{0};  ///< the table's line in the model file (messages)
};

/// `[[sweep]]`: the axes, and how the variants are ranked and what is written.
struct SweepSpec {
  std::vector<SweepAxis> axes;  ///< empty: no sweep
  std::string rank_by{"roc"};   ///< roc | success
  bool write_best{false};
  [[nodiscard]] bool given() const { return !axes.empty(); }
};

/// Most variants a sweep may have (the product of its tables' value counts).
inline constexpr std::size_t max_sweep_variants = 4096;

}  // namespace gp::model
