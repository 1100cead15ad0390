// The deposit-source conversion; see plan/deposit_source.hpp.
#include "plan/deposit_source.hpp"

#include <utility>

namespace gp::cli {

geo::DepositSpec deposit_spec(const model::DepositSourceSpec& source, std::string what) {
  geo::DepositSpec spec;
  spec.source.path = source.deposits.string();
  spec.source.layer = source.layer;
  spec.source.sql = source.sql;
  spec.source.where = source.where;
  spec.source.x_column = source.x_column;
  spec.source.y_column = source.y_column;
  spec.source.crs = source.crs;
  spec.source.what = std::move(what);
  spec.name_column = source.name_column;
  spec.filter_column = source.filter_column;
  spec.filter_contains = source.filter_contains;
  spec.filter_equals = source.filter_equals;
  return spec;
}

}  // namespace gp::cli
