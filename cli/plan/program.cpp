#include "plan/program.hpp"

#include "model/groups.hpp"

#include "gp/error.hpp"
#include "gp/text.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/log.hpp"

#include <algorithm>

namespace gp::cli {

namespace {

/// The kernel's transform for a model kind: one case per kind, so a new kind that is not
/// mapped here fails to compile (-Wswitch) rather than at run time.
kernels::TransformKind kind_of(model::TransformKind k) {
  using K = kernels::TransformKind;
  using T = model::TransformKind;
  switch (k) {
    case T::identity: return K::identity;
    case T::linear: return K::linear;
    case T::large: return K::large;
    case T::small: return K::small;
    case T::gaussian: return K::gaussian;
    case T::near: return K::near;
    case T::ms_large: return K::ms_large;
    case T::ms_small: return K::ms_small;
    case T::reclass: return K::reclass;
    case T::minmax: return K::minmax;
    case T::zscore: return K::zscore;
    case T::percentile: return K::percentile;
    case T::log: return K::log10;
    case T::clamp: return K::clamp;
  }
  throw config_error("unknown transform kind");
}

/// The kernel's operator for a group method (the trained methods build their own program).
kernels::CombineMethod method_of(model::Method m) {
  using K = kernels::CombineMethod;
  using M = model::Method;
  switch (m) {
    case M::weighted_sum: return K::weighted_sum;
    case M::fuzzy_and: return K::fuzzy_and;
    case M::fuzzy_or: return K::fuzzy_or;
    case M::fuzzy_product: return K::fuzzy_product;
    case M::fuzzy_sum: return K::fuzzy_sum;
    case M::fuzzy_gamma: return K::fuzzy_gamma;
    case M::index_overlay: return K::index_overlay;
    case M::wofe:
    case M::logistic:
    case M::boosted_trees:
    case M::random_forest: break;
  }
  throw config_error("[combine] method '" + model::name_str(m) + "' is not a group operator");
}

/// The reclass table of layer `L` appended to the program's rules.
void add_reclass_rules(const model::LayerSpec& L, kernels::Program& p, int& n_rules,
                       kernels::TransformParams& t) {
  const auto& T = L.transform;
  if (n_rules + static_cast<int>(T.table.size()) > kernels::max_rules) {
    throw config_error(L.what() + ": too many reclass entries (at most " +
                       std::to_string(kernels::max_rules) + " in a model)");
  }
  t.first = n_rules;
  t.count = static_cast<std::int32_t>(T.table.size());
  for (const auto& r : T.table) {
    kernels::ReclassRule& rule = p.rules[n_rules++];
    rule.lo = r.lo;
    rule.hi = r.hi;
    rule.score = r.score;
    rule.is_value = r.is_value ? 1 : 0;
  }
  t.has_default = T.fallback ? 1 : 0;
  t.fallback = T.fallback.value_or(0.0);
}

/// The numbers of layer `L`'s transform, from the model and the layer's statistics `st`.
void set_transform(const model::LayerSpec& L, const kernels::LayerStats& st,
                   const kernels::PercentileBuilder* pb, std::vector<double>& aux,
                   kernels::TransformParams& t) {
  const auto& T = L.transform;
  switch (t.kind) {
    case kernels::TransformKind::linear:
    case kernels::TransformKind::minmax:
      t.a = T.kind == model::TransformKind::linear && T.min ? *T.min : st.min;
      t.b = T.kind == model::TransformKind::linear && T.max ? *T.max : st.max;
      if (t.a == t.b) {
        gp::log::warning(L.what() + ": the layer is " + text::shortest_plain(t.a) +
                         " everywhere on the grid; its favourability is 0 everywhere");
      }
      break;
    case kernels::TransformKind::large:
    case kernels::TransformKind::small:
    case kernels::TransformKind::gaussian:
    case kernels::TransformKind::near:
      t.a = *T.midpoint;
      t.b = *T.spread;
      break;
    case kernels::TransformKind::ms_large:
    case kernels::TransformKind::ms_small:
      t.a = st.mean;
      t.b = st.stddev();
      t.c = *T.a;
      t.d = *T.b;
      break;
    case kernels::TransformKind::zscore:
      t.a = st.mean;
      t.b = st.stddev();
      if (t.b == 0.0) gp::log::warning(L.what() + ": constant layer; its z-score is 0 everywhere");
      break;
    case kernels::TransformKind::log10:
      t.a = T.offset;
      break;
    case kernels::TransformKind::clamp:
      t.a = *T.min;
      t.b = *T.max;
      break;
    case kernels::TransformKind::percentile: {
      const auto [first, count] = pb->append_knots(aux);
      t.first = first;
      t.count = count;
      // The knots' start table (see percentile_rank): its bins and range.
      if (pb->hi() > pb->lo()) {
        t.a = pb->lo();
        t.b = pb->hi();
        t.has_default = kernels::PercentileBuilder::coarse_bins;
      }
      break;
    }
    case kernels::TransformKind::reclass:  // add_reclass_rules
    case kernels::TransformKind::identity:
      break;
  }
}

void add_layers(const model::Model& m, const std::vector<kernels::LayerStats>& stats,
                const std::vector<kernels::PercentileBuilder>& percentiles,
                std::vector<double>& aux, kernels::Program& p) {
  int n_rules = 0;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& L = m.layers[i];
    kernels::LayerOp& op = p.layers[i];
    op.weight = L.weight;
    op.skip_missing = L.missing_skip ? 1 : 0;
    kernels::TransformParams& t = op.transform;
    t.kind = kind_of(L.transform.kind);
    t.invert = L.transform.invert ? 1 : 0;
    const bool have_stats = i < stats.size() && stats[i].valid > 0;
    if (needs_stats(L) && !have_stats) {
      throw input_error(L.what() + ": no valid cell on the grid (all nodata); its \"" +
                        model::name_str(L.transform.kind) + "\" transform needs statistics of the layer");
    }
    const kernels::LayerStats none{};
    const kernels::PercentileBuilder* pb =
        t.kind == kernels::TransformKind::percentile ? &percentiles.at(i) : nullptr;
    set_transform(L, have_stats ? stats[i] : none, pb, aux, t);
    if (t.kind == kernels::TransformKind::reclass) add_reclass_rules(L, p, n_rules, t);
    if (L.mask) p.mask_layer = static_cast<std::int32_t>(i);  // the territory/boundary mask
  }
}

/// The program's node of a layer or group name: layers first, then groups in evaluation order.
class NodeIndex {
 public:
  NodeIndex(const model::Model& m, const std::vector<int>& order, int n_layers) : m_(m) {
    node_of_group_.resize(m.groups.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      node_of_group_[static_cast<std::size_t>(order[k])] = n_layers + static_cast<int>(k);
    }
  }
  [[nodiscard]] int operator()(const std::string& name) const {
    for (std::size_t l = 0; l < m_.layers.size(); ++l) {
      if (m_.layers[l].name == name) return static_cast<int>(l);
    }
    for (std::size_t g = 0; g < m_.groups.size(); ++g) {
      if (m_.groups[g].name == name) return node_of_group_[g];
    }
    throw config_error("unknown layer or group '" + name + "'");
  }

 private:
  const model::Model& m_;
  std::vector<int> node_of_group_;
};

void add_groups(const model::Model& m, const std::vector<int>& order, const NodeIndex& node_of,
                kernels::Program& p) {
  int n_inputs = 0;
  p.n_groups = static_cast<std::int32_t>(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    const model::GroupSpec& G = m.groups[static_cast<std::size_t>(order[k])];
    kernels::GroupOp& op = p.groups[k];
    op.method = method_of(G.method);
    op.gamma = G.gamma;
    op.skip_missing = G.missing_skip ? 1 : 0;
    op.first_input = n_inputs;
    op.n_inputs = static_cast<std::int32_t>(G.inputs.size());
    if (n_inputs + op.n_inputs > kernels::max_inputs) {
      throw config_error("model has more than " + std::to_string(kernels::max_inputs) +
                         " group inputs in all");
    }
    double wsum = 0.0;
    for (double w : G.weights) wsum += w;
    for (std::size_t j = 0; j < G.inputs.size(); ++j) {
      p.inputs[n_inputs] = node_of(G.inputs[j]);
      const double w = j < G.weights.size() ? G.weights[j] : 1.0;
      p.input_weights[n_inputs] = wsum > 0.0 ? w / wsum : 0.0;
      ++n_inputs;
    }
  }
}

}  // namespace

bool needs_stats(const model::LayerSpec& L) {
  return L.transform.needs_minmax() || L.transform.needs_moments() ||
         L.transform.needs_percentiles();
}

std::vector<std::string> band_names(const model::Model& m) {
  std::vector<std::string> names{"prospectivity"};
  for (const auto& b : m.output.bands) {
    if (b != m.combine.final) names.push_back(b);
  }
  return names;
}

void build_layers(const model::Model& m, const std::vector<kernels::LayerStats>& stats,
                  const std::vector<kernels::PercentileBuilder>& percentiles,
                  std::vector<double>& aux, kernels::Program& p) {
  p.n_layers = static_cast<std::int32_t>(m.layers.size());
  p.out_nodata = static_cast<float>(m.output.nodata);
  add_layers(m, stats, percentiles, aux, p);
}

kernels::Program build_program(const model::Model& m,
                               const std::vector<kernels::LayerStats>& stats,
                               const std::vector<kernels::PercentileBuilder>& percentiles,
                               std::vector<double>& aux) {
  if (m.layers.size() > static_cast<std::size_t>(kernels::max_layers)) {
    throw config_error("model has " + std::to_string(m.layers.size()) + " layers (at most " +
                       std::to_string(kernels::max_layers) + " are supported)");
  }
  if (m.groups.size() > static_cast<std::size_t>(kernels::max_groups)) {
    throw config_error("model has " + std::to_string(m.groups.size()) + " groups (at most " +
                       std::to_string(kernels::max_groups) + " are supported)");
  }
  kernels::Program p;
  build_layers(m, stats, percentiles, aux, p);
  const std::vector<int> order = model::group_order(m.groups);
  const NodeIndex node_of(m, order, p.n_layers);
  add_groups(m, order, node_of, p);
  const std::vector<std::string> names = band_names(m);
  if (names.size() > static_cast<std::size_t>(kernels::max_bands)) {
    throw config_error("[output] bands: at most " + std::to_string(kernels::max_bands - 1) +
                       " extra bands");
  }
  p.n_bands = static_cast<std::int32_t>(names.size());
  p.bands[0] = node_of(m.combine.final);
  for (std::size_t b = 1; b < names.size(); ++b) p.bands[b] = node_of(names[b]);
  return p;
}

namespace {

/// Whether group node `node`'s inputs have per-input shares (kernels::input_contribution).
bool has_shares(kernels::CombineMethod m) {
  return m != kernels::CombineMethod::wofe_std && m != kernels::CombineMethod::ratio &&
         m != kernels::CombineMethod::tree_ensemble;
}

/// Marks node `node` and every node it is computed from.
void mark_sources(const kernels::Program& p, int node, std::vector<bool>& used) {
  if (used[static_cast<std::size_t>(node)]) return;
  used[static_cast<std::size_t>(node)] = true;
  if (node < p.n_layers) return;
  const kernels::GroupOp& g = p.groups[node - p.n_layers];
  for (int k = g.first_input; k < g.first_input + g.n_inputs; ++k) mark_sources(p, p.inputs[k], used);
}

/// TreeSHAP bands when the score depends on a tree ensemble: one per input buffer that the
/// ensembles' inputs read, in input order (a categorical layer's class indicators share their
/// layer's band). False when it does not.
bool tree_shap_bands(const kernels::Program& map, const std::vector<std::string>& node_names,
                     const std::vector<bool>& used, std::vector<ContributionBand>& bands) {
  std::vector<int> sources;
  for (int g = 0; g < map.n_groups; ++g) {
    const kernels::GroupOp& G = map.groups[g];
    if (!used[static_cast<std::size_t>(map.n_layers + g)] ||
        G.method != kernels::CombineMethod::tree_ensemble) {
      continue;
    }
    for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) {
      if (map.inputs[k] >= map.n_layers) continue;
      const int s = kernels::node_source(map, map.inputs[k]);
      if (std::find(sources.begin(), sources.end(), s) == sources.end()) sources.push_back(s);
    }
  }
  const int score = map.bands[0];
  for (const int s : sources) {
    ContributionBand b{score, -1, node_names.at(static_cast<std::size_t>(s)),
                       node_names.at(static_cast<std::size_t>(score)),
                       kernels::CombineMethod::tree_ensemble};
    b.source = s;
    bands.push_back(b);
  }
  return !sources.empty();
}

}  // namespace

kernels::Program contributions_program(const kernels::Program& map,
                                       const std::vector<std::string>& node_names,
                                       std::vector<ContributionBand>& bands) {
  kernels::Program p = map;
  std::vector<bool> used(static_cast<std::size_t>(map.n_layers + map.n_groups), false);
  mark_sources(map, map.bands[0], used);
  bands.clear();
  const bool trees = tree_shap_bands(map, node_names, used, bands);
  for (int g = 0; g < map.n_groups && !trees; ++g) {
    const int node = map.n_layers + g;
    const kernels::GroupOp& G = map.groups[g];
    if (!used[static_cast<std::size_t>(node)] || !has_shares(G.method)) continue;
    for (int k = G.first_input; k < G.first_input + G.n_inputs; ++k) {
      bands.push_back({node, k, node_names.at(static_cast<std::size_t>(map.inputs[k])),
                       node_names.at(static_cast<std::size_t>(node)), G.method});
    }
  }
  if (bands.size() + 1 > static_cast<std::size_t>(kernels::max_bands)) {
    throw config_error("[output] contributions: the model's groups have " +
                       std::to_string(bands.size()) + " inputs in all (at most " +
                       std::to_string(kernels::max_bands - 1) + " contribution bands)");
  }
  p.n_bands = static_cast<std::int32_t>(bands.size() + 1);
  p.bands[0] = map.bands[0];
  p.band_contribution[0] = 0;
  for (std::size_t b = 0; b < bands.size(); ++b) {
    p.bands[b + 1] = bands[b].group_node;
    p.band_contribution[b + 1] = bands[b].source >= 0 ? -(bands[b].source + 1) : bands[b].input + 1;
  }
  return p;
}

}  // namespace gp::cli
