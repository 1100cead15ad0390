#include "outputs/outputs.hpp"

#include "outputs/classes.hpp"
#include "outputs/qml.hpp"
#include "outputs/staged_raster.hpp"
#include "analysis/validation.hpp"

#include "gp/error.hpp"
#include "gp/geo/band_scan.hpp"
#include "gp/geo/cog.hpp"
#include "gp/geo/colormap.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/overviews.hpp"
#include "gp/geo/quicklook.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/raster_writer.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

namespace gp::cli {
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Class colours: the colour map sampled evenly from its low to its high end.
std::vector<geo::Rgb> class_colors(const std::string& colormap, std::size_t n) {
  std::vector<geo::Rgb> c;
  for (std::size_t i = 0; i < n; ++i) {
    c.push_back(geo::colormap_at(colormap, n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 1.0));
  }
  return c;
}

std::vector<InputDigest> digest_inputs(std::vector<std::string> paths,
                                       const std::atomic<bool>* cancel) {
  std::vector<InputDigest> out;
  std::map<std::string, InputDigest> seen;
  for (const auto& p : paths) {
    auto it = seen.find(p);
    if (it == seen.end()) {
      InputDigest d;
      d.path = p;
      std::error_code ec;
      d.bytes = fs::file_size(p, ec);
      try {
        d.sha256 = sha256_file(p, cancel);
      } catch (const std::exception& e) {
        d.error = e.what();
      }
      it = seen.emplace(p, d).first;
    }
    out.push_back(it->second);
  }
  return out;
}

}  // namespace

OutputPaths output_paths(const fs::path& map) {
  const fs::path dir = map.parent_path();
  const std::string stem = map.stem().string();
  OutputPaths p;
  p.map = map;
  p.classes = dir / (stem + "_classes.tif");
  p.map_style = dir / (stem + ".qml");
  p.classes_style = dir / (stem + "_classes.qml");
  p.quicklook = dir / (stem + "_quicklook.png");
  p.report = dir / (stem + "_report.json");
  return p;
}

std::string sha256_file(const fs::path& path, const std::atomic<bool>* cancel) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw input_error(path.string() + ": cannot be read for its checksum");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw input_error(path.string() + ": SHA-256 is not available");
  }
  std::vector<unsigned char> buf(std::size_t{1} << 20);
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return {};
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
  }
  if (std::ferror(f.get()) != 0) throw input_error(path.string() + ": read error");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return text::hex(md, len);
}

std::vector<ProtectedInput> run_inputs(const model::Model& m) {
  std::vector<ProtectedInput> in;
  if (!m.file.empty()) in.push_back({m.file, "the model file"});
  for (const auto& L : m.layers) {
    if (!L.mask) in.push_back({L.path, "layer '" + L.name + "'"});
  }
  if (m.grid.boundary) in.push_back({*m.grid.boundary, "the [grid] boundary"});
  if (m.training.given) in.push_back({m.training.deposits, "the [training] deposits"});
  if (m.validation.given) in.push_back({m.validation.deposits, "the [validation] deposits"});
  return in;
}

OutputSet::OutputSet(const model::Model& m, fs::path map, bool overwrite, int threads,
                     std::vector<ProtectedInput> inputs)
    : m_(m),
      paths_(output_paths(fs::absolute(map))),
      threads_(threads),
      files_(overwrite, std::move(inputs)),
      started_utc_(utc_now()) {
  const auto& o = m_.output;
  if (!geo::is_colormap(o.colormap)) {
    throw config_error("[output] colormap: unknown '" + o.colormap + "'");
  }
  std::vector<fs::path> sidecars;
  std::vector<fs::path> rasters{paths_.map};
  if (o.style) sidecars.push_back(paths_.map_style);
  if (o.style && o.classes.method != model::ClassMethod::none) sidecars.push_back(paths_.classes_style);
  if (o.quicklook) sidecars.push_back(paths_.quicklook);
  if (o.report) sidecars.push_back(paths_.report);
  const fs::path dir = paths_.map.parent_path();
  const std::string stem = paths_.map.stem().string();
  if (m_.validation.given) {
    for (const auto& p : validation_output_paths(dir, stem)) sidecars.push_back(p);
  } else if (m_.training.given) {
    sidecars.push_back(training_deposits_gpkg_path(dir, stem));  // the training deposits on the map
  }
  if (m_.uncertainty.given) {
    rasters.push_back(dir / (stem + "_uncertainty.tif"));
    if (o.style) sidecars.push_back(dir / (stem + "_uncertainty.qml"));
    for (const char* b : {"mean", "std", "p_top"}) {
      if (o.quicklook) sidecars.push_back(dir / (stem + "_uncertainty_" + b + ".png"));
    }
  }
  // Contributions: the raster and its default style; the per-band files, whose number the
  // program decides, are checked when they are staged (outputs/contributions.hpp).
  if (o.contributions) rasters.push_back(dir / (stem + "_contributions.tif"));
  if (o.contributions && o.style) sidecars.push_back(dir / (stem + "_contributions.qml"));
  if (o.classes.method != model::ClassMethod::none) rasters.push_back(paths_.classes);
  for (const auto& p : rasters) files_.check(p, true);
  for (const auto& p : sidecars) {
    if (p == paths_.map) {
      throw config_error("[output] path " + paths_.map.string() + ": a side file would have the "
                         "same name (use a name ending .tif)");
    }
    files_.check(p);
  }
  map_temp_ = files_.temporary(paths_.map, "gtiff");
  if (o.report) {
    std::vector<std::string> layer_paths;
    for (const auto& L : m_.layers) layer_paths.push_back(L.input_path().string());
    digests_ = std::async(std::launch::async, digest_inputs, std::move(layer_paths), &cancel_);
  }
}

void OutputSet::configure_writer(geo::WriterOptions& w, const geo::Grid& grid) {
  if (m_.output.format != model::OutputFormat::cog) return;
  // The COG's tiles are the staged map's, copied compressed: the map's codec and predictor.
  w.compress = m_.output.compress;
  w.predictor = predictor_for(m_.output.compress);
  overview_temps_ = stream_cog_overviews(files_, paths_.map, grid, w);
}

OutputSet::~OutputSet() {
  cancel_ = true;
  if (digests_.valid()) digests_.wait();
}

namespace {

/// The classes section of the run report: thresholds and, per class, cells, share and area.
nlohmann::ordered_json classes_report(const model::ClassSpec& spec, const ClassPlan& plan,
                                      const geo::FineHistogram& hist,
                                      const std::vector<std::uint64_t>& counts,
                                      const std::vector<geo::Rgb>& colors, const geo::Grid& grid) {
  nlohmann::ordered_json cj;
  cj["method"] = model::name_str(plan.method);
  if (plan.method == model::ClassMethod::quantile) cj["top_percent"] = spec.top;
  if (plan.method == model::ClassMethod::natural) cj["n"] = spec.n;
  cj["thresholds"] = plan.thresholds;
  if (!hist.count.empty()) cj["histogram_bins"] = hist.count.size();  // none for breaks
  const double cell_area = grid.dx * grid.dy;
  const double unit_m = geo::crs_linear_unit_m(grid.crs_wkt);
  const std::size_t n = plan.names.size();
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < n; ++c) {
    nlohmann::ordered_json e;
    e["value"] = c + 1;
    e["name"] = plan.names[c];
    e["label"] = plan.labels[c];
    e["from"] = c == 0 ? nlohmann::ordered_json() : nlohmann::ordered_json(plan.thresholds[c - 1]);
    e["to"] = c + 1 == n ? nlohmann::ordered_json() : nlohmann::ordered_json(plan.thresholds[c]);
    e["colour"] = geo::to_hex(colors[c]);
    e["cells"] = counts[c + 1];
    e["percent_of_valid"] =
        hist.valid > 0 ? 100.0 * static_cast<double>(counts[c + 1]) / static_cast<double>(hist.valid)
                       : 0.0;
    if (unit_m > 0.0) {
      e["area_km2"] = static_cast<double>(counts[c + 1]) * cell_area * unit_m * unit_m / 1e6;
    }
    list.push_back(e);
  }
  cj["classes"] = list;
  return cj;
}

}  // namespace

void OutputSet::stage_time(RunResult& res, const char* name, Clock::time_point t0) {
  res.output_seconds.emplace_back(name, seconds_since(t0));
}

fs::path OutputSet::write_classes(RunResult& res, Finished& f) {
  const auto& o = m_.output;
  const auto t0 = Clock::now();
  gp::log::info("classifying the score (" + model::name_str(o.classes.method) + ")");
  // Explicit breaks need no histogram pass: the classification pass counts the classes.
  geo::FineHistogram hist;
  if (o.classes.method == model::ClassMethod::breaks) {
    hist.valid = res.valid_cells;
  } else {
    hist = geo::histogram_band(f.map, 1);
    stage_time(res, "classes_histogram", t0);
  }
  const auto t1 = Clock::now();
  const ClassPlan plan = plan_classes(o.classes, hist);
  if (!plan.warning.empty()) gp::log::warning(plan.warning);
  f.colors = class_colors(o.colormap, plan.names.size());
  f.class_labels = plan.labels;
  f.class_thresholds = plan.thresholds;
  // The class raster streamed: the finished map read once, each strip classified and written
  // as Byte tiles with MODE overview levels beside them, the COG assembled from both.
  geo::WriterOptions w;
  w.type = geo::PixelType::byte;
  w.compress = o.compress;
  w.predictor = 1;
  w.tile = geo::CogOptions{}.blocksize;
  w.threads = threads_;
  w.nodata = 0.0;
  w.band_descriptions = {"class"};
  w.overview_resampling = "MODE";
  w.category_names.emplace_back("");
  w.category_names.insert(w.category_names.end(), plan.names.begin(), plan.names.end());
  w.colors.push_back({0, 0, 0});
  w.colors.insert(w.colors.end(), f.colors.begin(), f.colors.end());
  std::string thr;
  for (double t : plan.thresholds) thr += (thr.empty() ? "" : " ") + text::significant(t, 9);
  w.metadata = {{"GP_MODEL_NAME", m_.name},
                {"GP_MODEL_SHA256", m_.sha256},
                {"GP_VERSION", GP_VERSION},
                {"GP_CLASS_METHOD", model::name_str(plan.method)},
                {"GP_CLASS_THRESHOLDS", thr}};
  StagedRaster out(files_, paths_.classes, res.grid, w, o.format == model::OutputFormat::cog);
  const std::vector<std::uint64_t> counts = geo::classify_rows(
      f.map, 1, plan.thresholds,
      [&out](const float* v, std::int64_t rows) { out.writer().write_rows(v, rows); });
  const fs::path done = out.finish();
  stage_time(res, "classes_write", t1);
  res.report["classes"] = classes_report(o.classes, plan, hist, counts, f.colors, res.grid);
  stage_time(res, "classes", t0);
  return done;
}

fs::path OutputSet::write_map_cog(RunResult& res) {
  // The COG: assembled from the streamed map and overviews, or (a writer configured without
  // them) a copy of the streamed GeoTIFF with overviews built from the written file.
  const auto t0 = Clock::now();
  gp::log::info("writing the Cloud-Optimized GeoTIFF (overviews, layout)");
  fs::path cog;
  if (overview_temps_.empty()) {
    geo::CogOptions co;
    co.compress = m_.output.compress;
    co.predictor = predictor_for(m_.output.compress);
    co.overview_resampling = "AVERAGE";
    co.threads = threads_;
    cog = files_.temporary(paths_.map, "cog");
    geo::write_cog(map_temp_, cog, co, "output " + paths_.map.string());
    files_.discard(map_temp_);
  } else {
    // The overviews were streamed with the map: copy the compressed tiles into COG order.
    cog = assemble_staged_cog(files_, paths_.map, map_temp_, overview_temps_);
  }
  stage_time(res, "cog", t0);
  return cog;
}

std::string map_quantity(const model::Model& m) {
  using M = model::Method;
  switch (m.combine.method) {
    case M::wofe: return "posterior probability";
    case M::logistic:
    case M::boosted_trees:
    case M::random_forest: return "probability";
    case M::fuzzy_and:
    case M::fuzzy_or:
    case M::fuzzy_product:
    case M::fuzzy_sum:
    case M::fuzzy_gamma: return "fuzzy membership";
    case M::weighted_sum:
    case M::index_overlay: return "score";
  }
  return "score";
}

std::string band_quantity(const model::Model& m, const std::string& band_name) {
  if (band_name == "posterior" || band_name == "prospectivity") return map_quantity(m);
  if (band_name == "posterior_std") return "standard deviation";
  if (band_name == "confidence") return "confidence, P / s(P)";
  if (band_name == "mean") return "mean of the draws";
  if (band_name == "std") return "standard deviation";
  if (band_name == "p05") return "5th percentile";
  if (band_name == "p95") return "95th percentile";
  if (band_name == "p_top") return "P(in the top)";
  return "score";
}

geo::QuicklookOptions quicklook_options(const model::Model& m, const std::string& colormap,
                                        double min, double max) {
  geo::QuicklookOptions qo;
  qo.title = m.name;
  qo.legend_label = map_quantity(m);
  qo.colormap = colormap;
  qo.min = min;
  qo.max = max;
  if (model::is_trained(m.combine.method)) {  // skewed: a few cells near 1, most near 0
    qo.stretch_low_pct = 2.0;
    qo.stretch_high_pct = 98.0;
  }
  return qo;
}

std::string picture_tag(const std::string& band_name) {
  std::string t;
  for (char ch : band_name) {
    const bool plain = std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-';
    t += plain ? ch : '_';
  }
  return t;
}

std::vector<OutputSet::BandPicture> OutputSet::stage_quicklooks(const RunResult& res, double smin,
                                                                double smax) {
  std::vector<BandPicture> pics;
  const fs::path dir = paths_.map.parent_path();
  const std::string stem = paths_.map.stem().string();
  BandPicture p{quicklook_options(m_, m_.output.colormap, smin, smax), paths_.quicklook, {}};
  p.staged = files_.temporary(p.dst, "png");
  pics.push_back(std::move(p));
  // One more per extra band of the map ([output] bands, the posterior's std and confidence).
  for (std::size_t b = 1; b < res.bands.size(); ++b) {
    const BandStats& bs = res.bands[b];
    if (bs.valid == 0) continue;
    BandPicture e{quicklook_options(m_, m_.output.colormap, bs.min, bs.max),
                  dir / (stem + "_quicklook_" + picture_tag(bs.name) + ".png"), {}};
    e.options.title = m_.name + ": " + bs.name;
    e.options.legend_label = band_quantity(m_, bs.name);
    e.options.band = static_cast<int>(b) + 1;
    e.staged = files_.temporary(e.dst, "png");
    pics.push_back(std::move(e));
  }
  for (auto& pic : pics) pic.options.points = res.deposit_points;
  return pics;
}

void OutputSet::draw_quicklooks(const fs::path& map, const std::vector<BandPicture>& pics,
                                const std::shared_future<std::vector<double>>& breaks) {
  if (pics.empty()) return;
  // The further bands' pictures each on a thread of their own (each reads its own overview),
  // band 1's here: its class breaks are known once the classes are worked out (beside this),
  // and its map is read and coloured meanwhile.
  std::vector<std::future<void>> others;
  for (std::size_t i = 1; i < pics.size(); ++i) {
    others.push_back(std::async(std::launch::async, [&map, &pic = pics[i]] {
      geo::write_quicklook(map, pic.staged, pic.options);
    }));
  }
  geo::QuicklookOptions qo = pics[0].options;
  qo.class_breaks = [&breaks] { return breaks.get(); };
  geo::write_quicklook(map, pics[0].staged, qo);
  for (auto& f : others) f.get();
}

void OutputSet::write_report(RunResult& res, const Finished& f, Clock::time_point t_all) {
  const auto t0 = Clock::now();
  std::vector<InputDigest> digests = digests_.valid() ? digests_.get() : std::vector<InputDigest>{};
  // Every file the run writes (res.files: the analyses' too), with its size where it is staged.
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const auto& dst : res.files) {
    nlohmann::ordered_json e;
    e["path"] = dst.string();
    const fs::path staged = dst == paths_.map ? f.map : files_.staged(dst);
    std::error_code ec;
    const std::uintmax_t bytes = staged.empty() ? 0 : fs::file_size(staged, ec);
    if (!staged.empty() && !ec) e["bytes"] = bytes;
    files.push_back(e);
  }
  res.report["outputs"] = files;
  res.report["run"] = {{"started_utc", started_utc_}, {"finished_utc", utc_now()}};
  stage_time(res, "report", t0);
  res.seconds_outputs = seconds_since(t_all);
  files_.write_text(paths_.report, build_report(m_, res, digests).dump(2) + "\n", "json");
}

void OutputSet::finish(RunResult& res) {
  const auto t_all = Clock::now();
  const auto& o = m_.output;
  // The map first: with format "cog" it is assembled from the streamed tiles and overviews
  // (no tile decoded), then classes and the quicklook read it (the same tiles as the staged
  // GeoTIFF). What QGIS will read: the statistics in the file.
  Finished f;
  f.map = map_temp_;
  const auto stats = geo::stored_statistics(map_temp_, 1);
  const bool have_valid = stats.has_value() && res.valid_cells > 0;
  const double smin = stats ? stats->min : 0.0;
  const double smax = stats ? stats->max : 1.0;
  if (o.format == model::OutputFormat::cog) f.map = write_map_cog(res);
  // The quicklooks (read an overview) are drawn while the classes are worked out: the two
  // read the finished map independently; the map's legend waits for the class breaks only
  // once its picture is read and coloured. `breaks` is declared after `quicklook`: on a throw
  // it is destroyed first, so the drawing thread sees a broken promise instead of waiting.
  std::future<void> quicklook;
  std::promise<std::vector<double>> breaks;
  const auto t_ql = Clock::now();
  if (o.quicklook && have_valid) {
    gp::log::info("drawing the quicklook");
    f.quicklooks = stage_quicklooks(res, smin, smax);  // staged here: one thread stages
    quicklook = std::async(std::launch::async, [map = f.map, pics = f.quicklooks,
                                                 b = breaks.get_future().share()] {
      draw_quicklooks(map, pics, b);
    });
  } else if (o.quicklook) {
    gp::log::warning("no valid cell: no quicklook drawn");
  }
  if (o.classes.method != model::ClassMethod::none && !have_valid) {
    gp::log::warning("no valid cell: no classes written");
  } else if (o.classes.method != model::ClassMethod::none) {
    f.classes = write_classes(res, f);
  }
  breaks.set_value(f.class_thresholds);  // empty without classes: the ramp's value ticks
  if (o.style) {
    const auto t0 = Clock::now();
    f.map_style = score_qml(o.colormap, smin, smax);
    if (!f.classes.empty()) f.classes_style = classes_qml(f.class_labels, f.colors);
    stage_time(res, "styles", t0);
  }
  if (quicklook.valid()) {
    quicklook.get();
    stage_time(res, "quicklook", t_ql);  // overlapping the classes
  }

  // Side files that carry the classes (the deposits' GeoPackage), staged before the list.
  for (const auto& hook : res.on_classes) hook(f.classes.empty() ? nullptr : &f.class_thresholds);

  // What will stand where, in the order it is moved (the map last).
  std::vector<fs::path> written;
  if (!f.classes.empty()) written.push_back(paths_.classes);
  if (!f.classes_style.empty()) written.push_back(paths_.classes_style);
  if (!f.map_style.empty()) written.push_back(paths_.map_style);
  for (const auto& q : f.quicklooks) written.push_back(q.dst);
  if (o.report) written.push_back(paths_.report);
  written.push_back(paths_.map);
  res.files = files_.destinations();  // side files staged by training and the analyses
  res.files.insert(res.files.end(), written.begin(), written.end());
  res.seconds_outputs = seconds_since(t_all);

  if (!f.classes.empty()) files_.publish(f.classes, paths_.classes, true);
  if (!f.classes_style.empty()) files_.write_text(paths_.classes_style, f.classes_style, "qml");
  if (!f.map_style.empty()) files_.write_text(paths_.map_style, f.map_style, "qml");
  for (const auto& q : f.quicklooks) files_.publish(q.staged, q.dst);
  if (o.report) write_report(res, f, t_all);
  files_.publish(f.map, paths_.map, true);
  // Everything is complete: move into place, all or nothing, the map last.
  files_.commit();
  res.seconds_outputs = seconds_since(t_all);
  for (const auto& dst : res.files) {
    if (dst != paths_.map) gp::log::info("wrote " + dst.string());
  }
}

nlohmann::ordered_json build_report(const model::Model& m, const RunResult& res,
                                    const std::vector<InputDigest>& inputs) {
  using J = nlohmann::ordered_json;
  J r;
  r["geoprospect"] = {{"version", GP_VERSION}, {"report_format", 1}};
  if (res.report.contains("run")) r["run"] = res.report["run"];
  r["model"] = {{"name", m.name},
                {"file", m.file.empty() ? J() : J(m.file.string())},
                {"sha256", m.sha256},
                {"combine", model::name_str(m.combine.method)}};
  J in = J::array();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& L = m.layers[i];
    J e;
    e["layer"] = L.name;
    e["path"] = L.input_path().string();
    e["band"] = L.band;
    e["resampling"] = L.resampling;
    e["transform"] = model::name_str(L.transform.kind);
    e["read"] = i < res.layer_modes.size() ? J(res.layer_modes[i]) : J();
    // A vector source: named with its selection (its temporary raster is no input of the user's).
    if (!L.vector_source.empty()) e["source"] = L.vector_selection;
    else try {
      const geo::RasterInfo info = geo::describe_raster(L.path.string(), "layer '" + L.name + "'");
      e["crs"] = info.crs_wkt.empty() ? J() : J(geo::crs_label_wkt(info.crs_wkt));
      e["width"] = info.width;
      e["height"] = info.height;
      e["bands"] = info.band_count;
      if (info.has_geotransform) e["geotransform"] = info.geotransform;
    } catch (const std::exception& ex) {
      e["error"] = ex.what();
    }
    if (i < inputs.size()) {
      e["bytes"] = inputs[i].bytes;
      e["sha256"] = inputs[i].sha256.empty() ? J() : J(inputs[i].sha256);
      if (!inputs[i].error.empty()) e["checksum_error"] = inputs[i].error;
    }
    in.push_back(e);
  }
  r["inputs"] = in;
  const geo::Grid& g = res.grid;
  r["grid"] = {{"crs", g.crs_wkt.empty() ? std::string() : geo::crs_label_wkt(g.crs_wkt)},
               {"crs_wkt", g.crs_wkt},
               {"geotransform", g.geotransform()},
               {"width", g.width},
               {"height", g.height},
               {"cell_size", {g.dx, g.dy}},
               {"extent", {g.x0, g.ymin(), g.xmax(), g.y0}}};
  r["device"] = res.device;
  J t;
  t["statistics"] = res.seconds_stats;
  t["score"] = res.seconds_score;
  for (const auto& [name, s] : res.output_seconds) t[name] = s;
  t["outputs"] = res.seconds_outputs;
  t["total"] = res.seconds_stats + res.seconds_score + res.seconds_outputs;
  r["timings_s"] = t;
  J st;
  st["cells"] = g.cells();
  st["valid_cells"] = res.valid_cells;
  st["nodata_cells"] = res.nodata_cells;
  st["invalid_cells"] = res.invalid_cells;
  J bands = J::array();
  for (std::size_t b = 0; b < res.bands.size(); ++b) {
    const auto& bs = res.bands[b];
    bands.push_back({{"band", b + 1},
                     {"name", bs.name},
                     {"valid_cells", bs.valid},
                     {"nodata_cells", bs.nodata},
                     {"min", bs.min},
                     {"max", bs.max},
                     {"mean", bs.mean},
                     {"stddev", bs.stddev}});
  }
  st["bands"] = bands;
  r["statistics"] = st;
  r["output"] = {{"format", model::name_str(m.output.format)},
                 {"compress", m.output.compress},
                 {"nodata", m.output.nodata},
                 {"colormap", m.output.colormap}};
  // Sections from the finishing step and from other steps, in the order they were added.
  for (const auto& [k, v] : res.report.items()) {
    if (k != "run") r[k] = v;
  }
  return r;
}

int predictor_for(const std::string& compress) { return compress == "NONE" ? 1 : 3; }

}  // namespace gp::cli
