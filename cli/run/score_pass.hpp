#pragma once
// The scoring pass: every window read (a reader thread), scored by one fused kernel for the
// whole network with per-row-segment band statistics (this thread), and written in order (a
// writer thread), `depth` window slots circulating between the three (run/pipeline.hpp). Under
// MPI each rank scores its own windows and rank 0 receives the others', folds their statistics
// and writes every window in order.

#include "plan/windows.hpp"
#include "run/cell_capture.hpp"
#include "train/trained.hpp"

#include "gp/geo/raster_source.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/kernels/backend.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace gp::cli {

struct ScorePassInput {
  const WindowPlan& windows;
  std::vector<std::unique_ptr<geo::RasterSource>>& sources;
  kernels::Backend& backend;
  std::size_t n_bands{1};
  float out_nodata{-9999.0f};
  int threads{0};
  int depth{2};
  /// The statistics pass's window buffers (one per layer), reused as the first slot's inputs.
  std::vector<kernels::HostFloats> first_inputs;
  geo::RasterWriter* writer{nullptr};  ///< rank 0's writer (null on other ranks)
  Trained* trained{nullptr};           ///< sees every scored window in order on rank 0
  std::function<void(double)> progress;
  /// Keeps the inputs at its cells as their windows are scored (rank 0, one process only:
  /// under mpirun it is abandoned, and the analyses read those windows again).
  CellCapture* capture{nullptr};
};

struct ScorePassResult {
  std::vector<kernels::LayerStats> bands;  ///< per band, over the whole map (rank 0)
  std::vector<std::uint64_t> layer_valid;  ///< per layer, valid cells read in this pass (all ranks)
};

/// Runs the pass. Collective under MPI. Throws what reading, scoring or writing throws.
ScorePassResult run_score_pass(ScorePassInput in);

}  // namespace gp::cli
