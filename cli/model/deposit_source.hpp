#pragma once
// The keys of a known-deposits source, shared by the `[training]` and `[validation]` tables
// (and mirrored by the validate command's options): one type, so that the conversion to
// geo::DepositSpec (plan/deposit_source.hpp) is written once.
//
// deposits = "deposits.csv"      # any OGR point source or a CSV (path relative to the model)
// layer / sql / where            # OGR layer, SQL, attribute filter
// x_column / y_column / crs      # CSV: coordinate columns and their CRS
// name_column                    # the deposit's name in messages and the report
// filter_column / filter_contains / filter_equals   # keep rows whose column contains / equals

#include <filesystem>
#include <string>

namespace gp::model {

/// Where known deposits come from (the keys of geo::DepositSpec). The tables that hold these
/// keys derive from it, so their fields keep the key names (`m.training.deposits`).
struct DepositSourceSpec {
  std::filesystem::path deposits;  ///< the point source (any OGR source, CSV); absolute in models
  std::string layer;               ///< OGR layer
  std::string sql;                 ///< OGR SQL
  std::string where;               ///< OGR attribute filter
  std::string x_column;            ///< CSV: x / longitude column
  std::string y_column;            ///< CSV: y / latitude column
  std::string crs;                 ///< CRS of x/y columns
  std::string name_column;         ///< the deposit's name in messages and the report
  std::string filter_column;       ///< keep rows whose filter_column ...
  std::string filter_contains;     ///< ... contains this (case-insensitive)
  std::string filter_equals;       ///< ... or equals this
};

}  // namespace gp::model
