// Tree ensembles trained with XGBoost's C API. See train/trees.hpp.

#include "train/trees.hpp"

#include "training_common.hpp"

// The one exact AUC (summarise_ranks is pure; train/ borrows it from analysis/ rather than
// count ranks a second way).
#include "analysis/validation.hpp"

#include "plan/program.hpp"
#include "run/cluster.hpp"
#include "run/runner.hpp"
#include "run/stats_pass.hpp"
#include "gp/error.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/rank.hpp"
#include "gp/kernels/tree_shap.hpp"
#include "gp/kernels/trees.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <xgboost/c_api.h>
#include <xgboost/version_config.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <queue>
#include <type_traits>

namespace gp::cli::trees {
namespace {

using J = nlohmann::ordered_json;

/// Fewer deposit cells than this cannot train a tree ensemble: XGBoost's subsampling and
/// minimum child weight need several positives to split on at all.
constexpr std::size_t min_deposits = 5;

/// XGBoost's C API, opened when a tree ensemble trains. geoprospect does not link libxgboost:
/// it needs libgomp, and as a link-time dependency it would run libgomp's constructor before
/// libgp_openmp_wait_policy.so's (app/openmp_wait_policy.cpp; tests/cli/e2e_test.cpp's OpenMp
/// test), so libgomp would miss OMP_WAIT_POLICY=passive. Opened later, it finds libgomp set up.
struct Api {
#define GP_XGB_FN(name) decltype(&::name) name = nullptr;
  GP_XGB_FN(XGBGetLastError)
  GP_XGB_FN(XGDMatrixCreateFromMat)
  GP_XGB_FN(XGDMatrixSetFloatInfo)
  GP_XGB_FN(XGDMatrixSetStrFeatureInfo)
  GP_XGB_FN(XGDMatrixFree)
  GP_XGB_FN(XGBoosterCreate)
  GP_XGB_FN(XGBoosterSetParam)
  GP_XGB_FN(XGBoosterUpdateOneIter)
  GP_XGB_FN(XGBoosterSaveModelToBuffer)
  GP_XGB_FN(XGBoosterFeatureScore)
  GP_XGB_FN(XGBoosterFree)
  GP_XGB_FN(XGBoosterLoadModelFromBuffer)
  GP_XGB_FN(XGBoosterPredictFromDMatrix)
#undef GP_XGB_FN
};

const Api& api() {
  static const Api a = [] {
    void* lib = dlopen("libxgboost.so.0", RTLD_NOW | RTLD_GLOBAL);
    if (lib == nullptr) lib = dlopen("libxgboost.so", RTLD_NOW | RTLD_GLOBAL);
    if (lib == nullptr) {
      throw error("tree ensembles need XGBoost's library (libxgboost.so, Debian's "
                  "libxgboost-dev; .ci/setup.sh installs it): " + std::string(dlerror()));
    }
    Api x;
    const auto load = [lib](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (fn == nullptr) throw error(std::string("libxgboost.so has no ") + name);
    };
#define GP_XGB_LOAD(name) load(x.name, #name);
    GP_XGB_LOAD(XGBGetLastError)
    GP_XGB_LOAD(XGDMatrixCreateFromMat)
    GP_XGB_LOAD(XGDMatrixSetFloatInfo)
    GP_XGB_LOAD(XGDMatrixSetStrFeatureInfo)
    GP_XGB_LOAD(XGDMatrixFree)
    GP_XGB_LOAD(XGBoosterCreate)
    GP_XGB_LOAD(XGBoosterSetParam)
    GP_XGB_LOAD(XGBoosterUpdateOneIter)
    GP_XGB_LOAD(XGBoosterSaveModelToBuffer)
    GP_XGB_LOAD(XGBoosterFeatureScore)
    GP_XGB_LOAD(XGBoosterFree)
    GP_XGB_LOAD(XGBoosterLoadModelFromBuffer)
    GP_XGB_LOAD(XGBoosterPredictFromDMatrix)
#undef GP_XGB_LOAD
    return x;
  }();
  return a;
}

/// Throws gp::error with XGBoost's own message when a C API call fails.
void xgb(int rc, const char* what) {
  if (rc != 0) throw error(std::string("XGBoost ") + what + ": " + api().XGBGetLastError());
}

/// Owns an XGBoost handle (DMatrix or Booster), freed by `free`.
class Handle {
 public:
  explicit Handle(int (*free)(void*)) : free_(free) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (h != nullptr) free_(h);
  }
  void* h{nullptr};

 private:
  int (*free_)(void*);
};

std::string num(double v) { return text::shortest_plain(v); }

/// Per-feature scores of `importance_type` from XGBoosterFeatureScore (0 for unused features).
std::vector<double> feature_scores(void* booster, const Table& t, const char* importance_type) {
  const std::string config =
      std::string(R"({"importance_type": ")") + importance_type + R"(", "feature_map": ""})";
  bst_ulong n = 0;
  const char** names = nullptr;
  bst_ulong dim = 0;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  xgb(api().XGBoosterFeatureScore(booster, config.c_str(), &n, &names, &dim, &shape, &scores),
      "feature importance");
  // The booster keeps no feature names (the DMatrix's are not carried into it), so XGBoost
  // names the features f0, f1, ... by column; a layer name is also accepted.
  std::vector<double> out(t.n_features, 0.0);
  for (bst_ulong i = 0; i < n; ++i) {
    const std::string name = names[i];
    std::size_t k = t.n_features;
    const auto it = std::find(t.names.begin(), t.names.end(), name);
    if (it != t.names.end()) {
      k = static_cast<std::size_t>(it - t.names.begin());
    } else if (name.size() > 1 && name[0] == 'f' &&
               name.find_first_not_of("0123456789", 1) == std::string::npos) {
      k = static_cast<std::size_t>(std::stoul(name.substr(1)));
    }
    if (k < t.n_features) out[k] = scores[i];
  }
  return out;
}

bool has_param(const std::vector<std::pair<std::string, std::string>>& ps, const std::string& k) {
  return std::any_of(ps.begin(), ps.end(), [&](const auto& p) { return p.first == k; });
}

}  // namespace

std::uint64_t cell_key(std::uint64_t seed, std::uint64_t cell) {
  // splitmix64 (Steele, Lea & Flood 2014) of the seed's stream at the cell's index.
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + cell + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::vector<std::pair<std::string, std::string>> xgboost_params(model::Method method,
                                                                const model::TreesSpec& spec,
                                                                double scale_pos_weight,
                                                                int& rounds) {
  const bool forest = method == model::Method::random_forest;
  std::vector<std::pair<std::string, std::string>> ps{
      {"objective", "binary:logistic"},
      {"max_depth", std::to_string(spec.max_depth)},
      {"subsample", num(spec.subsample)},
      {"seed", std::to_string(spec.seed)},
      // One thread: XGBoost's histogram sums are then in one order, the same trees on any
      // machine (the table is small; the map, not the training, is the heavy part).
      {"nthread", "1"},
      {"verbosity", "0"}};
  if (forest) {
    // XGBoost's random forest: one round of n_trees parallel trees, no shrinkage, columns
    // sampled per split (XGBoost's documented RF settings).
    ps.emplace_back("num_parallel_tree", std::to_string(spec.n_trees));
    ps.emplace_back("learning_rate", "1");
    ps.emplace_back("colsample_bynode", num(spec.colsample));
    rounds = 1;
  } else {
    ps.emplace_back("learning_rate", num(spec.learning_rate));
    ps.emplace_back("colsample_bytree", num(spec.colsample));
    rounds = spec.n_trees;
  }
  if (!has_param(spec.xgboost, "tree_method")) ps.emplace_back("tree_method", "hist");
  if (!has_param(spec.xgboost, "scale_pos_weight")) {
    ps.emplace_back("scale_pos_weight", text::significant(scale_pos_weight, 17));
  }
  for (const auto& p : spec.xgboost) ps.push_back(p);
  return ps;
}

Booster train_booster(const Table& t, model::Method method, const model::TreesSpec& spec) {
  Handle dm(api().XGDMatrixFree);
  xgb(api().XGDMatrixCreateFromMat(t.x.data(), t.rows(), t.n_features,
                             std::numeric_limits<float>::quiet_NaN(), &dm.h),
      "training matrix");
  xgb(api().XGDMatrixSetFloatInfo(dm.h, "label", t.label.data(), t.rows()), "labels");
  std::vector<const char*> names;
  for (const auto& n : t.names) names.push_back(n.c_str());
  xgb(api().XGDMatrixSetStrFeatureInfo(dm.h, "feature_name", names.data(), names.size()),
      "feature names");
  double pos = 0.0;
  for (float l : t.label) pos += l > 0.5f ? 1.0 : 0.0;
  const double neg = static_cast<double>(t.rows()) - pos;
  Booster out;
  int rounds = 0;
  out.params = xgboost_params(method, spec, pos > 0.0 ? neg / pos : 1.0, rounds);
  Handle b(api().XGBoosterFree);
  xgb(api().XGBoosterCreate(&dm.h, 1, &b.h), "booster");
  for (const auto& [k, v] : out.params) {
    if (api().XGBoosterSetParam(b.h, k.c_str(), v.c_str()) != 0) {
      throw config_error("[trees] xgboost " + k + " = \"" + v + "\": XGBoost refuses it (" +
                         api().XGBGetLastError() + ")");
    }
  }
  for (int it = 0; it < rounds; ++it) xgb(api().XGBoosterUpdateOneIter(b.h, it, dm.h), "training");
  bst_ulong len = 0;
  const char* buf = nullptr;
  xgb(api().XGBoosterSaveModelToBuffer(b.h, R"({"format": "json"})", &len, &buf), "saving the model");
  out.model_json.assign(buf, len);
  out.gain = feature_scores(b.h, t, "gain");
  out.total_gain = feature_scores(b.h, t, "total_gain");
  return out;
}

std::vector<float> xgboost_predict(const std::string& model_json, const std::vector<float>& x,
                                   std::size_t n_features) {
  Handle b(api().XGBoosterFree);
  xgb(api().XGBoosterCreate(nullptr, 0, &b.h), "booster");
  xgb(api().XGBoosterLoadModelFromBuffer(b.h, model_json.data(), model_json.size()), "loading the model");
  xgb(api().XGBoosterSetParam(b.h, "nthread", "1"), "threads");
  Handle dm(api().XGDMatrixFree);
  const std::size_t rows = n_features == 0 ? 0 : x.size() / n_features;
  xgb(api().XGDMatrixCreateFromMat(x.data(), rows, n_features,
                                   std::numeric_limits<float>::quiet_NaN(), &dm.h),
      "prediction matrix");
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  // type 0: the transformed prediction (binary:logistic's probability), every tree.
  xgb(api().XGBoosterPredictFromDMatrix(b.h, dm.h,
                                        R"({"type": 0, "training": false, "iteration_begin": 0, )"
                                        R"("iteration_end": 0, "strict_shape": false})",
                                        &shape, &dim, &res),
      "prediction");
  return {res, res + rows};
}

double roc_auc(const std::vector<float>& score, const std::vector<float>& label) {
  // The rows as validation's deposits: each positive row a "deposit cell" (its own column,
  // so none share one) ranked against every row; summarise_ranks' Mann-Whitney U / (P Q).
  std::vector<RankedDeposit> pos;
  std::vector<float> pos_scores;
  for (std::size_t i = 0; i < score.size(); ++i) {
    if (label[i] <= 0.5f) continue;
    RankedDeposit d;
    d.col = static_cast<std::int64_t>(i);
    d.score = score[i] == 0.0f ? 0.0f : score[i];  // -0 -> +0, as the keys do
    pos.push_back(d);
    pos_scores.push_back(d.score);
  }
  const std::vector<std::uint32_t> edges = kernels::edge_keys(pos_scores);
  const auto counter = kernels::make_rank_counter_cpu(edges, 1);
  counter->add(score.data(), score.size());
  rank_from_counts(pos, edges, counter->counts());
  std::vector<const RankedDeposit*> ptrs;
  for (const auto& d : pos) ptrs.push_back(&d);
  return summarise_ranks(score.size() - counter->invalid(), ptrs, {}).roc_auc;
}

namespace {

/// Rows of `t` in `rows`, as a table of their own.
Table table_rows(const Table& t, const std::vector<std::size_t>& rows) {
  Table out;
  out.n_features = t.n_features;
  out.names = t.names;
  for (std::size_t r : rows) {
    out.x.insert(out.x.end(), t.x.begin() + static_cast<std::ptrdiff_t>(r * t.n_features),
                 t.x.begin() + static_cast<std::ptrdiff_t>((r + 1) * t.n_features));
    out.label.push_back(t.label[r]);
    out.col.push_back(t.col[r]);
    out.row.push_back(t.row[r]);
  }
  return out;
}

/// Streams of cell_key other than the background draw's (which keys global cell indices by
/// the seed itself): the hold-out and the shuffles.
constexpr std::uint64_t holdout_stream = 0x686f6c646f7574ULL;  // "holdout"
constexpr std::uint64_t shuffle_stream = 0x73687566666c65ULL;  // "shuffle"

/// The hold-out rows (first) and the training rows of `t`: per class, the
/// permutation_holdout share of its rows with the smallest keys cell_key(seed ^ stream, row).
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> split_holdout(const Table& t,
                                                                            std::uint64_t seed) {
  std::vector<std::size_t> held;
  std::vector<std::size_t> rest;
  for (const bool positive : {true, false}) {
    std::vector<std::pair<std::uint64_t, std::size_t>> keyed;
    for (std::size_t r = 0; r < t.rows(); ++r) {
      if ((t.label[r] > 0.5f) == positive) keyed.emplace_back(cell_key(seed ^ holdout_stream, r), r);
    }
    std::sort(keyed.begin(), keyed.end());
    const auto n_held = static_cast<std::size_t>(
        std::llround(permutation_holdout * static_cast<double>(keyed.size())));
    for (std::size_t i = 0; i < keyed.size(); ++i) (i < n_held ? held : rest).push_back(keyed[i].second);
  }
  std::sort(held.begin(), held.end());
  std::sort(rest.begin(), rest.end());
  return {held, rest};
}

/// Column k of the row-major `x` shuffled in place: Fisher-Yates drawing j from cell_key
/// (std::shuffle's draws differ between standard libraries; these are the same everywhere).
void shuffle_column(std::vector<float>& x, std::size_t nf, std::size_t k, std::uint64_t seed) {
  const std::size_t n = x.size() / nf;
  for (std::size_t i = n; i-- > 1;) {
    const auto j = static_cast<std::size_t>(cell_key(seed, i) % (i + 1));
    std::swap(x[i * nf + k], x[j * nf + k]);
  }
}

}  // namespace

PermutationImportance permutation_importance(const Table& t, model::Method method,
                                             const model::TreesSpec& spec) {
  PermutationImportance pi;
  pi.repeats = permutation_repeats;
  pi.drop.assign(t.n_features, std::numeric_limits<double>::quiet_NaN());
  pi.drop_sd = pi.drop;
  const auto [held_rows, train_rows] = split_holdout(t, spec.seed);
  const Table held = table_rows(t, held_rows);
  const Table train = table_rows(t, train_rows);
  pi.train_rows = train.rows();
  pi.positives = static_cast<std::size_t>(std::count(held.label.begin(), held.label.end(), 1.0f));
  pi.negatives = held.rows() - pi.positives;
  const auto train_pos = static_cast<std::size_t>(std::count(train.label.begin(), train.label.end(), 1.0f));
  if (pi.positives == 0 || pi.negatives == 0 || train_pos < 2) {
    pi.skipped = "too few deposit cells to hold some out (" + std::to_string(pi.positives) +
                 " held out, " + std::to_string(train_pos) + " left to train)";
    pi.auc = std::numeric_limits<double>::quiet_NaN();
    return pi;
  }
  const std::string model_json = train_booster(train, method, spec).model_json;
  pi.auc = roc_auc(xgboost_predict(model_json, held.x, t.n_features), held.label);
  for (std::size_t k = 0; k < t.n_features; ++k) {
    double sum = 0.0;
    double sum2 = 0.0;
    for (int rep = 0; rep < pi.repeats; ++rep) {
      std::vector<float> x = held.x;
      const auto draw = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(pi.repeats) +
                        static_cast<std::uint64_t>(rep);
      shuffle_column(x, t.n_features, k, cell_key(spec.seed ^ shuffle_stream, draw));
      const double d = pi.auc - roc_auc(xgboost_predict(model_json, x, t.n_features), held.label);
      sum += d;
      sum2 += d * d;
    }
    const double n = static_cast<double>(pi.repeats);
    pi.drop[k] = sum / n;
    pi.drop_sd[k] = std::sqrt(std::max(0.0, sum2 / n - pi.drop[k] * pi.drop[k]));
  }
  return pi;
}

namespace {

/// A JSON array element as a number (XGBoost writes default_left as 0/1 or as booleans).
double as_num(const nlohmann::json& v) {
  return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
}

/// The bits of a JSON number as a float (XGBoost's split conditions and leaves are floats).
std::uint32_t float_bits(const nlohmann::json& v) {
  const auto f = static_cast<float>(v.get<double>());
  std::uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

/// The depth of node i's subtree (0 for a leaf).
int subtree_depth(const nlohmann::json& left, const nlohmann::json& right, std::int64_t i) {
  const auto l = left[static_cast<std::size_t>(i)].get<std::int64_t>();
  if (l < 0) return 0;
  const auto r = right[static_cast<std::size_t>(i)].get<std::int64_t>();
  return 1 + std::max(subtree_depth(left, right, l), subtree_depth(left, right, r));
}

/// The deepest tree the kernel takes: trees.hpp stores each tree complete (2^(depth+1) - 1
/// slots, 16 MiB at depth 20), and a deeper tree would rarely have the rows to grow that far.
constexpr int max_kernel_depth = 20;

/// XGBoost's JSON tree arrays and where its nodes go in trees.hpp's complete layout.
struct JsonTree {
  const nlohmann::json& left;
  const nlohmann::json& right;
  const nlohmann::json& index;
  const nlohmann::json& cond;
  const nlohmann::json& dleft;
  double* slots;  ///< the tree's 2^(depth+1) - 1 slots
  int depth;
};

/// XGBoost's node `node` and its subtree into slot `s` (at `level`) and the slots below. A leaf
/// above the bottom fills every leaf slot below it, through splits that lead to the same value
/// either way.
void place_node(const JsonTree& t, std::int64_t node, std::uint32_t s, int level) {
  const auto n = static_cast<std::size_t>(node);
  const auto l = t.left[n].get<std::int64_t>();
  if (level == t.depth) {  // the bottom: XGBoost keeps a leaf's value where a split keeps its condition
    t.slots[s] = kernels::tree_word(0, float_bits(t.cond[n]));
    return;
  }
  if (l < 0) {
    t.slots[s] = kernels::tree_word(0, 0);  // input 0 < 0.0f or not: the same leaf below
    place_node(t, node, kernels::tree_child(s, 0), level + 1);
    place_node(t, node, kernels::tree_child(s, 1), level + 1);
    return;
  }
  const auto k = static_cast<std::uint32_t>(t.index[n].get<std::int64_t>());
  const std::uint32_t high = as_num(t.dleft[n]) != 0.0 ? k | kernels::tree_default_left : k;
  t.slots[s] = kernels::tree_word(high, float_bits(t.cond[n]));
  place_node(t, l, kernels::tree_child(s, 0), level + 1);
  place_node(t, t.right[n].get<std::int64_t>(), kernels::tree_child(s, 1), level + 1);
}

/// One XGBoost JSON tree of depth `depth` appended to aux in trees.hpp's complete layout;
/// returns its first slot's index.
double append_tree(const nlohmann::json& tree, int depth, std::vector<double>& aux) {
  if (tree.contains("split_type")) {
    for (const auto& st : tree.at("split_type")) {
      if (st.get<int>() != 0) throw config_error("[trees]: categorical splits are not supported");
    }
  }
  if (depth > max_kernel_depth) {
    throw config_error("[trees]: a tree of depth " + std::to_string(depth) + "; the map's kernel "
                       "takes trees of depth at most " + std::to_string(max_kernel_depth) +
                       " (lower max_depth)");
  }
  const std::size_t base = aux.size();
  const std::size_t n = (std::size_t{2} << depth) - 1;
  if (base + n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw config_error("[trees]: the trees need more than 2^31 numbers (fewer or shallower trees)");
  }
  aux.resize(base + n);
  const JsonTree t{tree.at("left_children"), tree.at("right_children"), tree.at("split_indices"),
                   tree.at("split_conditions"), tree.at("default_left"), aux.data() + base, depth};
  place_node(t, 0, 0, 0);
  return static_cast<double>(base);
}

/// One XGBoost JSON tree appended to aux as TreeSHAP's node table (gp/kernels/tree_shap.hpp):
/// XGBoost's nodes in its order with their children, split or leaf value and cover; returns
/// the table's first index.
double append_node_table(const nlohmann::json& tree, std::vector<double>& aux) {
  const auto& left = tree.at("left_children");
  const auto& right = tree.at("right_children");
  const auto& index = tree.at("split_indices");
  const auto& cond = tree.at("split_conditions");
  const auto& dleft = tree.at("default_left");
  const auto& cover = tree.at("sum_hessian");
  const std::size_t base = aux.size();
  for (std::size_t i = 0; i < left.size(); ++i) {
    const auto l = left[i].get<std::int64_t>();
    if (l < 0) {
      aux.push_back(kernels::tree_word(0, float_bits(cond[i])));
      aux.push_back(kernels::tree_word(kernels::tree_node_none, kernels::tree_node_none));
    } else {
      const auto k = static_cast<std::uint32_t>(index[i].get<std::int64_t>());
      const std::uint32_t high = as_num(dleft[i]) != 0.0 ? k | kernels::tree_default_left : k;
      aux.push_back(kernels::tree_word(high, float_bits(cond[i])));
      aux.push_back(kernels::tree_word(static_cast<std::uint32_t>(l),
                                       static_cast<std::uint32_t>(right[i].get<std::int64_t>())));
    }
    aux.push_back(static_cast<double>(static_cast<float>(cover[i].get<double>())));
  }
  return static_cast<double>(base);
}

}  // namespace

kernels::GroupOp flatten_model(const std::string& model_json, std::vector<double>& aux) {
  const nlohmann::json j = nlohmann::json::parse(model_json);
  const auto& learner = j.at("learner");
  const std::string objective = learner.at("objective").at("name").get<std::string>();
  if (objective != "binary:logistic") {
    throw config_error("[trees]: objective '" + objective + "' (expected binary:logistic)");
  }
  const auto& trees = learner.at("gradient_booster").at("model").at("trees");
  // base_score is the probability the margin starts from; XGBoost 1.7 turns it into a margin
  // with binary:logistic's ProbToMargin, -log(1 / p - 1), in float.
  const float base_score = std::stof(learner.at("learner_model_param").at("base_score").get<std::string>());
  const float base_margin = -std::log(1.0f / base_score - 1.0f);
  kernels::GroupOp g;
  g.method = kernels::CombineMethod::tree_ensemble;
  g.bias = static_cast<double>(base_margin);
  g.aux_first = static_cast<std::int32_t>(aux.size());
  g.aux_count = static_cast<std::int32_t>(trees.size());
  aux.resize(aux.size() + 2 * trees.size());  // the roots and depths, filled below
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const int depth = subtree_depth(trees[t].at("left_children"), trees[t].at("right_children"), 0);
    const double root = append_tree(trees[t], depth, aux);
    aux[static_cast<std::size_t>(g.aux_first) + t] = root;
    aux[static_cast<std::size_t>(g.aux_first) + trees.size() + t] = depth;
  }
  // TreeSHAP's node tables after the map's complete trees, which they leave as they are.
  g.aux_nodes = static_cast<std::int32_t>(aux.size());
  aux.resize(aux.size() + trees.size());
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const double table = append_node_table(trees[t], aux);
    aux[static_cast<std::size_t>(g.aux_nodes) + t] = table;
  }
  return g;
}

namespace {

using Buffers = std::vector<std::vector<float>>;

/// A background candidate: its key, its global cell index and its features.
struct Candidate {
  std::uint64_t key;
  std::uint64_t cell;
  float f[kernels::max_layers];
};
bool operator<(const Candidate& a, const Candidate& b) {
  return a.key != b.key ? a.key < b.key : a.cell < b.cell;
}

/// The layers' program (transforms with their whole-grid statistics, read here when a
/// transform needs them) and its aux.
struct Layers {
  kernels::Program program{};
  std::vector<double> aux;
};

Layers layer_program(const TrainingContext& ctx) {
  Layers l;
  LayerStatistics ls;
  const model::Model& m = ctx.model;
  if (std::any_of(m.layers.begin(), m.layers.end(), [](const auto& L) { return needs_stats(L); })) {
    std::vector<kernels::HostFloats> buf;
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      buf.push_back(ctx.backend.host_floats(ctx.windows.max_cells()));
    }
    ls = gather_layer_statistics(m, ctx.sources, ctx.windows, ctx.backend, buf, [](double) {});
  }
  build_layers(m, ls.stats, ls.percentiles, l.aux, l.program);
  return l;
}

/// What the pass over the grid collects.
struct Draw {
  std::vector<Candidate> positives;  ///< per deposit cell (key unused)
  std::vector<bool> dep_ok;          ///< per deposit cell: some evidence layer holds data
  /// Per draw (seed): the smallest keys, ascending.
  std::vector<std::vector<Candidate>> negatives;
  std::uint64_t candidates{0};       ///< valid cells outside every buffer
};

/// The transformed evidence values of cell i of a window into f (NaN = nodata); false when
/// every one is nodata.
bool features_at(const Layers& L, const std::vector<std::size_t>& ev, const Buffers& buf,
                 std::size_t i, float* f) {
  bool any = false;
  for (std::size_t e = 0; e < ev.size(); ++e) {
    const double raw = static_cast<double>(buf[ev[e]][i]);
    const double v = kernels::is_valid(raw)
                         ? kernels::apply_transform(L.program, L.program.layers[ev[e]].transform,
                                                    raw, L.aux.data())
                         : kernels::nan_value();
    const bool ok = kernels::is_valid(v);
    f[e] = ok ? static_cast<float>(v) : std::numeric_limits<float>::quiet_NaN();
    any = any || ok;
  }
  return any;
}

/// Cells of `win` within `buffer_km` of a deposit cell (centre to centre): 1, else 0.
std::vector<unsigned char> buffer_mask(const training::DepositCells& dep, const geo::Window& win,
                                       double buffer_km, double dx_km, double dy_km) {
  std::vector<unsigned char> near(win.cells(), 0);
  const auto rr = static_cast<std::int64_t>(std::floor(buffer_km / dy_km));
  const auto cr = static_cast<std::int64_t>(std::floor(buffer_km / dx_km));
  for (std::size_t d = 0; d < dep.size(); ++d) {
    const std::int64_t r0 = std::max(dep.row[d] - rr, win.row);
    const std::int64_t r1 = std::min(dep.row[d] + rr, win.row + win.rows - 1);
    const std::int64_t c0 = std::max(dep.col[d] - cr, win.col);
    const std::int64_t c1 = std::min(dep.col[d] + cr, win.col + win.cols - 1);
    for (std::int64_t r = r0; r <= r1; ++r) {
      for (std::int64_t c = c0; c <= c1; ++c) {
        const double ex = static_cast<double>(c - dep.col[d]) * dx_km;
        const double ey = static_cast<double>(r - dep.row[d]) * dy_km;
        if (ex * ex + ey * ey <= buffer_km * buffer_km) {
          near[static_cast<std::size_t>((r - win.row) * win.cols + (c - win.col))] = 1;
        }
      }
    }
  }
  return near;
}

/// Per seed, the `keep` candidates with the smallest keys cell_key(seed, cell) seen so far: a
/// bounded max-heap each (the largest kept key on top).
class SmallestKeys {
 public:
  SmallestKeys(const std::vector<std::uint64_t>& seeds, std::size_t keep)
      : seeds_(seeds), keep_(keep), heaps_(seeds.size()) {}
  /// Whether some heap would keep cell c.cell (c.key is left set to the last seed's key).
  bool fits(Candidate& c) const {
    for (std::size_t k = 0; k < seeds_.size(); ++k) {
      c.key = cell_key(seeds_[k], c.cell);
      if (heaps_[k].size() < keep_ || c < heaps_[k].top()) return true;
    }
    return false;
  }
  void add(Candidate c) {
    for (std::size_t k = 0; k < seeds_.size(); ++k) {
      c.key = cell_key(seeds_[k], c.cell);
      if (heaps_[k].size() < keep_ || c < heaps_[k].top()) heaps_[k].push(c);
      if (heaps_[k].size() > keep_) heaps_[k].pop();
    }
  }
  /// Per seed, every rank's smallest keys together, ascending: the same draw on 1 or N ranks.
  std::vector<std::vector<Candidate>> merged() {
    std::vector<std::vector<Candidate>> out;
    for (auto& heap : heaps_) {
      std::vector<Candidate> mine;
      for (; !heap.empty(); heap.pop()) mine.push_back(heap.top());
      std::vector<Candidate> all = cluster::allgather(mine);
      std::sort(all.begin(), all.end());
      if (all.size() > keep_) all.resize(keep_);
      out.push_back(std::move(all));
    }
    return out;
  }

 private:
  const std::vector<std::uint64_t>& seeds_;
  std::size_t keep_;
  std::vector<std::priority_queue<Candidate>> heaps_;
};

/// One pass over the grid: the deposit cells' features, and per seed the `keep` valid cells
/// outside every buffer with the smallest keys (SmallestKeys per rank, then every rank's
/// merged). pu-bagging's draws come from the same pass.
Draw draw(const TrainingContext& ctx, const Layers& L, const std::vector<std::size_t>& ev,
          const training::DepositCells& dep, std::size_t keep, double dx_km, double dy_km,
          const std::vector<std::uint64_t>& seeds) {
  const model::TreesSpec& spec = ctx.model.trees;
  Draw dr;
  dr.positives.assign(dep.size(), Candidate{});
  dr.dep_ok.assign(dep.size(), false);
  SmallestKeys smallest(seeds, keep);
  Candidate c{};
  training::for_each_window(ctx, [&](std::int64_t, const geo::Window& win, Buffers& buf) {
    training::for_each_deposit_in(dep, win, [&](std::size_t d, std::size_t idx) {
      dr.dep_ok[d] = features_at(L, ev, buf, idx, dr.positives[d].f);
    });
    const std::vector<unsigned char> near =
        buffer_mask(dep, win, spec.negatives_buffer_km, dx_km, dy_km);
    for (std::int64_t r = 0; r < win.rows; ++r) {
      for (std::int64_t col = 0; col < win.cols; ++col) {
        const auto i = static_cast<std::size_t>(r * win.cols + col);
        if (near[i] != 0) continue;
        c.cell = static_cast<std::uint64_t>((win.row + r) * ctx.grid.width + win.col + col);
        const bool fits = smallest.fits(c);
        // Every valid cell counts; only those that may be kept get their features.
        if (!(fits ? features_at(L, ev, buf, i, c.f)
                   : std::any_of(ev.begin(), ev.end(), [&](std::size_t l) { return std::isfinite(buf[l][i]); }))) {
          continue;
        }
        ++dr.candidates;
        if (fits) smallest.add(c);
      }
    }
  });
  dr.negatives = smallest.merged();
  cluster::allreduce_sum(&dr.candidates, 1);
  training::or_over_ranks(dr.dep_ok);
  // Features of a deposit cell come from the rank that read it; the others hold zeros, so a
  // bitwise OR of every rank's records gives every rank the values.
  std::vector<unsigned char> bytes(dr.positives.size() * sizeof(Candidate));
  std::memcpy(bytes.data(), dr.positives.data(), bytes.size());
  cluster::allreduce_bor(bytes.data(), bytes.size());
  std::memcpy(dr.positives.data(), bytes.data(), bytes.size());
  return dr;
}

class TreesTrained final : public Trained {
 public:
  J report;
  std::vector<std::unique_ptr<training::SideFile>> files;
  std::vector<std::string> texts;
  void before_outputs(RunResult& res) override {
    res.report["trees"] = report;
    for (std::size_t i = 0; i < files.size(); ++i) files[i]->write(texts[i]);
  }
};

/// The training table from the kept deposit cells and the drawn background cells.
Table make_table(const model::Model& m, const std::vector<std::size_t>& ev,
                 const training::DepositCells& dep, const Draw& dr,
                 const std::vector<Candidate>& negatives, std::size_t n_neg, std::int64_t width) {
  Table t;
  t.n_features = ev.size();
  for (std::size_t l : ev) t.names.push_back(m.layers[l].name);
  auto add = [&](const Candidate& c, float label, std::int64_t col, std::int64_t row) {
    t.x.insert(t.x.end(), c.f, c.f + ev.size());
    t.label.push_back(label);
    t.col.push_back(col);
    t.row.push_back(row);
  };
  for (std::size_t d = 0; d < dep.size(); ++d) add(dr.positives[d], 1.0f, dep.col[d], dep.row[d]);
  // Background rows in cell order (the draw is by key; the order only reads better).
  std::vector<Candidate> neg(negatives.begin(), negatives.begin() + static_cast<std::ptrdiff_t>(n_neg));
  std::sort(neg.begin(), neg.end(), [](const Candidate& a, const Candidate& b) { return a.cell < b.cell; });
  for (const Candidate& c : neg) {
    add(c, 0.0f, static_cast<std::int64_t>(c.cell % static_cast<std::uint64_t>(width)),
        static_cast<std::int64_t>(c.cell / static_cast<std::uint64_t>(width)));
  }
  return t;
}

/// Refuses a feature that is the same in every training row (no split can use it).
void check_variance(const Table& t) {
  for (std::size_t k = 0; k < t.n_features; ++k) {
    float first = std::numeric_limits<float>::quiet_NaN();
    bool varies = false;
    for (std::size_t r = 0; r < t.rows() && !varies; ++r) {
      const float v = t.x[r * t.n_features + k];
      if (v != v) continue;
      if (first != first) first = v;
      varies = v != first;
    }
    if (!varies) {
      throw input_error("layer '" + t.names[k] + "': the same value (" +
                        (first == first ? num(first) : std::string("nodata")) + ") in all " +
                        std::to_string(t.rows()) +
                        " training cells (a layer with no variance cannot split; remove it)");
    }
  }
}

/// CSV of the training table: the features, LABEL, the cell centre's X and Y.
std::string table_csv(const Table& t, const geo::Grid& g) {
  std::string csv;
  for (const auto& n : t.names) csv += "\"" + n + "\",";
  csv += "LABEL,X,Y\n";
  for (std::size_t r = 0; r < t.rows(); ++r) {
    for (std::size_t k = 0; k < t.n_features; ++k) {
      const float v = t.x[r * t.n_features + k];
      csv += (v == v ? text::significant(v, 9) : std::string()) + ",";
    }
    csv += std::to_string(static_cast<int>(t.label[r])) + "," +
           text::significant(g.x0 + (static_cast<double>(t.col[r]) + 0.5) * g.dx, 15) + "," +
           text::significant(g.y0 - (static_cast<double>(t.row[r]) + 0.5) * g.dy, 15) + "\n";
  }
  return csv;
}

/// A figure for a CSV cell: empty when not a number (permutation importance not measured).
std::string csv_num(double v) { return std::isfinite(v) ? text::significant(v, 12) : std::string(); }

/// LAYER, GAIN, TOTAL_GAIN and the permutation importance, named by the set it is measured on
/// (HOLDOUT_: the seeded hold-out of permutation_importance).
std::string importance_csv(const Table& t, const Booster& b, const PermutationImportance& pi) {
  std::string csv = "LAYER,GAIN,TOTAL_GAIN,HOLDOUT_AUC_DROP,HOLDOUT_AUC_DROP_SD\n";
  for (std::size_t k = 0; k < t.n_features; ++k) {
    csv += "\"" + t.names[k] + "\"," + text::significant(b.gain[k], 12) + "," +
           text::significant(b.total_gain[k], 12) + "," + csv_num(pi.drop[k]) + "," +
           csv_num(pi.drop_sd[k]) + "\n";
  }
  return csv;
}

/// One feature of the trees: an evidence layer's value, or for a layer marked categorical the
/// indicator of one of its classes (1 in the class, 0 in another, missing where nodata).
struct Feature {
  std::size_t column{0};  ///< the training table's column (index into ev)
  bool one_hot{false};
  float value{0.0f};      ///< one_hot: the class
};

/// The features: per evidence layer its value, or (categorical) one indicator per class
/// present in the raw table `raw`, ascending.
std::vector<Feature> features_of(const model::Model& m, const std::vector<std::size_t>& ev,
                                 const Table& raw) {
  std::vector<Feature> fs;
  for (std::size_t e = 0; e < ev.size(); ++e) {
    if (!m.layers[ev[e]].categorical) {
      fs.push_back({e, false, 0.0f});
      continue;
    }
    std::vector<float> classes;
    for (std::size_t r = 0; r < raw.rows(); ++r) {
      const float v = raw.x[r * raw.n_features + e];
      if (v == v) classes.push_back(v);
    }
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    for (float v : classes) fs.push_back({e, true, v});
  }
  if (fs.size() > static_cast<std::size_t>(kernels::max_layers)) {
    throw config_error("[trees]: the categorical layers' classes and the other layers make " +
                       std::to_string(fs.size()) + " features (at most " +
                       std::to_string(kernels::max_layers) + ")");
  }
  return fs;
}

/// The table of the features `fs` from the raw table (one column per evidence layer); a
/// class indicator is named layer=class.
Table encode(const Table& raw, const std::vector<Feature>& fs) {
  Table t;
  t.n_features = fs.size();
  for (const Feature& f : fs) {
    t.names.push_back(raw.names[f.column] + (f.one_hot ? "=" + num(f.value) : std::string()));
  }
  for (std::size_t r = 0; r < raw.rows(); ++r) {
    for (const Feature& f : fs) {
      const float v = raw.x[r * raw.n_features + f.column];
      t.x.push_back(!f.one_hot || v != v ? v : (v == f.value ? 1.0f : 0.0f));
    }
  }
  t.label = raw.label;
  t.col = raw.col;
  t.row = raw.row;
  return t;
}

/// The node of each feature as the group's inputs: an evidence layer's own node, or for a
/// class indicator a layer appended to the program that reads the layer's input and reclasses
/// it (value == class -> 1, any other value -> 0, nodata stays nodata): one-hot in the program,
/// no change to the tree kernel.
void feature_inputs(kernels::Program& pr, const std::vector<std::size_t>& ev,
                    const std::vector<Feature>& fs) {
  int n_rules = 0;
  for (int l = 0; l < pr.n_layers; ++l) {
    const kernels::TransformParams& t = pr.layers[l].transform;
    if (t.kind == kernels::TransformKind::reclass) n_rules = std::max(n_rules, t.first + t.count);
  }
  if (pr.n_inputs < 0) pr.n_inputs = pr.n_layers;  // the input buffers stay the model's layers
  for (std::size_t i = 0; i < fs.size(); ++i) {
    const auto layer = static_cast<std::int32_t>(ev[fs[i].column]);
    if (!fs[i].one_hot) {
      pr.inputs[i] = layer;
      continue;
    }
    if (pr.n_layers >= kernels::max_layers || n_rules >= kernels::max_rules) {
      throw config_error("[trees]: too many classes in the categorical layers (at most " +
                         std::to_string(kernels::max_layers) + " layers and classes in all)");
    }
    kernels::LayerOp& op = pr.layers[pr.n_layers];
    op.input = layer;
    op.transform = kernels::TransformParams{};
    op.transform.kind = kernels::TransformKind::reclass;
    op.transform.first = n_rules;
    op.transform.count = 1;
    op.transform.has_default = 1;
    op.transform.fallback = 0.0;
    kernels::ReclassRule& rule = pr.rules[n_rules++];
    rule.lo = rule.hi = static_cast<double>(fs[i].value);
    rule.score = 1.0;
    rule.is_value = 1;
    pr.inputs[i] = pr.n_layers++;
  }
}

/// The tree_ensemble group of XGBoost model `model_json` over the evidence inputs 0 .. n_ev - 1,
/// its trees appended to aux.
kernels::GroupOp ensemble_group(const std::string& model_json, std::size_t n_ev,
                                std::vector<double>& aux) {
  kernels::GroupOp g = flatten_model(model_json, aux);
  if (aux.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw config_error("[trees]: the trees need more than 2^31 numbers (fewer or shallower trees)");
  }
  g.first_input = 0;
  g.n_inputs = static_cast<std::int32_t>(n_ev);
  return g;
}

/// The map program: the layers' transforms, then one tree_ensemble group over the features.
kernels::Program map_program(Layers& L, const std::vector<std::size_t>& ev,
                             const std::vector<Feature>& fs, const Booster& b,
                             std::vector<double>& aux) {
  kernels::Program pr = L.program;
  aux = L.aux;
  pr.groups[0] = ensemble_group(b.model_json, fs.size(), aux);
  feature_inputs(pr, ev, fs);
  pr.n_groups = 1;
  pr.n_bands = 1;
  pr.bands[0] = pr.n_layers;
  return pr;
}

J importance_report(const Table& t, const Booster& b, const PermutationImportance& pi) {
  const auto figure = [](double v) { return std::isfinite(v) ? J(v) : J(nullptr); };
  J imp = J::array();
  for (std::size_t k = 0; k < t.n_features; ++k) {
    imp.push_back({{"layer", t.names[k]}, {"gain", b.gain[k]}, {"total_gain", b.total_gain[k]},
                   {"holdout_auc_drop", figure(pi.drop[k])},
                   {"holdout_auc_drop_sd", figure(pi.drop_sd[k])}});
  }
  return imp;
}

/// The report's permutation_importance: what it was measured on and the hold-out AUC.
J permutation_report(const PermutationImportance& pi) {
  J j;
  j["measured_on"] = "a seeded hold-out of the training table (" +
                     text::significant(100.0 * permutation_holdout, 3) +
                     " % of its deposit and of its background rows), scored by a model with the "
                     "same parameters trained on the other rows; drop = hold-out ROC AUC - the "
                     "AUC with the layer's column shuffled, mean and sd over the repeats";
  j["holdout_deposit_rows"] = pi.positives;
  j["holdout_background_rows"] = pi.negatives;
  j["training_rows"] = pi.train_rows;
  j["repeats"] = pi.repeats;
  j["holdout_roc_auc"] = std::isfinite(pi.auc) ? J(pi.auc) : J(nullptr);
  if (!pi.skipped.empty()) j["skipped"] = pi.skipped;
  return j;
}

/// The run's permutation importance. Cross-validation's fold models keep no report or side
/// files: no hold-out model is trained for them.
PermutationImportance run_permutation_importance(const TrainingContext& ctx, const Table& t) {
  PermutationImportance pi;
  if (ctx.fold == nullptr) {
    pi = permutation_importance(t, ctx.model.combine.method, ctx.model.trees);
    if (!pi.skipped.empty()) training::warning("trees: no permutation importance: " + pi.skipped);
    return pi;
  }
  pi.drop.assign(t.n_features, std::numeric_limits<double>::quiet_NaN());
  pi.drop_sd = pi.drop;
  pi.auc = std::numeric_limits<double>::quiet_NaN();
  pi.skipped = "a cross-validation fold's model";
  return pi;
}

/// Grid cell size in km along x and y (from the cell's area, so for any linear unit).
std::pair<double, double> cell_km(const geo::Grid& g, double cell_km2) {
  const double scale = std::sqrt(cell_km2 / (g.dx * g.dy));
  return {g.dx * scale, g.dy * scale};
}

// ---- positive-unlabelled bagging (negatives.method = "pu-bagging") ----

/// A stream of cell_key for the bags' seeds (other than the draw's own stream of cell keys).
constexpr std::uint64_t bag_stream = 0x70752d62616773ULL;  // "pu-bags"

/// The seeds of the background draws: one per bag, bag 0's the model's seed (so one bag is the
/// plain model), bag k's the seed with k folded in. Each also seeds its bag's XGBoost.
std::vector<std::uint64_t> draw_seeds(const model::TreesSpec& spec) {
  std::vector<std::uint64_t> seeds{spec.seed};
  for (int k = 1; spec.pu_bagging && k < spec.bags; ++k) {
    // 31 bits, as [trees] seed: XGBoost takes its seed as a signed integer.
    seeds.push_back(cell_key(spec.seed ^ bag_stream, static_cast<std::uint64_t>(k)) & 0x7fffffffULL);
  }
  return seeds;
}

/// The side files: <base>_model.json, <base>_training.csv, <base>_importance.csv; with
/// pu-bagging <base>_model_bag<k>.json and <base>_training_bag<k>.csv per bag (k from 0), then
/// <base>_importance.csv (the bags' mean).
std::vector<std::unique_ptr<training::SideFile>> side_files(const TrainingContext& ctx) {
  const model::TreesSpec& spec = ctx.model.trees;
  std::vector<std::string> suffixes;
  if (!spec.pu_bagging) {
    suffixes = {"_model.json", "_training.csv"};
  } else {
    for (int k = 0; k < spec.bags; ++k) suffixes.push_back("_model_bag" + std::to_string(k) + ".json");
    for (int k = 0; k < spec.bags; ++k) suffixes.push_back("_training_bag" + std::to_string(k) + ".csv");
  }
  suffixes.emplace_back("_importance.csv");
  std::vector<std::unique_ptr<training::SideFile>> files;
  for (const auto& suffix : suffixes) {
    files.push_back(std::make_unique<training::SideFile>(ctx.files, training::beside_output(ctx, suffix)));
  }
  return files;
}

/// The map program of pu-bagging: a tree_ensemble group per bag, all over the same evidence
/// inputs, then their mean probability (a weighted sum, each bag weighing 1 / bags: one bag's
/// probability times 1.0, so one bag maps as the plain model).
kernels::Program bagged_program(Layers& L, const std::vector<std::size_t>& ev,
                                const std::vector<Booster>& bags, std::vector<double>& aux) {
  kernels::Program pr = L.program;
  aux = L.aux;
  const std::size_t n_ev = ev.size();
  const auto n_bags = static_cast<std::int32_t>(bags.size());
  for (std::size_t e = 0; e < n_ev; ++e) pr.inputs[e] = static_cast<std::int32_t>(ev[e]);
  for (std::int32_t k = 0; k < n_bags; ++k) {
    pr.groups[k] = ensemble_group(bags[static_cast<std::size_t>(k)].model_json, n_ev, aux);
    pr.inputs[n_ev + static_cast<std::size_t>(k)] = pr.n_layers + k;
    pr.input_weights[n_ev + static_cast<std::size_t>(k)] = 1.0 / static_cast<double>(n_bags);
  }
  kernels::GroupOp mean;
  mean.method = kernels::CombineMethod::weighted_sum;
  mean.first_input = static_cast<std::int32_t>(n_ev);
  mean.n_inputs = n_bags;
  pr.groups[n_bags] = mean;
  pr.n_groups = n_bags + 1;
  pr.n_bands = 1;
  pr.bands[0] = pr.n_layers + n_bags;
  return pr;
}

/// The bags' gain and total gain per feature, averaged over the bags.
Booster mean_importance(const std::vector<Booster>& bags) {
  Booster mean;
  mean.gain.assign(bags.front().gain.size(), 0.0);
  mean.total_gain = mean.gain;
  for (const Booster& b : bags) {
    for (std::size_t k = 0; k < mean.gain.size(); ++k) {
      mean.gain[k] += b.gain[k] / static_cast<double>(bags.size());
      mean.total_gain[k] += b.total_gain[k] / static_cast<double>(bags.size());
    }
  }
  return mean;
}

/// What train() has drawn, for the models trained on it.
struct Drawn {
  const training::Setup& s;
  const training::DepositCells& dep;
  const Draw& dr;
  std::size_t n_neg;
  std::vector<std::uint64_t> seeds;
};

/// The report's entries common to one model and to pu-bagging's bags (bags[0]'s parameters).
void report_common(J& r, const model::Model& m, const Drawn& d, const Booster& b) {
  const model::TreesSpec& spec = m.trees;
  r["method"] = model::name_str(m.combine.method);
  r["deposits"] = training::deposits_report(m, d.dep);
  r["positives"] = d.dep.size();
  r["negatives"] = {{"count", d.n_neg}, {"ratio", spec.negatives_ratio},
                    {"buffer_km", spec.negatives_buffer_km}, {"candidates", d.dr.candidates},
                    {"seed", spec.seed}};
  J params = J::object();
  for (const auto& [k, v] : b.params) params[k] = v;
  r["xgboost"] = {{"version", std::to_string(XGBOOST_VER_MAJOR) + "." + std::to_string(XGBOOST_VER_MINOR) +
                                  "." + std::to_string(XGBOOST_VER_PATCH)},
                  {"parameters", params}};
}

/// pu-bagging: a model per draw, the map their mean; side files and report per bag.
void train_bags(const TrainingContext& ctx, const Drawn& d, Layers& L, TreesTrained& tr) {
  const model::Model& m = ctx.model;
  const std::size_t n_bags = d.seeds.size();
  std::vector<Booster> bags;
  std::vector<std::string> tables;
  J list = J::array();
  Table first;
  for (std::size_t k = 0; k < n_bags; ++k) {
    const Table t = make_table(m, d.s.ev, d.dep, d.dr, d.dr.negatives[k], d.n_neg, ctx.grid.width);
    check_variance(t);
    model::TreesSpec spec = m.trees;
    spec.seed = d.seeds[k];
    bags.push_back(train_booster(t, m.combine.method, spec));
    tr.texts.push_back(bags.back().model_json);
    tables.push_back(table_csv(t, ctx.grid));
    if (k == 0) first = t;
    list.push_back({{"bag", k}, {"seed", d.seeds[k]}, {"model", tr.files[k]->path().string()},
                    {"training_table", tr.files[n_bags + k]->path().string()}});
  }
  tr.texts.insert(tr.texts.end(), tables.begin(), tables.end());
  const Booster mean = mean_importance(bags);
  // Permutation importance is measured for one model's hold-out; the bags' mean has none yet.
  PermutationImportance pi;
  pi.drop.assign(first.n_features, std::numeric_limits<double>::quiet_NaN());
  pi.drop_sd = pi.drop;
  pi.auc = std::numeric_limits<double>::quiet_NaN();
  pi.skipped = "pu-bagging (a mean of bagged models)";
  tr.texts.push_back(importance_csv(first, mean, pi));
  tr.program = bagged_program(L, d.s.ev, bags, tr.aux);
  J& r = tr.report;
  report_common(r, m, d, bags.front());
  r["negatives"]["method"] = "pu-bagging";
  r["negatives"]["bags"] = n_bags;
  r["bags"] = list;
  r["trees"] = tr.program.groups[0].aux_count;
  r["importance"] = importance_report(first, mean, pi);
  r["permutation_importance"] = permutation_report(pi);
  r["importance_table"] = tr.files.back()->path().string();
}

}  // namespace

std::unique_ptr<Trained> train(const TrainingContext& ctx) {
  const model::Model& m = ctx.model;
  const model::TreesSpec& spec = m.trees;
  const training::Setup s = training::set_up(ctx);
  if (s.ev.size() > static_cast<std::size_t>(kernels::max_layers)) {
    throw config_error("[trees]: at most " + std::to_string(kernels::max_layers) + " layers");
  }
  auto tr = std::make_unique<TreesTrained>();
  tr->band_names = {"probability"};
  tr->files = side_files(ctx);
  training::DepositCells dep = training::place(ctx);
  Layers L = layer_program(ctx);
  const auto [dx_km, dy_km] = cell_km(ctx.grid, s.cell_km2);
  const auto keep = static_cast<std::size_t>(std::ceil(spec.negatives_ratio * static_cast<double>(dep.size())));
  const std::vector<std::uint64_t> seeds = draw_seeds(spec);
  Draw dr = draw(ctx, L, s.ev, dep, keep, dx_km, dy_km, seeds);
  // Deposits on cells without evidence drop out, with their features.
  std::vector<Candidate> pos;
  for (std::size_t d = 0; d < dep.size(); ++d) {
    if (dr.dep_ok[d]) pos.push_back(dr.positives[d]);
  }
  training::keep_deposits_on_data(dep, dr.dep_ok, s, "every evidence layer is nodata",
                                  "no deposit lies on a cell where an evidence layer holds data");
  dr.positives = pos;
  if (dep.size() < min_deposits) {
    throw input_error("[training] deposits: " + std::to_string(dep.size()) +
                      " deposit cells inside the grid and on data (a tree ensemble needs at "
                      "least " + std::to_string(min_deposits) + ")");
  }
  training::warn_few_deposits(dep, "the trees");
  const auto n_neg = static_cast<std::size_t>(std::llround(spec.negatives_ratio * static_cast<double>(dep.size())));
  if (n_neg > dr.candidates || n_neg > dr.negatives[0].size()) {
    throw config_error("[trees] negatives: ratio " + num(spec.negatives_ratio) + " asks for " +
                       std::to_string(n_neg) + " background cells, but only " +
                       std::to_string(dr.candidates) + " valid cells lie farther than " +
                       num(spec.negatives_buffer_km) + " km from every deposit (lower ratio or "
                       "buffer_km)");
  }
  gp::log::info("trees: " + std::to_string(dep.size()) + " deposit cells, " +
                std::to_string(n_neg) + " background cells; training " + model::name_str(m.combine.method) +
                (spec.pu_bagging ? ", " + std::to_string(seeds.size()) + " bags" : std::string()));
  const Drawn drawn{s, dep, dr, n_neg, seeds};
  J& r = tr->report;
  if (spec.pu_bagging) {
    train_bags(ctx, drawn, L, *tr);
    r["training_seconds"] = s.seconds();
    return tr;
  }
  const Table raw = make_table(m, s.ev, dep, dr, dr.negatives[0], n_neg, ctx.grid.width);
  const std::vector<Feature> fs = features_of(m, s.ev, raw);
  const Table t = encode(raw, fs);
  check_variance(t);
  const Booster b = train_booster(t, m.combine.method, spec);
  tr->program = map_program(L, s.ev, fs, b, tr->aux);
  const PermutationImportance pi = run_permutation_importance(ctx, t);
  tr->texts = {b.model_json, table_csv(t, ctx.grid), importance_csv(t, b, pi)};
  report_common(r, m, drawn, b);
  r["trees"] = tr->program.groups[0].aux_count;
  r["base_margin"] = tr->program.groups[0].bias;
  r["importance"] = importance_report(t, b, pi);
  r["permutation_importance"] = permutation_report(pi);
  r["model"] = tr->files[0]->path().string();
  r["training_table"] = tr->files[1]->path().string();
  r["importance_table"] = tr->files[2]->path().string();
  r["training_seconds"] = s.seconds();
  return tr;
}

}  // namespace gp::cli::trees
