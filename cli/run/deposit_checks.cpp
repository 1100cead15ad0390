// Deposit checks; see run/deposit_checks.hpp.
#include "run/deposit_checks.hpp"

#include "plan/deposit_source.hpp"

#include "gp/error.hpp"
#include "gp/geo/us_states.hpp"
#include "gp/log.hpp"

#include <string>
#include <utility>

namespace gp::cli {

nlohmann::ordered_json check_deposit_states(const geo::DepositSpec& spec, const std::string& what) {
  geo::StateCheck c;
  try {
    c = geo::check_stated_states(spec);
  } catch (const input_error&) {
    return nullptr;  // an unreadable source: the deposit reader itself says why, in its step
  }
  if (c.column.empty()) return nullptr;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::string first;
  for (const auto& x : c.mismatches) {
    rows.push_back({{"name", x.name}, {"stated", x.stated},
                    {"found", x.found.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(x.found)},
                    {"lon", x.lon}, {"lat", x.lat}});
    if (rows.size() <= 3) first += (first.empty() ? "" : ", ") + x.name;
  }
  if (!c.mismatches.empty()) {
    gp::log::warning(what + ": " + std::to_string(c.mismatches.size()) + " of " +
                     std::to_string(c.checked) + " US deposits lie outside the state their '" +
                     c.column + "' names (" + first + (c.mismatches.size() > 3 ? ", ..." : "") +
                     "; listed under \"deposit_checks\" in the JSON report); used as given");
  }
  return {{"path", spec.source.path}, {"state_column", c.column}, {"checked", c.checked},
          {"state_mismatches", rows}};
}

void check_deposit_states(const model::Model& m, RunResult& res) {
  nlohmann::ordered_json checks = nlohmann::ordered_json::object();
  for (const auto& [key, source] :
       {std::pair<std::string, const model::DepositSourceSpec*>{"training", &m.training},
        {"validation", &m.validation}}) {
    if (source->deposits.empty()) continue;
    const std::string what = "[" + key + "] deposits";
    nlohmann::ordered_json entry = check_deposit_states(deposit_spec(*source, what), what);
    if (!entry.is_null()) checks[key] = std::move(entry);
  }
  if (!checks.empty()) res.report["deposit_checks"] = checks;
}

}  // namespace gp::cli
