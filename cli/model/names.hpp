#pragma once
// The model's enumerations and their names in the model file, each written once: the reader
// accepts exactly these names, and reports and messages print them back.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gp::model {

/// `transform.kind`: ArcGIS Pro's Fuzzy Membership kinds and the statistics-based rescalings.
enum class TransformKind {
  identity, linear, large, small, gaussian, near, ms_large, ms_small, reclass, minmax, zscore,
  percentile, log, clamp
};

/// `[combine] method` and `[[group]] method`: the network operators, and the methods trained
/// on deposits (whole-model only).
enum class Method {
  weighted_sum, fuzzy_and, fuzzy_or, fuzzy_product, fuzzy_sum, fuzzy_gamma, index_overlay,
  wofe, logistic, boosted_trees, random_forest
};

/// `[output] classes.method`.
enum class ClassMethod { quantile, breaks, natural, none };

/// `[output] format`.
enum class OutputFormat { cog, gtiff };

/// The file's name of each value, in declaration order.
template <class E>
struct Names;
template <>
struct Names<TransformKind> {
  static constexpr std::array<std::string_view, 14> list{
      "identity", "linear", "large",  "small",  "gaussian",   "near", "ms-large",
      "ms-small", "reclass", "minmax", "zscore", "percentile", "log",  "clamp"};
};
template <>
struct Names<Method> {
  static constexpr std::array<std::string_view, 11> list{
      "weighted-sum", "fuzzy-and",     "fuzzy-or", "fuzzy-product", "fuzzy-sum",
      "fuzzy-gamma",  "index-overlay", "wofe",     "logistic",      "boosted-trees",
      "random-forest"};
};
template <>
struct Names<ClassMethod> {
  static constexpr std::array<std::string_view, 4> list{"quantile", "breaks", "natural", "none"};
};
template <>
struct Names<OutputFormat> {
  static constexpr std::array<std::string_view, 2> list{"cog", "gtiff"};
};

/// The name of `e` as the model file writes it.
template <class E>
constexpr std::string_view name(E e) {
  return Names<E>::list[static_cast<std::size_t>(e)];
}
template <class E>
std::string name_str(E e) {
  return std::string(name(e));
}

/// Every name of E, for "expected one of" messages.
template <class E>
std::vector<std::string_view> all_names() {
  return {Names<E>::list.begin(), Names<E>::list.end()};
}

/// The value called `text`, if any.
template <class E>
std::optional<E> from_name(std::string_view text) {
  for (std::size_t i = 0; i < Names<E>::list.size(); ++i) {
    if (Names<E>::list[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

/// True for the tree ensembles trained with XGBoost ([trees]).
constexpr bool is_tree_ensemble(Method m) {
  return m == Method::boosted_trees || m == Method::random_forest;
}

/// True for the methods trained on deposits.
constexpr bool is_trained(Method m) {
  return m == Method::wofe || m == Method::logistic || is_tree_ensemble(m);
}

/// True for the operators that normalise their weights (all zero cannot be normalised).
constexpr bool uses_weights(Method m) {
  return m == Method::weighted_sum || m == Method::index_overlay;
}

}  // namespace gp::model
