// Deposit checks; see run/deposit_checks.hpp.
#include "run/deposit_checks.hpp"

#include "plan/deposit_source.hpp"

#include "gp/error.hpp"
#include "gp/geo/us_states.hpp"
#include "gp/log.hpp"

#include <string>

namespace gp::cli {

void check_deposit_states(const model::Model& m, RunResult& res) {
  nlohmann::ordered_json checks = nlohmann::ordered_json::object();
  for (const auto& [key, source] :
       {std::pair<std::string, const model::DepositSourceSpec*>{"training", &m.training},
        {"validation", &m.validation}}) {
    if (source->deposits.empty()) continue;
    const std::string what = "[" + key + "] deposits";
    geo::StateCheck c;
    try {
      c = geo::check_stated_states(deposit_spec(*source, what));
    } catch (const input_error&) {
      continue;  // an unreadable source: the deposit reader itself says why, in its step
    }
    if (c.column.empty()) continue;
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    std::string first;
    for (const auto& x : c.mismatches) {
      rows.push_back({{"name", x.name}, {"stated", x.stated},
                      {"found", x.found.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(x.found)},
                      {"lon", x.lon}, {"lat", x.lat}});
      if (rows.size() <= 3) first += (first.empty() ? "" : ", ") + x.name;
    }
    checks[key] = {{"path", source->deposits.string()}, {"state_column", c.column},
                   {"checked", c.checked}, {"state_mismatches", rows}};
    if (!c.mismatches.empty()) {
      gp::log::warning(what + ": " + std::to_string(c.mismatches.size()) + " of " +
                       std::to_string(c.checked) + " US deposits lie outside the state their '" +
                       c.column + "' names (" + first + (c.mismatches.size() > 3 ? ", ..." : "") +
                       "; listed in the report's deposit_checks); used as given");
    }
  }
  if (!checks.empty()) res.report["deposit_checks"] = checks;
}

}  // namespace gp::cli
