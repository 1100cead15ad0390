// [validation], [uncertainty] and [[sweep]] keys, read with the model's one TOML key reader
// (model/toml_reader.hpp).
#include "model/analysis_spec_toml.hpp"

#include "model/toml_reader.hpp"

#include "model/model.hpp"
#include "gp/error.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gp::model {
namespace fs = std::filesystem;

std::string read_integer(const toml::node& n, std::int64_t lo, std::int64_t hi,
                         std::int64_t& out) {
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!n.is_integer()) return "expected " + range;
  out = *n.value<std::int64_t>();
  if (out < lo || out > hi) return "expected " + range + ", found " + std::to_string(out);
  return {};
}

namespace {

/// `blocks = { size_km = 25 }` and `buffer_km = 5`: spatial folds and the training buffer.
void parse_spatial_folds(TableReader& r, SplitSpec& s, bool split) {
  if (const toml::table* b = r.table("blocks", "{ size_km = 25 }")) {
    if (!split) r.fail("blocks", "needs holdout or kfold");
    if (!s.split_by.empty()) r.fail("blocks", "give split_by or blocks, not both");
    TableReader k(*b, r.source(), "[validation] blocks");
    const auto size = k.num("size_km");
    if (!size || !(*size > 0.0 && std::isfinite(*size))) {
      k.fail("size_km", "expected the blocks' side in km, > 0 (such as 25)");
    }
    s.block_km = *size;
    k.finish();
  }
  if (const auto buf = r.num("buffer_km")) {
    if (!split) r.fail("buffer_km", "needs holdout or kfold");
    if (!(*buf >= 0.0 && std::isfinite(*buf))) r.fail("buffer_km", "expected a distance in km >= 0");
    s.buffer_km = *buf;
  }
}

}  // namespace

ValidationSpec parse_validation(const toml::table& t, const std::string& source,
                                const fs::path& base_dir) {
  TableReader r(t, source, "[validation]");
  ValidationSpec s;
  s.given = true;
  DepositSourceSpec& d = s;
  const std::string path = r.text("deposits");
  if (path.empty()) r.fail("deposits", "missing (expected the known deposits' file)");
  d.deposits = resolve_model_path(path, base_dir);
  d.layer = r.text("layer");
  d.sql = r.text("sql");
  d.where = r.text("where");
  d.x_column = r.text("x_column");
  d.y_column = r.text("y_column");
  d.crs = r.text("crs");
  d.name_column = r.text("name_column");
  d.filter_column = r.text("filter_column");
  d.filter_contains = r.text("filter_contains");
  d.filter_equals = r.text("filter_equals");
  if (!d.layer.empty() && !d.sql.empty()) r.fail("sql", "give layer or sql, not both");
  if (d.x_column.empty() != d.y_column.empty()) {
    r.fail(d.x_column.empty() ? "y_column" : "x_column", "x_column and y_column go together");
  }
  if (!d.filter_column.empty() && d.filter_contains.empty() && d.filter_equals.empty()) {
    r.fail("filter_column", "needs filter_contains or filter_equals");
  }
  if ((!d.filter_contains.empty() || !d.filter_equals.empty()) && d.filter_column.empty()) {
    r.fail(d.filter_contains.empty() ? "filter_equals" : "filter_contains",
           "needs filter_column");
  }
  const auto holdout = r.num("holdout");
  const auto kfold = r.integer("kfold", 2, 100);
  if (holdout && kfold) r.fail("kfold", "give holdout or kfold, not both");
  if (holdout) {
    if (!(*holdout > 0.0 && *holdout < 1.0)) {
      r.fail("holdout", "expected a fraction of the deposits in (0, 1), such as 0.3");
    }
    s.holdout = *holdout;
  }
  if (kfold) s.kfold = static_cast<int>(*kfold);
  if (auto seed = r.integer("seed", 0, std::numeric_limits<std::int64_t>::max())) {
    s.seed = static_cast<std::uint64_t>(*seed);
  }
  s.split_by = r.text("split_by");
  if (!s.split_by.empty() && !holdout && !kfold) {
    r.fail("split_by", "needs holdout or kfold");
  }
  parse_spatial_folds(r, s, holdout.has_value() || kfold.has_value());
  if (const toml::node* c = r.get("capture")) {
    const toml::array* a = c->as_array();
    if (a == nullptr || a->empty()) r.fail("capture", "expected a list of percentages");
    s.capture_percent.clear();
    for (const auto& e : *a) {
      const double v = r.as_number(e, "capture");
      if (!(v > 0.0 && v <= 100.0)) r.fail("capture", "expected percentages in (0, 100]");
      s.capture_percent.push_back(v);
    }
  }
  r.finish();
  return s;
}

namespace {

/// `[uncertainty] weights = { dirichlet = c }` or `{ uniform = f }`.
void parse_weight_draws(TableReader& r, const toml::table& w, UncertaintySpec& s) {
  TableReader k(w, r.source(), "[uncertainty] weights");
  const auto dir = k.num("dirichlet");
  const auto uni = k.num("uniform");
  if (dir && uni) k.fail("uniform", "give dirichlet or uniform, not both");
  if (!dir && !uni) r.fail("weights", "expected { dirichlet = concentration } or { uniform = fraction }");
  if (dir) {
    if (!(*dir > 0.0)) k.fail("dirichlet", "expected a concentration > 0 (larger: closer to the weights)");
    s.weights_mode = "dirichlet";
    s.dirichlet_concentration = *dir;
  } else {
    if (!(*uni >= 0.0 && *uni < 1.0)) k.fail("uniform", "expected a fraction in [0, 1)");
    s.weights_mode = "uniform";
    s.uniform_fraction = *uni;
  }
  k.finish();
}

/// A fraction key in [0, 1), or `fallback` when absent.
double fraction_key(TableReader& k, std::string_view key, double fallback) {
  const auto v = k.num(key);
  if (!v) return fallback;
  if (!(*v >= 0.0 && *v < 1.0)) k.fail(std::string(key), "expected a fraction in [0, 1)");
  return *v;
}

}  // namespace

UncertaintySpec parse_uncertainty(const toml::table& t, const std::string& source) {
  TableReader r(t, source, "[uncertainty]");
  UncertaintySpec s;
  s.given = true;
  if (auto n = r.integer("draws", 1, 10000)) s.draws = static_cast<int>(*n);
  if (auto seed = r.integer("seed", 0, std::numeric_limits<std::int64_t>::max())) {
    s.seed = static_cast<std::uint64_t>(*seed);
  }
  if (const toml::table* w = r.table("weights", "{ dirichlet = 100 } or { uniform = 0.1 }")) {
    parse_weight_draws(r, *w, s);
  }
  if (const toml::table* m = r.table("membership", "{ midpoint = 0.1, spread = 0.1 }")) {
    TableReader k(*m, source, "[uncertainty] membership");
    s.midpoint_fraction = fraction_key(k, "midpoint", s.midpoint_fraction);
    s.spread_fraction = fraction_key(k, "spread", s.spread_fraction);
    k.finish();
  }
  if (auto x = r.num("top_percent")) {
    if (!(*x > 0.0 && *x < 100.0)) r.fail("top_percent", "expected a percentage in (0, 100)");
    s.top_percent = *x;
  }
  r.finish();
  return s;
}

namespace {

/// `range = { from, to, step }` of a [[sweep]] table: from `from` by `step`, including `to`
/// when a whole number of steps lands within half a step of it (so 0.1 steps do not lose their
/// end to rounding); each value is from + i step.
std::vector<double> sweep_range(TableReader& r, const toml::table& range) {
  TableReader k(range, r.source(), r.context() + " range");
  const auto from = k.num("from");
  const auto to = k.num("to");
  const auto step = k.num("step");
  if (!from || !to || !step) k.fail(!from ? "from" : (!to ? "to" : "step"), "missing (expected from, to and step)");
  if (!(*step > 0.0)) k.fail("step", "expected a step > 0");
  if (*to < *from) k.fail("to", "expected to >= from");
  k.finish();
  const double n = std::floor((*to - *from) / *step + 0.5);
  if (n + 1 > static_cast<double>(max_sweep_variants)) {
    r.fail("range", "gives more than " + std::to_string(max_sweep_variants) + " values");
  }
  std::vector<double> out;
  for (double i = 0; i <= n; i += 1.0) out.push_back(*from + i * *step);
  return out;
}

/// `values = [...]` or `range = { from, to, step }` of one [[sweep]] table, each value once.
std::vector<double> sweep_values(TableReader& r) {
  const toml::node* v = r.get("values");
  const toml::table* range = r.table("range", "{ from = 0.5, to = 2, step = 0.5 }");
  if ((v != nullptr) == (range != nullptr)) {
    r.fail(v != nullptr ? "range" : "values", "expected values = [...] or range = { from, to, step }, one of them");
  }
  std::vector<double> out;
  if (v != nullptr) {
    const toml::array* a = v->as_array();
    if (a == nullptr || a->empty()) r.fail("values", "expected a non-empty list of numbers");
    for (const auto& e : *a) out.push_back(r.as_number(e, "values"));
  } else {
    out = sweep_range(r, *range);
  }
  std::vector<double> sorted(out);
  std::sort(sorted.begin(), sorted.end());
  const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (twice != sorted.end()) {
    r.fail(v != nullptr ? "values" : "range", "the value " + text::shortest_plain(*twice) + " comes twice");
  }
  return out;
}

SweepAxis parse_sweep_axis(const toml::table& t, const std::string& source, std::size_t i,
                           SweepSpec& s) {
  TableReader r(t, source, "[[sweep]] #" + std::to_string(i + 1));
  SweepAxis a;
  a.line = static_cast<int>(t.source().begin.line);
  a.layer = r.text("layer");
  a.group = r.text("group");
  a.input = r.text("input");
  a.key = r.text("key");
  if (a.layer.empty() == a.group.empty()) {
    r.fail(a.layer.empty() ? "layer" : "group", "expected layer = \"name\" or group = \"name\", one of them");
  }
  if (a.key.empty()) r.fail("key", "missing (expected the parameter that varies, such as \"midpoint\")");
  if (!a.layer.empty()) {
    expect_one_of(r, "key", a.key, {"midpoint", "spread", "min", "max", "weight"});
    if (!a.input.empty()) r.fail("input", "goes with group = \"name\" and key = \"weight\"");
  } else {
    expect_one_of(r, "key", a.key, {"gamma", "weight"});
    if ((a.key == "weight") != !a.input.empty()) {
      r.fail(a.key == "weight" ? "key" : "input",
             "a group's weight varies for one input: give input = \"name\" with key = \"weight\"");
    }
  }
  a.values = sweep_values(r);
  if (auto rank = r.str("rank_by")) {
    expect_one_of(r, "rank_by", *rank, {"roc", "success"});
    if (i > 0 && *rank != s.rank_by) r.fail("rank_by", "differs from an earlier [[sweep]] table's");
    s.rank_by = *rank;
  }
  if (auto wb = r.boolean("write_best")) {
    if (i > 0 && *wb != s.write_best) r.fail("write_best", "differs from an earlier [[sweep]] table's");
    s.write_best = *wb;
  }
  r.finish();
  return a;
}

}  // namespace

SweepSpec parse_sweep(const toml::node& n, const std::string& source) {
  const toml::array* tables = n.as_array();
  if (tables == nullptr || !tables->is_array_of_tables() || tables->empty()) {
    throw config_error(source + ": 'sweep' must be an array of tables ([[sweep]])");
  }
  SweepSpec s;
  std::size_t variants = 1;
  for (std::size_t i = 0; i < tables->size(); ++i) {
    s.axes.push_back(parse_sweep_axis(*tables->get(i)->as_table(), source, i, s));
    variants *= s.axes.back().values.size();
    if (variants > max_sweep_variants) {
      throw config_error(source + ":" + std::to_string(s.axes.back().line) + ": [[sweep]]: " +
                         "the tables give more than " + std::to_string(max_sweep_variants) +
                         " variants (the product of their value counts)");
    }
  }
  return s;
}

}  // namespace gp::model
