#pragma once
// Scores one or more per-cell programs over the run's windows without writing a map: each
// window's inputs are read once (WindowInputs) and every program scores them in turn on one
// backend. Cross-validation scores a fold model's map this way (one program), the sweep every
// variant of the model (many programs, one read).

#include "analysis/uncertainty.hpp"
#include "analysis/validation.hpp"

#include "gp/kernels/backend.hpp"
#include "gp/kernels/program.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace gp::cli {

/// A program with its aux table (trees, percentile knots), as Backend::set_program takes them.
struct ScoredProgram {
  kernels::Program program;
  std::vector<double> aux;
};

class ProgramScorer {
 public:
  /// Every program must read the same inputs (the same model with other numbers).
  ProgramScorer(const AnalysisContext& ctx, kernels::Backend& backend,
                std::vector<ScoredProgram> programs);
  [[nodiscard]] std::size_t size() const { return programs_.size(); }
  /// Reads window `w`'s inputs (once for every program).
  geo::Window read(std::int64_t w);
  /// Band 1 of program `k` on the window last read (win.cells() values), its nodata and
  /// non-finite values made NaN (the rank counter's invalid value).
  const float* score(std::size_t k);
  /// Band 1 of program `k` at the cells `idx` of the window last read (indices into it), as
  /// score() would give them: only those cells' inputs are scored (a pointwise program).
  std::vector<float> score_cells(std::size_t k, const std::vector<std::size_t>& idx);
  /// Band 1 of program `k` on `n` cells whose inputs are `in[l][i]` (as score() gives it).
  std::vector<float> score_inputs(std::size_t k, const float* const* in, std::size_t n);
  [[nodiscard]] int n_inputs() const { return n_inputs_; }

 private:
  void use(std::size_t k);
  void to_nan(float* s, std::size_t n, std::size_t k) const;
  WindowInputs inputs_;
  kernels::Backend& backend_;
  std::vector<ScoredProgram> programs_;
  std::vector<std::vector<float>> bands_;
  std::vector<float*> ptrs_;
  std::size_t cells_{0};
  int n_inputs_{0};
  std::size_t current_{0};  ///< the program the backend holds
};

/// Each program's score at every deposit of `deps` ([program][deposit]; NaN where its map is
/// nodata), each program scoring only the deposits' cells: from the inputs the scoring pass
/// kept (`captured`, when it holds every deposit's cell: no window read), else from one pass
/// over the windows that hold a deposit, each read once.
std::vector<std::vector<float>> deposit_scores(ProgramScorer& scorer, const WindowPlan& windows,
                                               const std::vector<RankedDeposit>& deps,
                                               const CellCapture* captured = nullptr);

/// True when `captured` holds the inputs at every deposit's cell (deposit_scores reads no window).
bool captured_all(const CellCapture* captured, const std::vector<RankedDeposit>& deps);

/// What the scoring pass should keep for the analyses: the inputs at the [validation]
/// deposits' cells when cross-validation retrains folds or a [[sweep]] scores variants (each
/// scores the deposits again with other programs); null otherwise, or when the deposits cannot
/// be read now (validation then says why).
std::unique_ptr<CellCapture> analysis_capture(const model::Model& m, const geo::Grid& grid,
                                              std::size_t n_inputs);

}  // namespace gp::cli
