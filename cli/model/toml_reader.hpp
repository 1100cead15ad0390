#pragma once
// The one TOML key reader of the model file: typed keys with one-line errors naming the file,
// the line, the table and the key; integers range-checked before any narrowing; unknown keys
// refused with a "did you mean". Every table of the model ([grid], [[layer]], [validation],
// [uncertainty], ...) is read through it.

#include "gp/error.hpp"
#include "gp/text.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gp::model {

/// Reads an integer key into `out` when it is an integer in [lo, hi]; otherwise returns what
/// was expected, for the reader's message. Every integer is checked here before it is narrowed
/// (a band of 4294967298 must not become 2).
std::string read_integer(const toml::node& n, std::int64_t lo, std::int64_t hi,
                         std::int64_t& out);

inline std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

/// What follows "unknown ... 'value'" in a message: "; did you mean 'x'?" when one of
/// `allowed` is close, else " (expected one of: a b c)".
inline std::string suggestion(std::string_view value, const std::vector<std::string_view>& allowed) {
  const std::string hint = text::did_you_mean(value, allowed);
  if (!hint.empty()) return "; did you mean '" + hint + "'?";
  std::string msg = " (expected one of:";
  for (auto a : allowed) msg.append(" ").append(a);  // append: GCC 12 -Wrestrict misfires on " " + string
  return msg + ")";
}

/// Reads one table's keys with type checks; reports unknown keys.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string source, std::string context)
      : t_(t), source_(std::move(source)), ctx_(std::move(context)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
    const toml::node* n = t_.get(key);
    throw config_error(source_ + (n != nullptr ? ":" + std::to_string(n->source().begin.line) : "") +
                       ": " + ctx_ + " " + key + ": " + msg);
  }

  const toml::node* get(std::string_view key) {
    known_.emplace_back(key);
    return t_.get(key);
  }

  std::optional<std::string> str(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) fail(std::string(key), "expected a string, found " + type_name(*n));
    return n->value<std::string>();
  }

  std::optional<double> num(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    return as_number(*n, std::string(key));
  }

  double as_number(const toml::node& n, const std::string& key) const {
    if (!n.is_number()) fail(key, "expected a number, found " + type_name(n));
    const double v = *n.value<double>();
    if (!std::isfinite(v)) fail(key, "expected a finite number, found " + text::shortest_plain(v));
    return v;
  }

  /// An integer key in [lo, hi] (checked before any narrowing).
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    std::int64_t v = 0;
    if (const std::string why = read_integer(*n, lo, hi, v); !why.empty()) {
      fail(std::string(key), n->is_integer() ? why : why + ", found " + type_name(*n));
    }
    return v;
  }

  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) fail(std::string(key), "expected true or false, found " + type_name(*n));
    return n->value<bool>();
  }

  std::optional<std::vector<double>> numbers(std::string_view key, std::size_t count) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    const toml::array* a = n->as_array();
    if (a == nullptr || a->size() != count) {
      fail(std::string(key), "expected an array of " + std::to_string(count) + " numbers");
    }
    std::vector<double> out;
    for (const auto& e : *a) out.push_back(as_number(e, std::string(key)));
    return out;
  }

  /// A sub-table; `example` (such as "{ dirichlet = 100 }") is shown when the key is not one.
  const toml::table* table(std::string_view key, const std::string& example = "") {
    const toml::node* n = get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      fail(std::string(key), (example.empty() ? std::string("expected a table")
                                              : "expected a table such as " + example) +
                                 ", found " + type_name(*n));
    }
    return n->as_table();
  }

  /// A string key, or "" when absent.
  std::string text(std::string_view key) { return str(key).value_or(std::string()); }

  /// Throws on the first key that was never asked for.
  void finish() const {
    for (const auto& [k, v] : t_) {
      const std::string_view key = k.str();
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string msg = source_ + ":" + std::to_string(v.source().begin.line) + ": " + ctx_ +
                        ": unknown key '" + std::string(key) + "'";
      throw config_error(msg + suggestion(key, known_));
    }
  }

  const std::string& source() const { return source_; }
  const std::string& context() const { return ctx_; }

 private:
  const toml::table& t_;
  std::string source_;
  std::string ctx_;
  std::vector<std::string_view> known_;
};

/// Fails on `key` unless `value` is one of `allowed` (with a "did you mean").
inline void expect_one_of(TableReader& r, const std::string& key, const std::string& value,
                          const std::vector<std::string_view>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  r.fail(key, "unknown value '" + value + "'" + suggestion(value, allowed));
}

}  // namespace gp::model
