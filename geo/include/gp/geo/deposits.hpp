#pragma once
// Known occurrences (deposits, prospects) for training, validation and maps: points from any OGR
// source, or a CSV with named lon/lat columns, optionally filtered, placed on a grid. Points
// outside the grid, on nodata cells, without coordinates or that cannot be projected are
// reported by name: nothing is dropped silently.

#include "gp/geo/grid.hpp"
#include "gp/geo/vector_source.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gp::geo {

/// Where deposits come from, and which to keep.
struct DepositSpec {
  /// The source: path, layer / sql / where (OGR), x_column / y_column and crs for tables
  /// (x = longitude, y = latitude, crs default EPSG:4326).
  VectorSpec source;
  std::string name_column;  ///< the deposit's name; empty: "#<FID>"
  /// A simple filter besides `where`: keep rows whose `filter_column` contains `filter_contains`
  /// (case-insensitive) and/or equals `filter_equals` (exact).
  std::string filter_column;
  std::string filter_contains;
  std::string filter_equals;
};

/// A deposit placed on a grid cell.
struct PlacedDeposit {
  std::string name;
  double x{0.0};  ///< grid CRS
  double y{0.0};
  std::int64_t col{0};
  std::int64_t row{0};
};

/// A deposit that could not be placed, with why ("outside the grid", "on a nodata cell", ...).
struct RejectedDeposit {
  std::string name;
  std::string reason;
  bool has_xy{false};  ///< the position is known (outside the grid, on a nodata cell)
  double x{0.0};       ///< grid CRS
  double y{0.0};
};

struct DepositPlacement {
  std::vector<PlacedDeposit> placed;
  std::vector<RejectedDeposit> rejected;
};

/// True when cell (col, row) of the grid holds data; used to reject deposits on nodata cells.
using CellValidity = std::function<bool(std::int64_t col, std::int64_t row)>;

/// Whether a row whose filter_column holds `text` passes spec's filter_contains /
/// filter_equals (true when the spec has no filter_column).
bool deposit_filter_keeps(const DepositSpec& spec, const std::string& text);

/// Reads the deposits and places them on `grid`. `valid` (optional) rejects nodata cells.
/// Throws gp::input_error (unreadable source, missing column, no deposit with a geometry
/// selected) / gp::config_error.
DepositPlacement place_deposits(const DepositSpec& spec, const Grid& grid,
                                const CellValidity& valid = {});

/// How many deposits first shown in a one-line summary of the rejected ones.
inline constexpr std::size_t rejected_names_shown = 5;

/// One line for deposits that were not placed (a world file on a national grid leaves dozens
/// out; one warning each drowned the rest): the count, the count per reason, the first
/// rejected_names_shown names and where all are listed, e.g. "47 deposits not used (45 outside
/// the grid, 2 on a nodata cell): A, B, C, D, E, ... (all listed in the report)". `verb` is
/// "not used" or "left out"; empty when nothing was rejected.
std::string rejected_summary(const std::vector<RejectedDeposit>& rejected, const std::string& verb,
                             const std::string& listed_in);

/// Validity from band 1 of a raster on `grid` (read one cell at a time through GDAL's cache):
/// false where the value is its nodata value or not finite.
CellValidity validity_from_raster(const std::string& path);

}  // namespace gp::geo
