// Cross-validation that retrains each fold; see analysis/crossval.hpp.
#include "analysis/crossval.hpp"

#include "analysis/program_scorer.hpp"

#include "plan/device.hpp"
#include "run/cluster.hpp"
#include "train/trained.hpp"

#include "gp/error.hpp"
#include "gp/geo/cell_area.hpp"
#include "gp/kernels/rank.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace gp::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// Lowers the log to warnings while a fold trains: each trainer says its progress for the run's
/// model; k more copies of it would bury the run's own lines. Restored on exit.
class QuietInfo {
 public:
  QuietInfo() : before_(gp::log::level()) {
    if (before_ == gp::log::Level::info) gp::log::level() = gp::log::Level::warning;
  }
  ~QuietInfo() { gp::log::level() = before_; }
  QuietInfo(const QuietInfo&) = delete;
  QuietInfo& operator=(const QuietInfo&) = delete;

 private:
  gp::log::Level before_;
};

/// Removes from a fold model's table the paths of its side files: they were staged in a scratch
/// set and never written (hidden ".partial-" names, see outputs/staged_files.hpp).
void drop_scratch_paths(nlohmann::ordered_json& j) {
  if (j.is_array()) {
    for (auto& e : j) drop_scratch_paths(e);
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end();) {
    if (it->is_string() && it->get<std::string>().find(".partial-") != std::string::npos) {
      it = j.erase(it);
    } else {
      drop_scratch_paths(*it);
      ++it;
    }
  }
}

/// What fold `f` leaves out of training: its held-out cells and the buffer around them.
FoldExclusion exclusion_of(const ValidationResult& vr, int f, const geo::Grid& grid) {
  FoldExclusion ex;
  for (const auto& d : vr.deposits) {
    if (d.fold == f) ex.held_out.emplace_back(d.col, d.row);
  }
  ex.buffer_m = vr.buffer_km * 1000.0;
  if (ex.buffer_m > 0.0) {
    const double unit_m = geo::linear_unit_m(grid.crs_wkt, "[validation] buffer_km");
    ex.cell_dx_m = grid.dx * unit_m;
    ex.cell_dy_m = grid.dy * unit_m;
  }
  return ex;
}

/// Fold f's figures from its model: scores the deposits, counts every cell's rank, summarises.
void score_fold(ProgramScorer& scorer, const AnalysisContext& ctx, const RunOptions& opt,
                const std::vector<double>& capture, const ValidationResult& vr, FoldResult& fr) {
  const std::vector<float> scores = deposit_scores(scorer, ctx.windows, vr.deposits, ctx.captured)[0];
  std::vector<RankedDeposit> deps;
  std::vector<float> finite;
  for (std::size_t i = 0; i < vr.deposits.size(); ++i) {
    if (std::isnan(scores[i])) {
      if (vr.deposits[i].fold == fr.fold) ++fr.unscored;
      continue;
    }
    deps.push_back(vr.deposits[i]);
    deps.back().score = scores[i];
    finite.push_back(scores[i]);
  }
  const std::vector<std::uint32_t> edges = kernels::edge_keys(finite);
  const auto counter = make_rank_counter(edges, opt.device, opt.devices, opt.threads);
  for (std::int64_t w = 0; w < ctx.windows.count(); ++w) {
    const geo::Window win = scorer.read(w);
    counter->add(scorer.score(0), win.cells());
  }
  const std::vector<std::uint64_t> counts = counter->counts();
  fr.valid_cells = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  rank_from_counts(deps, edges, counts);
  std::vector<const RankedDeposit*> held;
  std::vector<const RankedDeposit*> rest;
  for (const auto& d : deps) (d.fold == fr.fold ? held : rest).push_back(&d);
  fr.prediction = summarise_ranks(fr.valid_cells, held, capture);
  fr.training = summarise_ranks(fr.valid_cells, rest, capture);
}

/// Trains fold f's model (quietly) and scores it into `fr`; a failed training is kept in
/// fr.error with no figures.
void retrain_fold(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                  kernels::Backend& backend, const ValidationResult& vr, FoldResult& fr) {
  const FoldExclusion ex = exclusion_of(vr, fr.fold, ctx.grid);
  // The fold model's side files (weights tables) are checked and staged here and never
  // committed: they are removed with this set. Its table goes into the report instead.
  StagedFiles scratch(true);
  const auto t0 = Clock::now();
  std::unique_ptr<Trained> trained;
  try {
    const QuietInfo quiet;
    trained = train_model({m, ctx.grid, ctx.sources, backend, ctx.map, scratch, ctx.windows,
                           engine_device(opt.device, opt.devices), &ex});
  } catch (const gp::input_error& e) {
    fr.error = e.what();
  } catch (const gp::config_error& e) {
    fr.error = e.what();
  }
  fr.seconds_train = seconds_since(t0);
  const std::vector<double>& capture = m.validation.capture_percent;
  if (!trained) {
    gp::log::warning("validation: fold " + std::to_string(fr.fold + 1) +
                     " could not be retrained, it has no figures: " + fr.error);
    fr.prediction = summarise_ranks(0, {}, capture);
    fr.training = summarise_ranks(0, {}, capture);
    return;
  }
  fr.trained = trained->trained_table();
  drop_scratch_paths(fr.trained);
  const auto t1 = Clock::now();
  ProgramScorer scorer(ctx, backend, {{trained->program, trained->aux}});
  score_fold(scorer, ctx, opt, capture, vr, fr);
  fr.seconds_score = seconds_since(t1);
  gp::log::info("validation: fold " + std::to_string(fr.fold + 1) + " retrained (" +
                text::significant(fr.seconds_train, 3) + " s) and scored (" +
                text::significant(fr.seconds_score, 3) + " s): held-out success-rate AUC " +
                text::significant(fr.prediction.auc, 4) + ", ROC AUC " +
                text::significant(fr.prediction.roc_auc, 4) + " (" +
                std::to_string(fr.prediction.deposits) + " deposits)");
}

}  // namespace

void retrain_folds(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                   ValidationResult& vr) {
  if (vr.folds.empty()) return;
  if (cluster::size() > 1) {
    gp::log::warning("validation: under mpirun the folds are not retrained (training is "
                     "collective and validation runs on rank 0); " +
                     rescoring_note(vr.model_kind));
    return;
  }
  ChosenBackend chosen = choose_backend(opt.device, opt.devices, opt.threads);
  for (FoldResult& fr : vr.folds) retrain_fold(m, opt, ctx, *chosen.backend, vr, fr);
  vr.retrained = true;
}

}  // namespace gp::cli
