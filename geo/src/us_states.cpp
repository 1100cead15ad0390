#include "gp/geo/us_states.hpp"

#include "gp/geo/crs.hpp"
#include "gp/geo/territory.hpp"
#include "gp/geo/vector_source.hpp"
#include "gp/text.hpp"

#include <ogr_geometry.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

namespace gp::geo {

namespace {

using text::upper;

std::string trim(const std::string& s) {
  const auto keep = [](unsigned char c) { return std::isspace(c) == 0 && c != '?' && c != ')'; };
  auto b = std::find_if(s.begin(), s.end(), keep);
  auto e = std::find_if(s.rbegin(), s.rend(), keep).base();
  return b < e ? std::string(b, e) : std::string();
}

/// The state a name or USPS code (upper-case) stands for, or nullptr.
const UsState* state_of(const std::string& key) {
  for (const auto& s : us_states()) {
    if (key == s.usps || key == upper(s.name)) return &s;
  }
  return nullptr;
}

// A point this close to a state it names (in degrees, about 2-5 km) is not a mismatch: the
// shipped boundaries are the Census 1:10,000,000 ones, simplified by a few hundred metres to
// a few km along coasts and borders.
constexpr double border_tolerance_deg = 0.05;

using Polygons = std::map<std::string, GeometryPtr>;  // USPS -> state polygon, lon/lat

Polygons state_polygons() {
  const Territory& any = find_territory("US-WY", "state check");
  VectorSpec vs;
  vs.path = boundaries_file(any).string();
  vs.layer = "states";
  vs.crs = "EPSG:4326";  // the TopoJSON carries no CRS; the Census files are lon/lat
  vs.what = "US state boundaries";
  VectorSource src(vs);
  Polygons out;
  for (auto& f : src.read(std::string(), {}, "id")) {
    for (const auto& s : us_states()) {
      if (f.name == s.fips) out[s.usps] = std::move(f.geometry);
    }
  }
  return out;
}

/// The USPS code of the state holding (lon, lat), "" when none does.
std::string state_at(const Polygons& states, const OGRPoint& p) {
  for (const auto& [code, g] : states) {
    if (g && g->Intersects(&p)) return code;
  }
  return {};
}

bool near_any(const Polygons& states, const std::vector<std::string>& codes, const OGRPoint& p) {
  return std::any_of(codes.begin(), codes.end(), [&](const std::string& c) {
    const auto it = states.find(c);
    return it != states.end() && it->second && it->second->Distance(&p) <= border_tolerance_deg;
  });
}

}  // namespace

const std::vector<UsState>& us_states() {
  static const std::vector<UsState> table = {
      {"AL", "01", "Alabama", false},        {"AK", "02", "Alaska", false},
      {"AZ", "04", "Arizona", false},        {"AR", "05", "Arkansas", false},
      {"CA", "06", "California", false},     {"CO", "08", "Colorado", false},
      {"CT", "09", "Connecticut", false},    {"DE", "10", "Delaware", false},
      {"DC", "11", "District of Columbia", false},
      {"FL", "12", "Florida", false},        {"GA", "13", "Georgia", false},
      {"HI", "15", "Hawaii", false},         {"ID", "16", "Idaho", false},
      {"IL", "17", "Illinois", false},       {"IN", "18", "Indiana", false},
      {"IA", "19", "Iowa", false},           {"KS", "20", "Kansas", false},
      {"KY", "21", "Kentucky", false},       {"LA", "22", "Louisiana", false},
      {"ME", "23", "Maine", false},          {"MD", "24", "Maryland", false},
      {"MA", "25", "Massachusetts", false},  {"MI", "26", "Michigan", false},
      {"MN", "27", "Minnesota", false},      {"MS", "28", "Mississippi", false},
      {"MO", "29", "Missouri", false},       {"MT", "30", "Montana", false},
      {"NE", "31", "Nebraska", false},       {"NV", "32", "Nevada", false},
      {"NH", "33", "New Hampshire", false},  {"NJ", "34", "New Jersey", false},
      {"NM", "35", "New Mexico", false},     {"NY", "36", "New York", false},
      {"NC", "37", "North Carolina", false}, {"ND", "38", "North Dakota", false},
      {"OH", "39", "Ohio", false},           {"OK", "40", "Oklahoma", false},
      {"OR", "41", "Oregon", false},         {"PA", "42", "Pennsylvania", false},
      {"RI", "44", "Rhode Island", false},   {"SC", "45", "South Carolina", false},
      {"SD", "46", "South Dakota", false},   {"TN", "47", "Tennessee", false},
      {"TX", "48", "Texas", false},          {"UT", "49", "Utah", false},
      {"VT", "50", "Vermont", false},        {"VA", "51", "Virginia", false},
      {"WA", "53", "Washington", false},     {"WV", "54", "West Virginia", false},
      {"WI", "55", "Wisconsin", false},      {"WY", "56", "Wyoming", false},
      {"AS", "60", "American Samoa", true},  {"GU", "66", "Guam", true},
      {"MP", "69", "Northern Mariana Islands", true},
      {"PR", "72", "Puerto Rico", true},     {"VI", "78", "U.S. Virgin Islands", true},
  };
  return table;
}

std::vector<std::string> stated_states(const std::string& text) {
  const std::string s = upper(text);
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '/' || c == ',' || c == ';' || c == '(') {
      parts.emplace_back();
    } else if (s.compare(i, 4, " OR ") == 0) {
      parts.emplace_back();
      i += 3;
    } else {
      parts.back() += c;
    }
  }
  std::vector<std::string> out;
  for (const auto& part : parts) {
    const UsState* st = state_of(trim(part));
    if (st != nullptr && std::find(out.begin(), out.end(), st->usps) == out.end()) {
      out.emplace_back(st->usps);
    }
  }
  return out;
}

StateCheck check_stated_states(const DepositSpec& spec, const std::string& state_column) {
  StateCheck check;
  VectorSpec vs = spec.source;
  if (vs.what.empty()) vs.what = "deposits";
  if (!VectorSource(vs).has_field(state_column)) return check;
  check.column = state_column;
  if (VectorSource(vs).has_field("country")) {
    vs.where = (vs.where.empty() ? std::string() : "(" + vs.where + ") AND ") +
               "country IN ('United States', 'USA', 'US')";
  }
  VectorSource src(vs);
  const std::string wgs84 = crs_wkt("EPSG:4326", "state check");
  std::vector<Feature> rows = src.read(wgs84, {}, spec.name_column, nullptr, state_column);
  if (!spec.filter_column.empty()) {
    // The same rows again with the filter column as their tag (the reader skips the same
    // rows both times: those without usable coordinates); the filter as place_deposits has it.
    std::vector<Feature> tags = src.read(wgs84, {}, {}, nullptr, spec.filter_column);
    std::vector<Feature> kept;
    for (std::size_t i = 0; i < rows.size() && i < tags.size(); ++i) {
      if (deposit_filter_keeps(spec, tags[i].tag)) kept.push_back(std::move(rows[i]));
    }
    rows = std::move(kept);
  }
  const Polygons states = state_polygons();
  for (const auto& f : rows) {
    const std::vector<std::string> codes = stated_states(f.tag);
    const auto p = representative_point(*f.geometry);
    if (codes.empty() || !p) continue;
    ++check.checked;
    const OGRPoint pt((*p)[0], (*p)[1]);
    if (near_any(states, codes, pt)) continue;
    check.mismatches.push_back({f.name, f.tag, state_at(states, pt), (*p)[0], (*p)[1]});
  }
  return check;
}

}  // namespace gp::geo
