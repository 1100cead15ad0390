// [validation] and [uncertainty] keys (issue 6). A small reader of its own (model.cpp keeps
// its TableReader private): typed keys, one-line errors with file:line, unknown keys refused
// with a "did you mean".
#include "analysis_spec_toml.hpp"

#include "model/model.hpp"
#include "gp/error.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gp::model {
namespace fs = std::filesystem;
namespace {

class Keys {
 public:
  Keys(const toml::table& t, std::string source, std::string ctx)
      : t_(t), source_(std::move(source)), ctx_(std::move(ctx)) {}

  [[noreturn]] void fail(std::string_view key, const std::string& msg) const {
    const toml::node* n = t_.get(key);
    throw config_error(source_ +
                       (n != nullptr ? ":" + std::to_string(n->source().begin.line) : "") +
                       ": " + ctx_ + " " + std::string(key) + ": " + msg);
  }
  const toml::node* get(std::string_view key) {
    known_.emplace_back(key);
    return t_.get(key);
  }
  std::string str(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return {};
    if (!n->is_string()) fail(key, "expected a string");
    return *n->value<std::string>();
  }
  std::optional<double> num(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    return number(*n, key);
  }
  double number(const toml::node& n, std::string_view key) const {
    if (!n.is_number()) fail(key, "expected a number");
    const double v = *n.value<double>();
    if (!std::isfinite(v)) fail(key, "expected a finite number");
    return v;
  }
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    std::int64_t v = 0;
    if (const std::string why = read_integer(*n, lo, hi, v); !why.empty()) fail(key, why);
    return v;
  }
  const toml::table* table(std::string_view key, const std::string& example) {
    const toml::node* n = get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail(key, "expected a table such as " + example);
    return n->as_table();
  }
  void finish() const {
    for (const auto& [k, v] : t_) {
      const std::string_view key = k.str();
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string msg = source_ + ":" + std::to_string(v.source().begin.line) + ": " + ctx_ +
                        ": unknown key '" + std::string(key) + "'";
      const std::string hint = text::did_you_mean(key, known_);
      if (!hint.empty()) {
        msg += "; did you mean '" + hint + "'?";
      } else {
        msg += " (expected one of:";
        for (auto kk : known_) msg += " " + std::string(kk);
        msg += ")";
      }
      throw config_error(msg);
    }
  }
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  const toml::table& t_;
  std::string source_;
  std::string ctx_;
  std::vector<std::string_view> known_;
};

}  // namespace

std::string read_integer(const toml::node& n, std::int64_t lo, std::int64_t hi,
                         std::int64_t& out) {
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!n.is_integer()) return "expected " + range;
  out = *n.value<std::int64_t>();
  if (out < lo || out > hi) return "expected " + range + ", found " + std::to_string(out);
  return {};
}

ValidationSpec parse_validation(const toml::table& t, const std::string& source,
                                const fs::path& base_dir) {
  Keys r(t, source, "[validation]");
  ValidationSpec s;
  s.given = true;
  DepositSourceSpec& d = s.deposits;
  const std::string path = r.str("deposits");
  if (path.empty()) r.fail("deposits", "missing (expected the known deposits' file)");
  d.path = resolve_model_path(path, base_dir);
  d.layer = r.str("layer");
  d.sql = r.str("sql");
  d.where = r.str("where");
  d.x_column = r.str("x_column");
  d.y_column = r.str("y_column");
  d.crs = r.str("crs");
  d.name_column = r.str("name_column");
  d.filter_column = r.str("filter_column");
  d.filter_contains = r.str("filter_contains");
  d.filter_equals = r.str("filter_equals");
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
  s.split_by = r.str("split_by");
  if (!s.split_by.empty() && !holdout && !kfold) {
    r.fail("split_by", "needs holdout or kfold");
  }
  if (const toml::node* c = r.get("capture")) {
    const toml::array* a = c->as_array();
    if (a == nullptr || a->empty()) r.fail("capture", "expected a list of percentages");
    s.capture_percent.clear();
    for (const auto& e : *a) {
      const double v = r.number(e, "capture");
      if (!(v > 0.0 && v <= 100.0)) r.fail("capture", "expected percentages in (0, 100]");
      s.capture_percent.push_back(v);
    }
  }
  r.finish();
  return s;
}

UncertaintySpec parse_uncertainty(const toml::table& t, const std::string& source) {
  Keys r(t, source, "[uncertainty]");
  UncertaintySpec s;
  s.given = true;
  if (auto n = r.integer("draws", 1, 10000)) s.draws = static_cast<int>(*n);
  if (auto seed = r.integer("seed", 0, std::numeric_limits<std::int64_t>::max())) {
    s.seed = static_cast<std::uint64_t>(*seed);
  }
  if (const toml::table* w =
          r.table("weights", "{ dirichlet = 100 } or { uniform = 0.1 }")) {
    Keys k(*w, source, "[uncertainty] weights");
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
  if (const toml::table* m =
          r.table("membership", "{ midpoint = 0.1, spread = 0.1 }")) {
    Keys k(*m, source, "[uncertainty] membership");
    if (auto v = k.num("midpoint")) {
      if (!(*v >= 0.0 && *v < 1.0)) k.fail("midpoint", "expected a fraction in [0, 1)");
      s.midpoint_fraction = *v;
    }
    if (auto v = k.num("spread")) {
      if (!(*v >= 0.0 && *v < 1.0)) k.fail("spread", "expected a fraction in [0, 1)");
      s.spread_fraction = *v;
    }
    k.finish();
  }
  if (auto x = r.num("top_percent")) {
    if (!(*x > 0.0 && *x < 100.0)) r.fail("top_percent", "expected a percentage in (0, 100)");
    s.top_percent = *x;
  }
  r.finish();
  return s;
}

}  // namespace gp::model
