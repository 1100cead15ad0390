#include "gp/cli/model.hpp"

#include "gp/error.hpp"

#include <openssl/evp.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace gp::model {
namespace fs = std::filesystem;

namespace {

/// Levenshtein distance. CLI11 and toml++ do not expose one; it is ten lines.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string type_name(const toml::node& n) {
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
    if (!std::isfinite(v)) fail(key, "expected a finite number, found " + std::to_string(v));
    return v;
  }

  std::optional<std::int64_t> integer(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) fail(std::string(key), "expected an integer, found " + type_name(*n));
    return n->value<std::int64_t>();
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

  const toml::table* table(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail(std::string(key), "expected a table, found " + type_name(*n));
    return n->as_table();
  }

  /// Throws on the first key that was never asked for.
  void finish() const {
    for (const auto& [k, v] : t_) {
      const std::string_view key = k.str();
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string msg = source_ + ":" + std::to_string(v.source().begin.line) + ": " + ctx_ +
                        ": unknown key '" + std::string(key) + "'";
      const std::string hint = did_you_mean(key, known_);
      if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
      else {
        msg += " (expected one of:";
        for (auto kk : known_) msg += " " + std::string(kk);
        msg += ")";
      }
      throw config_error(msg);
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

void expect_one_of(TableReader& r, const std::string& key, const std::string& value,
                   const std::vector<std::string_view>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string msg = "unknown value '" + value + "'";
  const std::string hint = did_you_mean(value, allowed);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  else {
    msg += " (expected one of:";
    for (auto a : allowed) msg += " " + std::string(a);
    msg += ")";
  }
  r.fail(key, msg);
}

TransformSpec parse_transform(const toml::table& t, const std::string& source,
                              const std::string& ctx) {
  TableReader r(t, source, ctx + ".transform");
  TransformSpec spec;
  spec.kind = r.str("kind").value_or("identity");
  expect_one_of(r, "kind", spec.kind, {"identity", "linear"});
  if (spec.kind == "linear") {
    spec.min = r.num("min");
    spec.max = r.num("max");
    if (spec.min && spec.max && *spec.min == *spec.max) {
      r.fail("min", "min and max are both " + std::to_string(*spec.min) +
                        " (expected different values; min > max inverts)");
    }
  }
  r.finish();
  return spec;
}

}  // namespace

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (auto c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
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
    if (r.get("territory") != nullptr) {
      r.fail("territory", "territory masks are not available in this version "
                          "(remove the key, or give crs and extent)");
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
    L.path = fs::path(*path).is_absolute() ? fs::path(*path) : base_dir / *path;
    L.path = L.path.lexically_normal();
    if (auto b = rl.integer("band")) {
      if (*b < 1) rl.fail("band", "expected a band number >= 1, found " + std::to_string(*b));
      L.band = static_cast<int>(*b);
    }
    L.resampling = rl.str("resampling").value_or("bilinear");
    expect_one_of(rl, "resampling", L.resampling,
                  {"nearest", "bilinear", "cubic", "cubicspline", "lanczos", "average", "mode",
                   "min", "max", "med", "q1", "q3", "sum", "rms"});
    if (const toml::node* tn = rl.get("transform")) {
      if (const toml::table* tt = tn->as_table()) {
        L.transform = parse_transform(*tt, source, ctx);
      } else if (tn->is_string()) {
        TransformSpec s;
        s.kind = *tn->value<std::string>();
        expect_one_of(rl, "transform", s.kind, {"identity", "linear"});
        L.transform = s;
      } else {
        rl.fail("transform", "expected a table such as { kind = \"linear\", min = 0, max = 1 }");
      }
    }
    if (auto w = rl.num("weight")) {
      if (*w < 0) rl.fail("weight", "expected a weight >= 0, found " + std::to_string(*w));
      L.weight = *w;
    }
    if (auto miss = rl.str("missing")) {
      expect_one_of(rl, "missing", *miss, {"nodata", "skip"});
      L.missing_skip = *miss == "skip";
    }
    rl.finish();
    m.layers.push_back(std::move(L));
  }
  double wsum = 0.0;
  for (const auto& L : m.layers) wsum += L.weight;
  if (!(wsum > 0.0)) {
    throw config_error(source + ": [[layer]] weights: all weights are 0 (expected at least one "
                                "positive weight)");
  }

  if (const toml::table* t = top.table("combine")) {
    TableReader r(*t, source, "[combine]");
    m.combine.method = r.str("method").value_or("weighted-sum");
    expect_one_of(r, "method", m.combine.method, {"weighted-sum"});
    r.finish();
  }

  if (const toml::table* t = top.table("output")) {
    TableReader r(*t, source, "[output]");
    if (auto p = r.str("path")) {
      m.output.path = (fs::path(*p).is_absolute() ? fs::path(*p) : base_dir / *p).lexically_normal();
    }
    if (auto c = r.str("compress")) {
      std::string up = *c;
      std::transform(up.begin(), up.end(), up.begin(), ::toupper);
      expect_one_of(r, "compress", up, {"ZSTD", "DEFLATE", "LZW", "NONE"});
      m.output.compress = up;
    }
    if (auto nd = r.num("nodata")) m.output.nodata = *nd;
    r.finish();
  }
  top.finish();
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
