#include "run/runner.hpp"

#include "analysis/program_scorer.hpp"
#include "analysis/uncertainty.hpp"
#include "outputs/outputs.hpp"
#include "plan/grid.hpp"
#include "plan/program.hpp"
#include "plan/vector_plan.hpp"
#include "run/cluster.hpp"
#include "run/deposit_checks.hpp"
#include "run/progress.hpp"
#include "run/score_pass.hpp"
#include "run/stats_pass.hpp"
#include "train/trained.hpp"

#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/territory.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

namespace gp::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

using Sources = std::vector<std::unique_ptr<geo::RasterSource>>;

/// A progress bar over the run's layer-window reads.
class WorkProgress {
 public:
  WorkProgress(bool enabled, ProgressCallback callback, double total)
      : bar_(enabled, std::move(callback)), total_(total) {
    bar_.stage("statistics");
    bar_.update(0.0);
  }
  void stage(const char* message) { bar_.stage(message); }
  void add(double units) {
    done_ += units;
    bar_.update(std::min(1.0, done_ / total_));
  }
  void finish() {
    bar_.stage("outputs");
    bar_.update(1.0);
  }

 private:
  Progress bar_;
  double total_;
  double done_{0.0};
};

Sources open_sources(const model::Model& m, const geo::Grid& grid, RunResult& res) {
  Sources sources;
  for (const auto& L : m.layers) {
    sources.push_back(
        std::make_unique<geo::RasterSource>(L.path.string(), L.band, L.resampling, grid, L.what()));
    res.layer_modes.emplace_back(sources.back()->direct() ? "direct" : "warped");
  }
  return sources;
}

geo::WriterOptions map_writer_options(const model::Model& m, const RunOptions& opt,
                                      const std::vector<std::string>& names,
                                      const RunResult& res, OutputSet& outputs) {
  geo::WriterOptions wopt;
  wopt.compress = m.output.compress;
  const bool predicts = m.output.compress == "ZSTD" || m.output.compress == "DEFLATE" ||
                        m.output.compress == "LZW";
  wopt.predictor = predicts ? 3 : 1;
  wopt.nodata = m.output.nodata;
  wopt.report_as = res.output;  // messages name the map asked for, not its staging name
  wopt.threads = opt.threads;
  wopt.band_descriptions = names;
  wopt.metadata["GP_MODEL_NAME"] = m.name;
  wopt.metadata["GP_MODEL_SHA256"] = m.sha256;
  wopt.metadata["GP_VERSION"] = GP_VERSION;
  wopt.metadata["GP_FINAL_GROUP"] = m.combine.final;
  outputs.configure_writer(wopt, res.grid);  // the staging file's codec, overviews
  return wopt;
}

/// Each band's statistics into the result and the map's metadata (what QGIS shows).
void record_band_stats(const std::vector<std::string>& names,
                       const std::vector<kernels::LayerStats>& acc, geo::RasterWriter& writer,
                       RunResult& res) {
  for (std::size_t b = 0; b < names.size(); ++b) {
    BandStats bs;
    bs.name = names[b];
    bs.valid = acc[b].valid;
    bs.nodata = acc[b].invalid;  // cells holding the nodata value (or not a number)
    bs.min = acc[b].min;
    bs.max = acc[b].max;
    bs.mean = acc[b].mean;
    bs.stddev = acc[b].stddev();
    if (bs.valid > 0) {
      writer.set_statistics(static_cast<int>(b) + 1, bs.min, bs.max, bs.mean, bs.stddev);
    }
    res.bands.push_back(bs);
  }
  res.valid_cells = res.bands[0].valid;
  res.nodata_cells = res.bands[0].nodata;
  res.min = res.bands[0].min;
  res.max = res.bands[0].max;
  res.mean = res.bands[0].mean;
}

/// NaN / infinity inside valid cells are nodata, counted and reported; a layer with no valid
/// cell on the grid, or a map with no valid cell, is an error (no output), not a map.
void check_layers(const model::Model& m, const Sources& sources,
                  const std::vector<std::uint64_t>& invalid_before,
                  const std::vector<std::uint64_t>& layer_valid, RunResult& res) {
  nlohmann::ordered_json invalid_report = nlohmann::ordered_json::object();
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    const auto& L = m.layers[l];
    res.layer_invalid.push_back(sources[l]->invalid_cells() - invalid_before[l]);
    invalid_report[L.name] = res.layer_invalid.back();
    if (res.layer_invalid.back() > 0) {
      gp::log::warning(L.what() + ": " + std::to_string(res.layer_invalid.back()) +
                       " cells hold NaN or infinity (not its nodata value); treated as nodata");
    }
    if (layer_valid[l] == 0) {
      const std::string empty = L.what() + ": " + L.input_path().string() +
                                " has no valid cell on the grid (every cell is nodata: check its "
                                "nodata value, band and extent)";
      if (!L.missing_skip) throw input_error(empty + "; the map would be all nodata");
      gp::log::warning(empty + "; it is skipped everywhere (missing = \"skip\")");
    }
  }
  res.report["invalid_input_cells"] = invalid_report;
  if (res.valid_cells == 0) {
    throw input_error("every cell of the result is nodata: no cell of the grid has valid values "
                      "in all the layers it needs (check the layers' nodata values and extents)");
  }
}

/// The run, with the files it must not overwrite: those of the model as the user wrote it
/// (a vector plan replaces vector layers by temporary rasters, and the inputs stay the user's).
RunResult run_model_protecting(const model::Model& m, const RunOptions& opt,
                               const std::vector<ProtectedInput>& inputs) {
  RunResult res;
  res.output = opt.output.empty() ? m.output.path : opt.output;
  if (res.output.empty()) {
    throw config_error("no output path: set [output] path in the model or pass -o OUT.tif");
  }
  // The model and its inputs first (grid, CRS, units, layers' footprints): a broken model is
  // reported as such, not as an output that exists. Cheap: nothing is read or written yet.
  if (needs_vector_plan(m)) {
    GridPlan grid_plan = plan_grid(m);
    StagedFiles(opt.overwrite, inputs).check(res.output);
    // Vector layers and the territory mask become temporary rasters on the grid (in the
    // output folder, removed when `plan` goes, also on failure); then a raster-only run. Under
    // mpirun every rank materialises its own copy (names carry the rank), so no rank waits on
    // another's files; the copies are identical, and each rank reads its windows.
    const VectorPlan plan(m, std::move(grid_plan), res.output, opt);
    return run_model_protecting(plan.model(), opt, inputs);
  }
  const geo::Grid grid = resolve_grid(m);
  StagedFiles(opt.overwrite, inputs).check(res.output);
  // Side files checked up front; every file of the run is staged in outputs.files().
  OutputSet outputs(m, res.output, opt.overwrite, opt.threads, inputs);
  res.grid = grid;
  if (const std::string w = geo::area_of_use_warning(grid); !w.empty()) gp::log::warning(w);
  check_deposit_states(m, res);
  ChosenBackend chosen = choose_backend(opt.device, opt.devices, opt.threads);
  kernels::Backend& backend = *chosen.backend;
  res.device = backend.name();
  gp::log::info("device: " + res.device + " (" + chosen.why + ")");
  gp::log::info("grid: " + std::to_string(grid.width) + " x " + std::to_string(grid.height) +
                " cells of " + text::shortest_plain(grid.dx) + " x " + text::shortest_plain(grid.dy) +
                " in " + geo::crs_label_wkt(grid.crs_wkt));
  Sources sources = open_sources(m, grid, res);
  const WindowPlan windows = plan_windows(grid.width, grid.height, opt.window_rows, opt.window_cells);
  res.report["windows"] = {{"rows", windows.rows}, {"cols", windows.cols}, {"count", windows.count()}};
  const std::size_t n_layers = m.layers.size();
  WorkProgress progress(opt.progress, opt.on_progress, static_cast<double>(windows.count()) *
                                          static_cast<double>(n_layers + statistics_reads_per_window(m)));
  auto add_progress = [&progress](double units) { progress.add(units); };

  // Window buffers from the backend: pinned host memory on CUDA (full-speed transfers).
  std::vector<kernels::HostFloats> buf;
  for (std::size_t l = 0; l < n_layers; ++l) buf.push_back(backend.host_floats(windows.max_cells()));
  const auto t_stats = Clock::now();
  LayerStatistics ls = gather_layer_statistics(m, sources, windows, backend, buf, add_progress);
  res.seconds_stats = seconds_since(t_stats);
  res.layer_stats = ls.stats;
  if (auto ts = transform_stats_json(m, ls); !ts.empty()) res.report["transform_stats"] = ts;

  // Trained methods (weights of evidence, logistic regression) train on the deposits first;
  // their program, band names and report sections replace the model's own. Under mpirun every
  // rank trains on its own windows and ends with the same program.
  std::unique_ptr<Trained> trained;
  if (is_trained_method(m)) {
    trained = train_model(
        {m, grid, sources, backend, res.output, outputs.files(), windows,
         engine_device(opt.device, opt.devices)});
  }
  std::vector<double> aux;
  const kernels::Program program =
      trained ? trained->program : build_program(m, ls.stats, ls.percentiles, aux);
  if (trained) aux = trained->aux;
  backend.set_program(program, aux);

  // Scoring pass: read every layer's window, one fused kernel for the whole network, write.
  progress.stage("scoring");
  const auto t_score = Clock::now();
  const std::vector<std::string> names = trained ? trained->band_names : band_names(m);
  std::optional<geo::RasterWriter> writer;  // only rank 0 writes; the others send it windows
  if (cluster::is_root()) {
    writer.emplace(outputs.map_temp(), grid, map_writer_options(m, opt, names, res, outputs));
  }
  std::vector<std::uint64_t> invalid_before(n_layers, 0);
  for (std::size_t l = 0; l < n_layers; ++l) invalid_before[l] = sources[l]->invalid_cells();
  // The analyses that score the deposits again with other programs take their inputs from here.
  const std::unique_ptr<CellCapture> capture = analysis_capture(m, grid, n_layers);
  const ScorePassResult scored = run_score_pass(
      {windows, sources, backend, names.size(), program.out_nodata, opt.threads,
       opt.pipeline_depth, std::move(buf), writer ? &*writer : nullptr, trained.get(), add_progress,
       capture.get()});
  if (!cluster::is_root()) {
    res.seconds_score = seconds_since(t_score);
    return res;  // rank 0 finishes, checks and writes the outputs
  }
  record_band_stats(names, scored.bands, *writer, res);
  check_layers(m, sources, invalid_before, scored.layer_valid, res);
  writer->close();
  res.seconds_score = seconds_since(t_score);
  progress.finish();

  // [validation] and [uncertainty] on the finished map, then every output into place.
  run_analyses(m, opt,
               {grid, program, aux, sources, windows, outputs.map_temp(), outputs.files(),
                &ls.stats, &ls.percentiles, capture.get(), m.output.format == model::OutputFormat::cog},
               res);
  if (trained) trained->before_outputs(res);  // report sections, weights tables
  outputs.finish(res);  // COG, classes, styles, quicklook, report; then all into place
  return res;
}

}  // namespace

RunResult run_model(const model::Model& m, const RunOptions& opt) {
  const std::vector<ProtectedInput> inputs = run_inputs(m);
  // Before anything opens them: a FIFO given as a layer would block the first open forever.
  for (const auto& in : inputs) geo::check_input_path(in.path.string(), in.what);
  return run_model_protecting(m, opt, inputs);
}

}  // namespace gp::cli
