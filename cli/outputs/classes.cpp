#include "outputs/classes.hpp"

#include "gp/error.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gp::cli {

double edge_value(const geo::FineHistogram& h, std::size_t edge) {
  for (std::size_t b = edge; b < h.count.size(); ++b) {
    if (h.count[b] > 0) return h.bin_min[b];
  }
  // Nothing above: a value just above the largest score keeps the class empty.
  const auto top = static_cast<float>(h.hi);
  return std::nextafter(top, std::numeric_limits<float>::infinity());
}

std::vector<std::size_t> quantile_edges(const geo::FineHistogram& h,
                                        const std::vector<double>& top_percent) {
  const std::size_t bins = h.count.size();
  // above[e]: cells in bins >= e.
  std::vector<std::uint64_t> above(bins + 1, 0);
  for (std::size_t b = bins; b-- > 0;) above[b] = above[b + 1] + h.count[b];
  std::vector<std::size_t> edges;
  for (double p : top_percent) {
    const double target = p / 100.0 * static_cast<double>(above[0]);
    // Candidate edges: the start of each non-empty bin, and the end of the range.
    std::size_t best = bins;
    double best_d = std::abs(target);
    for (std::size_t e = bins; e-- > 0;) {
      if (h.count[e] == 0) continue;
      const double d = std::abs(static_cast<double>(above[e]) - target);
      // Scanning from the top, a tie keeps the edge with the smaller count.
      if (d < best_d) {
        best_d = d;
        best = e;
      }
    }
    edges.push_back(best);
  }
  return edges;
}

std::vector<std::size_t> jenks_edges(const geo::FineHistogram& h, int n_classes,
                                     std::size_t max_points) {
  GP_EXPECTS(n_classes >= 2, config_error, "natural breaks need at least 2 classes");
  const std::size_t bins = h.count.size();
  const std::size_t group = std::max<std::size_t>(1, (bins + max_points - 1) / max_points);
  struct Point {
    double w;
    double x;
    std::size_t first_bin;
  };
  std::vector<Point> pts;
  for (std::size_t g0 = 0; g0 < bins; g0 += group) {
    double w = 0.0;
    double s = 0.0;
    std::size_t first = bins;
    for (std::size_t b = g0; b < std::min(bins, g0 + group); ++b) {
      if (h.count[b] == 0) continue;
      if (first == bins) first = b;
      w += static_cast<double>(h.count[b]);
      s += h.bin_sum[b];
    }
    if (w > 0.0) pts.push_back({w, s / w, first});
  }
  const auto k = static_cast<std::size_t>(n_classes);
  const std::size_t m = pts.size();
  std::vector<std::size_t> edges;
  if (m <= k) {
    // Fewer distinct points than classes: one point per class, the top classes empty.
    for (std::size_t i = 1; i < m; ++i) edges.push_back(pts[i].first_bin);
    while (edges.size() < k - 1) edges.push_back(bins);
    return edges;
  }
  // Prefix sums of weight, weighted x and weighted x^2 (x centred for accuracy).
  const double centre = pts[m / 2].x;
  std::vector<double> W(m + 1, 0.0), S(m + 1, 0.0), Q(m + 1, 0.0);
  for (std::size_t i = 0; i < m; ++i) {
    const double x = pts[i].x - centre;
    W[i + 1] = W[i] + pts[i].w;
    S[i + 1] = S[i] + pts[i].w * x;
    Q[i + 1] = Q[i] + pts[i].w * x * x;
  }
  // Within-class sum of squares of points [a, b).
  auto ssd = [&](std::size_t a, std::size_t b) {
    const double w = W[b] - W[a];
    const double s = S[b] - S[a];
    return std::max(0.0, (Q[b] - Q[a]) - s * s / w);
  };
  constexpr double inf = std::numeric_limits<double>::infinity();
  // cost[c][j]: best cost of c+1 classes over points [0, j); start[c][j]: where the last begins.
  std::vector<std::vector<double>> cost(k, std::vector<double>(m + 1, inf));
  std::vector<std::vector<std::size_t>> start(k, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t j = 1; j <= m; ++j) cost[0][j] = ssd(0, j);
  for (std::size_t c = 1; c < k; ++c) {
    for (std::size_t j = c + 1; j <= m; ++j) {
      double best = inf;
      std::size_t arg = c;
      for (std::size_t i = c; i < j; ++i) {
        const double v = cost[c - 1][i] + ssd(i, j);
        if (v < best) {
          best = v;
          arg = i;
        }
      }
      cost[c][j] = best;
      start[c][j] = arg;
    }
  }
  std::vector<std::size_t> starts;
  std::size_t j = m;
  for (std::size_t c = k - 1; c >= 1; --c) {
    j = start[c][j];
    starts.push_back(j);
  }
  std::reverse(starts.begin(), starts.end());
  for (std::size_t s : starts) edges.push_back(pts[s].first_bin);
  return edges;
}

std::vector<std::string> default_class_names(std::size_t n) {
  switch (n) {
    case 2: return {"low", "high"};
    case 3: return {"low", "moderate", "high"};
    case 4: return {"low", "moderate", "high", "very high"};
    case 5: return {"very low", "low", "moderate", "high", "very high"};
    default: break;
  }
  std::vector<std::string> names;
  for (std::size_t i = 1; i <= n; ++i) names.push_back("class " + std::to_string(i));
  return names;
}

namespace {

std::string pct(double p) { return text::significant(p, 4); }

std::string join_list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace

namespace {

/// The one warning of quantile classes that ties kept from their percentages.
std::string tie_warning(const std::vector<std::string>& merged, const std::vector<std::string>& real) {
  std::string w = "[output] classes: many cells share a score, so the quantile classes cannot "
                  "hold the asked percentages; ";
  if (!merged.empty()) {
    w += merged.size() > 1 ? "empty classes" : "an empty class";
    w += " merged into the neighbouring class (" + join_list(merged) + "); ";
  }
  w += "real shares: " + join_list(real) + " (the labels say so)";
  return w;
}

/// A quantile class's rule from the top shares at its upper and lower edges as labels state
/// them: "top [upper-]lower %", "below top upper %" for the lowest class, "all" for one class.
std::string quantile_rule(const std::string& upper, const std::string& lower) {
  if (lower.empty()) {
    return upper.empty() ? std::string("all") : std::string("below top ").append(upper).append(" %");
  }
  std::string r = "top ";
  if (!upper.empty()) r.append(upper).append("-");
  return r.append(lower).append(" %");
}

/// Quantile classes from the top: the bin edge of each top percentage (top[0] the highest
/// class's), the cells at or above it, and the class rule. Ties (many cells sharing a score)
/// can leave a class empty or make it hold far more than its percentage: an empty class is
/// dropped (its neighbour holds its cells already), and a label whose real share differs from
/// the asked one by more than a tenth of it states the real share instead ("top 9.7 %").
void plan_quantile(const model::ClassSpec& spec, const geo::FineHistogram& h, ClassPlan& plan) {
  const std::vector<std::size_t> edges = quantile_edges(h, spec.top);
  const std::size_t bins = h.count.size();
  std::vector<std::uint64_t> above(bins + 1, 0);
  for (std::size_t b = bins; b-- > 0;) above[b] = above[b + 1] + h.count[b];
  const double valid = static_cast<double>(above[0]);
  const std::size_t k = spec.top.size();
  const std::vector<std::string> names = spec.names.empty() ? default_class_names(k + 1) : spec.names;
  // Class i from the top (0 = highest) holds the cells between edge i-1 and edge i; the last
  // (i = k) everything below edge k-1. stated(i): the top share at edge i as labels give it.
  auto stated = [&](std::size_t i) {
    const double asked = spec.top[i];
    if (!(valid > 0.0)) return pct(asked);
    const double real = 100.0 * static_cast<double>(above[edges[i]]) / valid;
    return std::abs(real - asked) > 0.1 * asked ? text::significant(real, 3) : pct(asked);
  };
  std::vector<std::string> merged;
  std::vector<std::string> real;
  bool adjusted = false;
  std::size_t prev = bins;  // the edge above the current class
  std::string upper;        // its stated share ("" for the highest class)
  struct Kept {
    std::string name;
    std::string rule;
    std::size_t edge;
  };
  std::vector<Kept> kept;  // highest first
  for (std::size_t i = 0; i <= k; ++i) {
    const std::size_t e = i < k ? edges[i] : 0;  // the lowest class reaches the bottom
    const std::uint64_t cells = above[e] - above[prev];
    const std::string& name = names[k - i];
    if (cells == 0 && valid > 0.0) {
      merged.push_back(name);
      continue;
    }
    const std::string lower = i < k ? stated(i) : std::string();
    if (i < k && lower != pct(spec.top[i])) adjusted = true;
    kept.push_back({name, quantile_rule(upper, lower), e});
    const double cell_share = valid > 0.0 ? 100.0 * static_cast<double>(cells) / valid : 0.0;
    real.push_back(std::string(name).append(" ").append(text::significant(cell_share, 3)).append(" %"));
    upper = lower;
    prev = e;
  }
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    plan.names.push_back(it->name);
    plan.labels.push_back(it->name + " (" + it->rule + ")");
  }
  // The thresholds: the lower edge of every kept class but the lowest.
  for (std::size_t j = kept.empty() ? 0 : kept.size() - 1; j-- > 0;) {
    plan.thresholds.push_back(edge_value(h, kept[j].edge));
  }
  if (!merged.empty() || adjusted) plan.warning = tie_warning(merged, real);
}

}  // namespace

ClassPlan plan_classes(const model::ClassSpec& spec, const geo::FineHistogram& h) {
  ClassPlan plan;
  plan.method = spec.method;
  if (spec.method == model::ClassMethod::quantile) {
    if (spec.top.size() + 1 > 254) throw config_error("[output] classes: at most 254 classes");
    plan_quantile(spec, h, plan);
    return plan;
  }
  std::size_t n = 0;
  if (spec.method == model::ClassMethod::breaks) {
    plan.thresholds = spec.breaks;
    n = spec.breaks.size() + 1;
  } else if (spec.method == model::ClassMethod::natural) {
    for (std::size_t e : jenks_edges(h, spec.n)) plan.thresholds.push_back(edge_value(h, e));
    n = static_cast<std::size_t>(spec.n);
  } else {
    throw config_error("[output] classes: unknown method '" + model::name_str(spec.method) + "'");
  }
  if (n > 254) throw config_error("[output] classes: at most 254 classes");
  // Equal neighbours (e.g. a constant score) leave empty classes; keep the order strict enough
  // for classification (ascending, possibly equal).
  std::sort(plan.thresholds.begin(), plan.thresholds.end());
  plan.names = spec.names.empty() ? default_class_names(n) : spec.names;
  for (std::size_t c = 0; c < n; ++c) {
    const auto& t = plan.thresholds;
    std::string rule;
    if (c == 0) {
      rule = "< " + text::significant(t.front(), 4);
    } else if (c == n - 1) {
      rule = ">= " + text::significant(t.back(), 4);
    } else {
      rule = text::significant(t[c - 1], 4) + " to " + text::significant(t[c], 4);
    }
    plan.labels.push_back(plan.names[c] + " (" + rule + ")");
  }
  return plan;
}

}  // namespace gp::cli
