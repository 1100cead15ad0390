#pragma once
// The run's checks of its deposit tables against what they say about themselves: a deposit's
// stated US state (a `stprov` column, as in the USGS occurrence tables) against the state
// polygon its coordinates fall in (geo/us_states.hpp). Mismatches are listed in the run report
// ("deposit_checks") and announced with one warning line; the deposits are still used as given.

#include "model/model.hpp"
#include "run/runner.hpp"
#include "gp/geo/deposits.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace gp::cli {

/// Checks one deposit source (`what` names it in the warning): null when it has no stated-state
/// column or cannot be read (its reader says why in its own step), else the report entry
/// {path, state_column, checked, state_mismatches}; warns once when there are mismatches.
nlohmann::ordered_json check_deposit_states(const geo::DepositSpec& spec, const std::string& what);

/// Checks [training] and [validation] deposits (when set) and fills res.report["deposit_checks"]
/// when a source has a stated-state column.
void check_deposit_states(const model::Model& m, RunResult& res);

}  // namespace gp::cli
