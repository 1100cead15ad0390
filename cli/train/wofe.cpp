// Weights of evidence: counts, weights, generalisation, tables, the map program and
// the conditional-independence checks. See train/wofe.hpp.

#include "train/wofe.hpp"

#include "training_common.hpp"

#include "run/cluster.hpp"
#include "run/runner.hpp"
#include "gp/error.hpp"
#include "gp/kernels/class_counts.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <unordered_map>

namespace gp::cli::wofe {
namespace {

namespace fs = std::filesystem;
using J = nlohmann::ordered_json;

/// Locale-independent text of a number ("." decimals), 12 significant digits (tables, JSON).
std::string num(double v) { return text::significant(v, 12); }

/// The same with 4 significant digits, for the log.
std::string short_num(double v) { return text::significant(v, 4); }

std::string layer_what(const std::string& layer) { return "layer '" + layer + "'"; }

/// Weight and standard deviation as the map uses them: 0 where undefined.
double used(bool defined, double v) { return defined ? v : 0.0; }

std::string flag_note(const Weights& w, bool cumulative_whole) {
  std::string n;
  if (!w.wplus_defined) n = "W+ undefined (no deposit, or area <= deposits), set to 0";
  if (!w.wminus_defined) {
    if (!n.empty()) n += "; ";
    n += cumulative_whole ? "W- undefined (the whole layer), set to 0"
                          : "W- undefined (every deposit inside), set to 0";
  }
  return n;
}

std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    o += ok ? c : '_';
  }
  return o;
}

}  // namespace

Weights weights(double area_b, double dep_b, double area_t, double dep_t) {
  Weights w;
  const double nd = dep_t;
  const double n_not_d = area_t - dep_t;
  const double b_d = dep_b;
  const double b_not_d = area_b - dep_b;
  double not_b = area_t - area_b;
  if (not_b <= 1e-12 * area_t) not_b = 0.0;  // B is the whole area (sums of the same cells)
  const double nb_d = dep_t - dep_b;
  const double nb_not_d = not_b - nb_d;
  const bool base = nd > 0.0 && n_not_d > 0.0;
  if (base && b_d > 0.0 && b_not_d > 0.0) {
    w.wplus = std::log((b_d / nd) / (b_not_d / n_not_d));
    w.s_wplus = std::sqrt(1.0 / b_d + 1.0 / b_not_d);
    w.wplus_defined = true;
  }
  if (base && nb_d > 0.0 && nb_not_d > 0.0) {
    w.wminus = std::log((nb_d / nd) / (nb_not_d / n_not_d));
    w.s_wminus = std::sqrt(1.0 / nb_d + 1.0 / nb_not_d);
    w.wminus_defined = true;
  }
  if (w.defined()) {
    w.contrast = w.wplus - w.wminus;
    w.s_contrast = std::sqrt(w.s_wplus * w.s_wplus + w.s_wminus * w.s_wminus);
    w.studc = w.s_contrast > 0.0 ? w.contrast / w.s_contrast : 0.0;
  }
  return w;
}

double class_of(double v, const std::vector<double>& breaks) {
  if (breaks.empty()) return std::floor(v);
  return static_cast<double>(std::upper_bound(breaks.begin(), breaks.end(), v) - breaks.begin());
}

namespace {

/// Lower bound of class c: c itself for integer classes (floor), its break for class indices.
double class_lower(double c, const std::vector<double>& br) {
  if (br.empty()) return c;
  const auto i = static_cast<std::size_t>(c);
  return i == 0 ? -DBL_MAX : br[i - 1];
}

/// Upper bound (excluded) of class c.
double class_upper(double c, const std::vector<double>& br) {
  if (br.empty()) return c + 1.0;
  const auto i = static_cast<std::size_t>(c);
  return i >= br.size() ? DBL_MAX : br[i];
}

/// Makes the table rows of one layer: areas and weights of a class (or of a cumulative run of
/// classes) against the layer's valid area `area_t` and its deposit cells `d_t`.
struct RowMaker {
  double cell_units;
  double cell_area_km2;
  double area_t;
  double d_t;

  [[nodiscard]] Weights weights_of(std::uint64_t cells, std::uint64_t deps) const {
    return weights(static_cast<double>(cells) * cell_units, static_cast<double>(deps), area_t, d_t);
  }

  [[nodiscard]] TableRow operator()(double value, std::uint64_t cells, std::uint64_t deps) const {
    TableRow r;
    r.cls = value;
    r.area_units = static_cast<double>(cells) * cell_units;
    r.area_km2 = static_cast<double>(cells) * cell_area_km2;
    r.points = deps;
    r.w = weights_of(cells, deps);
    return r;
  }
};

/// Throws gp::input_error unless the layer's classes can be weighed: at least two classes,
/// deposits in at least two of them, more unit cells than deposits.
void check_counts(const LayerWeights& lw, const model::WofeLayerSpec& spec) {
  const std::string what = layer_what(lw.layer);
  const auto& classes = lw.classes;
  if (classes.size() < 2) {
    throw input_error(what + ": a single class" +
                      (classes.empty() ? std::string() : " (" + num(classes[0].value) + ")") +
                      " on the grid (weights of evidence need at least two classes" +
                      (spec.breaks.empty() ? "" : "; check breaks") + ")");
  }
  if (lw.deposits == 0) {
    throw input_error(what + ": no deposit lies on a valid cell of the layer");
  }
  const auto with_deposits = std::count_if(classes.begin(), classes.end(),
                                           [](const ClassCount& c) { return c.deposits > 0; });
  if (with_deposits == 1) {
    const auto in = std::find_if(classes.begin(), classes.end(),
                                 [](const ClassCount& c) { return c.deposits > 0; });
    throw input_error(what + ": all " + std::to_string(lw.deposits) + " deposits fall in class " +
                      num(in->value) +
                      " (W- is undefined; expected deposits in at least two classes: group or "
                      "re-break the classes)");
  }
  if (!(lw.area_units > static_cast<double>(lw.deposits))) {
    throw input_error(what + ": its area is " + num(lw.area_units) + " unit cells for " +
                      std::to_string(lw.deposits) +
                      " deposits (expected more unit cells than deposits: lower unit_cell_km2)");
  }
}

/// The layer with its classes (the non-empty ones, ascending) and totals, checked.
LayerWeights counted_layer(const std::string& layer, const model::WofeLayerSpec& spec,
                           std::vector<ClassCount> classes, double cell_units) {
  LayerWeights lw;
  lw.layer = layer;
  lw.type = spec.type;
  std::erase_if(classes, [](const ClassCount& c) { return c.cells == 0; });
  std::sort(classes.begin(), classes.end(),
            [](const ClassCount& a, const ClassCount& b) { return a.value < b.value; });
  std::uint64_t cells_t = 0;
  for (const auto& c : classes) {
    cells_t += c.cells;
    lw.deposits += c.deposits;
  }
  lw.classes = std::move(classes);
  lw.area_units = static_cast<double>(cells_t) * cell_units;
  check_counts(lw, spec);
  const std::size_t n = lw.classes.size();
  lw.class_weight.assign(n, 0.0);
  lw.class_std.assign(n, 0.0);
  lw.class_gen.assign(n, 0);
  return lw;
}

/// Generalised class of each class of a categorical layer: its user group 1..k (the rest
/// k + 1), else the class itself.
std::vector<int> generalised_classes(const std::vector<ClassCount>& classes,
                                     const model::WofeLayerSpec& spec) {
  std::vector<int> gen(classes.size());
  const int rest = static_cast<int>(spec.groups.size()) + 1;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (spec.groups.empty()) {
      gen[i] = static_cast<int>(classes[i].value);
      continue;
    }
    gen[i] = rest;
    for (std::size_t g = 0; g < spec.groups.size(); ++g) {
      const auto& group = spec.groups[g];
      if (std::find(group.begin(), group.end(), classes[i].value) != group.end()) {
        gen[i] = static_cast<int>(g) + 1;
      }
    }
  }
  return gen;
}

/// Weights of each generalised class (`gen`: per class); notes the user groups without a cell
/// or without a deposit. Throws gp::input_error when the groups leave one generalised class.
std::map<int, Weights> generalised_weights(LayerWeights& lw, const model::WofeLayerSpec& spec,
                                           const std::vector<int>& gen, const RowMaker& rows) {
  std::map<int, std::pair<std::uint64_t, std::uint64_t>> gsum;  // gen -> cells, deposits
  for (std::size_t i = 0; i < lw.classes.size(); ++i) {
    gsum[gen[i]].first += lw.classes[i].cells;
    gsum[gen[i]].second += lw.classes[i].deposits;
  }
  const bool grouped = !spec.groups.empty();
  if (grouped) {
    for (std::size_t g = 0; g < spec.groups.size(); ++g) {
      if (gsum.count(static_cast<int>(g) + 1) == 0) {
        lw.notes.push_back("group " + std::to_string(g + 1) + " has no cell on the grid");
      }
    }
    if (gsum.size() < 2) {
      throw input_error(layer_what(lw.layer) +
                        " wofe groups: every class is in one generalised class (expected at "
                        "least two)");
    }
  }
  std::map<int, Weights> gw;
  for (const auto& [g, s] : gsum) {
    gw[g] = rows.weights_of(s.first, s.second);
    if (!gw[g].wplus_defined && grouped) {
      lw.notes.push_back("generalised class " + std::to_string(g) + " has no deposit: weight 0");
    }
  }
  return gw;
}

/// Notes the classes without deposits of a layer whose classes are not grouped.
void note_empty_classes(LayerWeights& lw) {
  std::string empty;
  std::size_t n_empty = 0;
  for (const auto& r : lw.rows) {
    if (r.w.wplus_defined) continue;
    if (n_empty < 10) empty += (n_empty == 0 ? "" : ", ") + num(r.cls);
    ++n_empty;
  }
  if (n_empty > 0) {
    lw.notes.push_back(std::to_string(n_empty) + " class" + (n_empty == 1 ? "" : "es") +
                       " without deposits (weight 0, flagged in the table): " + empty +
                       (n_empty > 10 ? ", ..." : ""));
  }
}

/// Categorical layer: one row per class, each class weighted by its generalised class's W+.
void categorical_weights(LayerWeights& lw, const model::WofeLayerSpec& spec, const RowMaker& rows) {
  const std::vector<int> gen = generalised_classes(lw.classes, spec);
  const std::map<int, Weights> gw = generalised_weights(lw, spec, gen, rows);
  for (std::size_t i = 0; i < lw.classes.size(); ++i) {
    const ClassCount& c = lw.classes[i];
    TableRow r = rows(c.value, c.cells, c.deposits);
    r.gen_class = gen[i];
    const Weights& g = gw.at(gen[i]);
    r.weight = used(g.wplus_defined, g.wplus);
    r.w_std = used(g.wplus_defined, g.s_wplus);
    r.note = flag_note(r.w, false);
    lw.class_weight[i] = r.weight;
    lw.class_std[i] = r.w_std;
    lw.class_gen[i] = r.gen_class;
    lw.rows.push_back(r);
  }
  if (spec.groups.empty()) note_empty_classes(lw);
}

/// Cumulative threshold given by the user: the last row on the threshold's side.
std::size_t user_threshold(LayerWeights& lw, double t, bool asc) {
  const std::string what = layer_what(lw.layer);
  std::optional<std::size_t> pick;
  for (std::size_t k = 0; k < lw.rows.size(); ++k) {
    const double v = lw.rows[k].cls;
    if (asc ? v <= t : v >= t) pick = k;
  }
  if (!pick) {
    throw input_error(what + " wofe threshold: " + num(t) + " is " + (asc ? "below" : "above") +
                      " every class of the layer (classes " + num(lw.classes.front().value) +
                      " to " + num(lw.classes.back().value) + ")");
  }
  const TableRow& r = lw.rows[*pick];
  if (!r.w.defined()) {
    throw input_error(what + " wofe threshold: " + num(t) + " gives class " + num(r.cls) +
                      " where the weights are undefined (" + r.note + ")");
  }
  lw.threshold_rule = "user threshold " + num(t);
  return *pick;
}

/// Cumulative threshold: the largest contrast among rows with a studentised contrast of at
/// least `min_studc`.
std::size_t min_studc_threshold(LayerWeights& lw, double min_studc) {
  std::optional<std::size_t> pick;
  for (std::size_t k = 0; k < lw.rows.size(); ++k) {
    const Weights& w = lw.rows[k].w;
    if (!w.defined() || w.studc < min_studc) continue;
    if (!pick || w.contrast > lw.rows[*pick].w.contrast) pick = k;
  }
  if (!pick) {
    double best = 0.0;
    for (const auto& r : lw.rows) best = r.w.defined() ? std::max(best, r.w.studc) : best;
    throw input_error(layer_what(lw.layer) +
                      " wofe min_studc: no threshold has a studentised contrast >= " +
                      num(min_studc) + " (the largest is " + num(best) + ")");
  }
  lw.threshold_rule = "maximum contrast with studentised contrast >= " + num(min_studc);
  return *pick;
}

/// Cumulative threshold: the largest studentised contrast.
std::size_t max_studc_threshold(LayerWeights& lw) {
  std::optional<std::size_t> pick;
  for (std::size_t k = 0; k < lw.rows.size(); ++k) {
    const Weights& w = lw.rows[k].w;
    if (!w.defined()) continue;
    if (!pick || w.studc > lw.rows[*pick].w.studc) pick = k;
  }
  if (!pick) {
    throw input_error(layer_what(lw.layer) +
                      ": no threshold has defined weights (W+ and W- need deposits on both "
                      "sides)");
  }
  lw.threshold_rule = "maximum studentised contrast";
  return *pick;
}

/// The chosen threshold of a cumulative layer in its own units. The favourable side is
/// class <= k (ascending) or class >= k (descending); with breaks class k is [b_k, b_k+1), so
/// that is value < b_k+1 or value >= b_k; without breaks the classes are the values themselves
/// (their whole parts). A chosen row never covers the whole layer (its W- would be undefined),
/// so the bound is always a break.
void threshold_in_units(LayerWeights& lw, const std::vector<double>& br, bool asc) {
  const double k = *lw.threshold;
  const bool with_breaks = !br.empty();
  const double v = !with_breaks ? k : (asc ? class_upper(k, br) : class_lower(k, br));
  const char* op = asc ? (with_breaks ? "<" : "<=") : ">=";
  lw.threshold_value = v;
  lw.pattern = lw.layer + " " + op + " " + num(v);
}

/// Cumulative layer (ascending: B = class <= v; descending: B = class >= v): one row per
/// threshold, then two generalised classes, inside (2, W+) and outside (1, W-) the chosen one.
void cumulative_weights(LayerWeights& lw, const model::WofeLayerSpec& spec, const RowMaker& rows) {
  const bool asc = spec.type == "ascending";
  const std::size_t n = lw.classes.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!asc) std::reverse(order.begin(), order.end());
  std::uint64_t cum_cells = 0;
  std::uint64_t cum_deps = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const ClassCount& c = lw.classes[order[k]];
    cum_cells += c.cells;
    cum_deps += c.deposits;
    TableRow r = rows(c.value, cum_cells, cum_deps);
    r.note = flag_note(r.w, k + 1 == n);
    lw.rows.push_back(r);
  }
  const std::size_t pick = spec.threshold   ? user_threshold(lw, *spec.threshold, asc)
                           : spec.min_studc ? min_studc_threshold(lw, *spec.min_studc)
                                            : max_studc_threshold(lw);
  const Weights chosen = lw.rows[pick].w;
  lw.threshold = lw.rows[pick].cls;
  threshold_in_units(lw, spec.breaks, asc);
  if (!spec.threshold && chosen.studc < significant_studc) {
    lw.notes.push_back("the chosen threshold " + lw.pattern + " (" + lw.threshold_rule +
                       ") has a studentised contrast C/s(C) of " + short_num(chosen.studc) +
                       ", below " + num(significant_studc) +
                       " (ArcSDM's rule of thumb: |C/s(C)| >= 2 for a significant contrast); "
                       "its weights may be noise");
  }
  for (std::size_t k = 0; k < n; ++k) {
    const bool inside = k <= pick;
    TableRow& r = lw.rows[k];
    r.gen_class = inside ? 2 : 1;
    r.weight = inside ? chosen.wplus : chosen.wminus;
    r.w_std = inside ? chosen.s_wplus : chosen.s_wminus;
    const std::size_t i = order[k];
    lw.class_weight[i] = r.weight;
    lw.class_std[i] = r.w_std;
    lw.class_gen[i] = r.gen_class;
  }
}

}  // namespace

LayerWeights layer_weights(const std::string& layer, const model::WofeLayerSpec& spec,
                           std::vector<ClassCount> classes, double cell_units,
                           double cell_area_km2) {
  LayerWeights lw = counted_layer(layer, spec, std::move(classes), cell_units);
  const RowMaker rows{cell_units, cell_area_km2, lw.area_units, static_cast<double>(lw.deposits)};
  if (spec.type == "categorical") {
    categorical_weights(lw, spec, rows);
  } else {
    cumulative_weights(lw, spec, rows);
  }
  return lw;
}

std::string table_csv(const LayerWeights& lw) {
  std::string s =
      "CLASS,CLASS_AREA,AREA_UNITS,NO_POINTS,WPLUS,S_WPLUS,WMINUS,S_WMINUS,CONTRAST,S_CONTRAST,"
      "STUDC,GEN_CLASS,WEIGHT,W_STD,NOTE\n";
  for (const auto& r : lw.rows) {
    const Weights& w = r.w;
    s += num(r.cls) + "," + num(r.area_km2) + "," + num(r.area_units) + "," +
         std::to_string(r.points) + "," + num(w.wplus) + "," + num(w.s_wplus) + "," +
         num(w.wminus) + "," + num(w.s_wminus) + "," + num(w.contrast) + "," +
         num(w.s_contrast) + "," + num(w.studc) + "," + std::to_string(r.gen_class) + "," +
         num(r.weight) + "," + num(r.w_std) + "," + (r.note.empty() ? "" : "\"" + r.note + "\"") +
         "\n";
  }
  return s;
}

namespace {

/// The reclass rules of one layer from p.rules[n_rules] on: class -> weight (`variance`
/// false) or class -> variance of the weight (true). Runs of classes with the same weight and
/// standard deviation share one rule.
void add_weight_rules(kernels::Program& p, int& n_rules, const LayerWeights& lw,
                      const std::vector<double>& br, bool variance) {
  const std::size_t n = lw.classes.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i;
    while (j + 1 < n && lw.class_weight[j + 1] == lw.class_weight[i] &&
           lw.class_std[j + 1] == lw.class_std[i]) {
      ++j;
    }
    if (n_rules >= kernels::max_rules) {
      throw config_error(layer_what(lw.layer) +
                         ": too many classes with distinct weights for one model (at most " +
                         std::to_string(kernels::max_rules / 2) +
                         " in all; group the classes with wofe groups or breaks)");
    }
    kernels::ReclassRule& r = p.rules[n_rules++];
    r.lo = class_lower(lw.classes[i].value, br);
    r.hi = class_upper(lw.classes[j].value, br);
    r.is_value = 0;
    r.score = variance ? lw.class_std[i] * lw.class_std[i] : lw.class_weight[i];
    i = j + 1;
  }
}

/// The groups after the 2 n layer nodes (weight, variance per layer): the posterior (logistic
/// of the prior logit plus the weights), its standard deviation, the confidence; one band each.
void add_posterior_groups(kernels::Program& p, int n, double n_t, double n_d) {
  int k = 0;
  const int g_post = 2 * n;
  auto input = [&](int node) {
    p.inputs[k] = node;
    p.input_weights[k++] = 1.0;
  };
  kernels::GroupOp& post = p.groups[0];
  post.method = kernels::CombineMethod::logistic;
  post.bias = std::log(n_d / (n_t - n_d));
  post.first_input = k;
  for (int l = 0; l < n; ++l) input(2 * l);
  post.n_inputs = n;
  kernels::GroupOp& sd = p.groups[1];
  sd.method = kernels::CombineMethod::wofe_std;
  sd.bias = 1.0 / n_d;
  sd.first_input = k;
  input(g_post);
  for (int l = 0; l < n; ++l) input(2 * l + 1);
  sd.n_inputs = n + 1;
  kernels::GroupOp& conf = p.groups[2];
  conf.method = kernels::CombineMethod::ratio;
  conf.first_input = k;
  input(g_post);
  input(g_post + 1);
  conf.n_inputs = 2;
  p.n_groups = 3;
  p.n_bands = 3;
  p.bands[0] = g_post;
  p.bands[1] = g_post + 1;
  p.bands[2] = g_post + 2;
}

}  // namespace

kernels::Program map_program(const std::vector<LayerWeights>& layers,
                             const std::vector<std::vector<double>>& breaks,
                             const std::vector<int>& inputs, int n_inputs, int mask_input,
                             double n_t, double n_d, float out_nodata) {
  const int n = static_cast<int>(layers.size());
  if (2 * n > kernels::max_layers) {
    throw config_error("weights of evidence: at most " + std::to_string(kernels::max_layers / 2) +
                       " evidence layers (the model has " + std::to_string(n) + ")");
  }
  kernels::Program p;
  p.n_layers = 2 * n;
  p.n_inputs = n_inputs;
  p.mask_layer = mask_input;
  p.out_nodata = out_nodata;
  int n_rules = 0;
  // Layer l's nodes: 2 l reclasses its class to the weight, 2 l + 1 to the weight's variance.
  for (int l = 0; l < n; ++l) {
    const auto li = static_cast<std::size_t>(l);
    for (int which = 0; which < 2; ++which) {
      kernels::LayerOp& op = p.layers[2 * l + which];
      op.input = inputs[li];
      op.skip_missing = 1;
      kernels::TransformParams& t = op.transform;
      t.kind = kernels::TransformKind::reclass;
      t.first = n_rules;
      t.has_default = 1;
      t.fallback = 0.0;
      add_weight_rules(p, n_rules, layers[li], breaks[li], which == 1);
      t.count = n_rules - t.first;
    }
  }
  add_posterior_groups(p, n, n_t, n_d);
  return p;
}

namespace {

/// The trained model: the map program plus what the report and the tables need.
class WofeTrained final : public Trained {
 public:
  double cell_units{1.0};
  double cell_km2{1.0};
  double unit_km2{1.0};
  double n_t{0.0};
  double n_d{0.0};
  std::uint64_t union_cells{0};
  J report;
  std::vector<std::unique_ptr<training::SideFile>> tables;
  std::vector<std::string> table_text;
  float nodata{-9999.0f};
  // Unique conditions seen on the map: posterior bits -> cells and s(P).
  std::unordered_map<std::uint32_t, std::pair<std::uint64_t, float>> conditions;
  bool too_many_conditions{false};

  void on_window(const float* const* bands, std::size_t n) override {
    if (too_many_conditions) return;
    const float* p = bands[0];
    const float* s = bands[1];
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] == nodata || p[i] != p[i]) continue;
      std::uint32_t bits = 0;
      std::memcpy(&bits, &p[i], sizeof bits);
      auto& e = conditions[bits];
      e.first += 1;
      e.second = s[i];
    }
    if (conditions.size() > (std::size_t{1} << 22)) {
      too_many_conditions = true;
      conditions.clear();
    }
  }

  void before_outputs(RunResult& res) override {
    // Conditional independence: predicted deposits T = sum over unique conditions of area x P;
    // Agterberg & Cheng (2002): s²(T) = sum (area x s(P))², z = (T - n) / s(T), one-sided.
    J ci;
    if (too_many_conditions) {
      gp::log::warning("weights of evidence: more than 4 Mi unique conditions; the "
                       "conditional-independence test is not computed");
      ci["computed"] = false;
    } else {
      double t_pred = 0.0;
      double var_t = 0.0;
      for (const auto& [bits, e] : conditions) {
        float pv = 0.0f;
        std::memcpy(&pv, &bits, sizeof pv);
        const double area = static_cast<double>(e.first) * cell_units;
        t_pred += area * static_cast<double>(pv);
        const double sa = area * static_cast<double>(e.second);
        var_t += sa * sa;
      }
      const double ratio = t_pred > 0.0 ? n_d / t_pred : 0.0;
      const double s_t = std::sqrt(var_t);
      const double z = s_t > 0.0 ? (t_pred - n_d) / s_t : 0.0;
      const double p_value = training::normal_upper_tail(z);
      ci["computed"] = true;
      ci["observed_deposits"] = n_d;
      ci["predicted_deposits"] = t_pred;
      ci["ratio"] = ratio;
      ci["unique_conditions"] = conditions.size();
      ci["agterberg_cheng"] = {{"T", t_pred},
                               {"s_T", s_t},
                               {"z", z},
                               {"p_value", p_value},
                               {"note", "one-sided test of T - n(D) > 0; a small p_value "
                                        "(< 0.05) rejects conditional independence"}};
      gp::log::info("weights of evidence: conditional independence ratio " + short_num(ratio) +
                    " (observed " + short_num(n_d) + " / predicted " + short_num(t_pred) +
                    "), Agterberg-Cheng p = " + short_num(p_value));
      if (ratio < 0.85) {
        const std::string msg = "conditional independence ratio " + short_num(ratio) +
                                " is below 0.85: the evidence layers are likely not "
                                "conditionally independent (posterior probabilities are inflated)";
        gp::log::warning("weights of evidence: " + msg);
        ci["warning"] = msg;
      }
    }
    report["conditional_independence"] = ci;
    res.report["weights_of_evidence"] = report;
    for (std::size_t i = 0; i < tables.size(); ++i) tables[i]->write(table_text[i]);
  }
  [[nodiscard]] J trained_table() const override { return report; }
};

/// True when a valid value of `data` (`n` cells, NaN = nodata) is not a whole number.
bool has_fraction(const float* data, std::size_t n) {
  int any = 0;
  const auto cnt = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for reduction(max : any) schedule(static)
  for (std::ptrdiff_t i = 0; i < cnt; ++i) {
    const float v = data[i];
    if (std::isfinite(v) && v != std::floor(v)) any = 1;
  }
  return any != 0;
}

/// The training pass: per evidence layer, cells per class (device histograms of integer
/// classes, or of class indices for layers with breaks) and deposit cells per class; the study
/// area (cells where any evidence layer holds data). Sums over MPI ranks are exact integers.
class ClassCounting {
 public:
  ClassCounting(const TrainingContext& ctx, const std::vector<std::size_t>& ev,
                training::DepositCells& dep)
      : ctx_(ctx), m_(ctx.model), ev_(ev), n_ev_(ev.size()), dep_(dep) {
    breaks.resize(n_ev_);
    for (std::size_t e = 0; e < n_ev_; ++e) breaks[e] = m_.layers[ev_[e]].wofe.breaks;
    cells.resize(n_ev_);
    deps.resize(n_ev_);
    dep_on_nodata.assign(n_ev_, 0);
    dep_in_union.assign(dep.size(), false);
    fractional.assign(n_ev_, false);
    int_bins_.resize(n_ev_);
    int_lo_.assign(n_ev_, 0);
    plan_batches();
    // On the device, out of memory means smaller chunks, then the CPU for the rest.
    counter_ = ctx.device.cuda ? kernels::make_fallback_class_counter(
                                     kernels::make_cuda_class_counter(ctx.device.id),
                                     [] { return kernels::make_cpu_class_counter(0); },
                                     [](const std::string& w) { gp::log::warning(w); })
                               : kernels::make_cpu_class_counter(0);
  }

  void run() {
    training::for_each_window(ctx_, [&](std::int64_t, const geo::Window& win,
                                        std::vector<std::vector<float>>& buf) {
      count_integer_classes(buf, win.cells());
      count_break_classes(buf, win.cells());
      count_study_area_and_deposits(buf, win);
    });
    for (std::size_t e = 0; e < n_ev_; ++e) {
      for (std::size_t k = 0; k < int_bins_[e].size(); ++k) {
        if (int_bins_[e][k] != 0) cells[e][int_lo_[e] + static_cast<long long>(k)] += int_bins_[e][k];
      }
    }
    // Under mpirun each rank counted its own windows: every count is an integer, so the sums
    // over the ranks are the one-process counts exactly.
    for (std::size_t e = 0; e < n_ev_; ++e) {
      training::sum_over_ranks(cells[e]);
      training::sum_over_ranks(deps[e]);
      // One process sees the whole range of an integer-class layer; a rank only its share.
      if (breaks[e].empty() && !cells[e].empty()) {
        check_span(e, cells[e].rbegin()->first - cells[e].begin()->first + 1);
      }
    }
    cluster::allreduce_sum(dep_on_nodata.data(), dep_on_nodata.size());
    cluster::allreduce_sum(&union_cells, 1);
    training::or_over_ranks(dep_in_union);
    training::or_over_ranks(fractional);
    for (std::size_t e = 0; e < n_ev_; ++e) check_class_count(e);
  }

  std::vector<std::vector<double>> breaks;
  std::vector<std::map<long long, std::uint64_t>> cells;
  std::vector<std::map<long long, std::uint64_t>> deps;
  std::vector<std::uint64_t> dep_on_nodata;
  std::vector<bool> dep_in_union;
  std::vector<bool> fractional;  ///< per layer without breaks: some value is not a whole number
  std::uint64_t union_cells{0};

 private:
  static constexpr long long max_bins = 1LL << 22;

  /// Layers with breaks: one program reclasses their values to class indices (in batches that
  /// fit the program's bands and rules), then unit-width histograms count the classes.
  void plan_batches() {
    std::vector<std::size_t> cur;
    int rules = 0;
    for (std::size_t e = 0; e < n_ev_; ++e) {
      if (breaks[e].empty()) continue;
      const int need = static_cast<int>(breaks[e].size()) + 1;
      if (need > kernels::max_rules) {
        throw config_error(layer_what(m_.layers[ev_[e]].name) + " wofe breaks: at most " +
                           std::to_string(kernels::max_rules - 1) + " breaks");
      }
      if (!cur.empty() && (static_cast<int>(cur.size()) == kernels::max_bands ||
                           rules + need > kernels::max_rules)) {
        batches_.push_back(cur);
        cur.clear();
        rules = 0;
      }
      cur.push_back(e);
      rules += need;
    }
    if (!cur.empty()) batches_.push_back(cur);
    for (const auto& b : batches_) batch_programs_.push_back(class_index_program(b));
  }

  /// The program of one batch of layers with breaks: band j is the class index of layer b[j]
  /// (the number of its breaks <= the value, as class_of).
  [[nodiscard]] kernels::Program class_index_program(const std::vector<std::size_t>& b) const {
    kernels::Program p;
    p.n_layers = static_cast<std::int32_t>(b.size());
    p.n_inputs = static_cast<std::int32_t>(b.size());
    p.n_groups = 0;
    p.n_bands = static_cast<std::int32_t>(b.size());
    p.out_nodata = std::numeric_limits<float>::quiet_NaN();
    int r = 0;
    for (std::size_t j = 0; j < b.size(); ++j) {
      const auto& br = breaks[b[j]];
      kernels::TransformParams& t = p.layers[j].transform;
      t.kind = kernels::TransformKind::reclass;
      t.first = r;
      for (std::size_t c = 0; c <= br.size(); ++c) {
        kernels::ReclassRule& rule = p.rules[r++];
        rule.lo = c == 0 ? -DBL_MAX : br[c - 1];
        rule.hi = c == br.size() ? DBL_MAX : br[c];
        rule.score = static_cast<double>(c);
      }
      t.count = r - t.first;
      t.has_default = 1;  // DBL_MAX itself
      t.fallback = static_cast<double>(br.size());
      p.bands[j] = static_cast<std::int32_t>(j);
    }
    return p;
  }

  void check_span(std::size_t e, long long nbins) const {
    if (nbins > max_bins) {
      throw input_error(layer_what(m_.layers[ev_[e]].name) + ": its values span " +
                        std::to_string(nbins) + " integer classes (at most " +
                        std::to_string(max_bins) + "; give wofe breaks for a continuous layer)");
    }
  }

  /// A layer without breaks holding fractional values is continuous: its classes are the
  /// whole parts of the values, one per unit of the layer (a distance in metres makes one per
  /// metre). Refused past max_classes_without_breaks, before any weight or table is made.
  void check_class_count(std::size_t e) const {
    const std::size_t n = cells[e].size();
    if (!breaks[e].empty() || !fractional[e] || n <= max_classes_without_breaks) return;
    throw config_error(layer_what(m_.layers[ev_[e]].name) + " wofe: " + std::to_string(n) +
                       " classes from fractional (continuous) values, more than " +
                       std::to_string(max_classes_without_breaks) +
                       " (expected wofe breaks = [...] in the layer's units, or a raster of "
                       "integer classes)");
  }

  void add_hist(std::size_t e, const float* data, std::size_t ncell, long long lo, long long nbins) {
    hist_.assign(static_cast<std::size_t>(nbins), 0);
    ctx_.backend.histogram(data, ncell, static_cast<double>(lo), static_cast<double>(lo + nbins),
                           static_cast<int>(nbins), nullptr, 0, hist_.data());
    for (long long b = 0; b < nbins; ++b) {
      if (hist_[static_cast<std::size_t>(b)] != 0) cells[e][lo + b] += hist_[static_cast<std::size_t>(b)];
    }
  }

  void count_integer_classes(std::vector<std::vector<float>>& buf, std::size_t ncell) {
    const std::size_t n_ev = n_ev_;
    const std::vector<std::size_t>& ev = ev_;
    // Cells per integer class: one counting pass per layer; a window with classes outside the
    // range seen so far (the first one, mostly) widens the range and is counted again.
    for (std::size_t e = 0; e < n_ev; ++e) {
      if (!breaks[e].empty()) continue;
      const float* data = buf[ev[e]].data();
      if (!fractional[e]) fractional[e] = has_fraction(data, ncell);
      std::vector<std::uint64_t>& acc = int_bins_[e];
      auto nb = static_cast<long long>(acc.size());
      win_bins_.assign(acc.size(), 0);
      kernels::ClassCountTally t = counter_->count(data, ncell, int_lo_[e], nb, win_bins_.data());
      if (t.valid == 0) continue;
      if (nb == 0 || t.below > 0 || t.above > 0) {
        const auto lo = nb == 0 ? static_cast<long long>(std::floor(t.min))
                                : std::min(int_lo_[e], static_cast<long long>(std::floor(t.min)));
        const auto hi = nb == 0 ? static_cast<long long>(std::floor(t.max))
                                : std::max(int_lo_[e] + nb - 1, static_cast<long long>(std::floor(t.max)));
        const long long nbins = hi - lo + 1;
        check_span(e, nbins);
        std::vector<std::uint64_t> wider(static_cast<std::size_t>(nbins), 0);
        for (long long k = 0; k < nb; ++k) {
          wider[static_cast<std::size_t>(int_lo_[e] - lo + k)] = acc[static_cast<std::size_t>(k)];
        }
        acc.swap(wider);
        int_lo_[e] = lo;
        nb = nbins;
        win_bins_.assign(acc.size(), 0);
        t = counter_->count(data, ncell, int_lo_[e], nb, win_bins_.data());
      }
      for (std::size_t k = 0; k < acc.size(); ++k) acc[k] += win_bins_[k];
    }
  }

  void count_break_classes(std::vector<std::vector<float>>& buf, std::size_t ncell) {
    const std::vector<std::size_t>& ev = ev_;
    const std::size_t win_cap = ctx_.windows.max_cells();
    for (std::size_t bi = 0; bi < batches_.size(); ++bi) {
      const auto& b = batches_[bi];
      ctx_.backend.set_program(batch_programs_[bi], {});
      cls_buf_.resize(b.size());
      std::vector<const float*> in(b.size());
      std::vector<float*> outp(b.size());
      for (std::size_t j = 0; j < b.size(); ++j) {
        cls_buf_[j].resize(win_cap);
        in[j] = buf[ev[b[j]]].data();
        outp[j] = cls_buf_[j].data();
      }
      ctx_.backend.score(in.data(), ncell, outp.data());
      for (std::size_t j = 0; j < b.size(); ++j) {
        add_hist(b[j], cls_buf_[j].data(), ncell, 0,
                 static_cast<long long>(breaks[b[j]].size()) + 1);
      }
    }
  }

  void count_study_area_and_deposits(std::vector<std::vector<float>>& buf, const geo::Window& win) {
    const std::size_t n_ev = n_ev_;
    const std::vector<std::size_t>& ev = ev_;
    const std::size_t ncell = win.cells();
    // The study area: cells where any evidence layer holds data.
    std::uint64_t u = 0;
    const auto cnt = static_cast<std::ptrdiff_t>(ncell);
#pragma omp parallel for reduction(+ : u) schedule(static)
    for (std::ptrdiff_t i = 0; i < cnt; ++i) {
      for (std::size_t e = 0; e < n_ev; ++e) {
        const float v = buf[ev[e]][static_cast<std::size_t>(i)];
        if (std::isfinite(v)) {
          ++u;
          break;
        }
      }
    }
    union_cells += u;
    // Deposit cells in this window.
    training::for_each_deposit_in(dep_, win, [&](std::size_t d, std::size_t idx) {
      for (std::size_t e = 0; e < n_ev; ++e) {
        const float v = buf[ev[e]][idx];
        if (!std::isfinite(v)) {
          ++dep_on_nodata[e];
          continue;
        }
        dep_in_union[d] = true;
        deps[e][static_cast<long long>(class_of(static_cast<double>(v), breaks[e]))] += 1;
      }
    });
  }

  const TrainingContext& ctx_;
  const model::Model& m_;
  const std::vector<std::size_t>& ev_;
  std::size_t n_ev_;
  training::DepositCells& dep_;
  std::vector<std::vector<std::size_t>> batches_;
  std::vector<kernels::Program> batch_programs_;
  std::unique_ptr<kernels::ClassCounter> counter_;
  std::vector<std::vector<std::uint64_t>> int_bins_;  // integer classes: bins from int_lo_[e] on
  std::vector<long long> int_lo_;
  std::vector<std::uint64_t> win_bins_;
  std::vector<std::uint64_t> hist_;
  std::vector<std::vector<float>> cls_buf_;  // class indices of the break layers of one batch
};

/// The class counts of one layer: cells per class (`cells`) with their deposit cells (`deps`).
std::vector<ClassCount> class_counts(const std::map<long long, std::uint64_t>& cells,
                                     const std::map<long long, std::uint64_t>& deps) {
  std::vector<ClassCount> cc;
  for (const auto& [v, c] : cells) {
    ClassCount k;
    k.value = static_cast<double>(v);
    k.cells = c;
    const auto it = deps.find(v);
    k.deposits = it == deps.end() ? 0 : it->second;
    cc.push_back(k);
  }
  return cc;
}

/// One layer's report entry (`table`: its weights table).
J layer_report(const model::LayerSpec& L, const LayerWeights& lw, std::uint64_t dep_on_nodata,
               const fs::path& table) {
  J j;
  j["layer"] = L.name;
  j["type"] = L.wofe.type;
  if (!L.wofe.breaks.empty()) j["breaks"] = L.wofe.breaks;
  j["classes"] = lw.classes.size();
  j["area_unit_cells"] = lw.area_units;
  j["deposits"] = lw.deposits;
  j["deposits_on_nodata"] = dep_on_nodata;
  if (lw.threshold) {
    j["threshold"] = *lw.threshold;
    j["threshold_value"] = *lw.threshold_value;  // in the layer's units (a break with breaks)
    j["favourable_pattern"] = lw.pattern;
    j["threshold_rule"] = lw.threshold_rule;
  }
  std::map<int, std::pair<double, double>> gw;
  for (std::size_t i = 0; i < lw.classes.size(); ++i) {
    gw[lw.class_gen[i]] = {lw.class_weight[i], lw.class_std[i]};
  }
  J gen = J::array();
  for (const auto& [g, w] : gw) {
    gen.push_back({{"gen_class", g}, {"weight", w.first}, {"w_std", w.second}});
  }
  j["generalised"] = gen;
  j["table"] = table.string();
  if (!lw.notes.empty()) j["flags"] = lw.notes;
  return j;
}

/// Weights per evidence layer from the counts: the layers' weights, with their report entries
/// (into `jl`) and table texts (into `tr`), the notes warned and a line logged per layer.
std::vector<LayerWeights> fit_layers(const model::Model& m, const std::vector<std::size_t>& ev,
                                     const ClassCounting& counts, WofeTrained& tr, J& jl) {
  std::vector<LayerWeights> lws;
  for (std::size_t e = 0; e < ev.size(); ++e) {
    const model::LayerSpec& L = m.layers[ev[e]];
    LayerWeights lw = layer_weights(L.name, L.wofe, class_counts(counts.cells[e], counts.deps[e]),
                                    tr.cell_units, tr.cell_km2);
    for (const auto& note : lw.notes) training::warning(layer_what(L.name) + ": " + note);
    std::string msg = layer_what(L.name) + ": " + std::to_string(lw.classes.size()) +
                      " classes, " + std::to_string(lw.deposits) + " deposits";
    if (lw.threshold) {
      msg += ", threshold " + lw.pattern + " (" +
             (L.wofe.breaks.empty() ? "" : "class " + num(*lw.threshold) + ", ") +
             lw.threshold_rule + ")";
    }
    gp::log::info("weights of evidence: " + msg);
    jl.push_back(layer_report(L, lw, counts.dep_on_nodata[e], tr.tables[e]->path()));
    tr.table_text.push_back(table_csv(lw));
    lws.push_back(std::move(lw));
  }
  return lws;
}

/// The report's "study_area" entry.
J study_area_report(const training::Setup& s, std::uint64_t union_cells, double n_t) {
  return {{"definition", s.mask >= 0 ? "union of the evidence layers' valid cells inside the "
                                       "territory mask"
                                     : "union of the evidence layers' valid cells"},
          {"cells", union_cells},
          {"area_km2", static_cast<double>(union_cells) * s.cell_km2},
          {"unit_cells", n_t}};
}

}  // namespace

std::unique_ptr<Trained> train(const TrainingContext& ctx) {
  const model::Model& m = ctx.model;
  const training::Setup s = training::set_up(ctx);
  const std::vector<std::size_t>& ev = s.ev;
  if (2 * ev.size() > static_cast<std::size_t>(kernels::max_layers)) {
    throw config_error("weights of evidence: at most " + std::to_string(kernels::max_layers / 2) +
                       " evidence layers (the model has " + std::to_string(ev.size()) + ")");
  }
  auto tr = std::make_unique<WofeTrained>();
  tr->nodata = static_cast<float>(m.output.nodata);
  tr->band_names = {"posterior", "posterior_std", "confidence"};
  tr->unit_km2 = s.unit_km2;
  tr->cell_km2 = s.cell_km2;
  tr->cell_units = s.cell_units;

  // Side files, checked before any heavy work.
  for (std::size_t l : ev) {
    tr->tables.push_back(std::make_unique<training::SideFile>(
        ctx.files, training::beside_output(ctx, "_wofe_" + safe_name(m.layers[l].name) + ".csv")));
  }

  training::DepositCells dep = training::place(ctx);
  gp::log::info("weights of evidence: " + std::to_string(dep.size()) +
                " deposit cells on the grid; counting classes");

  // Training pass: per layer, cells per class and deposit cells per class; the study area.
  ClassCounting counts(ctx, ev, dep);
  counts.run();
  training::keep_deposits_on_data(dep, counts.dep_in_union, s, "every evidence layer is nodata",
                                  "no deposit lies on a cell with evidence (all are outside the "
                                  "grid or on nodata)");
  training::warn_few_deposits(dep, "the weights of evidence");
  tr->union_cells = counts.union_cells;
  tr->n_t = training::study_unit_cells(counts.union_cells, s, dep);
  tr->n_d = static_cast<double>(dep.size());

  // Weights per layer, then the map program.
  J jl = J::array();
  const std::vector<LayerWeights> lws = fit_layers(m, ev, counts, *tr, jl);
  std::vector<int> inputs;
  for (std::size_t l : ev) inputs.push_back(static_cast<int>(l));
  tr->program = map_program(lws, counts.breaks, inputs, static_cast<int>(m.layers.size()), s.mask,
                            tr->n_t, tr->n_d, tr->nodata);

  const double prior = tr->n_d / tr->n_t;
  J& r = tr->report;
  r["unit_cell_km2"] = s.unit_km2;
  r["cell_area_km2"] = s.cell_km2;
  r["study_area"] = study_area_report(s, counts.union_cells, tr->n_t);
  r["deposits"] = training::deposits_report(m, dep);
  r["prior"] = {{"probability", prior}, {"logit", std::log(tr->n_d / (tr->n_t - tr->n_d))}};
  r["layers"] = jl;
  r["training_seconds"] = s.seconds();
  gp::log::info("weights of evidence: study area " + short_num(tr->n_t) + " unit cells, " +
                short_num(tr->n_d) + " deposits, prior probability " + short_num(prior));
  return tr;
}

}  // namespace gp::cli::wofe
