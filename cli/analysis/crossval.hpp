#pragma once
// Cross-validation that retrains: for a trained method ([combine] method with a
// training::Trainer in train/training.cpp's table), each fold of [validation]'s split gets its
// own model, trained by the same trainer with the fold's held-out deposits (and, with
// buffer_km, the deposits and cells near them) left out (FoldExclusion, train/trained.hpp),
// and its held-out deposits are scored by that model.
//
// Exactness and cost. A fold's figures are those of validation.hpp for the fold model's map,
// without writing it: one pass over the windows that hold a deposit scores the deposits (their
// Float32 scores, as the map would hold them), then one pass over every window scores every
// cell and counts it into the rank counter's slots between the deposits' scores (the same
// counter as the validation pass). Per fold: the trainer's passes + 2 scoring passes (the
// first only over windows with deposits); memory: the windows' buffers, as a run.

#include "analysis/uncertainty.hpp"
#include "analysis/validation.hpp"
#include "model/model.hpp"
#include "run/runner.hpp"

namespace gp::cli {

/// Retrains every fold of `vr` (its deposits' folds as validate_map assigned them) with the
/// model's trainer and replaces each fold's figures by those of its own model; sets
/// vr.retrained. A fold whose training fails (gp::input_error / config_error: too few deposits
/// left, a class without deposits) keeps no figures and says why in FoldResult::error, with
/// one warning. Not under mpirun with more than one rank (training is collective there, the
/// analyses run on rank 0): the folds are then re-scored, with a warning.
void retrain_folds(const model::Model& m, const RunOptions& opt, const AnalysisContext& ctx,
                   ValidationResult& vr);

}  // namespace gp::cli
