#pragma once
// Finishing a run's outputs: everything beside the map shares its base name, so `-o`
// moves them all. For a map `<base>.tif`:
//
//   <base>.tif             the score (+ [output] bands): Cloud-Optimized GeoTIFF by default
//                          (format = "cog"; "gtiff" keeps the streamed tiled GeoTIFF): 512 x 512
//                          tiles, the map's codec, AVERAGE overviews, nodata, band descriptions,
//                          statistics and GP_* metadata
//   <base>_classes.tif     band 1 cut into classes (cli/outputs/classes.hpp): Byte,
//                          1 = lowest .. N = highest, 0 = nodata, colour table, category names,
//                          MODE overviews (COG)
//   <base>.qml             QGIS style of the map (pseudocolour ramp over min..max)
//   <base>_classes.qml     QGIS style of the classes (paletted, labelled)
//   <base>_quicklook.png   band 1 with ramp, legend (its quantity, class breaks, deposits),
//                          coordinate ticks, north arrow and scale note
//   <base>_quicklook_<band>.png   the same for each further band (posterior_std, confidence, ...)
//   <base>_report.json     the run report (build_report)
//
// Every file is staged through one StagedFiles set (cli/outputs/staged_files.hpp), which the
// weights tables and the analyses' files join too: hidden temporaries beside their
// destinations, moved into place together, all or nothing (the map last), when the run is
// complete; no output may replace an input. Existing files are replaced only with --overwrite.

#include "model/model.hpp"
#include "run/runner.hpp"
#include "gp/geo/colormap.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/geo/raster_writer.hpp"
#include "outputs/staged_files.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

namespace gp::cli {

struct OutputPaths {
  std::filesystem::path map;
  std::filesystem::path classes;
  std::filesystem::path map_style;
  std::filesystem::path classes_style;
  std::filesystem::path quicklook;
  std::filesystem::path report;
};

/// The sidecar names for a map path: `<dir>/<stem>_classes.tif`, `<dir>/<stem>.qml`, ...
OutputPaths output_paths(const std::filesystem::path& map);

/// SHA-256 (hex) of a file's bytes, read in 1 MiB chunks. Throws gp::input_error.
/// `cancel`, when given and set, stops early (the result is then empty).
std::string sha256_file(const std::filesystem::path& path, const std::atomic<bool>* cancel = nullptr);

/// One input as the report lists it.
struct InputDigest {
  std::string path;
  std::uintmax_t bytes{0};
  std::string sha256;  ///< empty when it could not be read (error says why)
  std::string error;
};

class OutputSet {
 public:
  /// Checks that every file the spec asks for can be written (folder writable; absent unless
  /// `overwrite`; throws gp::io_error), and starts hashing the inputs in the background when a
  /// report is asked for. `m` must outlive this object.
  OutputSet(const model::Model& m, std::filesystem::path map, bool overwrite, int threads,
            std::vector<ProtectedInput> inputs);
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  /// Where the streaming writer must put the finished map (a temporary name beside the map).
  [[nodiscard]] const std::filesystem::path& map_temp() const { return map_temp_; }

  /// Adjusts the streaming writer's options for that staging file. With format "cog" the
  /// writer also streams the overview levels (staged files of their own) and the COG is then
  /// assembled from the compressed tiles of both without decoding any (geo::assemble_cog), so
  /// the staged map keeps the map's own codec and predictor. Unchanged for "gtiff".
  void configure_writer(geo::WriterOptions& w, const geo::Grid& grid);
  [[nodiscard]] const OutputPaths& paths() const { return paths_; }
  /// The run's staged files: other steps (weights tables, validation, uncertainty) add theirs.
  [[nodiscard]] StagedFiles& files() { return files_; }

  /// After the writer committed to map_temp(): COG, classes, styles, quicklook, report; then
  /// moves everything staged into place. Fills res.files, res.output_seconds, res.seconds_outputs.
  /// Throws gp::io_error; nothing is left in place or behind on failure.
  void finish(RunResult& res);

 private:
  using Clock = std::chrono::steady_clock;
 public:
  /// One quicklook: its options, destination and staged temporary.
  struct BandPicture {
    geo::QuicklookOptions options;
    std::filesystem::path dst;
    std::filesystem::path staged;
  };

 private:
  /// What finish() has made so far: staged files and what the styles need.
  struct Finished {
    std::filesystem::path map;        ///< the staged map (GeoTIFF, or its COG copy)
    std::filesystem::path classes;    ///< the staged class raster (empty: none)
    std::vector<BandPicture> quicklooks;  ///< the staged PNGs (band 1 first; empty: none)
    std::string map_style;
    std::string classes_style;
    std::vector<std::string> class_labels;
    std::vector<geo::Rgb> colors;
    std::vector<double> class_thresholds;  ///< the class raster's (when written)
  };
  static void stage_time(RunResult& res, const char* name, Clock::time_point t0);
  std::filesystem::path write_classes(RunResult& res, Finished& f);
  std::filesystem::path write_map_cog(RunResult& res);
  /// Stages the map's quicklooks: band 1 as paths().quicklook, every further band with data as
  /// `<base>_quicklook_<band name>.png`, each with the run's deposits.
  std::vector<BandPicture> stage_quicklooks(const RunResult& res, double smin, double smax);
  /// Draws `pics` of `map` (staged by the caller); runs beside write_classes, so it touches no
  /// member: band 1's class breaks come from `breaks` once the classes are known.
  static void draw_quicklooks(const std::filesystem::path& map, const std::vector<BandPicture>& pics,
                              const std::shared_future<std::vector<double>>& breaks);
  void write_report(RunResult& res, const Finished& f, Clock::time_point t_all);

  const model::Model& m_;
  OutputPaths paths_;
  int threads_;
  StagedFiles files_;
  std::filesystem::path map_temp_;
  std::vector<std::filesystem::path> overview_temps_;  ///< streamed overview levels (COG)
  std::string started_utc_;
  std::atomic<bool> cancel_{false};
  std::future<std::vector<InputDigest>> digests_;
};

/// The JSON run report: geoprospect version, model (file, SHA-256), every input (path, CRS,
/// size, band, read mode, SHA-256), grid, device, per-stage timings, statistics and counts,
/// classes, output files, and every section of res.report (other steps' additions: weights
/// tables, validation, uncertainty) at top level. `inputs` may be empty (no checksums).
nlohmann::ordered_json build_report(const model::Model& m, const RunResult& res,
                                    const std::vector<InputDigest>& inputs);

/// Every file a model run reads (model file, layers, boundary, deposits): no output may
/// replace one of them.
std::vector<ProtectedInput> run_inputs(const model::Model& m);

/// The quantity a model's map (band 1) holds, as legends name it: "posterior probability"
/// (weights of evidence), "probability" (logistic regression, tree ensembles), "fuzzy
/// membership" (fuzzy operators) or "score" (weighted sum, index overlay).
std::string map_quantity(const model::Model& m);

/// The quantity of a named band: band 1's (map_quantity), "standard deviation" (posterior_std,
/// std), "confidence, P / s(P)", the uncertainty summaries ("mean of the draws", ...), or
/// "score" for a group or layer band.
std::string band_quantity(const model::Model& m, const std::string& band_name);

/// The quicklook options every picture of a run starts from: the model's name as title, its
/// quantity, `colormap` over min..max, and for trained models (weights of evidence, logistic,
/// tree ensembles: skewed maps) a 2-98 % percentile stretch.
geo::QuicklookOptions quicklook_options(const model::Model& m, const std::string& colormap,
                                        double min, double max);

/// A band name made safe for a file name (letters, digits, '_' and '-'; others become '_').
std::string picture_tag(const std::string& band_name);

/// The TIFF predictor of every Float32 raster a run writes: floating point (3) when compressed,
/// none (1) for COMPRESS=NONE.
int predictor_for(const std::string& compress);

}  // namespace gp::cli
