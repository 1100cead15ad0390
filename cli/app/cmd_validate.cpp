// `geoprospect validate MAP.tif --deposits DEPOSITS [--band N] [--out DIR] ...`: success-rate
// and ROC curves, AUCs and capture efficiency of a finished map (analysis/validation.hpp).

#include "analysis/validation.hpp"
#include "app/api.hpp"
#include "app/commands.hpp"
#include "model/deposit_source.hpp"
#include "plan/deposit_source.hpp"
#include "run/pipeline.hpp"
#include "run/deposit_checks.hpp"
#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/vector_source.hpp"
#include "gp/log.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace gp::cli {
namespace {

/// The map, the deposits and the options choosing and filtering them. Conflicts are declared
/// here (excludes / needs), so that they exit 2 as a bad command line naming both options.
void declare_input_options(CLI::App* c, ValidateArgs& a) {
  c->add_option("map", a.map, "The prospectivity map (GeoTIFF or any GDAL raster)")->required();
  c->add_option("--deposits", a.deposits, "Known deposits: any OGR point source or a CSV")->required();
  c->add_option("--band", a.options.band, "Band of the map holding the score")
      ->check(in_range(1, std::numeric_limits<int>::max()));
  c->add_option("--out", a.out, "Folder for <map>_validation.json/.svg, _success_rate.csv, _roc.csv, "
                                "_prediction_area.csv "
                                "(default: the map's folder; created when missing)");
  model::DepositSourceSpec& d = a.source;
  CLI::Option* layer = c->add_option("--layer", d.layer, "OGR layer of the deposits");
  CLI::Option* sql = c->add_option("--sql", d.sql, "OGR SQL selecting the deposits");
  layer->excludes(sql);
  c->add_option("--where", d.where, "OGR attribute filter on the deposits");
  CLI::Option* x_col = c->add_option("--x-column", d.x_column, "CSV: x / longitude column");
  CLI::Option* y_col = c->add_option("--y-column", d.y_column, "CSV: y / latitude column");
  x_col->needs(y_col);
  y_col->needs(x_col);
  c->add_option("--crs", d.crs, "CRS of the x/y columns (default EPSG:4326)");
  c->add_option("--name-column", d.name_column, "Attribute naming each deposit");
  CLI::Option* f_col =
      c->add_option("--filter-column", d.filter_column, "Keep deposits whose attribute ...");
  CLI::Option* f_contains =
      c->add_option("--filter-contains", d.filter_contains, "... contains this (case-insensitive)");
  CLI::Option* f_equals = c->add_option("--filter-equals", d.filter_equals, "... or equals this");
  f_contains->excludes(f_equals)->needs(f_col);
  f_equals->needs(f_col);
}

/// The split, the capture percentages and the engine, with their conflicts as above.
void declare_analysis_options(CLI::App* c, ValidateArgs& a) {
  CLI::Option* holdout =
      c->add_option("--holdout", a.options.holdout, "Hold out this fraction of the deposits (prediction rate)")
          ->check(in_range(0, 1));
  CLI::Option* kfold =
      c->add_option("--kfold", a.options.kfold, "Prediction-rate curves for k folds")->check(in_range(2, 100));
  holdout->excludes(kfold);
  c->add_option("--seed", a.options.seed, "Seed of the random split")
      ->check(in_range(0, static_cast<double>(std::numeric_limits<std::int64_t>::max())));
  CLI::Option* split_by =
      c->add_option("--split-by", a.options.split_by, "Attribute whose values are kept together in a split");
  CLI::Option* blocks =
      c->add_option("--blocks", a.options.block_km,
                    "Deal whole square blocks of this side (km, projected map) to the folds")
          ->check(CLI::PositiveNumber);
  blocks->excludes(split_by);
  c->parse_complete_callback([split_by, blocks, holdout, kfold] {
    // "needs one of": CLI11's needs() asks for all of them.
    for (const CLI::Option* o : {split_by, blocks}) {
      if (o->count() > 0 && holdout->count() == 0 && kfold->count() == 0) {
        throw CLI::ValidationError(o->get_name(), "needs --holdout or --kfold");
      }
    }
  });
  c->add_option("--capture", a.options.capture_percent, "Top percentages of the area for capture efficiency, e.g. 1,5,10")
      ->delimiter(',')
      ->check(in_range(0, 100));
  c->add_option("--device", a.device, "auto (CUDA when present), cpu, cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  c->add_option("--threads", a.options.threads, "CPU threads (0: all cores)")
      ->check(in_range(0, max_threads()));
  c->add_flag("--overwrite", a.overwrite, "Replace existing validation outputs");
}

/// The validation options of the command line. Throws gp::config_error (bad --capture).
ValidateOptions validate_options(const ValidateArgs& a) {
  for (double p : a.options.capture_percent) {
    if (!(p > 0.0 && p <= 100.0)) throw config_error("--capture: expected percentages in (0, 100]");
  }
  ValidateOptions o = a.options;
  o.map = a.map;
  model::DepositSourceSpec source = a.source;
  source.deposits = a.deposits;
  o.deposits = deposit_spec(source, "deposits " + a.deposits);
  o.device = parse_device(a.device);
  check_devices(o.device, {});
  return o;
}

/// The figures on stdout, then the files written.
void print_validation(const std::string& map, const ValidationResult& r,
                      const std::vector<std::filesystem::path>& files) {
  std::printf("validated %s: %zu deposits (%zu left out) on %llu valid cells (%s)\n", map.c_str(),
              r.deposits.size(), r.rejected.size(), static_cast<unsigned long long>(r.valid_cells),
              r.device.c_str());
  std::printf("success-rate AUC %.6f, ROC AUC %.6f\n", r.all.auc, r.all.roc_auc);
  std::string cap = "capture:";
  for (const auto& [p, f] : r.all.capture) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " top %g%% -> %.1f%%", p, 100.0 * f);
    cap += buf;
  }
  std::printf("%s\n", cap.c_str());
  const PredictionArea& pa = r.prediction_area;
  std::printf("prediction-area crossing: %.1f%% of deposits in %.1f%% of the area (threshold %g, "
              "normalised %.3f), density %.2f\n",
              pa.deposits_pct, pa.area_pct, pa.threshold, pa.threshold_normalised,
              pa.normalised_density);
  // The folds as drawn ("random", "spatial blocks of 25 km", ...): a finished map is never
  // retrained, said once.
  if (!r.folds.empty()) {
    std::printf("folds: %s; re-scored, not retrained\n", fold_assignment(r).c_str());
  }
  for (const auto& f : r.folds) {
    std::printf("%s %d: %zu held out, prediction-rate AUC %.6f, ROC AUC %.6f\n",
                r.split == "holdout" ? "hold-out" : "fold", f.fold + 1, f.prediction.deposits,
                f.prediction.auc, f.prediction.roc_auc);
  }
  for (const auto& p : files) std::printf("wrote %s\n", p.string().c_str());
}

/// The --out folder, created (with its missing parents, as `mkdir -p` would) when missing: the
/// folder is only for this command's outputs. Unless keep() is called, the folders it created
/// are removed again when they are still empty (a validation that fails leaves nothing behind).
class OutputFolder {
 public:
  OutputFolder(const std::filesystem::path& dir, const std::string& option) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
      created_.push_back(p);  // deepest first
      if (p == p.parent_path()) break;
    }
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) {
      remove_empty();
      throw io_error(option + ": cannot create folder " + dir.string() +
                     (ec ? ": " + ec.message() : std::string(" (a file has that name)")));
    }
    gp::log::info(option + ": created folder " + dir.string());
  }
  ~OutputFolder() {
    if (!kept_) remove_empty();
  }
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  void keep() { kept_ = true; }

 private:
  void remove_empty() noexcept {
    for (const auto& p : created_) {
      std::error_code ec;
      std::filesystem::remove(p, ec);  // only an empty folder goes; stop at the first that stays
      if (ec) break;
    }
  }
  std::vector<std::filesystem::path> created_;
  bool kept_{false};
};

}  // namespace

ValidateOutcome run_validate(const ValidateArgs& a) {
  geo::init_gdal(96, a.options.threads);
  reserve_threads(run_thread_count(a.options.threads));
  const ValidateOptions o = validate_options(a);
  const std::filesystem::path map(a.map);
  const std::filesystem::path dir =
      a.out.empty() ? (map.has_parent_path() ? map.parent_path() : std::filesystem::path("."))
                    : std::filesystem::path(a.out);
  const std::string stem = map.stem().string();
  geo::check_input_path(a.map, "the map");
  geo::check_input_path(a.deposits, "the deposits");
  // The inputs in the order given (the map, then the deposits' columns, layer and CRS) before
  // the outputs: a bad input is reported as such, not as outputs that exist.
  (void)geo::describe_raster(a.map, "the map");
  { const geo::VectorSource opens(o.deposits.source); }
  std::optional<OutputFolder> folder;
  if (!a.out.empty()) folder.emplace(dir, "--out");
  StagedFiles staged(a.overwrite, {{map, "the map"}, {a.deposits, "the deposits"}});
  for (const auto& p : validation_output_paths(dir, stem)) staged.check(p);
  ValidationResult r = validate_map(o);
  r.deposit_checks = check_deposit_states(o.deposits, "the deposits");
  const auto files = write_validation_outputs(r, dir, stem, "Validation of " + map.filename().string(),
                                              staged);
  staged.commit();  // all the files or none
  if (folder) folder->keep();
  return {std::move(r), files};
}

std::function<void()> setup_validate(CLI::App& app, GlobalOptions& global) {
  auto a = std::make_shared<ValidateArgs>();
  CLI::App* c = app.add_subcommand(
      "validate", "Success-rate / ROC curves, AUC and capture efficiency of a map against known deposits");
  add_quiet_flag(*c, global);
  declare_input_options(c, *a);
  declare_analysis_options(c, *a);
  return [a]() {
    const ValidateOutcome v = run_validate(*a);
    print_validation(a->map, v.result, v.files);
  };
}

}  // namespace gp::cli
