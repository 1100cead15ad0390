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

}  // namespace

ClassPlan plan_classes(const model::ClassSpec& spec, const geo::FineHistogram& h) {
  ClassPlan plan;
  plan.method = spec.method;
  std::size_t n = 0;
  if (spec.method == model::ClassMethod::quantile) {
    const std::vector<std::size_t> edges = quantile_edges(h, spec.top);
    // top[0] is the highest class: its edge is the largest threshold.
    for (auto it = edges.rbegin(); it != edges.rend(); ++it) {
      plan.thresholds.push_back(edge_value(h, *it));
    }
    n = spec.top.size() + 1;
  } else if (spec.method == model::ClassMethod::breaks) {
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
    std::string rule;
    if (spec.method == model::ClassMethod::quantile) {
      // Class c (0-based, lowest first) spans top[n-1-c] .. top[n-2-c].
      const std::size_t i = n - 1 - c;  // index of the class from the top: 0 = highest
      if (i == 0) {
        rule = "top " + pct(spec.top[0]) + " %";
      } else if (i < spec.top.size()) {
        rule = "top " + pct(spec.top[i - 1]) + "-" + pct(spec.top[i]) + " %";
      } else {
        rule = "below top " + pct(spec.top.back()) + " %";
      }
    } else {
      const auto& t = plan.thresholds;
      if (c == 0) {
        rule = "< " + text::significant(t.front(), 4);
      } else if (c == n - 1) {
        rule = ">= " + text::significant(t.back(), 4);
      } else {
        rule = text::significant(t[c - 1], 4) + " to " + text::significant(t[c], 4);
      }
    }
    plan.labels.push_back(plan.names[c] + " (" + rule + ")");
  }
  return plan;
}

}  // namespace gp::cli
