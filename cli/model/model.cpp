#include "model/model.hpp"

#include "gp/error.hpp"
#include "gp/text.hpp"
#include "model/analysis_spec_toml.hpp"  // [validation], [uncertainty]
#include "model/groups.hpp"
#include "model/toml_reader.hpp"

#include <openssl/evp.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <fstream>
#include <set>
#include <sstream>

namespace gp::model {
namespace fs = std::filesystem;

namespace {

void expect_one_of(TableReader& r, const std::string& key, const std::string& value,
                   const std::vector<std::string_view>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string msg = "unknown value '" + value + "'";
  const std::string hint = text::did_you_mean(value, allowed);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  else {
    msg += " (expected one of:";
    for (auto a : allowed) msg += " " + std::string(a);
    msg += ")";
  }
  r.fail(key, msg);
}

const std::vector<std::string_view> transform_kinds = {
    "identity", "linear", "large",  "small",      "gaussian", "near",  "ms-large",
    "ms-small", "reclass", "minmax", "zscore", "percentile", "log", "clamp"};

const std::vector<std::string_view> combine_methods = {
    "weighted-sum", "fuzzy-and", "fuzzy-or", "fuzzy-product", "fuzzy-sum", "fuzzy-gamma",
    "index-overlay", "wofe", "logistic"};

ReclassRuleSpec parse_rule(const toml::node& n, TableReader& parent, std::size_t idx) {
  const toml::table* t = n.as_table();
  if (t == nullptr) {
    parent.fail("table", "entry " + std::to_string(idx + 1) +
                             " must be a table such as { value = 3, score = 0.8 } or "
                             "{ from = 10, to = 20, score = 0.5 }");
  }
  TableReader r(*t, parent.source(), parent.context() + ".table[" + std::to_string(idx + 1) + "]");
  ReclassRuleSpec rule;
  const auto value = r.num("value");
  const auto from = r.num("from");
  const auto to = r.num("to");
  const auto score = r.num("score");
  if (!score) r.fail("score", "missing (expected the score this entry maps to)");
  rule.score = *score;
  if (value) {
    if (from || to) r.fail("value", "give either value, or from and to, not both");
    rule.is_value = true;
    rule.lo = rule.hi = *value;
  } else {
    if (!from || !to) r.fail("from", "expected value = v, or from = a and to = b (half-open [a, b))");
    if (!(*from < *to)) r.fail("to", "expected from < to");
    rule.lo = *from;
    rule.hi = *to;
  }
  r.finish();
  return rule;
}

TransformSpec parse_transform(const toml::table& t, const std::string& source,
                              const std::string& ctx) {
  TableReader r(t, source, ctx + ".transform");
  TransformSpec spec;
  spec.kind = r.str("kind").value_or("identity");
  expect_one_of(r, "kind", spec.kind, transform_kinds);
  spec.invert = r.boolean("invert").value_or(false);
  const std::string& k = spec.kind;
  auto required = [&](std::string_view key) {
    auto v = r.num(key);
    if (!v) {
      r.fail(std::string(key), "missing: kind \"" + k + "\" needs " + std::string(key));
    }
    return *v;
  };
  if (k == "linear") {
    spec.min = r.num("min");
    spec.max = r.num("max");
    if (spec.min && spec.max && *spec.min == *spec.max) {
      r.fail("min", "min and max are both " + text::shortest_plain(*spec.min) +
                        " (expected different values; min > max inverts)");
    }
  } else if (k == "large" || k == "small" || k == "gaussian" || k == "near") {
    spec.midpoint = required("midpoint");
    spec.spread = required("spread");
    if (*spec.spread < 0) r.fail("spread", "expected spread >= 0");
    if ((k == "large" || k == "small") && *spec.midpoint <= 0) {
      r.fail("midpoint", "expected midpoint > 0 for kind \"" + k + "\" (x / midpoint is raised to a power)");
    }
  } else if (k == "ms-large" || k == "ms-small") {
    spec.a = required("a");
    spec.b = required("b");
  } else if (k == "log") {
    spec.offset = r.num("offset").value_or(0.0);
  } else if (k == "clamp") {
    spec.min = required("min");
    spec.max = required("max");
    if (*spec.min > *spec.max) r.fail("min", "expected min <= max");
  } else if (k == "reclass") {
    const toml::node* tab = r.get("table");
    if (tab == nullptr || tab->as_array() == nullptr || tab->as_array()->empty()) {
      r.fail("table", "missing: kind \"reclass\" needs table = [ { value = v, score = s }, "
                      "{ from = a, to = b, score = s }, ... ]");
    }
    const toml::array& arr = *tab->as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) spec.table.push_back(parse_rule(*arr.get(i), r, i));
    // Overlaps make the result depend on rule order: refuse them.
    for (std::size_t i = 0; i < spec.table.size(); ++i) {
      for (std::size_t j = i + 1; j < spec.table.size(); ++j) {
        const auto& a = spec.table[i];
        const auto& b = spec.table[j];
        bool overlap = false;
        if (a.is_value && b.is_value) overlap = a.lo == b.lo;
        else if (a.is_value) overlap = a.lo >= b.lo && a.lo < b.hi;
        else if (b.is_value) overlap = b.lo >= a.lo && b.lo < a.hi;
        else overlap = a.lo < b.hi && b.lo < a.hi;
        if (overlap) {
          r.fail("table", "entries " + std::to_string(i + 1) + " and " + std::to_string(j + 1) +
                              " overlap (expected disjoint values and ranges)");
        }
      }
    }
    spec.fallback = r.num("default");
  }
  r.finish();
  return spec;
}

/// Checks names, cycles and use of the network; fills the simple form's single group.
void resolve_network(Model& m, const std::string& source) {
  auto fail = [&](const std::string& msg) { throw config_error(source + ": " + msg); };
  std::vector<std::string_view> node_names;
  for (const auto& L : m.layers) node_names.emplace_back(L.name);
  for (const auto& g : m.groups) {
    for (const auto& L : m.layers) {
      if (L.name == g.name) fail("[[group]] '" + g.name + "': a layer has the same name");
    }
    node_names.emplace_back(g.name);
  }
  auto group_index = [&](const std::string& name) -> int {
    for (std::size_t i = 0; i < m.groups.size(); ++i) {
      if (m.groups[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  auto layer_index = [&](const std::string& name) -> int {
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      if (m.layers[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  auto unknown = [&](const std::string& where_, const std::string& name) {
    std::string msg = where_ + ": unknown layer or group '" + name + "'";
    const std::string hint = text::did_you_mean(name, node_names);
    if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
    fail(msg);
  };
  for (const auto& g : m.groups) {
    for (const auto& in : g.inputs) {
      if (in == g.name) fail("[[group]] '" + g.name + "' refers to itself");
      if (group_index(in) < 0 && layer_index(in) < 0) unknown("[[group]] '" + g.name + "' inputs", in);
    }
  }
  if (m.combine.final.empty()) m.combine.final = m.groups.back().name;
  if (group_index(m.combine.final) < 0) unknown("[combine] final", m.combine.final);
  for (const auto& b : m.output.bands) {
    if (group_index(b) < 0 && layer_index(b) < 0) unknown("[output] bands", b);
  }
  // Cycles: the one evaluation order (model/groups.hpp) names the cycle it finds.
  try {
    (void)group_order(m.groups);
  } catch (const config_error& e) {
    fail(e.what());
  }
  // Everything declared must reach the final map (or be an extra band).
  std::set<std::string> used;
  std::function<void(const std::string&)> mark = [&](const std::string& name) {
    if (!used.insert(name).second) return;
    const int gi = group_index(name);
    if (gi >= 0) {
      for (const auto& in : m.groups[static_cast<std::size_t>(gi)].inputs) mark(in);
    }
  };
  mark(m.combine.final);
  std::string unused;
  for (const auto& L : m.layers) {
    if (used.count(L.name) == 0) unused += (unused.empty() ? "'" : ", '") + L.name + "'";
  }
  for (const auto& g : m.groups) {
    if (used.count(g.name) == 0) unused += (unused.empty() ? "'" : ", '") + g.name + "'";
  }
  if (!unused.empty()) {
    fail("not used by the final map '" + m.combine.final + "': " + unused +
         " (connect them to a group or remove them)");
  }
}

/// `[output] classes`: false | true | { method = "quantile", top = [...] } |
/// { method = "breaks", breaks = [...] } | { method = "natural", n = 5 }, each with optional
/// names (lowest class first). At most 32 classes.
ClassSpec parse_classes(const toml::node& n, TableReader& parent) {
  ClassSpec spec;
  if (n.is_boolean()) {
    if (!*n.value<bool>()) spec.method = "none";
    return spec;
  }
  const toml::table* t = n.as_table();
  if (t == nullptr) {
    parent.fail("classes", "expected false, or a table such as { method = \"quantile\", top = "
                           "[2, 5, 10, 25] }, found " + type_name(n));
  }
  TableReader r(*t, parent.source(), parent.context() + " classes");
  constexpr std::size_t max_classes = 32;
  spec.method = r.str("method").value_or("quantile");
  expect_one_of(r, "method", spec.method, {"quantile", "breaks", "natural", "none"});
  auto ascending = [&](const char* key, bool required) {
    std::vector<double> v;
    const toml::node* a = r.get(key);
    if (a == nullptr) {
      if (required) r.fail(key, "missing (expected an ascending list of numbers)");
      return v;
    }
    if (a->as_array() == nullptr || a->as_array()->empty()) {
      r.fail(key, "expected a non-empty ascending list of numbers");
    }
    for (const auto& e : *a->as_array()) v.push_back(r.as_number(e, key));
    for (std::size_t i = 1; i < v.size(); ++i) {
      if (!(v[i - 1] < v[i])) r.fail(key, "expected strictly ascending numbers");
    }
    if (v.size() + 1 > max_classes) {
      r.fail(key, "at most " + std::to_string(max_classes - 1) + " values (" +
                      std::to_string(max_classes) + " classes)");
    }
    return v;
  };
  std::size_t n_classes = 0;
  if (spec.method == "quantile") {
    if (r.get("top") != nullptr) spec.top = ascending("top", false);
    for (double p : spec.top) {
      if (!(p > 0.0 && p < 100.0)) r.fail("top", "expected percentages between 0 and 100");
    }
    n_classes = spec.top.size() + 1;
  } else if (spec.method == "breaks") {
    spec.top.clear();
    spec.breaks = ascending("breaks", true);
    n_classes = spec.breaks.size() + 1;
  } else if (spec.method == "natural") {
    spec.top.clear();
    const auto k = r.integer("n", 2, static_cast<std::int64_t>(max_classes)).value_or(5);
    spec.n = static_cast<int>(k);
    n_classes = static_cast<std::size_t>(k);
  }
  if (spec.method != "none") {
    if (const toml::node* nn = r.get("names")) {
      const toml::array* a = nn->as_array();
      if (a == nullptr || a->size() != n_classes) {
        r.fail("names", "expected " + std::to_string(n_classes) +
                            " names (one per class, lowest first)");
      }
      for (const auto& e : *a) {
        if (!e.is_string() || e.value<std::string>()->empty()) {
          r.fail("names", "expected non-empty strings");
        }
        spec.names.push_back(*e.value<std::string>());
      }
    }
  }
  r.finish();
  return spec;
}

/// The vector keys of a [[layer]]. Mode-specific keys must match the mode.
void parse_vector_keys(TableReader& r, VectorLayerSpec& v) {
  v.mode = r.str("vector").value_or("");
  if (!v.mode.empty()) {
    expect_one_of(r, "vector", v.mode, {"presence", "burn", "distance", "density"});
  }
  v.layer = r.str("layer").value_or("");
  v.sql = r.str("sql").value_or("");
  v.where = r.str("where").value_or("");
  v.attribute = r.str("attribute").value_or("");
  v.all_touched = r.boolean("all_touched").value_or(false);
  v.max_distance = r.num("max_distance");
  v.radius = r.num("radius");
  v.x_column = r.str("x_column").value_or("");
  v.y_column = r.str("y_column").value_or("");
  v.crs = r.str("crs").value_or("");
  if (!v.layer.empty() && !v.sql.empty()) r.fail("sql", "give layer or sql, not both");
  if (v.x_column.empty() != v.y_column.empty()) {
    r.fail(v.x_column.empty() ? "y_column" : "x_column",
           "x_column and y_column go together (longitude and latitude columns)");
  }
  if (v.mode == "burn" && v.attribute.empty()) {
    r.fail("vector", "vector = \"burn\" needs attribute = \"<numeric attribute>\"");
  }
  if (!v.attribute.empty() && v.mode != "burn") {
    r.fail("attribute", "only used with vector = \"burn\"");
  }
  if (v.max_distance) {
    if (v.mode != "distance") r.fail("max_distance", "only used with vector = \"distance\"");
    if (!(*v.max_distance > 0)) r.fail("max_distance", "expected a distance > 0 (CRS units)");
  }
  if (v.mode == "density" && !v.radius) {
    r.fail("vector", "vector = \"density\" needs radius = <metres>");
  }
  if (v.radius) {
    if (v.mode != "density") r.fail("radius", "only used with vector = \"density\"");
    if (!(*v.radius > 0)) r.fail("radius", "expected a radius > 0 (metres)");
  }
}

// ---- weights of evidence and logistic regression keys ----------------------------

/// A layer's `wofe = { ... }` and `logistic = { ... }` blocks.
void parse_training_layer_keys(TableReader& rl, LayerSpec& L) {
  auto numbers_of = [&](TableReader& r, const toml::node& n, const std::string& key) {
    std::vector<double> v;
    if (n.as_array() == nullptr) r.fail(key, "expected a list of numbers");
    for (const auto& e : *n.as_array()) v.push_back(r.as_number(e, key));
    return v;
  };
  if (const toml::node* wn = rl.get("wofe")) {
    const toml::table* t = wn->as_table();
    if (t == nullptr) {
      rl.fail("wofe", "expected a table such as { type = \"ascending\" }, found " + type_name(*wn));
    }
    TableReader r(*t, rl.source(), rl.context() + " wofe");
    WofeLayerSpec& w = L.wofe;
    w.type = r.str("type").value_or("");
    if (w.type.empty()) r.fail("type", "missing (expected categorical, ascending or descending)");
    expect_one_of(r, "type", w.type, {"categorical", "ascending", "descending"});
    if (const toml::node* b = r.get("breaks")) {
      w.breaks = numbers_of(r, *b, "breaks");
      if (w.breaks.empty()) r.fail("breaks", "expected at least one break");
      for (std::size_t i = 1; i < w.breaks.size(); ++i) {
        if (!(w.breaks[i - 1] < w.breaks[i])) r.fail("breaks", "expected strictly ascending numbers");
      }
    }
    w.threshold = r.num("threshold");
    w.min_studc = r.num("min_studc");
    if (const toml::node* g = r.get("groups")) {
      const toml::array* a = g->as_array();
      if (a == nullptr || a->empty()) {
        r.fail("groups", "expected a list of class lists, such as [[1, 4], [2, 3]]");
      }
      std::set<double> seen;
      for (const auto& e : *a) {
        std::vector<double> cls = numbers_of(r, e, "groups");
        if (cls.empty()) r.fail("groups", "expected non-empty class lists");
        for (double c : cls) {
          if (!seen.insert(c).second) {
            r.fail("groups", "class " + text::shortest_plain(c) + " is in more than one group");
          }
        }
        w.groups.push_back(std::move(cls));
      }
    }
    if (w.type == "categorical" && (w.threshold || w.min_studc)) {
      r.fail(w.threshold ? "threshold" : "min_studc",
             "only used with type = \"ascending\" or \"descending\"");
    }
    if (w.type != "categorical" && !w.groups.empty()) {
      r.fail("groups", "only used with type = \"categorical\"");
    }
    if (w.threshold && w.min_studc) r.fail("min_studc", "give threshold or min_studc, not both");
    r.finish();
  }
  if (const toml::node* ln = rl.get("logistic")) {
    const toml::table* t = ln->as_table();
    if (t == nullptr) {
      rl.fail("logistic", "expected a table such as { type = \"continuous\" }, found " +
                              type_name(*ln));
    }
    TableReader r(*t, rl.source(), rl.context() + " logistic");
    L.logistic.type = r.str("type").value_or("");
    if (L.logistic.type.empty()) r.fail("type", "missing (expected continuous or categorical)");
    expect_one_of(r, "type", L.logistic.type, {"continuous", "categorical"});
    r.finish();
  }
}

/// `[training]`: the deposits (any OGR point source or a CSV) and the unit cell.
TrainingSpec parse_training(const toml::table& t, const std::string& source,
                            const fs::path& base_dir) {
  TableReader r(t, source, "[training]");
  TrainingSpec s;
  s.given = true;
  const auto dep = r.str("deposits");
  if (!dep || dep->empty()) r.fail("deposits", "missing (expected the known deposits' file)");
  s.deposits = resolve_model_path(*dep, base_dir);
  s.layer = r.str("layer").value_or("");
  s.sql = r.str("sql").value_or("");
  s.where = r.str("where").value_or("");
  s.x_column = r.str("x_column").value_or("");
  s.y_column = r.str("y_column").value_or("");
  s.crs = r.str("crs").value_or("");
  s.name_column = r.str("name_column").value_or("");
  s.filter_column = r.str("filter_column").value_or("");
  s.filter_contains = r.str("filter_contains").value_or("");
  s.filter_equals = r.str("filter_equals").value_or("");
  if (!s.layer.empty() && !s.sql.empty()) r.fail("sql", "give layer or sql, not both");
  if (s.x_column.empty() != s.y_column.empty()) {
    r.fail(s.x_column.empty() ? "y_column" : "x_column", "x_column and y_column go together");
  }
  if (!s.filter_column.empty() && s.filter_contains.empty() && s.filter_equals.empty()) {
    r.fail("filter_column", "needs filter_contains or filter_equals");
  }
  if (auto u = r.num("unit_cell_km2")) {
    if (!(*u > 0.0)) r.fail("unit_cell_km2", "expected an area > 0 (km²)");
    s.unit_cell_km2 = *u;
  }
  if (auto it = r.integer("max_iterations", 1, 1000)) s.max_iterations = static_cast<int>(*it);
  if (auto tol = r.num("tolerance")) {
    if (!(*tol > 0.0)) r.fail("tolerance", "expected a tolerance > 0");
    s.tolerance = *tol;
  }
  r.finish();
  return s;
}

/// Cross-checks of the data-driven methods, once every table is read.
void check_training(const Model& m, const std::string& source, bool user_groups) {
  auto fail = [&](const std::string& msg) { throw config_error(source + ": " + msg); };
  const std::string& method = m.combine.method;
  const bool trained = method == "wofe" || method == "logistic";
  for (const auto& g : m.groups) {
    if (user_groups && (g.method == "wofe" || g.method == "logistic")) {
      fail("group '" + g.name + "' method: \"" + g.method + "\" is a whole-model method (set "
           "[combine] method = \"" + g.method + "\" without [[group]]s)");
    }
  }
  for (const auto& L : m.layers) {
    if (L.wofe.given() && method != "wofe") {
      fail("layer '" + L.name + "' wofe: only used with [combine] method = \"wofe\"");
    }
    if (L.logistic.given() && method != "logistic") {
      fail("layer '" + L.name + "' logistic: only used with [combine] method = \"logistic\"");
    }
    if (L.mask) continue;
    if (method == "wofe" && !L.wofe.given()) {
      fail("layer '" + L.name + "': missing wofe = { type = \"categorical\" | \"ascending\" | "
           "\"descending\" } (every layer of a weights-of-evidence model needs one)");
    }
    if (method == "logistic" && !L.logistic.given()) {
      fail("layer '" + L.name + "': missing logistic = { type = \"continuous\" | "
           "\"categorical\" } (every layer of a logistic-regression model needs one)");
    }
    if (trained && L.transform.kind != "identity") {
      fail("layer '" + L.name + "' transform: not used with [combine] method = \"" + method +
           "\" (the weights come from the deposits; remove the transform)");
    }
  }
  if (trained && !m.training.given) {
    fail("[training]: missing (method \"" + method + "\" needs deposits = \"file\")");
  }
  if (!trained && m.training.given) {
    fail("[training]: only used with [combine] method = \"wofe\" or \"logistic\"");
  }
  if (trained && !m.output.bands.empty()) {
    fail("[output] bands: not used with method \"" + method + "\" (its bands are fixed)");
  }
}

/// Weights are normalised by their sum: a sum beyond the doubles' range (two weights of 1e308)
/// would turn every normalised weight into 0 or NaN.
void check_weight_sum(double sum, const std::string& what) {
  if (std::isfinite(sum)) return;
  throw config_error(what + ": weights overflow (their sum is beyond " +
                     text::shortest_plain(std::numeric_limits<double>::max()) +
                     "; expected weights on a smaller scale, only their ratios matter)");
}

/// The index just past the string that starts at t[i] (a quote), or the end of its line when
/// it is unterminated (the TOML parser reports that). Basic strings take backslash escapes.
std::size_t skip_string(std::string_view t, std::size_t i) {
  const char q = t[i];
  const std::string_view triple = q == '"' ? "\"\"\"" : "'''";
  const bool multi = t.substr(i, 3) == triple;
  for (std::size_t j = i + (multi ? 3 : 1); j < t.size(); ++j) {
    if (q == '"' && t[j] == '\\') {
      ++j;
    } else if (!multi && t[j] == '\n') {
      return j;
    } else if (multi ? t.substr(j, 3) == triple : t[j] == q) {
      return j + (multi ? 3 : 1);
    }
  }
  return t.size();
}

}  // namespace

fs::path resolve_model_path(const std::string& path, const fs::path& base_dir) {
  if (path.rfind("/vsi", 0) == 0) return fs::path(path);
  return (fs::path(path).is_absolute() ? fs::path(path) : base_dir / path).lexically_normal();
}

void check_model_nesting(std::string_view t, const std::string& source) {
  // Depth: open brackets and braces (arrays, inline tables, table headers) plus the dots of
  // the key being read (each dot is one more table). Strings and comments do not count.
  int open = 0;
  int dots = 0;
  std::size_t line = 1;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '"' || c == '\'') {
      const std::size_t end = skip_string(t, i);
      line += static_cast<std::size_t>(std::count(t.begin() + static_cast<std::ptrdiff_t>(i),
                                                  t.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
      i = end - 1;
      continue;
    }
    if (c == '#') {
      while (i + 1 < t.size() && t[i + 1] != '\n') ++i;
      continue;
    }
    if (c == '[' || c == '{') {
      ++open;
      dots = 0;
    } else if (c == ']' || c == '}') {
      open = std::max(0, open - 1);
    } else if (c == '.') {
      ++dots;
    } else if (c == '=' || c == ',' || c == '\n') {
      dots = 0;
      line += c == '\n' ? 1 : 0;
    }
    if (open + dots > max_model_nesting) {
      throw config_error(source + ":" + std::to_string(line) + ": nested more than " +
                         std::to_string(max_model_nesting) +
                         " levels deep (expected table headers, dotted keys, arrays and inline "
                         "tables within that depth)");
    }
  }
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

Model parse_model(std::string_view text, const std::string& source, const fs::path& base_dir) {
  check_model_nesting(text, source);
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw config_error(source + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                       ": TOML syntax error: " + std::string(e.description()));
  }
  Model m;
  m.sha256 = sha256_hex(text);
  TableReader top(root, source, "model file");

  if (const toml::table* t = top.table("model")) {
    TableReader r(*t, source, "[model]");
    m.name = r.str("name").value_or("");
    r.str("description");
    r.finish();
  }
  if (m.name.empty()) m.name = fs::path(source).stem().string();

  if (const toml::table* t = top.table("grid")) {
    TableReader r(*t, source, "[grid]");
    m.grid.crs = r.str("crs");
    if (const toml::node* n = r.get("resolution")) {
      if (n->is_number()) {
        const double v = r.as_number(*n, "resolution");
        m.grid.resolution = std::array<double, 2>{v, v};
      } else if (n->is_array() && n->as_array()->size() == 2) {
        const auto* a = n->as_array();
        m.grid.resolution = std::array<double, 2>{r.as_number(*a->get(0), "resolution"),
                                                  r.as_number(*a->get(1), "resolution")};
      } else {
        r.fail("resolution", "expected a number or [x, y], found " + type_name(*n));
      }
      if ((*m.grid.resolution)[0] <= 0 || (*m.grid.resolution)[1] <= 0) {
        r.fail("resolution", "expected a positive cell size");
      }
    }
    if (auto e = r.numbers("extent", 4)) {
      const auto& v = *e;
      if (!(v[0] < v[2]) || !(v[1] < v[3])) {
        r.fail("extent", "expected [xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax");
      }
      m.grid.extent = std::array<double, 4>{v[0], v[1], v[2], v[3]};
    }
    // Territories and boundaries: checked against the table when the grid is built.
    if (auto tc = r.str("territory")) {
      if (tc->empty()) r.fail("territory", "expected a territory code such as \"CONUS\"");
      m.grid.territory = *tc;
    }
    if (auto b = r.str("boundary")) {
      if (b->empty()) r.fail("boundary", "expected a vector file path");
      m.grid.boundary = resolve_model_path(*b, base_dir);
    }
    m.grid.boundary_layer = r.str("boundary_layer").value_or("");
    m.grid.boundary_where = r.str("boundary_where").value_or("");
    if (m.grid.territory && m.grid.boundary) {
      r.fail("boundary", "give territory or boundary, not both");
    }
    if (!m.grid.boundary && (!m.grid.boundary_layer.empty() || !m.grid.boundary_where.empty())) {
      r.fail(m.grid.boundary_layer.empty() ? "boundary_where" : "boundary_layer",
             "needs boundary = \"file\"");
    }
    r.finish();
  }

  const toml::node* layers_node = top.get("layer");
  if (layers_node == nullptr) {
    throw config_error(source + ": no [[layer]] (expected at least one evidence layer)");
  }
  const toml::array* layers = layers_node->as_array();
  if (layers == nullptr || !layers->is_array_of_tables()) {
    throw config_error(source + ": 'layer' must be an array of tables ([[layer]])");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const toml::table& t = *layers->get(i)->as_table();
    LayerSpec L;
    const std::string idx = "[[layer]] #" + std::to_string(i + 1);
    TableReader r(t, source, idx);
    L.name = r.str("name").value_or("");
    if (L.name.empty()) r.fail("name", "missing (expected a layer name)");
    const std::string ctx = "layer '" + L.name + "'";
    TableReader rl(t, source, ctx);
    rl.str("name");
    if (!names.insert(L.name).second) rl.fail("name", "duplicate layer name");
    const auto path = rl.str("path");
    if (!path || path->empty()) rl.fail("path", "missing (expected a raster file path)");
    L.path = resolve_model_path(*path, base_dir);
    if (auto b = rl.integer("band", 1, std::numeric_limits<int>::max())) {
      L.band = static_cast<int>(*b);
    }
    const auto resampling = rl.str("resampling");
    L.resampling = resampling.value_or("bilinear");
    expect_one_of(rl, "resampling", L.resampling,
                  {"nearest", "bilinear", "cubic", "cubicspline", "lanczos", "average", "mode",
                   "min", "max", "med", "q1", "q3", "sum", "rms"});
    if (const toml::node* tn = rl.get("transform")) {
      if (const toml::table* tt = tn->as_table()) {
        L.transform = parse_transform(*tt, source, ctx);
      } else if (tn->is_string()) {
        TransformSpec s;
        s.kind = *tn->value<std::string>();
        expect_one_of(rl, "transform", s.kind, {"identity", "linear", "minmax", "zscore", "percentile", "log"});
        L.transform = s;
      } else {
        rl.fail("transform", "expected a table such as { kind = \"linear\", min = 0, max = 1 }");
      }
    }
    // Class codes must not be interpolated: categorical reclass tables need nearest or mode.
    if (L.transform.categorical()) {
      if (!resampling) {
        L.resampling = "nearest";
      } else if (L.resampling != "nearest" && L.resampling != "mode") {
        rl.fail("resampling", "a categorical layer (reclass by value) may only be resampled with "
                              "\"nearest\" or \"mode\", found \"" + L.resampling + "\"");
      }
    }
    if (auto w = rl.num("weight")) {
      if (*w < 0) rl.fail("weight", "expected a weight >= 0, found " + text::shortest_plain(*w));
      L.weight = *w;
    }
    if (auto miss = rl.str("missing")) {
      expect_one_of(rl, "missing", *miss, {"nodata", "skip"});
      L.missing_skip = *miss == "skip";
    }
    parse_vector_keys(rl, L.vector);
    parse_training_layer_keys(rl, L);
    rl.finish();
    m.layers.push_back(std::move(L));
  }
  if (const toml::node* gn = top.get("group")) {
    const toml::array* groups = gn->as_array();
    if (groups == nullptr || !groups->is_array_of_tables()) {
      throw config_error(source + ": 'group' must be an array of tables ([[group]])");
    }
    std::set<std::string> gnames;
    for (std::size_t i = 0; i < groups->size(); ++i) {
      const toml::table& t = *groups->get(i)->as_table();
      GroupSpec g;
      g.name = TableReader(t, source, "[[group]] #" + std::to_string(i + 1)).str("name").value_or("");
      if (g.name.empty()) {
        throw config_error(source + ": [[group]] #" + std::to_string(i + 1) +
                           " name: missing (expected a group name)");
      }
      TableReader r(t, source, "group '" + g.name + "'");
      r.str("name");
      if (!gnames.insert(g.name).second) r.fail("name", "duplicate group name");
      g.method = r.str("method").value_or("weighted-sum");
      expect_one_of(r, "method", g.method, combine_methods);
      const toml::node* in = r.get("inputs");
      const toml::array* arr = in != nullptr ? in->as_array() : nullptr;
      if (arr == nullptr || arr->empty()) {
        r.fail("inputs", "missing (expected a list of layer or group names)");
      }
      for (const auto& e : *arr) {
        if (!e.is_string()) r.fail("inputs", "expected names (strings), found " + type_name(e));
        g.inputs.push_back(*e.value<std::string>());
      }
      if (auto w = r.numbers("weights", g.inputs.size())) {
        for (double v : *w) {
          if (v < 0) r.fail("weights", "expected weights >= 0");
        }
        g.weights = *w;
      }
      if (auto gm = r.num("gamma")) g.gamma = *gm;
      if (g.gamma < 0.0 || g.gamma > 1.0) {
        r.fail("gamma", "expected a gamma in [0, 1], found " + text::shortest_plain(g.gamma));
      }
      if (auto miss = r.str("missing")) {
        expect_one_of(r, "missing", *miss, {"nodata", "skip"});
        g.missing_skip = *miss == "skip";
      }
      r.finish();
      m.groups.push_back(std::move(g));
    }
  }

  if (const toml::table* t = top.table("combine")) {
    TableReader r(*t, source, "[combine]");
    const auto method = r.str("method");
    const auto gamma = r.num("gamma");
    const auto final_name = r.str("final");
    if (!m.groups.empty() && (method || gamma)) {
      r.fail(method ? "method" : "gamma",
             "with [[group]]s each group has its own method; [combine] only names the final "
             "group (final = \"name\")");
    }
    if (m.groups.empty() && final_name) {
      r.fail("final", "names a [[group]], but the model has none");
    }
    m.combine.method = method.value_or("weighted-sum");
    expect_one_of(r, "method", m.combine.method, combine_methods);
    if (gamma) {
      if (*gamma < 0.0 || *gamma > 1.0) {
        r.fail("gamma", "expected a gamma in [0, 1], found " + text::shortest_plain(*gamma));
      }
      m.combine.gamma = *gamma;
    }
    m.combine.final = final_name.value_or("");
    r.finish();
  }
  if (m.groups.empty()) {
    // The simple form: one group over every layer, weighted by the layers' weights.
    double wsum = 0.0;
    for (const auto& L : m.layers) wsum += L.weight;
    check_weight_sum(wsum, source + ": [[layer]] weights");
    if (!(wsum > 0.0) && (m.combine.method == "weighted-sum" || m.combine.method == "index-overlay")) {
      throw config_error(source + ": [[layer]] weights: all weights are 0 (expected at least one "
                                  "positive weight)");
    }
    GroupSpec g;
    g.name = "final";
    for (const auto& L : m.layers) {
      if (L.name == "final") g.name = "final_map";
    }
    g.method = m.combine.method;
    g.gamma = m.combine.gamma;
    for (const auto& L : m.layers) {
      g.inputs.push_back(L.name);
      g.weights.push_back(L.weight);
    }
    m.groups.push_back(std::move(g));
    m.combine.final = m.groups.back().name;
  } else {
    for (auto& g : m.groups) {
      if (!g.weights.empty()) continue;
      // Default input weights: a layer's own `weight`, 1 for a group.
      for (const auto& in : g.inputs) {
        double w = 1.0;
        for (const auto& L : m.layers) {
          if (L.name == in) w = L.weight;
        }
        g.weights.push_back(w);
      }
    }
    for (const auto& g : m.groups) {
      double ws = 0.0;
      for (double w : g.weights) ws += w;
      check_weight_sum(ws, source + ": group '" + g.name + "' weights");
      if (!(ws > 0.0) && (g.method == "weighted-sum" || g.method == "index-overlay")) {
        throw config_error(source + ": group '" + g.name +
                           "' weights: all weights are 0 (expected at least one positive weight)");
      }
    }
  }

  if (const toml::table* t = top.table("output")) {
    TableReader r(*t, source, "[output]");
    if (auto p = r.str("path")) {
      m.output.path = resolve_model_path(*p, base_dir);
    }
    if (auto c = r.str("compress")) {
      std::string up = *c;
      std::transform(up.begin(), up.end(), up.begin(), ::toupper);
      expect_one_of(r, "compress", up, {"ZSTD", "DEFLATE", "LZW", "NONE"});
      m.output.compress = up;
    }
    if (auto nd = r.num("nodata")) {
      // The maps are Float32: a value beyond its range would be written as infinity.
      if (std::fabs(*nd) > FLT_MAX) {
        r.fail("nodata", "expected a value a Float32 map can hold (-" + text::shortest_plain(FLT_MAX) +
                             " to " + text::shortest_plain(FLT_MAX) + "), found " + text::shortest_plain(*nd));
      }
      m.output.nodata = *nd;
    }
    if (const toml::node* bn = r.get("bands")) {
      const toml::array* arr = bn->as_array();
      if (arr == nullptr) r.fail("bands", "expected a list of group or layer names");
      for (const auto& e : *arr) {
        if (!e.is_string()) r.fail("bands", "expected names (strings), found " + type_name(e));
        m.output.bands.push_back(*e.value<std::string>());
      }
    }
    // Finishing keys.
    if (auto f = r.str("format")) {
      expect_one_of(r, "format", *f, {"cog", "gtiff"});
      m.output.format = *f;
    }
    if (const toml::node* cn = r.get("classes")) m.output.classes = parse_classes(*cn, r);
    if (auto cm = r.str("colormap")) {
      expect_one_of(r, "colormap", *cm, {"viridis", "magma", "inferno", "plasma", "cividis"});
      m.output.colormap = *cm;
    }
    if (auto q = r.boolean("quicklook")) m.output.quicklook = *q;
    if (auto rep = r.boolean("report")) m.output.report = *rep;
    if (auto st = r.boolean("style")) m.output.style = *st;
    r.finish();
  }
  if (const toml::table* t = top.table("training")) m.training = parse_training(*t, source, base_dir);
  // Validation and Monte Carlo uncertainty (cli/model/analysis_spec.cpp).
  if (const toml::table* t = top.table("validation")) {
    m.validation = parse_validation(*t, source, base_dir);
  }
  if (const toml::table* t = top.table("uncertainty")) m.uncertainty = parse_uncertainty(*t, source);
  top.finish();
  resolve_network(m, source);
  check_training(m, source, root.contains("group"));
  return m;
}

Model load_model(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw config_error("model file not found: " + file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error("model file cannot be read: " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  const fs::path abs = fs::absolute(file);
  Model m = parse_model(ss.str(), file.string(), abs.parent_path());
  m.file = abs;
  return m;
}

}  // namespace gp::model
