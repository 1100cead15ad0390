#pragma once
// The one conversion of a deposit-source spec ([training], [validation] or the validate
// command's options, model/deposit_source.hpp) into what geo::place_deposits reads.

#include "model/deposit_source.hpp"
#include "gp/geo/deposits.hpp"

#include <string>

namespace gp::cli {

/// geo::DepositSpec of `source`; `what` names the source in messages
/// (e.g. "[training] deposits").
geo::DepositSpec deposit_spec(const model::DepositSourceSpec& source, std::string what);

}  // namespace gp::cli
