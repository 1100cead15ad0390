// Programs scored over the run's windows without a map; see analysis/program_scorer.hpp.
#include "analysis/program_scorer.hpp"

#include "gp/kernels/rank.hpp"

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
  use(k);
  const std::size_t n = idx.size();
  std::vector<std::vector<float>> in(static_cast<std::size_t>(n_inputs_), std::vector<float>(n));
  std::vector<const float*> in_ptrs;
  for (int l = 0; l < n_inputs_; ++l) {
    const float* src = inputs_.layers()[l];
    for (std::size_t i = 0; i < n; ++i) in[static_cast<std::size_t>(l)][i] = src[idx[i]];
    in_ptrs.push_back(in[static_cast<std::size_t>(l)].data());
  }
  std::vector<std::vector<float>> out(bands_.size(), std::vector<float>(n));
  std::vector<float*> out_ptrs;
  for (auto& b : out) out_ptrs.push_back(b.data());
  backend_.score(in_ptrs.data(), n, out_ptrs.data());
  to_nan(out[0].data(), n, k);
  return std::move(out[0]);
}

std::vector<std::vector<float>> deposit_scores(ProgramScorer& scorer, const WindowPlan& windows,
                                               const std::vector<RankedDeposit>& deps) {
  std::vector<std::vector<float>> out(scorer.size(),
                                      std::vector<float>(deps.size(), std::numeric_limits<float>::quiet_NaN()));
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
