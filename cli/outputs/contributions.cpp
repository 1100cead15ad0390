// [output] contributions; see outputs/contributions.hpp.
#include "outputs/contributions.hpp"

#include "model/groups.hpp"
#include "outputs/qml.hpp"
#include "plan/device.hpp"
#include "plan/program.hpp"

#include "outputs/outputs.hpp"
#include "outputs/staged_raster.hpp"
#include "gp/error.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace gp::cli {

namespace fs = std::filesystem;

namespace {

using J = nlohmann::ordered_json;
using kernels::CombineMethod;

/// Names of the program's nodes: the model's own (layers, then groups in program order), or,
/// for a trained program, each layer node by the model layer it reads and the groups by the
/// method.
std::vector<std::string> program_node_names(const model::Model& m, const kernels::Program& p) {
  if (!model::is_trained(m.combine.method)) return model::node_names(m);
  std::vector<std::string> names;
  for (int l = 0; l < p.n_layers; ++l) {
    const int in = p.layers[l].input >= 0 ? p.layers[l].input : l;
    names.push_back(m.layers.at(static_cast<std::size_t>(in)).name);
  }
  // pu-bagging: a tree ensemble per bag, the method's name for their mean.
  const bool bags = std::count_if(p.groups, p.groups + p.n_groups, [](const kernels::GroupOp& g) {
                      return g.method == CombineMethod::tree_ensemble;
                    }) > 1;
  for (int g = 0; g < p.n_groups; ++g) {
    if (bags) {
      names.push_back(p.groups[g].method == CombineMethod::tree_ensemble
                          ? "bag " + std::to_string(g)
                          : model::name_str(m.combine.method));
    } else {
      names.push_back(g == 0 ? model::name_str(m.combine.method) : "group " + std::to_string(g + 1));
    }
  }
  return names;
}

/// TreeSHAP's base value of the program's tree ensembles: per ensemble XGBoost's bias column
/// (its base margin + each tree's cover-weighted mean leaf), averaged over pu-bagging's bags.
struct ShapBase {
  double value{0.0};
  int ensembles{0};
};

ShapBase shap_base(const kernels::Program& p, const std::vector<double>& aux) {
  ShapBase b;
  for (int g = 0; g < p.n_groups; ++g) {
    const kernels::GroupOp& G = p.groups[g];
    if (G.method != CombineMethod::tree_ensemble || G.aux_nodes < 0) continue;
    b.value += static_cast<double>(kernels::tree_ensemble_base_value(
        aux.data(), G.aux_nodes, G.aux_count, static_cast<float>(G.bias)));
    ++b.ensembles;
  }
  if (b.ensembles > 1) b.value /= static_cast<double>(b.ensembles);
  return b;
}

/// One line on TreeSHAP's cost, O(trees x leaves x depth^2) per cell: the ensembles' size, and
/// the README's measured rate (contributions section).
void log_tree_shap_cost(const kernels::Program& p, const std::vector<double>& aux,
                        const geo::Grid& grid) {
  long long trees = 0;
  double work = 0.0;  // sum over trees of leaves x depth^2
  int deepest = 0;
  for (int g = 0; g < p.n_groups; ++g) {
    const kernels::GroupOp& G = p.groups[g];
    if (G.method != CombineMethod::tree_ensemble || G.aux_nodes < 0) continue;
    for (int t = 0; t < G.aux_count; ++t) {
      const auto depth = static_cast<int>(aux[static_cast<std::size_t>(G.aux_first + G.aux_count + t)]);
      const double* table = aux.data() + static_cast<std::size_t>(aux[static_cast<std::size_t>(G.aux_nodes + t)]);
      const int d = std::max(1, depth);
      work += static_cast<double>(kernels::tree_node_leaves(table, 0)) * d * d;
      deepest = std::max(deepest, depth);
      ++trees;
    }
  }
  gp::log::info("contributions: TreeSHAP per cell costs O(trees x leaves x depth^2), here " +
                std::to_string(trees) + " trees of depth <= " + std::to_string(deepest) + " (" +
                text::significant(work, 3) + " leaf x depth^2 steps per cell, " +
                text::significant(static_cast<double>(grid.width) * static_cast<double>(grid.height), 3) +
                " cells): far slower than the map on large grids (README, contributions)");
}

/// What a TreeSHAP band holds, with the base value `base`.
std::string tree_shap_holds(const ShapBase& base) {
  const std::string b = text::significant(base.value, 9);
  if (base.ensembles > 1) {
    return "TreeSHAP, margin units, mean over the " + std::to_string(base.ensembles) +
           " bags of each bag's SHAP (base value " + b + " + sum of bands = the mean of the "
           "per-bag margins (log-odds), not additive to the map's mean probability)";
  }
  return "TreeSHAP, margin units (base value " + b + " + sum of bands = margin = logit of the map)";
}

bool is_fuzzy(CombineMethod c) {
  return c == CombineMethod::fuzzy_and || c == CombineMethod::fuzzy_or ||
         c == CombineMethod::fuzzy_product || c == CombineMethod::fuzzy_sum ||
         c == CombineMethod::fuzzy_gamma;
}

const char* fuzzy_name(CombineMethod c) {
  switch (c) {
    case CombineMethod::fuzzy_and: return "fuzzy and";
    case CombineMethod::fuzzy_or: return "fuzzy or";
    case CombineMethod::fuzzy_product: return "fuzzy product";
    case CombineMethod::fuzzy_sum: return "fuzzy sum";
    default: return "fuzzy gamma";
  }
}

/// The method and what the band holds, e.g. "weighted sum: w*f (additive: ...)".
std::string what_band_holds(const model::Model& m, const ContributionBand& b, const ShapBase& base) {
  if (b.method == CombineMethod::tree_ensemble) return tree_shap_holds(base);
  const std::string g = "'" + b.group_name + "'";
  if (b.method == CombineMethod::weighted_sum || b.method == CombineMethod::index_overlay) {
    return std::string(b.method == CombineMethod::weighted_sum ? "weighted sum" : "index overlay") +
           ": w*f after missing-skip renormalisation (additive: the bands of " + g +
           " sum to its value)";
  }
  if (b.method == CombineMethod::logistic && m.combine.method == model::Method::wofe) {
    return "weights of evidence: the weight applied in the cell (additive: logit(prior) + the "
           "bands = logit(posterior))";
  }
  if (b.method == CombineMethod::logistic && m.combine.method == model::Method::logistic) {
    return "logistic regression: beta*x, x standardised (additive: intercept + the bands = "
           "logit(p))";
  }
  if (b.method == CombineMethod::logistic) {
    return "logistic: w*x (additive: bias + the bands = logit of " + g + ")";
  }
  // The group's own operator: in a network it need not be the [combine] method.
  return std::string(fuzzy_name(b.method)) + " membership (not additive: the input's own value)";
}

/// "<input> -> <group>: <method and what the band holds>".
std::string band_description(const model::Model& m, const ContributionBand& b,
                             const ShapBase& base) {
  return b.input_name + " -> " + b.group_name + ": " + what_band_holds(m, b, base);
}

/// Running statistics of one band (nodata excluded).
struct BandAcc {
  std::uint64_t valid{0};
  double min{std::numeric_limits<double>::infinity()};
  double max{-std::numeric_limits<double>::infinity()};
  double sum{0.0};
  double sum2{0.0};
  void add(double v) {
    ++valid;
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v;
    sum2 += v * v;
  }
  [[nodiscard]] double mean() const { return valid > 0 ? sum / static_cast<double>(valid) : 0.0; }
  [[nodiscard]] double stddev() const {
    if (valid == 0) return 0.0;
    const double mu = mean();
    return std::sqrt(std::max(0.0, sum2 / static_cast<double>(valid) - mu * mu));
  }
};

/// The `k` highest-scoring cells seen so far with their contributions (ties: earlier cells,
/// row-major, first): a heap with the weakest kept cell on top.
class TopCells {
 public:
  struct Cell {
    float score;
    std::uint64_t index;
    std::vector<float> bands;
  };
  explicit TopCells(std::uint64_t k) : k_(k) {}
  [[nodiscard]] bool wants(float score, std::uint64_t index) const {
    if (k_ == 0) return false;
    return heap_.size() < k_ || better(score, index, heap_.front());
  }
  void add(Cell c) {
    if (heap_.size() == k_) {
      std::pop_heap(heap_.begin(), heap_.end(), weaker_on_top);
      heap_.pop_back();
    }
    heap_.push_back(std::move(c));
    std::push_heap(heap_.begin(), heap_.end(), weaker_on_top);
  }
  [[nodiscard]] const std::vector<Cell>& cells() const { return heap_; }

 private:
  static bool better(float s, std::uint64_t i, const Cell& c) {
    return s > c.score || (s == c.score && i < c.index);
  }
  static bool weaker_on_top(const Cell& a, const Cell& b) { return better(a.score, a.index, b); }
  std::uint64_t k_;
  std::vector<Cell> heap_;
};

/// One pass over the windows: scores the contributions program, writes bands 1.. to the file,
/// keeps their statistics and the top cells.
class ContributionsPass {
 public:
  ContributionsPass(const AnalysisContext& ctx, kernels::Backend& backend,
                    const kernels::Program& p, std::uint64_t top_k)
      : ctx_(ctx),
        backend_(backend),
        inputs_(ctx.sources, ctx.windows, kernels::program_inputs(p)),
        nodata_(p.out_nodata),
        n_(static_cast<std::size_t>(p.n_bands)),
        bufs_(n_, std::vector<float>(ctx.windows.max_cells())),
        acc_(n_),
        top_(top_k) {
    for (auto& b : bufs_) ptrs_.push_back(b.data());
  }

  void run(StagedRaster& out) {
    for (std::int64_t w = 0; w < ctx_.windows.count(); ++w) {
      const geo::Window win = inputs_.read(w);
      backend_.score(inputs_.layers(), win.cells(), ptrs_.data());
      observe(win);
      out.write(ptrs_.data() + 1, win);
    }
  }
  [[nodiscard]] const std::vector<BandAcc>& acc() const { return acc_; }
  [[nodiscard]] const TopCells& top() const { return top_; }

 private:
  [[nodiscard]] bool valid(float v) const { return v != nodata_ && kernels::is_valid(v); }

  void observe(const geo::Window& win) {
    for (std::int64_t r = 0; r < win.rows; ++r) {
      for (std::int64_t c = 0; c < win.cols; ++c) {
        const auto i = static_cast<std::size_t>(r * win.cols + c);
        for (std::size_t b = 0; b < n_; ++b) {
          if (valid(bufs_[b][i])) acc_[b].add(bufs_[b][i]);
        }
        const float s = bufs_[0][i];
        const auto index = static_cast<std::uint64_t>((win.row + r) * ctx_.grid.width + win.col + c);
        if (!valid(s) || !top_.wants(s, index)) continue;
        TopCells::Cell cell{s, index, std::vector<float>(n_ - 1)};
        for (std::size_t b = 1; b < n_; ++b) cell.bands[b - 1] = bufs_[b][i];
        top_.add(std::move(cell));
      }
    }
  }

  const AnalysisContext& ctx_;
  kernels::Backend& backend_;
  WindowInputs inputs_;
  float nodata_;
  std::size_t n_;
  std::vector<std::vector<float>> bufs_;
  std::vector<float*> ptrs_;
  std::vector<BandAcc> acc_;
  TopCells top_;
};

/// The style range of band b: [-M, M] for additive bands, [0, 1] for memberships.
std::pair<double, double> style_range(const ContributionBand& b, const BandAcc& a) {
  if (is_fuzzy(b.method)) return {0.0, 1.0};
  double mag = a.valid > 0 ? std::max(std::fabs(a.min), std::fabs(a.max)) : 0.0;
  if (!(mag > 0.0)) mag = 1.0;
  return {-mag, mag};
}

/// The mean of each band over the top cells, where the band holds data (null where none).
std::vector<J> top_means(const TopCells& top, std::size_t n_bands, float nodata) {
  std::vector<J> means;
  for (std::size_t b = 0; b < n_bands; ++b) {
    double sum = 0.0;
    std::uint64_t n = 0;
    for (const auto& c : top.cells()) {
      const float v = c.bands[b];
      if (v == nodata || !kernels::is_valid(v)) continue;
      sum += v;
      ++n;
    }
    means.push_back(n > 0 ? J(sum / static_cast<double>(n)) : J());
  }
  return means;
}

/// The report section: the file, each band, and the top 1 % of cells with the mean
/// contribution of each band there.
J contributions_json(const fs::path& out, const std::vector<ContributionBand>& bands,
                     const std::vector<std::string>& desc, const ContributionsPass& pass,
                     float nodata, const ShapBase& base) {
  const std::vector<J> means = top_means(pass.top(), bands.size(), nodata);
  J list = J::array();
  J top = J::array();
  for (std::size_t b = 0; b < bands.size(); ++b) {
    const BandAcc& a = pass.acc()[b + 1];
    list.push_back({{"band", b + 1},
                    {"input", bands[b].input_name},
                    {"group", bands[b].group_name},
                    {"description", desc[b]},
                    {"additive", !is_fuzzy(bands[b].method) && base.ensembles < 2},
                    {"valid", a.valid},
                    {"min", a.valid > 0 ? J(a.min) : J()},
                    {"max", a.valid > 0 ? J(a.max) : J()},
                    {"mean", a.valid > 0 ? J(a.mean()) : J()}});
    top.push_back({{"band", b + 1}, {"input", bands[b].input_name},
                   {"group", bands[b].group_name}, {"mean", means[b]}});
  }
  float lowest = std::numeric_limits<float>::infinity();
  for (const auto& c : pass.top().cells()) lowest = std::min(lowest, c.score);
  J top_cells = {{"percent", 1},
                 {"cells", pass.top().cells().size()},
                 {"lowest_score", pass.top().cells().empty() ? J() : J(lowest)},
                 {"ties", "the ceil(valid / 100) highest scores; equal scores by cell order "
                          "(row-major)"},
                 {"mean_contribution", top}};
  J j = {{"path", out.string()}, {"bands", list}, {"top_cells", top_cells}};
  if (base.ensembles > 0) {
    j["tree_shap"] = {{"base_value", base.value},
                      {"units", "margin (log-odds)"},
                      {"identity", base.ensembles > 1
                                       ? "base_value + sum of bands = the mean of the bags' margins"
                                       : "base_value + sum of bands = margin = logit(map)"},
                      {"ensembles", base.ensembles},
                      {"algorithm", "path-dependent TreeSHAP (Lundberg et al. 2018), as XGBoost's "
                                    "pred_contribs, covers = sum_hessian"}};
  }
  return j;
}

/// Styles and quicklooks of each band of the staged raster `tif`, staged beside `out`.
void style_bands(const model::Model& m, const AnalysisContext& ctx, const fs::path& tif,
                 const fs::path& out, const std::vector<ContributionBand>& bands,
                 const std::vector<std::string>& desc, const ContributionsPass& pass) {
  const fs::path dir = out.parent_path();
  const std::string stem = out.stem().string();
  for (std::size_t b = 0; b < bands.size(); ++b) {
    const auto [lo, hi] = style_range(bands[b], pass.acc()[b + 1]);
    const int band = static_cast<int>(b) + 1;
    const std::string tag = "_b" + std::to_string(band);
    if (m.output.style) {
      const std::string qml = score_qml("diverging", lo, hi, band);
      if (b == 0) ctx.files.write_text(dir / (stem + ".qml"), qml, "qml");
      ctx.files.write_text(dir / (stem + tag + ".qml"), qml, "qml");
    }
    if (m.output.quicklook && pass.acc()[b + 1].valid > 0) {
      const fs::path png = dir / (stem + tag + ".png");
      const fs::path staged = ctx.files.temporary(png, "png");
      geo::QuicklookOptions qo;
      qo.title = desc[b].substr(0, desc[b].find(" ("));  // the PNG's width: without the note
      qo.legend_label = is_fuzzy(bands[b].method) ? "membership" : "contribution";
      qo.colormap = "diverging";
      qo.min = lo;
      qo.max = hi;
      qo.band = band;
      geo::write_quicklook(tif, staged, qo);
      ctx.files.publish(staged, png);
    }
  }
}

geo::WriterOptions contributions_writer_options(const model::Model& m, const RunOptions& opt,
                                                const std::vector<std::string>& desc,
                                                const fs::path& out) {
  geo::WriterOptions w;
  w.compress = m.output.compress;
  w.predictor = predictor_for(m.output.compress);
  w.nodata = m.output.nodata;
  w.threads = opt.threads;
  w.band_descriptions = desc;
  w.metadata["GP_CONTRIBUTIONS_METHOD"] = model::name_str(m.combine.method);
  w.report_as = out;
  return w;
}

}  // namespace

void write_contributions(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                         RunResult& res) {
  if (!m.output.contributions) return;
  std::vector<ContributionBand> bands;
  const kernels::Program p =
      contributions_program(ctx.program, program_node_names(m, ctx.program), bands);
  if (bands.empty()) {
    const std::string why = "the map's method has no per-layer contributions";
    gp::log::warning("[output] contributions: " + why + "; no contributions written");
    res.report["contributions"] = {{"written", false}, {"reason", why}};
    return;
  }
  const fs::path dir = res.output.has_parent_path() ? res.output.parent_path() : fs::path(".");
  const fs::path out = dir / (res.output.stem().string() + "_contributions.tif");
  const ShapBase base = shap_base(p, ctx.aux);
  std::vector<std::string> desc;
  for (const auto& b : bands) desc.push_back(band_description(m, b, base));
  if (base.ensembles > 0) log_tree_shap_cost(p, ctx.aux, ctx.grid);
  gp::log::info("writing the contributions (" + std::to_string(bands.size()) + " bands)");
  ChosenBackend chosen = choose_backend(opt.device, opt.devices, opt.threads);
  chosen.backend->set_program(p, ctx.aux);
  ContributionsPass pass(ctx, *chosen.backend, p, (res.valid_cells + 99) / 100);
  StagedRaster raster(ctx.files, out, ctx.grid, contributions_writer_options(m, opt, desc, out),
                      ctx.cog);
  pass.run(raster);
  for (std::size_t b = 1; b < pass.acc().size(); ++b) {
    const BandAcc& a = pass.acc()[b];
    if (a.valid > 0) raster.writer().set_statistics(static_cast<int>(b), a.min, a.max, a.mean(), a.stddev());
    if (base.ensembles > 0) {
      raster.writer().set_band_metadata(static_cast<int>(b), "GP_TREESHAP_BASE_VALUE",
                                        text::significant(base.value, 17));
    }
  }
  const fs::path staged = raster.finish();
  style_bands(m, ctx, staged, out, bands, desc, pass);
  ctx.files.publish(staged, out, true);
  res.report["contributions"] = contributions_json(out, bands, desc, pass, p.out_nodata, base);
}

}  // namespace gp::cli
