#pragma once
// US states, DC and insular areas (USPS code, FIPS code, name), their shipped boundaries (U.S.
// Census Bureau 2019, data-samples/us_states/states-10m.json, layer `states`, field `id` = the
// two-digit FIPS code), and the check of a deposit's stated state (a `stprov` column, as in the
// USGS occurrence tables) against the state polygon its coordinates fall in.

#include "gp/geo/deposits.hpp"

#include <string>
#include <vector>

namespace gp::geo {

struct UsState {
  const char* usps;  ///< "WY", "DC", "PR"
  const char* fips;  ///< "56", "11", "72": the `id` of the Census boundary feature
  const char* name;  ///< "Wyoming"
  bool insular;      ///< PR, VI, GU, MP, AS
};

/// The 50 states, DC and the 5 insular areas, in FIPS order.
const std::vector<UsState>& us_states();

/// The USPS codes a stated-state text names, in order: "Wyoming/Albany County" -> {WY},
/// "Fl or GA" -> {FL, GA}, "New Mexico, Texas" -> {NM, TX}, "Alaska?" -> {AK}. Parts are split
/// at '/', ',', ';', '(' and " or "; a part counts when, trimmed of spaces and '?', it is a
/// state's name or USPS code (case-insensitive). Empty when no part names one.
std::vector<std::string> stated_states(const std::string& text);

/// A deposit whose coordinates lie outside every state its row names.
struct StateMismatch {
  std::string name;    ///< the deposit's name
  std::string stated;  ///< the row's text, e.g. "Virginia"
  std::string found;   ///< the USPS code of the state the point lies in; "" when in none
  double lon{0.0};
  double lat{0.0};
};

struct StateCheck {
  std::string column;          ///< the stated-state column checked ("" when the source has none)
  std::size_t checked{0};      ///< rows naming a US state, with coordinates
  std::vector<StateMismatch> mismatches;
};

/// Checks each deposit row of `spec` (its where / filter applied) whose `state_column` names a
/// US state (stated_states) against the Census state polygons: a row whose point lies in none
/// of the states it names is a mismatch. When the source has a `country` column, only rows
/// whose country is the United States ("United States", "USA", "US") are checked, so that an
/// abbreviation like WA (Western Australia) is never read as Washington. A source without
/// `state_column` gives an empty check (column ""). Throws gp::input_error (unreadable source
/// or boundaries).
StateCheck check_stated_states(const DepositSpec& spec, const std::string& state_column = "stprov");

}  // namespace gp::geo
