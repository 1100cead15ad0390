#include "model/model.hpp"

#include "gp/error.hpp"
#include "gp/text.hpp"
#include "model/analysis_spec_toml.hpp"  // [validation], [uncertainty]
#include "model/groups.hpp"
#include "model/toml_reader.hpp"

#include <openssl/evp.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
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

/// The value of enumeration E named by `value`; an unknown name fails with a suggestion.
template <class E>
E expect_name(TableReader& r, const std::string& key, const std::string& value) {
  expect_one_of(r, key, value, all_names<E>());
  return *from_name<E>(value);
}

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

/// A parameter the transform kind cannot do without.
double required_number(TableReader& r, std::string_view key, const std::string& kind) {
  auto v = r.num(key);
  if (!v) r.fail(std::string(key), "missing: kind \"" + kind + "\" needs " + std::string(key));
  return *v;
}

/// True when two reclass rules can match the same value (values, or half-open ranges).
bool rules_overlap(const ReclassRuleSpec& a, const ReclassRuleSpec& b) {
  if (a.is_value && b.is_value) return a.lo == b.lo;
  if (a.is_value) return a.lo >= b.lo && a.lo < b.hi;
  if (b.is_value) return b.lo >= a.lo && b.lo < a.hi;
  return a.lo < b.hi && b.lo < a.hi;
}

/// `kind = "reclass"`: the rules, which must be disjoint, and the optional `default`.
void parse_reclass(TableReader& r, TransformSpec& spec) {
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
      if (rules_overlap(spec.table[i], spec.table[j])) {
        r.fail("table", "entries " + std::to_string(i + 1) + " and " + std::to_string(j + 1) +
                            " overlap (expected disjoint values and ranges)");
      }
    }
  }
  spec.fallback = r.num("default");
}

/// The parameters of the fuzzy-membership kinds (large, small, gaussian, near).
void parse_membership(TableReader& r, TransformSpec& spec) {
  const std::string k = name_str(spec.kind);
  spec.midpoint = required_number(r, "midpoint", k);
  spec.spread = required_number(r, "spread", k);
  if (*spec.spread < 0) r.fail("spread", "expected spread >= 0");
  if ((spec.kind == TransformKind::large || spec.kind == TransformKind::small) &&
      *spec.midpoint <= 0) {
    r.fail("midpoint", "expected midpoint > 0 for kind \"" + k + "\" (x / midpoint is raised to a power)");
  }
}

TransformSpec parse_transform(const toml::table& t, const std::string& source,
                              const std::string& ctx) {
  TableReader r(t, source, ctx + ".transform");
  TransformSpec spec;
  spec.kind = expect_name<TransformKind>(r, "kind", r.str("kind").value_or("identity"));
  spec.invert = r.boolean("invert").value_or(false);
  const std::string k = name_str(spec.kind);
  switch (spec.kind) {
    case TransformKind::linear:
      spec.min = r.num("min");
      spec.max = r.num("max");
      if (spec.min && spec.max && *spec.min == *spec.max) {
        r.fail("min", "min and max are both " + text::shortest_plain(*spec.min) +
                          " (expected different values; min > max inverts)");
      }
      break;
    case TransformKind::large:
    case TransformKind::small:
    case TransformKind::gaussian:
    case TransformKind::near:
      parse_membership(r, spec);
      break;
    case TransformKind::ms_large:
    case TransformKind::ms_small:
      spec.a = required_number(r, "a", k);
      spec.b = required_number(r, "b", k);
      break;
    case TransformKind::log:
      spec.offset = r.num("offset").value_or(0.0);
      break;
    case TransformKind::clamp:
      spec.min = required_number(r, "min", k);
      spec.max = required_number(r, "max", k);
      if (*spec.min > *spec.max) r.fail("min", "expected min <= max");
      break;
    case TransformKind::reclass:
      parse_reclass(r, spec);
      break;
    default:  // identity, minmax, zscore, percentile: no parameters
      break;
  }
  r.finish();
  return spec;
}

/// Index of the layer or group called `name` in `items`, or -1.
template <class Spec>
int index_by_name(const std::vector<Spec>& items, const std::string& name) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

/// Every reference (group inputs, [combine] final, [output] bands) names a declared layer or
/// group, and no group shares a layer's name or refers to itself.
void check_references(const Model& m, const std::string& source) {
  auto fail = [&](const std::string& msg) { throw config_error(source + ": " + msg); };
  std::vector<std::string_view> node_names;
  for (const auto& L : m.layers) node_names.emplace_back(L.name);
  for (const auto& g : m.groups) {
    if (index_by_name(m.layers, g.name) >= 0) fail("[[group]] '" + g.name + "': a layer has the same name");
    node_names.emplace_back(g.name);
  }
  auto check = [&](const std::string& where_, const std::string& name, bool groups_only) {
    if (index_by_name(m.groups, name) >= 0) return;
    if (!groups_only && index_by_name(m.layers, name) >= 0) return;
    std::string msg = where_ + ": unknown layer or group '" + name + "'";
    const std::string hint = text::did_you_mean(name, node_names);
    if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
    fail(msg);
  };
  for (const auto& g : m.groups) {
    for (const auto& in : g.inputs) {
      if (in == g.name) fail("[[group]] '" + g.name + "' refers to itself");
      check("[[group]] '" + g.name + "' inputs", in, false);
    }
  }
  check("[combine] final", m.combine.final, true);
  for (const auto& b : m.output.bands) check("[output] bands", b, false);
}

/// Everything declared must reach the final map (or be an extra band).
void check_all_used(const Model& m, const std::string& source) {
  std::set<std::string> used;
  std::function<void(const std::string&)> mark = [&](const std::string& name) {
    if (!used.insert(name).second) return;
    const int gi = index_by_name(m.groups, name);
    if (gi >= 0) {
      for (const auto& in : m.groups[static_cast<std::size_t>(gi)].inputs) mark(in);
    }
  };
  mark(m.combine.final);
  std::string unused;
  auto collect = [&](const std::string& name) {
    if (used.count(name) == 0) unused += (unused.empty() ? "'" : ", '") + name + "'";
  };
  for (const auto& L : m.layers) collect(L.name);
  for (const auto& g : m.groups) collect(g.name);
  if (!unused.empty()) {
    throw config_error(source + ": not used by the final map '" + m.combine.final + "': " +
                       unused + " (connect them to a group or remove them)");
  }
}

/// Checks names, cycles and use of the network; fills the simple form's single group.
void resolve_network(Model& m, const std::string& source) {
  if (m.combine.final.empty()) m.combine.final = m.groups.back().name;
  check_references(m, source);
  // Cycles: the one evaluation order (model/groups.hpp) names the cycle it finds.
  try {
    (void)group_order(m.groups);
  } catch (const config_error& e) {
    throw config_error(source + ": " + e.what());
  }
  check_all_used(m, source);
}

constexpr std::size_t max_classes = 32;

/// A class list key (`top`, `breaks`): strictly ascending numbers, at most max_classes - 1.
std::vector<double> ascending_numbers(TableReader& r, const char* key, bool required) {
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
}

/// The method's own keys; returns the number of classes it makes.
std::size_t parse_class_method_keys(TableReader& r, ClassSpec& spec) {
  if (spec.method == ClassMethod::quantile) {
    if (r.get("top") != nullptr) spec.top = ascending_numbers(r, "top", false);
    for (double p : spec.top) {
      if (!(p > 0.0 && p < 100.0)) r.fail("top", "expected percentages between 0 and 100");
    }
    return spec.top.size() + 1;
  }
  if (spec.method == ClassMethod::breaks) {
    spec.top.clear();
    spec.breaks = ascending_numbers(r, "breaks", true);
    return spec.breaks.size() + 1;
  }
  if (spec.method == ClassMethod::natural) {
    spec.top.clear();
    const auto k = r.integer("n", 2, static_cast<std::int64_t>(max_classes)).value_or(5);
    spec.n = static_cast<int>(k);
    return static_cast<std::size_t>(k);
  }
  return 0;
}

/// `names`: one non-empty name per class, lowest first.
std::vector<std::string> parse_class_names(TableReader& r, const toml::node& nn,
                                           std::size_t n_classes) {
  const toml::array* a = nn.as_array();
  if (a == nullptr || a->size() != n_classes) {
    r.fail("names", "expected " + std::to_string(n_classes) + " names (one per class, lowest first)");
  }
  std::vector<std::string> names;
  for (const auto& e : *a) {
    if (!e.is_string() || e.value<std::string>()->empty()) r.fail("names", "expected non-empty strings");
    names.push_back(*e.value<std::string>());
  }
  return names;
}

/// `[output] classes`: false | true | { method = "quantile", top = [...] } |
/// { method = "breaks", breaks = [...] } | { method = "natural", n = 5 }, each with optional
/// names (lowest class first). At most 32 classes.
ClassSpec parse_classes(const toml::node& n, TableReader& parent) {
  ClassSpec spec;
  if (n.is_boolean()) {
    if (!*n.value<bool>()) spec.method = ClassMethod::none;
    return spec;
  }
  const toml::table* t = n.as_table();
  if (t == nullptr) {
    parent.fail("classes", "expected false, or a table such as { method = \"quantile\", top = "
                           "[2, 5, 10, 25] }, found " + type_name(n));
  }
  TableReader r(*t, parent.source(), parent.context() + " classes");
  spec.method = expect_name<ClassMethod>(r, "method", r.str("method").value_or("quantile"));
  const std::size_t n_classes = parse_class_method_keys(r, spec);
  if (spec.method != ClassMethod::none) {
    if (const toml::node* nn = r.get("names")) spec.names = parse_class_names(r, *nn, n_classes);
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

std::vector<double> numbers_of(TableReader& r, const toml::node& n, const std::string& key) {
  std::vector<double> v;
  if (n.as_array() == nullptr) r.fail(key, "expected a list of numbers");
  for (const auto& e : *n.as_array()) v.push_back(r.as_number(e, key));
  return v;
}

/// A layer's sub-table `key` (`wofe`, `logistic`), or nullptr when absent.
const toml::table* layer_sub_table(TableReader& rl, const char* key, const std::string& example) {
  const toml::node* n = rl.get(key);
  if (n == nullptr) return nullptr;
  const toml::table* t = n->as_table();
  if (t == nullptr) rl.fail(key, "expected a table such as " + example + ", found " + type_name(*n));
  return t;
}

/// `wofe = { groups = [[1, 4], [2, 3]] }`: categorical classes merged, each class in one group.
std::vector<std::vector<double>> parse_class_groups(TableReader& r, const toml::node& g) {
  const toml::array* a = g.as_array();
  if (a == nullptr || a->empty()) {
    r.fail("groups", "expected a list of class lists, such as [[1, 4], [2, 3]]");
  }
  std::vector<std::vector<double>> groups;
  std::set<double> seen;
  for (const auto& e : *a) {
    std::vector<double> cls = numbers_of(r, e, "groups");
    if (cls.empty()) r.fail("groups", "expected non-empty class lists");
    for (double c : cls) {
      if (!seen.insert(c).second) {
        r.fail("groups", "class " + text::shortest_plain(c) + " is in more than one group");
      }
    }
    groups.push_back(std::move(cls));
  }
  return groups;
}

/// A layer's `wofe = { ... }` block.
void parse_wofe_keys(TableReader& rl, const toml::table& t, WofeLayerSpec& w) {
  TableReader r(t, rl.source(), rl.context() + " wofe");
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
  if (const toml::node* g = r.get("groups")) w.groups = parse_class_groups(r, *g);
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

/// A layer's `wofe = { ... }` and `logistic = { ... }` blocks.
void parse_training_layer_keys(TableReader& rl, LayerSpec& L) {
  if (const toml::table* t = layer_sub_table(rl, "wofe", "{ type = \"ascending\" }")) {
    parse_wofe_keys(rl, *t, L.wofe);
  }
  if (const toml::table* t = layer_sub_table(rl, "logistic", "{ type = \"continuous\" }")) {
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

/// XGBoost 1.7's tree-booster and learning parameters a model may pass in `[trees] xgboost`
/// (those the [trees] keys set are refused there: one place per setting).
constexpr std::array<std::string_view, 20> xgboost_parameters{
    "gamma",          "min_split_loss",  "min_child_weight", "max_delta_step",
    "lambda",         "reg_lambda",      "alpha",            "reg_alpha",
    "tree_method",    "scale_pos_weight", "max_leaves",      "max_bin",
    "grow_policy",    "sampling_method", "colsample_bylevel", "monotone_constraints",
    "interaction_constraints", "base_score", "max_cat_to_onehot", "sketch_eps"};

/// `negatives.method` ("random" or "pu-bagging") and `negatives.bags` (pu-bagging only).
void parse_negatives_method(TableReader& n, TreesSpec& s) {
  if (auto v = n.str("method")) {
    const std::vector<std::string_view> methods{"random", "pu-bagging"};
    if (std::find(methods.begin(), methods.end(), *v) == methods.end()) {
      n.fail("method", "unknown method '" + *v + "'" + suggestion(*v, methods));
    }
    s.pu_bagging = *v == "pu-bagging";
  }
  if (auto v = n.integer("bags", 1, TreesSpec::max_bags)) {
    if (!s.pu_bagging) n.fail("bags", "only with method = \"pu-bagging\" (one draw otherwise)");
    s.bags = static_cast<int>(*v);
  } else if (s.pu_bagging) {
    s.bags = 10;
  }
}

/// `[trees] negatives = { ratio = r, buffer_km = b, method = "random" | "pu-bagging", bags = n }`.
void parse_negatives(TableReader& r, TreesSpec& s) {
  const toml::table* t = r.table("negatives", "{ ratio = 20, buffer_km = 2.0 }");
  if (t == nullptr) return;
  TableReader n(*t, r.source(), r.context() + " negatives");
  if (auto v = n.num("ratio")) {
    if (!(*v > 0.0)) n.fail("ratio", "expected background cells per deposit cell > 0");
    s.negatives_ratio = *v;
  }
  if (auto v = n.num("buffer_km")) {
    if (!(*v >= 0.0)) n.fail("buffer_km", "expected a distance >= 0 (km)");
    s.negatives_buffer_km = *v;
  }
  parse_negatives_method(n, s);
  n.finish();
}

/// `[trees] xgboost = { name = value }`: known XGBoost parameters as text.
void parse_xgboost_parameters(TableReader& r, TreesSpec& s) {
  const toml::table* t = r.table("xgboost", "{ min_child_weight = 1 }");
  if (t == nullptr) return;
  const std::vector<std::string_view> known(xgboost_parameters.begin(), xgboost_parameters.end());
  TableReader x(*t, r.source(), r.context() + " xgboost");
  for (const auto& [k, v] : *t) {
    const std::string key(k.str());
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      x.fail(key, "unknown XGBoost parameter '" + key + "'" + suggestion(key, known) +
                      " (n_trees, max_depth, learning_rate, subsample, colsample and seed are "
                      "[trees] keys)");
    }
    x.get(key);
    if (v.is_string()) {
      s.xgboost.emplace_back(key, *v.value<std::string>());
    } else if (v.is_number()) {
      s.xgboost.emplace_back(key, text::shortest_plain(x.as_number(v, key)));
    } else {
      x.fail(key, "expected a number or a string, found " + type_name(v));
    }
  }
  x.finish();
}

/// `[trees]`: the tree ensembles' settings.
TreesSpec parse_trees(const toml::table& t, const std::string& source) {
  TableReader r(t, source, "[trees]");
  TreesSpec s;
  s.given = true;
  if (auto v = r.integer("n_trees", 1, 100000)) s.n_trees = static_cast<int>(*v);
  if (auto v = r.integer("max_depth", 1, 32)) s.max_depth = static_cast<int>(*v);
  auto fraction = [&r](std::string_view key, double& out) {
    if (auto v = r.num(key)) {
      if (!(*v > 0.0 && *v <= 1.0)) r.fail(std::string(key), "expected a number in (0, 1]");
      out = *v;
    }
  };
  s.learning_rate_given = t.contains("learning_rate");
  fraction("learning_rate", s.learning_rate);
  fraction("subsample", s.subsample);
  fraction("colsample", s.colsample);
  if (auto v = r.integer("seed", 0, 2147483647)) s.seed = static_cast<std::uint64_t>(*v);
  parse_negatives(r, s);
  parse_xgboost_parameters(r, s);
  r.finish();
  return s;
}

/// Cross-checks of the tree ensembles' keys: [trees] and the layers' `categorical`.
void check_trees(const Model& m, const std::string& source) {
  auto fail = [&](const std::string& msg) { throw config_error(source + ": " + msg); };
  for (const auto& L : m.layers) {
    if (L.categorical && !is_tree_ensemble(m.combine.method)) {
      fail("layer '" + L.name + "' categorical: only used with [combine] method = \"boosted-trees\" "
           "or \"random-forest\" (weights of evidence and logistic regression mark classes with "
           "wofe / logistic = { type = \"categorical\" })");
    }
    if (L.categorical && L.transform.kind != TransformKind::identity) {
      fail("layer '" + L.name + "' categorical: its classes are its values as read (remove the "
           "transform)");
    }
    if (L.categorical && m.trees.pu_bagging) {
      // Each bag's draw holds its own classes, so the bags would not share one-hot inputs.
      fail("layer '" + L.name + "' categorical: not yet with [trees] negatives method = "
           "\"pu-bagging\" (use method = \"random\", or the layer as a number)");
    }
  }
  if (m.trees.given && !is_tree_ensemble(m.combine.method)) {
    fail("[trees]: only used with [combine] method = \"boosted-trees\" or \"random-forest\"");
  }
  if (m.combine.method == Method::random_forest && m.trees.learning_rate_given &&
      m.trees.learning_rate != 1.0) {
    // XGBoost's random forest is one round of num_parallel_tree trees: shrinking that round
    // would only scale every leaf down, never what a forest is (learning_rate = 1).
    fail("[trees] learning_rate = " + text::shortest_plain(m.trees.learning_rate) +
         ": a random forest uses learning_rate = 1 (XGBoost trains it as one round of n_trees "
         "parallel trees, num_parallel_tree); remove the key or set it to 1");
  }
}

/// pu-bagging belongs to the tree ensembles (checked before the [trees] table's own check, which
/// a model with [training] and another method never reaches).
void check_pu_bagging(const Model& m, const std::string& source) {
  if (m.trees.pu_bagging && !is_tree_ensemble(m.combine.method)) {
    throw config_error(source + ": [trees] negatives method = \"pu-bagging\": only with [combine] "
                       "method = \"boosted-trees\" or \"random-forest\" (not \"" +
                       name_str(m.combine.method) + "\")");
  }
}

/// Cross-checks of the data-driven methods, once every table is read.
void check_training(const Model& m, const std::string& source, bool user_groups) {
  auto fail = [&](const std::string& msg) { throw config_error(source + ": " + msg); };
  const std::string method = name_str(m.combine.method);
  const bool trained = is_trained(m.combine.method);
  check_pu_bagging(m, source);
  for (const auto& g : m.groups) {
    if (user_groups && is_trained(g.method)) {
      fail("group '" + g.name + "' method: \"" + name_str(g.method) + "\" is a whole-model method (set "
           "[combine] method = \"" + name_str(g.method) + "\" without [[group]]s)");
    }
  }
  for (const auto& L : m.layers) {
    if (L.wofe.given() && m.combine.method != Method::wofe) {
      fail("layer '" + L.name + "' wofe: only used with [combine] method = \"wofe\"");
    }
    if (L.logistic.given() && m.combine.method != Method::logistic) {
      fail("layer '" + L.name + "' logistic: only used with [combine] method = \"logistic\"");
    }
    if (L.mask) continue;
    if (m.combine.method == Method::wofe && !L.wofe.given()) {
      fail("layer '" + L.name + "': missing wofe = { type = \"categorical\" | \"ascending\" | "
           "\"descending\" } (every layer of a weights-of-evidence model needs one)");
    }
    if (m.combine.method == Method::logistic && !L.logistic.given()) {
      fail("layer '" + L.name + "': missing logistic = { type = \"continuous\" | "
           "\"categorical\" } (every layer of a logistic-regression model needs one)");
    }
    if (trained && !is_tree_ensemble(m.combine.method) &&
        L.transform.kind != TransformKind::identity) {
      fail("layer '" + L.name + "' transform: not used with [combine] method = \"" + method +
           "\" (the weights come from the deposits; remove the transform)");
    }
  }
  if (trained && !m.training.given) {
    fail("[training]: missing (method \"" + method + "\" needs deposits = \"file\")");
  }
  if (!trained && m.training.given) {
    fail("[training]: only used with [combine] method = \"wofe\", \"logistic\", "
         "\"boosted-trees\" or \"random-forest\"");
  }
  if (is_tree_ensemble(m.combine.method) && m.uncertainty.given) {
    fail("[uncertainty]: not used with method \"" + method + "\" (its Monte Carlo perturbs "
         "weights and memberships, which trees do not have)");
  }
  check_trees(m, source);
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
  return text::hex(md, len);
}

namespace {

toml::table parse_toml(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw config_error(source + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                       ": TOML syntax error: " + std::string(e.description()));
  }
}

/// `[grid] resolution`: one number or [x, y], positive.
std::array<double, 2> parse_resolution(TableReader& r, const toml::node& n) {
  std::array<double, 2> res{};
  if (n.is_number()) {
    const double v = r.as_number(n, "resolution");
    res = {v, v};
  } else if (n.is_array() && n.as_array()->size() == 2) {
    const auto* a = n.as_array();
    res = {r.as_number(*a->get(0), "resolution"), r.as_number(*a->get(1), "resolution")};
  } else {
    r.fail("resolution", "expected a number or [x, y], found " + type_name(n));
  }
  if (res[0] <= 0 || res[1] <= 0) r.fail("resolution", "expected a positive cell size");
  return res;
}

GridSpec parse_grid(const toml::table& t, const std::string& source, const fs::path& base_dir) {
  TableReader r(t, source, "[grid]");
  GridSpec g;
  g.crs = r.str("crs");
  if (const toml::node* n = r.get("resolution")) g.resolution = parse_resolution(r, *n);
  if (auto e = r.numbers("extent", 4)) {
    const auto& v = *e;
    if (!(v[0] < v[2]) || !(v[1] < v[3])) {
      r.fail("extent", "expected [xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax");
    }
    g.extent = std::array<double, 4>{v[0], v[1], v[2], v[3]};
  }
  // Territories and boundaries: checked against the table when the grid is built.
  if (auto tc = r.str("territory")) {
    if (tc->empty()) r.fail("territory", "expected a territory code such as \"CONUS\"");
    g.territory = *tc;
  }
  if (auto b = r.str("boundary")) {
    if (b->empty()) r.fail("boundary", "expected a vector file path");
    g.boundary = resolve_model_path(*b, base_dir);
  }
  g.boundary_layer = r.str("boundary_layer").value_or("");
  g.boundary_where = r.str("boundary_where").value_or("");
  if (g.territory && g.boundary) r.fail("boundary", "give territory or boundary, not both");
  if (!g.boundary && (!g.boundary_layer.empty() || !g.boundary_where.empty())) {
    r.fail(g.boundary_layer.empty() ? "boundary_where" : "boundary_layer",
           "needs boundary = \"file\"");
  }
  r.finish();
  return g;
}

/// A layer's `transform` (a table, or a parameter-free kind as a string) and the resampling a
/// categorical transform allows. `resampling_given`: the layer set `resampling` itself.
void parse_layer_transform(TableReader& rl, LayerSpec& L, bool resampling_given) {
  if (const toml::node* tn = rl.get("transform")) {
    if (const toml::table* tt = tn->as_table()) {
      L.transform = parse_transform(*tt, rl.source(), rl.context());
    } else if (tn->is_string()) {
      TransformSpec s;
      const std::string kind = *tn->value<std::string>();
      expect_one_of(rl, "transform", kind, {"identity", "linear", "minmax", "zscore", "percentile", "log"});
      s.kind = *from_name<TransformKind>(kind);
      L.transform = s;
    } else {
      rl.fail("transform", "expected a table such as { kind = \"linear\", min = 0, max = 1 }");
    }
  }
  // Class codes must not be interpolated: categorical reclass tables and categorical layers
  // need nearest or mode.
  if (!L.transform.categorical() && !L.categorical) return;
  if (!resampling_given) {
    L.resampling = "nearest";
  } else if (L.resampling != "nearest" && L.resampling != "mode") {
    rl.fail("resampling", std::string("a categorical layer (") +
                              (L.categorical ? "categorical = true" : "reclass by value") +
                              ") may only be resampled with \"nearest\" or \"mode\", found \"" +
                              L.resampling + "\"");
  }
}

/// `missing = "nodata" | "skip"` of a layer or group: true for skip.
bool parse_missing(TableReader& r, bool fallback) {
  const auto miss = r.str("missing");
  if (!miss) return fallback;
  expect_one_of(r, "missing", *miss, {"nodata", "skip"});
  return *miss == "skip";
}

/// [[layer]] number `i` (0-based); `names` collects the names seen so far.
LayerSpec parse_layer(const toml::table& t, const std::string& source, const fs::path& base_dir,
                      std::size_t i, std::set<std::string>& names) {
  LayerSpec L;
  TableReader r(t, source, "[[layer]] #" + std::to_string(i + 1));
  L.name = r.str("name").value_or("");
  if (L.name.empty()) r.fail("name", "missing (expected a layer name)");
  TableReader rl(t, source, "layer '" + L.name + "'");
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
  if (auto c = rl.boolean("categorical")) L.categorical = *c;  // before the resampling rule
  parse_layer_transform(rl, L, resampling.has_value());
  if (auto w = rl.num("weight")) {
    if (*w < 0) rl.fail("weight", "expected a weight >= 0, found " + text::shortest_plain(*w));
    L.weight = *w;
  }
  L.missing_skip = parse_missing(rl, L.missing_skip);
  parse_vector_keys(rl, L.vector);
  parse_training_layer_keys(rl, L);
  rl.finish();
  return L;
}

std::vector<LayerSpec> parse_layers(TableReader& top, const std::string& source,
                                    const fs::path& base_dir) {
  const toml::node* layers_node = top.get("layer");
  if (layers_node == nullptr) {
    throw config_error(source + ": no [[layer]] (expected at least one evidence layer)");
  }
  const toml::array* layers = layers_node->as_array();
  if (layers == nullptr || !layers->is_array_of_tables()) {
    throw config_error(source + ": 'layer' must be an array of tables ([[layer]])");
  }
  std::set<std::string> names;
  std::vector<LayerSpec> out;
  for (std::size_t i = 0; i < layers->size(); ++i) {
    out.push_back(parse_layer(*layers->get(i)->as_table(), source, base_dir, i, names));
  }
  return out;
}

/// A group's or the simple form's `gamma`, in [0, 1].
double checked_gamma(TableReader& r, double gamma) {
  if (gamma < 0.0 || gamma > 1.0) {
    r.fail("gamma", "expected a gamma in [0, 1], found " + text::shortest_plain(gamma));
  }
  return gamma;
}

/// [[group]] number `i` (0-based); `names` collects the names seen so far.
GroupSpec parse_group(const toml::table& t, const std::string& source, std::size_t i,
                      std::set<std::string>& names) {
  GroupSpec g;
  g.name = TableReader(t, source, "[[group]] #" + std::to_string(i + 1)).str("name").value_or("");
  if (g.name.empty()) {
    throw config_error(source + ": [[group]] #" + std::to_string(i + 1) +
                       " name: missing (expected a group name)");
  }
  TableReader r(t, source, "group '" + g.name + "'");
  r.str("name");
  if (!names.insert(g.name).second) r.fail("name", "duplicate group name");
  g.method = expect_name<Method>(r, "method", r.str("method").value_or("weighted-sum"));
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
  g.gamma = checked_gamma(r, r.num("gamma").value_or(g.gamma));
  g.missing_skip = parse_missing(r, g.missing_skip);
  r.finish();
  return g;
}

std::vector<GroupSpec> parse_groups(TableReader& top, const std::string& source) {
  std::vector<GroupSpec> out;
  const toml::node* gn = top.get("group");
  if (gn == nullptr) return out;
  const toml::array* groups = gn->as_array();
  if (groups == nullptr || !groups->is_array_of_tables()) {
    throw config_error(source + ": 'group' must be an array of tables ([[group]])");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < groups->size(); ++i) {
    out.push_back(parse_group(*groups->get(i)->as_table(), source, i, names));
  }
  return out;
}

/// `[combine]`: the simple form's method and gamma, or with groups the final group's name.
CombineSpec parse_combine(const toml::table& t, const std::string& source, bool has_groups) {
  TableReader r(t, source, "[combine]");
  const auto method = r.str("method");
  const auto gamma = r.num("gamma");
  const auto final_name = r.str("final");
  if (has_groups && (method || gamma)) {
    r.fail(method ? "method" : "gamma",
           "with [[group]]s each group has its own method; [combine] only names the final "
           "group (final = \"name\")");
  }
  if (!has_groups && final_name) r.fail("final", "names a [[group]], but the model has none");
  CombineSpec c;
  c.method = expect_name<Method>(r, "method", method.value_or("weighted-sum"));
  if (gamma) c.gamma = checked_gamma(r, *gamma);
  c.final = final_name.value_or("");
  r.finish();
  return c;
}

/// Refuses weights that cannot be normalised: an overflowing sum, or all zero for the
/// operators that divide by it.
void check_weights(const std::vector<double>& weights, Method method, const std::string& what) {
  double sum = 0.0;
  for (double w : weights) sum += w;
  check_weight_sum(sum, what);
  if (!(sum > 0.0) && uses_weights(method)) {
    throw config_error(what + ": all weights are 0 (expected at least one positive weight)");
  }
}

/// The simple form: one group over every layer, weighted by the layers' weights.
GroupSpec simple_form_group(const Model& m, const std::string& source) {
  GroupSpec g;
  for (const auto& L : m.layers) g.weights.push_back(L.weight);
  check_weights(g.weights, m.combine.method, source + ": [[layer]] weights");
  g.name = "final";
  for (const auto& L : m.layers) {
    if (L.name == "final") g.name = "final_map";
  }
  g.method = m.combine.method;
  g.gamma = m.combine.gamma;
  for (const auto& L : m.layers) g.inputs.push_back(L.name);
  return g;
}

/// Default input weights of the groups that give none: a layer's own `weight`, 1 for a group.
void default_group_weights(Model& m, const std::string& source) {
  for (auto& g : m.groups) {
    if (!g.weights.empty()) continue;
    for (const auto& in : g.inputs) {
      double w = 1.0;
      for (const auto& L : m.layers) {
        if (L.name == in) w = L.weight;
      }
      g.weights.push_back(w);
    }
  }
  for (const auto& g : m.groups) {
    check_weights(g.weights, g.method, source + ": group '" + g.name + "' weights");
  }
}

/// `[output] compress`, any case, stored upper-case.
std::string parse_compress(TableReader& r, const std::string& given) {
  const std::string up = text::upper(given);
  expect_one_of(r, "compress", up, {"ZSTD", "DEFLATE", "LZW", "NONE"});
  return up;
}

/// `[output] nodata`: the maps are Float32, so a value beyond its range would be infinity.
double parse_nodata(TableReader& r, double nd) {
  if (std::fabs(nd) > FLT_MAX) {
    r.fail("nodata", "expected a value a Float32 map can hold (-" + text::shortest_plain(FLT_MAX) +
                         " to " + text::shortest_plain(FLT_MAX) + "), found " + text::shortest_plain(nd));
  }
  return nd;
}

std::vector<std::string> parse_band_names(TableReader& r, const toml::node& bn) {
  const toml::array* arr = bn.as_array();
  if (arr == nullptr) r.fail("bands", "expected a list of group or layer names");
  std::vector<std::string> out;
  for (const auto& e : *arr) {
    if (!e.is_string()) r.fail("bands", "expected names (strings), found " + type_name(e));
    out.push_back(*e.value<std::string>());
  }
  return out;
}

OutputSpec parse_output(const toml::table& t, const std::string& source, const fs::path& base_dir) {
  TableReader r(t, source, "[output]");
  OutputSpec o;
  if (auto p = r.str("path")) o.path = resolve_model_path(*p, base_dir);
  if (auto c = r.str("compress")) o.compress = parse_compress(r, *c);
  if (auto nd = r.num("nodata")) o.nodata = parse_nodata(r, *nd);
  if (const toml::node* bn = r.get("bands")) o.bands = parse_band_names(r, *bn);
  // Finishing keys.
  if (auto f = r.str("format")) o.format = expect_name<OutputFormat>(r, "format", *f);
  if (const toml::node* cn = r.get("classes")) o.classes = parse_classes(*cn, r);
  if (auto cm = r.str("colormap")) {
    expect_one_of(r, "colormap", *cm, {"viridis", "magma", "inferno", "plasma", "cividis"});
    o.colormap = *cm;
  }
  o.quicklook = r.boolean("quicklook").value_or(o.quicklook);
  o.report = r.boolean("report").value_or(o.report);
  o.style = r.boolean("style").value_or(o.style);
  o.contributions = r.boolean("contributions").value_or(o.contributions);
  r.finish();
  return o;
}

std::string parse_model_name(TableReader& top, const std::string& source) {
  std::string name;
  if (const toml::table* t = top.table("model")) {
    TableReader r(*t, source, "[model]");
    name = r.str("name").value_or("");
    r.str("description");
    r.finish();
  }
  return name.empty() ? fs::path(source).stem().string() : name;
}

/// The names of `items` (layers or groups), for "did you mean".
template <class T>
std::vector<std::string_view> names_of(const std::vector<T>& items) {
  std::vector<std::string_view> out;
  for (const auto& x : items) out.emplace_back(x.name);
  return out;
}

/// Fails one [[sweep]] table with "<file>:<line>: [[sweep]] #i: <msg>".
struct SweepFail {
  std::string where;
  [[noreturn]] void operator()(const std::string& msg) const { throw config_error(where + msg); }
  [[noreturn]] void unknown(const char* what, const std::string& name,
                            const std::vector<std::string_view>& all) const {
    (*this)(std::string("unknown ") + what + " '" + name + "'" + suggestion(name, all));
  }
  /// Each value of `a` passes `ok`, else "<key> <value>: expected <expected>".
  template <class Ok>
  void each_value(const SweepAxis& a, Ok ok, const std::string& expected) const {
    for (double v : a.values) {
      if (!ok(v)) (*this)(a.key + " " + text::shortest_plain(v) + ": expected " + expected);
    }
  }
};

/// A layer's table: the key belongs to its transform (or is its weight in a weighted group).
void check_sweep_layer(const Model& m, const SweepAxis& a, const SweepFail& fail) {
  const int l = index_by_name(m.layers, a.layer);
  if (l < 0 || m.layers[static_cast<std::size_t>(l)].mask) fail.unknown("layer", a.layer, names_of(m.layers));
  const TransformKind k = m.layers[static_cast<std::size_t>(l)].transform.kind;
  const bool membership = k == TransformKind::large || k == TransformKind::small ||
                          k == TransformKind::gaussian || k == TransformKind::near;
  const bool bounds = k == TransformKind::linear || k == TransformKind::clamp;
  const bool shape_key = a.key == "midpoint" || a.key == "spread";
  const bool bound_key = a.key == "min" || a.key == "max";
  if ((shape_key && !membership) || (bound_key && !bounds)) {
    fail("layer '" + a.layer + "' has transform \"" + name_str(k) + "\", which has no " + a.key +
         (shape_key ? " (large, small, gaussian and near have)" : " (linear and clamp have)"));
  }
  if (a.key == "spread") fail.each_value(a, [](double v) { return v >= 0.0; }, "spread >= 0");
  if (a.key == "midpoint" && (k == TransformKind::large || k == TransformKind::small)) {
    fail.each_value(a, [](double v) { return v > 0.0; }, "midpoint > 0 for kind \"" + name_str(k) + "\"");
  }
  if (a.key != "weight") return;
  fail.each_value(a, [](double v) { return v >= 0.0; }, "a weight >= 0");
  const bool weighted = std::any_of(m.groups.begin(), m.groups.end(), [&](const GroupSpec& g) {
    return uses_weights(g.method) && std::find(g.inputs.begin(), g.inputs.end(), a.layer) != g.inputs.end();
  });
  if (!weighted) {
    fail("layer '" + a.layer + "' is not an input of a weighted-sum or index-overlay group, so its weight changes nothing");
  }
}

/// A group's table: its gamma (fuzzy-gamma) or one input's weight (weighted groups).
void check_sweep_group(const Model& m, const SweepAxis& a, const SweepFail& fail) {
  const int g = index_by_name(m.groups, a.group);
  if (g < 0) fail.unknown("group", a.group, names_of(m.groups));
  const GroupSpec& G = m.groups[static_cast<std::size_t>(g)];
  const std::string method = "group '" + a.group + "' method \"" + name_str(G.method) + "\"";
  if (a.key == "gamma") {
    if (G.method != Method::fuzzy_gamma) fail(method + " has no gamma (fuzzy-gamma has)");
    fail.each_value(a, [](double v) { return v >= 0.0 && v <= 1.0; }, "a gamma in [0, 1]");
    return;
  }
  if (std::find(G.inputs.begin(), G.inputs.end(), a.input) == G.inputs.end()) {
    fail.unknown("input", a.input, std::vector<std::string_view>(G.inputs.begin(), G.inputs.end()));
  }
  if (!uses_weights(G.method)) fail(method + " has no weights (weighted-sum and index-overlay have)");
  fail.each_value(a, [](double v) { return v >= 0.0; }, "a weight >= 0");
}

/// One [[sweep]] table against the model: its layer or group exists, its key applies to it,
/// and each value is one the key accepts (as the model file's own key would).
void check_sweep_axis(const Model& m, const SweepAxis& a, std::size_t i, const std::string& source) {
  const SweepFail fail{source + ":" + std::to_string(a.line) + ": [[sweep]] #" + std::to_string(i + 1) + ": "};
  if (!a.layer.empty()) {
    check_sweep_layer(m, a, fail);
  } else {
    check_sweep_group(m, a, fail);
  }
}

/// [[sweep]] against the model: a knowledge-driven model with [validation] deposits to rank
/// the variants, every table checked (check_sweep_axis), no parameter varied twice.
void check_sweep(const Model& m, const std::string& source) {
  if (!m.sweep.given()) return;
  const std::string where = source + ":" + std::to_string(m.sweep.axes[0].line) + ": [[sweep]]: ";
  if (is_trained(m.combine.method)) {
    throw config_error(where + "varies a knowledge-driven model's parameters; method \"" +
                       name_str(m.combine.method) + "\" learns its own from the deposits");
  }
  if (!m.validation.given) {
    throw config_error(where + "ranks the variants against known deposits: add a [validation] table with deposits");
  }
  for (std::size_t i = 0; i < m.sweep.axes.size(); ++i) {
    const SweepAxis& a = m.sweep.axes[i];
    check_sweep_axis(m, a, i, source);
    for (std::size_t j = 0; j < i; ++j) {
      const SweepAxis& b = m.sweep.axes[j];
      if (a.layer == b.layer && a.group == b.group && a.input == b.input && a.key == b.key) {
        throw config_error(source + ":" + std::to_string(a.line) + ": [[sweep]] #" + std::to_string(i + 1) +
                           ": varies the same parameter as table #" + std::to_string(j + 1));
      }
    }
  }
}

}  // namespace

Model parse_model(std::string_view text, const std::string& source, const fs::path& base_dir) {
  check_model_nesting(text, source);
  const toml::table root = parse_toml(text, source);
  Model m;
  m.sha256 = sha256_hex(text);
  TableReader top(root, source, "model file");
  m.name = parse_model_name(top, source);
  if (const toml::table* t = top.table("grid")) m.grid = parse_grid(*t, source, base_dir);
  m.layers = parse_layers(top, source, base_dir);
  m.groups = parse_groups(top, source);
  if (const toml::table* t = top.table("combine")) {
    m.combine = parse_combine(*t, source, !m.groups.empty());
  }
  if (m.groups.empty()) {
    m.groups.push_back(simple_form_group(m, source));
    m.combine.final = m.groups.back().name;
  } else {
    default_group_weights(m, source);
  }
  if (const toml::table* t = top.table("output")) m.output = parse_output(*t, source, base_dir);
  if (const toml::table* t = top.table("training")) m.training = parse_training(*t, source, base_dir);
  if (const toml::table* t = top.table("trees")) m.trees = parse_trees(*t, source);
  // Validation and Monte Carlo uncertainty (cli/model/analysis_spec.cpp).
  if (const toml::table* t = top.table("validation")) {
    m.validation = parse_validation(*t, source, base_dir);
  }
  if (const toml::table* t = top.table("uncertainty")) m.uncertainty = parse_uncertainty(*t, source);
  if (const toml::node* n = top.get("sweep")) m.sweep = parse_sweep(*n, source);
  top.finish();
  resolve_network(m, source);
  check_training(m, source, root.contains("group"));
  check_sweep(m, source);
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
