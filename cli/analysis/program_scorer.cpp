// Programs scored over the run's windows without a map; see analysis/program_scorer.hpp.
#include "analysis/program_scorer.hpp"

#include "plan/deposit_source.hpp"
#include "train/trained.hpp"

#include "gp/error.hpp"
#include "gp/geo/deposits.hpp"
#include "gp/kernels/rank.hpp"
#include "gp/log.hpp"

#include <algorithm>
#include <limits>

namespace gp::cli {

ProgramScorer::ProgramScorer(const AnalysisContext& ctx, kernels::Backend& backend,
                             std::vector<ScoredProgram> programs)
    : inputs_(ctx.sources, ctx.windows, kernels::program_inputs(programs.at(0).program)),
      backend_(backend),
      programs_(std::move(programs)),
      n_inputs_(kernels::program_inputs(programs_.at(0).program)) {
  int bands = 1;
  for (const auto& p : programs_) bands = std::max(bands, p.program.n_bands);
  bands_.assign(static_cast<std::size_t>(bands), std::vector<float>(ctx.windows.max_cells()));
  for (auto& b : bands_) ptrs_.push_back(b.data());
  backend_.set_program(programs_[0].program, programs_[0].aux);
}

geo::Window ProgramScorer::read(std::int64_t w) {
  const geo::Window win = inputs_.read(w);
  cells_ = win.cells();
  return win;
}

void ProgramScorer::use(std::size_t k) {
  if (k != current_) {  // one program: set once; several: each window switches in turn
    backend_.set_program(programs_[k].program, programs_[k].aux);
    current_ = k;
  }
}

void ProgramScorer::to_nan(float* s, std::size_t n, std::size_t k) const {
  const float nodata = programs_[k].program.out_nodata;
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) if (count > 65536)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    if (s[i] == nodata || !kernels::finite_score(s[i])) s[i] = std::numeric_limits<float>::quiet_NaN();
  }
}

const float* ProgramScorer::score(std::size_t k) {
  use(k);
  backend_.score(inputs_.layers(), cells_, ptrs_.data());
  to_nan(bands_[0].data(), cells_, k);
  return bands_[0].data();
}

std::vector<float> ProgramScorer::score_cells(std::size_t k, const std::vector<std::size_t>& idx) {
  const std::size_t n = idx.size();
  std::vector<std::vector<float>> in(static_cast<std::size_t>(n_inputs_), std::vector<float>(n));
  std::vector<const float*> in_ptrs;
  for (int l = 0; l < n_inputs_; ++l) {
    const float* src = inputs_.layers()[l];
    for (std::size_t i = 0; i < n; ++i) in[static_cast<std::size_t>(l)][i] = src[idx[i]];
    in_ptrs.push_back(in[static_cast<std::size_t>(l)].data());
  }
  return score_inputs(k, in_ptrs.data(), n);
}

std::vector<float> ProgramScorer::score_inputs(std::size_t k, const float* const* in, std::size_t n) {
  use(k);
  std::vector<std::vector<float>> out(bands_.size(), std::vector<float>(n));
  std::vector<float*> out_ptrs;
  for (auto& b : out) out_ptrs.push_back(b.data());
  backend_.score(in, n, out_ptrs.data());
  to_nan(out[0].data(), n, k);
  return std::move(out[0]);
}

namespace {

/// deposit_scores from the scoring pass's inputs; false (nothing scored) when a deposit's cell
/// was not kept.
bool scores_from_capture(ProgramScorer& scorer, const CellCapture& captured,
                         const std::vector<RankedDeposit>& deps, std::vector<std::vector<float>>& out) {
  const auto n_in = static_cast<std::size_t>(scorer.n_inputs());
  if (captured.n_inputs() < n_in) return false;
  std::vector<std::vector<float>> in(n_in, std::vector<float>(deps.size()));
  for (std::size_t i = 0; i < deps.size(); ++i) {
    const float* v = captured.at(deps[i].col, deps[i].row);
    if (v == nullptr) return false;
    for (std::size_t l = 0; l < n_in; ++l) in[l][i] = v[l];
  }
  std::vector<const float*> ptrs;
  for (const auto& b : in) ptrs.push_back(b.data());
  for (std::size_t k = 0; k < scorer.size(); ++k) {
    out[k] = scorer.score_inputs(k, ptrs.data(), deps.size());
    for (float& s : out[k]) s = s == 0.0f ? 0.0f : s;  // -0 -> +0, as the keys do
  }
  return true;
}

}  // namespace

std::vector<std::vector<float>> deposit_scores(ProgramScorer& scorer, const WindowPlan& windows,
                                               const std::vector<RankedDeposit>& deps,
                                               const CellCapture* captured) {
  std::vector<std::vector<float>> out(scorer.size(),
                                      std::vector<float>(deps.size(), std::numeric_limits<float>::quiet_NaN()));
  if (captured != nullptr && !deps.empty() && scores_from_capture(scorer, *captured, deps, out)) return out;
  for (std::int64_t w = 0; w < windows.count(); ++w) {
    const geo::Window at = windows.at(w);
    auto inside = [&at](const RankedDeposit& d) {
      return d.col >= at.col && d.col < at.col + at.cols && d.row >= at.row && d.row < at.row + at.rows;
    };
    if (std::none_of(deps.begin(), deps.end(), inside)) continue;
    const geo::Window win = scorer.read(w);
    std::vector<std::size_t> which;  // deposits in this window, and their cells in it
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < deps.size(); ++i) {
      if (!inside(deps[i])) continue;
      which.push_back(i);
      idx.push_back(static_cast<std::size_t>((deps[i].row - win.row) * win.cols + (deps[i].col - win.col)));
    }
    for (std::size_t k = 0; k < scorer.size(); ++k) {
      const std::vector<float> s = scorer.score_cells(k, idx);
      for (std::size_t j = 0; j < which.size(); ++j) {
        out[k][which[j]] = s[j] == 0.0f ? 0.0f : s[j];  // -0 -> +0, as the keys do
      }
    }
  }
  return out;
}

}  // namespace gp::cli

namespace gp::cli {

bool captured_all(const CellCapture* captured, const std::vector<RankedDeposit>& deps) {
  if (captured == nullptr) return false;
  return std::all_of(deps.begin(), deps.end(),
                     [captured](const RankedDeposit& d) { return captured->at(d.col, d.row) != nullptr; });
}

std::unique_ptr<CellCapture> analysis_capture(const model::Model& m, const geo::Grid& grid,
                                              std::size_t n_inputs) {
  const model::ValidationSpec& v = m.validation;
  const bool retrains = is_trained_method(m) && (v.kfold > 0 || v.holdout > 0.0);
  if (!v.given || (!retrains && !m.sweep.given())) return nullptr;
  std::vector<std::pair<std::int64_t, std::int64_t>> cells;
  // Silent: validation reads the deposits again and says what it has to say once.
  const gp::log::Level before = gp::log::level();
  gp::log::level() = gp::log::Level::error;
  struct Restore {
    gp::log::Level l;
    ~Restore() { gp::log::level() = l; }
  } restore{before};
  try {
    // Every deposit on the grid: validation later keeps those on the map's valid cells.
    const geo::DepositPlacement placed =
        geo::place_deposits(deposit_spec(v, "[validation] deposits " + v.deposits.string()), grid);
    for (const auto& p : placed.placed) cells.emplace_back(p.col, p.row);
  } catch (const gp::input_error&) {
    return nullptr;  // validation reads them again and says what is wrong, in its place
  } catch (const gp::config_error&) {
    return nullptr;
  }
  return std::make_unique<CellCapture>(cells, n_inputs);
}

}  // namespace gp::cli
