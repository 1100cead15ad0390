// Validation of a map against known deposits; see analysis/validation.hpp.
#include "analysis/validation.hpp"

#include "gp/error.hpp"
#include "gp/geo/band_reader.hpp"
#include "gp/geo/cell_area.hpp"
#include "gp/geo/svg_png.hpp"
#include "gp/geo/vector_source.hpp"
#include "gp/kernels/rank.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <utility>
#include <unistd.h>

namespace gp::cli {
namespace fs = std::filesystem;
namespace {

constexpr double nan_d = std::numeric_limits<double>::quiet_NaN();

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

/// Locale-independent fixed-point text.
std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, digits);
  return std::string(buf, r.ptr);
}

/// Shortest round-trip text (CSV values); empty for NaN and infinities.
std::string exact(double v) { return std::isfinite(v) ? text::shortest(v) : std::string(); }

/// The short form of rescoring_note, for the plot and the note's start.
constexpr const char* not_retrained = "folds re-scored, not retrained";

/// Locale-independent text with `digits` significant digits (the plot's thresholds, whose scale
/// is the map's).
std::string significant(double v, int digits) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, digits);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string rescoring_note(const std::string& model_kind) {
  const std::string s =
      std::string(not_retrained) +
      ": the same map is scored on each fold's held-out deposits (no fold is retrained; a "
      "finished map given to validate cannot be), so the prediction-rate figures only show how "
      "the AUC varies across deposit subsets";
  if (model_kind == "knowledge-driven") return s + "; this knowledge-driven map never depends on the deposits";
  if (model_kind == "data-driven") {
    return s + "; this map was trained once on all its training deposits, not per fold, so they "
               "are optimistic";
  }
  return s + " (a knowledge-driven map never depends on the deposits; for a map trained on them "
             "they are optimistic)";
}

PredictionArea prediction_area(const RateSummary& all, double score_min, double score_max) {
  PredictionArea pa;
  // The success-rate curve runs from the highest score down: (0,0), then per distinct deposit
  // score s the points "> s" and ">= s", then (1,1). Read backwards, with the map's lowest and
  // highest score at the ends, it is the P-A curve by ascending threshold.
  for (auto it = all.curve.rbegin(); it != all.curve.rend(); ++it) {
    const double t = std::isfinite(it->score) ? it->score : (it->x > 0.5 ? score_min : score_max);
    const PaPoint p{t, 100.0 * it->y, 100.0 * it->x};
    if (!pa.curve.empty() && pa.curve.back().threshold == p.threshold &&
        pa.curve.back().deposits_pct == p.deposits_pct && pa.curve.back().area_pct == p.area_pct) {
      continue;  // the ends coincide with a deposit score at the map's lowest or highest score
    }
    pa.curve.push_back(p);
  }
  pa.threshold = pa.threshold_normalised = pa.deposits_pct = pa.area_pct = pa.normalised_density = nan_d;
  // P + A - 100 falls from +100 to -100 along the curve: the crossing is in the first segment
  // that reaches zero. P and A are interpolated linearly along that segment, which is exact on
  // the success-rate curve (linear along a tie, flat in P between deposit scores); t is
  // interpolated linearly between the segment's two thresholds: between two deposit scores the
  // cells are counted, not sorted, so where exactly the area share passes is not known.
  for (std::size_t i = 1; i < pa.curve.size(); ++i) {
    const PaPoint& a = pa.curve[i - 1];
    const PaPoint& b = pa.curve[i];
    const double fa = a.deposits_pct + a.area_pct - 100.0;
    const double fb = b.deposits_pct + b.area_pct - 100.0;
    if (fb > 0.0) continue;
    const double w = fa > fb ? fa / (fa - fb) : 0.0;
    pa.threshold = a.threshold + w * (b.threshold - a.threshold);
    pa.deposits_pct = a.deposits_pct + w * (b.deposits_pct - a.deposits_pct);
    pa.area_pct = a.area_pct + w * (b.area_pct - a.area_pct);
    break;
  }
  const double range = score_max - score_min;
  pa.threshold_normalised = range > 0.0 ? (pa.threshold - score_min) / range : 0.0;
  pa.normalised_density = pa.area_pct > 0.0 ? pa.deposits_pct / pa.area_pct : nan_d;
  return pa;
}

void rank_from_counts(std::vector<RankedDeposit>& deps, const std::vector<std::uint32_t>& edges,
                      const std::vector<std::uint64_t>& counts) {
  GP_EXPECTS(counts.size() == 2 * edges.size() + 1, error,
             "validation: rank counts do not match the edges");
  // above[s] = sum of counts of slots > s.
  std::vector<std::uint64_t> above(counts.size(), 0);
  for (std::size_t s = counts.size() - 1; s-- > 0;) above[s] = above[s + 1] + counts[s + 1];
  for (auto& d : deps) {
    const std::uint32_t key = kernels::sortable_key(d.score);
    const int slot = kernels::edge_slot(key, edges.data(), static_cast<int>(edges.size()));
    GP_EXPECTS(slot % 2 == 1, error, "validation: a deposit score is not among the edges");
    d.above = above[static_cast<std::size_t>(slot)];
    d.equal = counts[static_cast<std::size_t>(slot)];
  }
}

RateSummary summarise_ranks(std::uint64_t valid_cells,
                            const std::vector<const RankedDeposit*>& deps,
                            const std::vector<double>& capture_percent) {
  RateSummary r;
  r.deposits = deps.size();
  const double n = static_cast<double>(valid_cells);
  const double dn = static_cast<double>(deps.size());
  if (deps.empty() || valid_cells == 0) {
    r.auc = r.roc_auc = nan_d;
    for (double p : capture_percent) r.capture.emplace_back(p, nan_d);
    return r;
  }
  // Success rate: AUC from the closed form, curve from tie groups, highest score first.
  std::vector<const RankedDeposit*> by_score(deps);
  std::stable_sort(by_score.begin(), by_score.end(), [](const auto* a, const auto* b) {
    return kernels::sortable_key(a->score) > kernels::sortable_key(b->score);
  });
  double mean_rank = 0.0;
  for (const auto* d : by_score) {
    mean_rank += (static_cast<double>(d->above) + 0.5 * static_cast<double>(d->equal)) / n;
  }
  r.auc = 1.0 - mean_rank / dn;
  r.curve.push_back({0.0, 0.0, nan_d});
  std::size_t seen = 0;
  for (std::size_t i = 0; i < by_score.size();) {
    std::size_t j = i;
    while (j < by_score.size() && by_score[j]->score == by_score[i]->score) ++j;
    const auto* d = by_score[i];
    const double y0 = static_cast<double>(seen) / dn;
    seen += j - i;
    const double y1 = static_cast<double>(seen) / dn;
    r.curve.push_back({static_cast<double>(d->above) / n, y0, d->score});
    r.curve.push_back({static_cast<double>(d->above + d->equal) / n, y1, d->score});
    i = j;
  }
  r.curve.push_back({1.0, 1.0, nan_d});
  for (double p : capture_percent) {
    const double cut = p / 100.0 * n;
    double c = 0.0;
    for (const auto* d : deps) {
      const double f = (cut - static_cast<double>(d->above)) / static_cast<double>(d->equal);
      c += std::clamp(f, 0.0, 1.0);
    }
    r.capture.emplace_back(p, c / dn);
  }
  // ROC: distinct deposit cells against every other valid cell.
  std::vector<const RankedDeposit*> cells;
  std::set<std::pair<std::int64_t, std::int64_t>> seen_cells;
  for (const auto* d : by_score) {
    if (seen_cells.insert({d->col, d->row}).second) cells.push_back(d);
  }
  r.cells = cells.size();
  const double pn = static_cast<double>(cells.size());
  const double qn = n - pn;
  r.roc.push_back({0.0, 0.0, nan_d});
  if (qn <= 0.0) {
    r.roc_auc = nan_d;
    r.roc.push_back({1.0, 1.0, nan_d});
    return r;
  }
  double u = 0.0;
  std::uint64_t pos_above = 0;
  for (std::size_t i = 0; i < cells.size();) {
    std::size_t j = i;
    while (j < cells.size() && cells[j]->score == cells[i]->score) ++j;
    const auto* d = cells[i];
    const std::uint64_t c = j - i;
    const std::uint64_t pos_below = cells.size() - pos_above - c;
    const double neg_above = static_cast<double>(d->above - pos_above);
    const double neg_equal = static_cast<double>(d->equal - c);
    const double neg_below =
        static_cast<double>(valid_cells - d->above - d->equal - pos_below);
    u += static_cast<double>(c) * (neg_below + 0.5 * neg_equal);
    r.roc.push_back({neg_above / qn, static_cast<double>(pos_above) / pn, d->score});
    pos_above += c;
    r.roc.push_back({(neg_above + neg_equal) / qn, static_cast<double>(pos_above) / pn, d->score});
    i = j;
  }
  r.roc.push_back({1.0, 1.0, nan_d});
  r.roc_auc = u / (pn * qn);
  return r;
}

int assign_folds(std::vector<RankedDeposit>& deps, double holdout, int kfold, std::uint64_t seed,
                 bool use_groups) {
  for (auto& d : deps) d.fold = -1;
  if (kfold <= 0 && !(holdout > 0.0)) return 0;
  // Units: group values, or distinct cells (deposits sharing a cell stay together).
  std::map<std::string, std::vector<std::size_t>> units;
  for (std::size_t i = 0; i < deps.size(); ++i) {
    const std::string key = use_groups ? "g:" + deps[i].group
                                       : "c:" + std::to_string(deps[i].col) + "," +
                                             std::to_string(deps[i].row);
    units[key].push_back(i);
  }
  std::vector<std::pair<std::uint64_t, const std::vector<std::size_t>*>> order;
  for (const auto& [key, members] : units) {
    order.emplace_back(splitmix64(seed ^ splitmix64(fnv1a(key))), &members);
  }
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (kfold > 0) {
    if (order.size() < static_cast<std::size_t>(kfold)) {
      throw config_error("[validation] kfold = " + std::to_string(kfold) + ": only " +
                         std::to_string(order.size()) + (use_groups ? " groups" : " deposit cells") +
                         " to split (expected at least one per fold)");
    }
    for (std::size_t u = 0; u < order.size(); ++u) {
      for (std::size_t i : *order[u].second) deps[i].fold = static_cast<int>(u % static_cast<std::size_t>(kfold));
    }
    return kfold;
  }
  if (order.size() < 2) {
    throw config_error(std::string("[validation] holdout: only one ") +
                       (use_groups ? "group" : "deposit cell") + " (expected at least two to split)");
  }
  const auto want = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::llround(holdout * static_cast<double>(deps.size()))));
  std::size_t held = 0;
  for (std::size_t u = 0; u + 1 < order.size() && held < want; ++u) {
    for (std::size_t i : *order[u].second) deps[i].fold = 0;
    held += order[u].second->size();
  }
  return 1;
}

namespace {

/// Opens band `opt.band` of the map and returns its grid. Throws gp::config_error (no such
/// band) and gp::input_error (not north-up georeferenced, no CRS).
geo::Grid select_map_band(geo::BandReader& map, const ValidateOptions& opt) {
  if (opt.band < 1 || opt.band > map.band_count()) {
    throw config_error("--band " + std::to_string(opt.band) + ": " + opt.map.string() + " has " +
                       std::to_string(map.band_count()) + " band(s)");
  }
  map.select_band(opt.band);
  const std::optional<geo::Grid> map_grid = map.grid();
  if (!map_grid) throw input_error(opt.map.string() + ": expected a north-up georeferenced raster");
  if (map_grid->crs_wkt.empty()) {
    throw input_error(opt.map.string() + " has no CRS (deposits cannot be placed)");
  }
  return *map_grid;
}

/// The map's band being validated: its reader, grid and nodata test.
class MapBand {
 public:
  explicit MapBand(const ValidateOptions& opt)
      : reader(opt.map, "the map"),
        grid(select_map_band(reader, opt)),
        nodata(reader.nodata()),
        nd_(nodata.value_or(0.0)),
        nd_f_(static_cast<float>(nd_)) {}
  /// Not a finite score, or the band's nodata value (compared as Float32 and as double).
  [[nodiscard]] bool is_nodata(float v) const {
    return !kernels::finite_score(v) || (nodata && (v == nd_f_ || static_cast<double>(v) == nd_));
  }

  geo::BandReader reader;
  const geo::Grid grid;
  const std::optional<double> nodata;

 private:
  double nd_;
  float nd_f_;
};

/// Gives every cell of the map to `counter` (nodata cells as NaN). Windows of whole blocks:
/// full-width strips of about `window_cells`, or, when a row of blocks does not fit (a
/// continental map), one row of blocks cut into column segments, so that no block is decoded
/// twice and memory stays bounded by the window whatever the width. The counts are integers:
/// the split does not change them. Returns the lowest and highest valid score, taken in the
/// same pass (the prediction-area plot's threshold range).
std::pair<float, float> count_map_cells(const MapBand& map, std::int64_t window_cells,
                                        kernels::RankCounter& counter) {
  const geo::Grid& grid = map.grid;
  const auto [bx, by] = map.reader.block_size();
  std::int64_t rows = std::max<std::int64_t>(1, window_cells / std::max<std::int64_t>(1, grid.width));
  std::int64_t cols = grid.width;
  if (by > 0 && rows > by) rows = rows / by * by;  // whole blocks
  if (by > 1 && rows < by && bx > 0 && grid.width > geo::segment_columns(bx)) {
    rows = by;
    cols = std::max<std::int64_t>(bx, window_cells / by / bx * bx);
    cols = std::min(cols, grid.width);
  }
  std::vector<float> buf(static_cast<std::size_t>(std::min(rows, grid.height)) *
                         static_cast<std::size_t>(cols));
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  for (std::int64_t r0 = 0; r0 < grid.height; r0 += rows) {
    for (std::int64_t c0 = 0; c0 < grid.width; c0 += cols) {
      const std::int64_t nr = std::min(rows, grid.height - r0);
      const std::int64_t nc = std::min(cols, grid.width - c0);
      map.reader.read(geo::Window{c0, r0, nc, nr}, buf.data());
      const std::size_t cells = static_cast<std::size_t>(nr) * static_cast<std::size_t>(nc);
      for (std::size_t i = 0; i < cells; ++i) {
        if (map.is_nodata(buf[i])) {
          buf[i] = std::numeric_limits<float>::quiet_NaN();  // the counter's invalid value
        } else {
          lo = std::min(lo, buf[i]);
          hi = std::max(hi, buf[i]);
        }
      }
      counter.add(buf.data(), cells);
    }
  }
  return {lo, hi};
}

/// The result's echo of the options.
ValidationResult result_of(const ValidateOptions& opt) {
  ValidationResult res;
  res.map = opt.map;
  res.band = opt.band;
  res.holdout = opt.holdout;
  res.kfold = opt.kfold;
  res.seed = opt.seed;
  res.split_by = opt.split_by;
  res.block_km = opt.block_km;
  res.buffer_km = opt.buffer_km;
  res.model_kind = opt.model_kind;
  res.split = opt.kfold > 0 ? "kfold" : (opt.holdout > 0.0 ? "holdout" : "none");
  return res;
}

/// Places the deposits on the map's grid with their cells' scores; deposits outside it or on
/// nodata cells are rejected by name. Throws gp::input_error when none is left.
/// `spec`'s deposits on the map's valid cells with their scores; the others into `rejected`.
std::vector<RankedDeposit> place_deposits_on(const geo::DepositSpec& spec, const MapBand& map,
                                             std::vector<geo::RejectedDeposit>& rejected) {
  const geo::DepositPlacement placed = geo::place_deposits(
      spec, map.grid,
      [&map](std::int64_t c, std::int64_t r) { return !map.is_nodata(map.reader.read_cell(c, r)); });
  rejected = placed.rejected;
  std::vector<RankedDeposit> out;
  for (const auto& p : placed.placed) {
    RankedDeposit d;
    d.name = p.name;
    d.col = p.col;
    d.row = p.row;
    d.x = p.x;
    d.y = p.y;
    d.score = map.reader.read_cell(p.col, p.row);
    if (d.score == 0.0f) d.score = 0.0f;  // -0 -> +0, as the keys do
    out.push_back(std::move(d));
  }
  return out;
}

void place_on_map(const ValidateOptions& opt, const MapBand& map, ValidationResult& res) {
  res.deposits = place_deposits_on(opt.deposits, map, res.rejected);
  res.crs_wkt = map.grid.crs_wkt;
  if (opt.training_deposits) {
    res.training = place_deposits_on(*opt.training_deposits, map, res.training_rejected);
  }
  if (!res.rejected.empty()) {
    gp::log::warning("validation: " + geo::rejected_summary(res.rejected, "left out",
                                                            "the validation report's \"deposits_left_out\""));
  }
  if (res.deposits.empty()) {
    throw input_error((opt.deposits.source.what.empty() ? std::string("deposits")
                                                        : opt.deposits.source.what) +
                      ": no deposit falls on a valid cell of " + opt.map.string() + " (" +
                      std::to_string(res.rejected.size()) + " left out)");
  }
}

/// The names of the deposits of each cell holding more than one, in cell order.
std::vector<std::vector<std::string>> shared_cells(const std::vector<RankedDeposit>& deposits) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::string>> by_cell;
  for (const auto& d : deposits) by_cell[{d.col, d.row}].push_back(d.name);
  std::vector<std::vector<std::string>> shared;
  for (auto& entry : by_cell) {
    if (entry.second.size() > 1) shared.push_back(entry.second);
  }
  return shared;
}

/// split_by: each placed deposit's attribute value, matched by name and cell.
void tag_split_groups(const ValidateOptions& opt, const geo::Grid& grid,
                      std::vector<RankedDeposit>& deposits) {
  geo::VectorSpec vs = opt.deposits.source;
  geo::VectorSource src(vs);
  if (!src.has_field(opt.split_by)) {
    throw config_error("[validation] split_by: the deposits have no attribute '" + opt.split_by + "'");
  }
  std::vector<geo::Feature> feats =
      src.read(grid.crs_wkt, {}, opt.deposits.name_column, nullptr, opt.split_by);
  std::map<std::tuple<std::string, std::int64_t, std::int64_t>, std::string> tag;
  for (const auto& f : feats) {
    const auto p = geo::representative_point(*f.geometry);
    if (!p) continue;
    const double cx = std::floor(((*p)[0] - grid.x0) / grid.dx);
    const double cy = std::floor((grid.y0 - (*p)[1]) / grid.dy);
    tag[{f.name, static_cast<std::int64_t>(cx), static_cast<std::int64_t>(cy)}] = f.tag;
  }
  for (auto& d : deposits) {
    auto it = tag.find({d.name, d.col, d.row});
    d.group = it != tag.end() ? it->second : std::string();
  }
}

/// The exact pass: every valid cell counted against the deposit scores on the engine device;
/// fills the valid and nodata cell counts, the device and each deposit's rank.
void count_ranks(const ValidateOptions& opt, const MapBand& map, ValidationResult& res) {
  std::vector<float> scores;
  for (const auto& d : res.deposits) scores.push_back(d.score);
  for (const auto& d : res.training) scores.push_back(d.score);  // their ranks for the GeoPackage
  const std::vector<std::uint32_t> edges = kernels::edge_keys(scores);
  const std::unique_ptr<kernels::RankCounter> counter =
      make_rank_counter(edges, opt.device, opt.devices, opt.threads);
  res.device = counter->name();
  const auto [lo, hi] = count_map_cells(map, opt.window_cells, *counter);
  res.score_min = lo;
  res.score_max = hi;
  const std::vector<std::uint64_t> counts = counter->counts();
  res.valid_cells = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  res.nodata_cells = counter->invalid();
  rank_from_counts(res.deposits, edges, counts);
  rank_from_counts(res.training, edges, counts);
}

/// The figures of all deposits, then of each fold's held-out deposits and the rest.
void summarise(const ValidateOptions& opt, ValidationResult& res) {
  std::vector<const RankedDeposit*> all;
  for (const auto& d : res.deposits) all.push_back(&d);
  res.all = summarise_ranks(res.valid_cells, all, opt.capture_percent);
  res.prediction_area = prediction_area(res.all, res.score_min, res.score_max);
  const int folds = assign_folds(res.deposits, opt.holdout, opt.kfold, opt.seed,
                                 !opt.split_by.empty() || opt.block_km > 0.0);
  for (int f = 0; f < folds; ++f) {
    std::vector<const RankedDeposit*> held;
    std::vector<const RankedDeposit*> rest;
    for (const auto& d : res.deposits) (d.fold == f ? held : rest).push_back(&d);
    FoldResult fr;
    fr.fold = f;
    fr.prediction = summarise_ranks(res.valid_cells, held, opt.capture_percent);
    fr.training = summarise_ranks(res.valid_cells, rest, opt.capture_percent);
    res.folds.push_back(std::move(fr));
  }
}

}  // namespace

std::unique_ptr<kernels::RankCounter> make_rank_counter(const std::vector<std::uint32_t>& edges,
                                                        DeviceChoice device_choice,
                                                        const std::vector<int>& devices,
                                                        int threads) {
  const EngineDevice device = engine_device(device_choice, devices);
  if (!device.cuda) return kernels::make_rank_counter_cpu(edges, threads);
  // Out of device memory: smaller chunks, then the CPU for the rest.
  return kernels::make_fallback_rank_counter(
      kernels::make_rank_counter_cuda(edges, device.id),
      [edges, threads] { return kernels::make_rank_counter_cpu(edges, threads); },
      [](const std::string& w) { gp::log::warning(w); });
}

void tag_blocks(std::vector<RankedDeposit>& deps, const geo::Grid& grid, double block_km) {
  const double unit_m = geo::linear_unit_m(grid.crs_wkt, "[validation] blocks");
  const double side = block_km * 1000.0 / unit_m;  // in CRS units
  for (auto& d : deps) {
    // The deposit's cell centre: blocks never split a cell's deposits.
    const double x = grid.x0 + (static_cast<double>(d.col) + 0.5) * grid.dx;
    const double y = grid.y0 - (static_cast<double>(d.row) + 0.5) * grid.dy;
    d.group = "block " + std::to_string(static_cast<long long>(std::floor(x / side))) + "," +
              std::to_string(static_cast<long long>(std::floor(y / side)));
  }
}

std::string fold_assignment(const ValidationResult& r) {
  if (r.block_km > 0.0) return "spatial blocks of " + significant(r.block_km, 6) + " km";
  return r.split_by.empty() ? "random" : "random, grouped by " + r.split_by;
}

std::string split_words(const ValidationResult& r) {
  const bool blocks = r.block_km > 0.0;
  const std::string how = blocks ? "" : "random ";
  std::string s = r.split == "kfold" ? how + std::to_string(r.kfold) + "-fold split"
                                     : how + significant(100.0 * r.holdout, 6) + " % hold-out";
  if (blocks) s += " in " + fold_assignment(r);
  if (!r.split_by.empty()) s += ", grouped by " + r.split_by;
  return s + " (seed " + std::to_string(r.seed) + ")";
}

std::string retraining_note(const ValidationResult& r) {
  std::string s =
      "folds retrained: each fold's model is trained without its held-out deposits and scores "
      "them on a map it never saw them in";
  if (r.buffer_km > 0.0) {
    s += "; its training also leaves out the deposits and cells within " +
         significant(r.buffer_km, 6) + " km of them";
  } else {
    s += "; training deposits near a held-out one stay in (no buffer_km), so neighbouring "
         "deposits can still inform it";
  }
  return s;
}

FoldSpread fold_spread(const ValidationResult& r, double (*figure)(const RateSummary&, std::size_t),
                       std::size_t index) {
  FoldSpread f;
  double sum = 0.0;
  double sum2 = 0.0;
  for (const auto& fr : r.folds) {
    const double v = figure(fr.prediction, index);
    if (!std::isfinite(v)) continue;
    sum += v;
    sum2 += v * v;
    ++f.n;
  }
  if (f.n == 0) return {nan_d, nan_d, 0};
  f.mean = sum / f.n;
  f.sd = std::sqrt(std::max(0.0, sum2 / f.n - f.mean * f.mean));
  return f;
}

ValidationResult validate_map(const ValidateOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  ValidationResult res = result_of(opt);
  const MapBand map(opt);
  place_on_map(opt, map, res);
  res.shared_cells = shared_cells(res.deposits);
  if (!opt.split_by.empty()) tag_split_groups(opt, map.grid, res.deposits);
  if (opt.block_km > 0.0) tag_blocks(res.deposits, map.grid, opt.block_km);
  count_ranks(opt, map, res);
  summarise(opt, res);
  if (res.split != "none" && !opt.retrain) {
    // Once per validation: the same line for `validate` and a run's [validation].
    const std::string line = "validation: " + split_words(res) + ": " + rescoring_note(res.model_kind);
    if (res.model_kind == "knowledge-driven") {
      gp::log::info(line);  // nothing to retrain: information, not a warning
    } else {
      gp::log::warning(line);
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

ValidationResult place_training_deposits(const ValidateOptions& opt) {
  GP_EXPECTS(opt.training_deposits.has_value(), error,
             "place_training_deposits: no training deposits given");
  const auto t0 = std::chrono::steady_clock::now();
  ValidationResult res = result_of(opt);
  const MapBand map(opt);
  res.crs_wkt = map.grid.crs_wkt;
  res.training = place_deposits_on(*opt.training_deposits, map, res.training_rejected);
  count_ranks(opt, map, res);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

namespace {

/// A JSON number, or null for NaN and infinities (which JSON cannot hold).
nlohmann::ordered_json num(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
}

nlohmann::ordered_json summary_json(const RateSummary& s) {
  nlohmann::ordered_json j;
  j["deposits"] = s.deposits;
  j["deposit_cells"] = s.cells;
  j["auc"] = num(s.auc);
  j["roc_auc"] = num(s.roc_auc);
  nlohmann::ordered_json cap = nlohmann::ordered_json::array();
  for (const auto& [p, f] : s.capture) cap.push_back({{"top_percent", p}, {"deposit_fraction", num(f)}});
  j["capture"] = cap;
  return j;
}

nlohmann::ordered_json prediction_area_json(const ValidationResult& r) {
  const PredictionArea& pa = r.prediction_area;
  nlohmann::ordered_json j;
  j["threshold"] = num(pa.threshold);
  j["threshold_normalised"] = num(pa.threshold_normalised);
  j["deposits_pct"] = num(pa.deposits_pct);
  j["area_pct"] = num(pa.area_pct);
  j["normalised_density"] = num(pa.normalised_density);
  j["method"] =
      "crossing of deposits predicted (score >= t) and occupied area (score >= t) where "
      "deposits_pct = 100 - area_pct, all deposits; shares exact on the success-rate curve, t "
      "interpolated linearly between the two thresholds around it; normalised by the valid "
      "scores' range";
  j["score_range"] = nlohmann::ordered_json::array({num(r.score_min), num(r.score_max)});
  return j;
}

double auc_of(const RateSummary& s, std::size_t) { return s.auc; }
double roc_auc_of(const RateSummary& s, std::size_t) { return s.roc_auc; }
double capture_of(const RateSummary& s, std::size_t i) {
  return i < s.capture.size() ? s.capture[i].second : nan_d;
}

nlohmann::ordered_json spread_json(const FoldSpread& f) {
  return {{"mean", num(f.mean)}, {"sd", num(f.sd)}, {"folds", f.n}};
}

/// Mean and sd over the folds of the held-out deposits' figures (population sd).
nlohmann::ordered_json fold_summary_json(const ValidationResult& r) {
  nlohmann::ordered_json j;
  j["auc"] = spread_json(fold_spread(r, auc_of));
  j["roc_auc"] = spread_json(fold_spread(r, roc_auc_of));
  nlohmann::ordered_json cap = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < r.all.capture.size(); ++i) {
    nlohmann::ordered_json c = spread_json(fold_spread(r, capture_of, i));
    c["top_percent"] = r.all.capture[i].first;
    cap.push_back(c);
  }
  j["capture"] = cap;
  j["sd"] = "population standard deviation over the folds";
  return j;
}

/// A retrained fold's own entries: its model's table, its map's valid cells, its cost.
void add_retrained_fold(const FoldResult& f, nlohmann::ordered_json& fj) {
  if (!f.error.empty()) fj["error"] = f.error;
  fj["valid_cells"] = f.valid_cells;
  fj["unscored_deposits"] = f.unscored;
  fj["seconds_train"] = f.seconds_train;
  fj["seconds_score"] = f.seconds_score;
  fj["trained"] = f.trained;
}

}  // namespace

nlohmann::ordered_json validation_json(const ValidationResult& r) {
  nlohmann::ordered_json j;
  j["map"] = r.map.string();
  j["band"] = r.band;
  j["device"] = r.device;
  j["method"] =
      "exact: every valid cell counted against the deposit-cell scores (Float32 keys); ties "
      "ranked together, curves linear along ties, ROC ties count one half";
  j["valid_cells"] = r.valid_cells;
  j["nodata_cells"] = r.nodata_cells;
  j["deposits_used"] = r.deposits.size();
  nlohmann::ordered_json rej = nlohmann::ordered_json::array();
  for (const auto& d : r.rejected) rej.push_back({{"name", d.name}, {"reason", d.reason}});
  j["deposits_left_out"] = rej;
  if (!r.deposit_checks.is_null()) j["deposit_checks"] = r.deposit_checks;
  j["shared_cells"] = r.shared_cells;
  j["shared_cells_rule"] =
      "each deposit counts in the success-rate curve and capture; a shared cell is one "
      "positive in the ROC; a random split keeps a cell's deposits in one fold";
  j["success_rate"] = summary_json(r.all);
  j["prediction_area"] = prediction_area_json(r);
  if (!r.model_kind.empty()) j["model_kind"] = r.model_kind;
  if (r.split != "none") {
    nlohmann::ordered_json s;
    s["method"] = r.split;
    s["fold_assignment"] = fold_assignment(r);
    if (r.split == "holdout") s["holdout"] = r.holdout;
    if (r.split == "kfold") s["k"] = r.kfold;
    s["seed"] = r.seed;
    if (!r.split_by.empty()) s["split_by"] = r.split_by;
    if (r.block_km > 0.0) s["block_km"] = r.block_km;
    if (r.buffer_km > 0.0) s["buffer_km"] = r.buffer_km;
    s["retrained"] = r.retrained;
    s["note"] = r.retrained ? retraining_note(r) : rescoring_note(r.model_kind);
    nlohmann::ordered_json folds = nlohmann::ordered_json::array();
    double sum = 0.0;
    double sum2 = 0.0;
    int n = 0;
    for (const auto& f : r.folds) {
      nlohmann::ordered_json fj;
      fj["fold"] = f.fold + 1;
      std::vector<std::string> names;
      for (const auto& d : r.deposits) {
        if (d.fold == f.fold) names.push_back(d.name);
      }
      fj["held_out"] = names;
      fj["prediction_rate"] = summary_json(f.prediction);
      fj["training_success_rate"] = summary_json(f.training);
      if (r.retrained) add_retrained_fold(f, fj);
      folds.push_back(fj);
      if (std::isfinite(f.prediction.auc)) {
        sum += f.prediction.auc;
        sum2 += f.prediction.auc * f.prediction.auc;
        ++n;
      }
    }
    s["folds"] = folds;
    if (n > 0) {
      const double mean = sum / n;
      s["prediction_auc_mean"] = mean;
      s["prediction_auc_std"] = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
    }
    s["summary"] = fold_summary_json(r);
    j["split"] = s;
  }
  j["seconds"] = r.seconds;
  return j;
}

namespace {

// The plot's page: three square panels side by side under the title (success rate, ROC,
// prediction-area), the P-A legend under its panel.
constexpr int svg_width = 1500;
constexpr int svg_min_height = 600;
constexpr int svg_side = 360;  // plot side
constexpr int svg_top = 84;
constexpr int svg_lefts[3] = {80, 570, 1060};
constexpr int pa_panel = 2;
// Fold colours: ten distinct qualitative colours, none the all-deposits blue or the random grey;
// beyond ten, hues spread by the golden angle.
const char* const svg_colours[] = {"#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                                   "#a6761d", "#17becf", "#bcbd22", "#8c564b", "#e41a1c"};
constexpr std::size_t n_svg_colours = sizeof(svg_colours) / sizeof(svg_colours[0]);
constexpr const char* all_colour = "#1b6ca8";
constexpr const char* random_colour = "#888";
constexpr const char* area_colour = "#d95f02";

/// One panel (0: success rate, 1: ROC, 2: prediction-area): page coordinates of its unit square.
struct SvgPanel {
  int index;
  int left;
  [[nodiscard]] std::string x(double v) const { return fixed(left + v * svg_side, 2); }
  [[nodiscard]] std::string y(double v) const { return fixed(svg_top + (1.0 - v) * svg_side, 2); }
  [[nodiscard]] std::string polyline(const std::vector<CurvePoint>& pts, const std::string& colour,
                                     double width, const std::string& dash) const {
    std::string o = "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" +
                    fixed(width, 1) + "\"" +
                    (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + " points=\"";
    for (const auto& p : pts) o += x(p.x) + "," + y(p.y) + " ";
    return o + "\"/>\n";
  }
};

/// A legend entry: colour, text.
using LegendEntry = std::pair<std::string, std::string>;

/// Fold f's curve colour: distinct for every fold.
std::string fold_colour(std::size_t f) {
  if (f < n_svg_colours) return svg_colours[f];
  const double hue = std::fmod(static_cast<double>(f) * 137.508, 360.0);
  return "hsl(" + fixed(hue, 0) + ",70%,42%)";
}

/// A text's width in px at `size` px, estimated for DejaVu Sans (its widest lower-case and
/// digit advances are about 0.64 em, capitals 0.77 em): never less than what is drawn.
double text_width_px(const std::string& t, double size) {
  double em = 0.0;
  for (unsigned char ch : t) {
    if ((ch & 0xC0) == 0x80) continue;  // a UTF-8 continuation byte
    em += std::isupper(ch) != 0 ? 0.77 : (ch == ' ' || ch == '.' || ch == ',' || ch == ':' ? 0.34 : 0.64);
  }
  return em * size;
}

/// The capture-efficiency lines: a heading and one line per top share, under the success-rate
/// and ROC panels (a second column under the ROC panel beyond `capture_rows` lines).
constexpr int capture_rows = 5;
constexpr int below_panels = 84 + 360 + 58;  // svg_top + svg_side + 58: under the axis labels

/// The page's height: room for the capture lines and the P-A legend.
int svg_height_for(const ValidationResult& r) {
  const int rows = std::min<int>(static_cast<int>(r.all.capture.size()), capture_rows);
  return std::max(svg_min_height, below_panels + 16 * (rows + 1) + 12);
}

/// The document's opening, background, title and the deposit count line.
std::string svg_heading(const ValidationResult& r, const std::string& title) {
  const std::string W = std::to_string(svg_width);
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string H = std::to_string(svg_height_for(r));
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + W + "\" height=\"" + H +
       "\" viewBox=\"0 0 " + W + " " + H +
       "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + std::to_string(svg_width / 2) +
       "\" y=\"28\" text-anchor=\"middle\" font-size=\"17\">" + text::xml_escape(title) + "</text>\n";
  s += "<text x=\"" + std::to_string(svg_width / 2) + "\" y=\"48\" text-anchor=\"middle\" fill=\"#555\">" +
       text::xml_escape(
           std::to_string(r.deposits.size()) + " deposits on " + std::to_string(r.valid_cells) +
           " valid cells" + (r.rejected.empty() ? "" : ", " + std::to_string(r.rejected.size()) + " left out") +
           (r.split == "none" ? "" : "; " + split_words(r) + ": " + (r.retrained ? "folds retrained" : not_retrained))) +
       "</text>\n";
  return s;
}

/// A panel's title, grid, ticks, frame, axis labels and the random diagonal (the P-A panel: its
/// left axis in %, and the occupied area's axis on the right, reversed, instead).
std::string svg_frame(const SvgPanel& p) {
  const char* titles[3] = {"Success-rate curve", "ROC: deposit cells vs other cells",
                           "Prediction-area plot"};
  const char* xlabels[3] = {"fraction of area, highest scores first", "false-positive rate",
                            "threshold, normalised to the map's score range"};
  const char* ylabels[3] = {"fraction of deposits", "true-positive rate", "deposits predicted (%)"};
  const bool pa = p.index == pa_panel;
  const int L = p.left;
  const int P = svg_side;
  const int top = svg_top;
  std::string s = "<text x=\"" + std::to_string(L + P / 2) + "\" y=\"" + std::to_string(top - 10) +
                  "\" text-anchor=\"middle\" font-size=\"14\">" + titles[p.index] + "</text>\n";
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    s += "<line x1=\"" + p.x(v) + "\" y1=\"" + p.y(0) + "\" x2=\"" + p.x(v) + "\" y2=\"" + p.y(1) +
         "\" stroke=\"#e5e5e5\"/>\n";
    s += "<line x1=\"" + p.x(0) + "\" y1=\"" + p.y(v) + "\" x2=\"" + p.x(1) + "\" y2=\"" + p.y(v) +
         "\" stroke=\"#e5e5e5\"/>\n";
    s += "<text x=\"" + p.x(v) + "\" y=\"" + fixed(top + P + 16, 0) + "\" text-anchor=\"middle\">" +
         fixed(v, 1) + "</text>\n";
    s += "<text x=\"" + std::to_string(L - 6) + "\" y=\"" + fixed(top + (1.0 - v) * P + 4, 2) +
         "\" text-anchor=\"end\">" + (pa ? fixed(100.0 * v, 0) : fixed(v, 1)) + "</text>\n";
    if (pa) {
      s += "<text x=\"" + std::to_string(L + P + 6) + "\" y=\"" + fixed(top + (1.0 - v) * P + 4, 2) +
           "\">" + fixed(100.0 * (1.0 - v), 0) + "</text>\n";
    }
  }
  s += "<rect x=\"" + std::to_string(L) + "\" y=\"" + std::to_string(top) + "\" width=\"" +
       std::to_string(P) + "\" height=\"" + std::to_string(P) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  s += "<text x=\"" + std::to_string(L + P / 2) + "\" y=\"" + std::to_string(top + P + 36) +
       "\" text-anchor=\"middle\">" + xlabels[p.index] + "</text>\n";
  s += "<text transform=\"translate(" + std::to_string(L - 42) + "," + std::to_string(top + P / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + ylabels[p.index] + "</text>\n";
  if (pa) {
    s += "<text transform=\"translate(" + std::to_string(L + P + 40) + "," +
         std::to_string(top + P / 2) + ") rotate(90)\" text-anchor=\"middle\" fill=\"" +
         area_colour + "\">occupied area (%)</text>\n";
  } else {
    s += p.polyline({{0, 0, 0}, {1, 1, 0}}, random_colour, 1.2, "6,4");
  }
  return s;
}

/// The P-A panel's two curves against the normalised threshold (the area on the reversed right
/// axis, so that the curves cross where deposits % = 100 - area %), the crossing marked, and
/// the legend under the panel.
std::string svg_prediction_area(const ValidationResult& r, const SvgPanel& p) {
  const PredictionArea& pa = r.prediction_area;
  const double range = r.score_max - r.score_min;
  auto norm = [&](double t) { return range > 0.0 ? (t - r.score_min) / range : 0.0; };
  std::vector<CurvePoint> deposits;
  std::vector<CurvePoint> area;
  for (const auto& q : pa.curve) {
    deposits.push_back({norm(q.threshold), q.deposits_pct / 100.0, q.threshold});
    area.push_back({norm(q.threshold), 1.0 - q.area_pct / 100.0, q.threshold});
  }
  std::string s = p.polyline(area, area_colour, 2.0, "");
  s += p.polyline(deposits, all_colour, 2.4, "");
  if (std::isfinite(pa.deposits_pct)) {
    s += "<circle cx=\"" + p.x(pa.threshold_normalised) + "\" cy=\"" + p.y(pa.deposits_pct / 100.0) +
         "\" r=\"5\" fill=\"white\" stroke=\"black\" stroke-width=\"1.6\"/>\n";
  }
  const std::vector<std::pair<std::string, std::string>> lines = {
      {all_colour, "deposits predicted: share with score >= t (left axis)"},
      {area_colour, "occupied area: share of valid cells with score >= t (right axis)"},
      {"", "crossing (circle): t = " + significant(pa.threshold, 4) + " (normalised " +
               fixed(pa.threshold_normalised, 3) + "),"},
      {"", fixed(pa.deposits_pct, 1) + " % of deposits in " + fixed(pa.area_pct, 1) +
               " % of the area, density P/A = " + fixed(pa.normalised_density, 2)}};
  int ly = svg_top + svg_side + 58;
  for (const auto& [colour, label] : lines) {
    if (!colour.empty()) {
      s += "<line x1=\"" + std::to_string(p.left) + "\" y1=\"" + std::to_string(ly - 4) + "\" x2=\"" +
           std::to_string(p.left + 18) + "\" y2=\"" + std::to_string(ly - 4) + "\" stroke=\"" + colour +
           "\" stroke-width=\"2.4\"/>\n";
    }
    s += "<text x=\"" + std::to_string(p.left + 24) + "\" y=\"" + std::to_string(ly) +
         "\" font-size=\"11\">" + text::xml_escape(label) + "</text>\n";
    ly += 16;
  }
  return s;
}

/// The panel's curves (each fold's held-out deposits, then all deposits on top) into `s`, and
/// their legend: all deposits first, the folds, the random diagonal last.
std::vector<LegendEntry> svg_curves(const ValidationResult& r, const SvgPanel& p, std::string& s) {
  const bool success = p.index == 0;
  std::vector<LegendEntry> legend;
  for (std::size_t f = 0; f < r.folds.size(); ++f) {
    const RateSummary& held = r.folds[f].prediction;
    const std::string c = fold_colour(f);
    s += p.polyline(success ? held.curve : held.roc, c, 1.3, "");
    const std::string lbl = (r.split == "holdout" ? std::string("held out") : "fold " + std::to_string(f + 1)) +
                            " (" + std::to_string(held.deposits) + "): AUC " +
                            fixed(success ? held.auc : held.roc_auc, 3);
    legend.emplace_back(c, (success ? "prediction rate, " : "") + lbl);
  }
  s += p.polyline(success ? r.all.curve : r.all.roc, all_colour, 2.4, "");
  legend.insert(legend.begin(),
                {all_colour, (success ? "success rate, AUC = " + fixed(r.all.auc, 4)
                                      : "ROC AUC = " + fixed(r.all.roc_auc, 4)) +
                                 " (" + std::to_string(success ? r.all.deposits : r.all.cells) +
                                 (success ? " deposits)" : " cells)")});
  legend.emplace_back(random_colour, "random (AUC = 0.5)");
  return legend;
}

/// The legend box in the panel's lower right: every entry (rows tighter when there are many),
/// the box as wide as its longest text.
std::string svg_legend(const SvgPanel& p, const std::vector<LegendEntry>& legend) {
  const int n = static_cast<int>(legend.size());
  const int row = std::clamp((svg_side - 24) / std::max(n, 1), 9, 16);
  const double font = std::min(11.0, row - 3.0);
  double text_w = 0.0;
  for (const auto& e : legend) text_w = std::max(text_w, text_width_px(e.second, font));
  const int box_w = std::min(svg_side - 8, static_cast<int>(std::ceil(text_w)) + 24 + 14);
  const int box_h = n * row + 8;
  const int bx = p.left + svg_side - 4 - box_w;
  const int by = svg_top + svg_side - 4 - box_h;
  std::string s = "<rect x=\"" + std::to_string(bx) + "\" y=\"" + std::to_string(by) +
                  "\" width=\"" + std::to_string(box_w) + "\" height=\"" + std::to_string(box_h) +
                  "\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n";
  const int lx = bx + 6;
  int ly = by + 4 + row - 3;
  for (const auto& e : legend) {
    s += "<line x1=\"" + std::to_string(lx) + "\" y1=\"" + std::to_string(ly - 4) + "\" x2=\"" +
         std::to_string(lx + 18) + "\" y2=\"" + std::to_string(ly - 4) + "\" stroke=\"" + e.first +
         "\" stroke-width=\"2.4\"" + (e.first == random_colour ? " stroke-dasharray=\"6,4\"" : "") +
         "/>\n";
    s += "<text x=\"" + std::to_string(lx + 24) + "\" y=\"" + std::to_string(ly) + "\" font-size=\"" +
         fixed(font, 0) + "\">" + text::xml_escape(e.second) + "</text>\n";
    ly += row;
  }
  return s;
}

/// The capture-efficiency lines under the success-rate panel: a heading, then one line per top
/// share (a second column under the ROC panel past capture_rows lines).
std::string svg_capture(const ValidationResult& r) {
  std::string s = "<text x=\"" + std::to_string(svg_lefts[0]) + "\" y=\"" +
                  std::to_string(below_panels) +
                  "\" font-weight=\"bold\" fill=\"#333\">capture efficiency (all deposits)</text>\n";
  for (std::size_t i = 0; i < r.all.capture.size(); ++i) {
    const auto& [p, f] = r.all.capture[i];
    const std::size_t col = i / capture_rows;
    const int x = svg_lefts[0] + static_cast<int>(col) * (svg_lefts[1] - svg_lefts[0]);
    const int y = below_panels + 16 * (static_cast<int>(i % capture_rows) + 1);
    s += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" fill=\"#333\">" +
         text::xml_escape("top " + exact(p) + " % of the area holds " + fixed(100.0 * f, 1) +
                          " % of the deposits") +
         "</text>\n";
  }
  return s;
}

}  // namespace

std::string validation_svg(const ValidationResult& r, const std::string& title) {
  std::string s = svg_heading(r, title);
  for (int panel = 0; panel < 3; ++panel) {
    const SvgPanel p{panel, svg_lefts[panel]};
    s += svg_frame(p);
    if (panel == pa_panel) {
      s += svg_prediction_area(r, p);
      continue;
    }
    const std::vector<LegendEntry> legend = svg_curves(r, p, s);
    s += svg_legend(p, legend);
  }
  s += svg_capture(r);
  s += "</svg>\n";
  return s;
}

namespace {

/// One CSV row: `label`, `how`, `retrained`, `deposits`, then the figures. Appended piece by
/// piece: GCC 12 warns (-Wrestrict, a false positive) on chains of string concatenations here.
void csv_row(std::string& o, const std::string& label, const std::string& how,
             const std::string& retrained, const std::string& deposits,
             const std::vector<double>& figures) {
  for (const std::string* f : {&label, &how, &retrained, &deposits}) {
    o.append(*f);
    o.push_back(',');
  }
  for (std::size_t i = 0; i < figures.size(); ++i) {
    if (i > 0) o.push_back(',');
    o.append(exact(figures[i]));
  }
  o.push_back('\n');
}

std::vector<double> figures_of(const RateSummary& s) {
  std::vector<double> f{s.auc, s.roc_auc};
  for (const auto& c : s.capture) f.push_back(c.second);
  return f;
}

/// <stem>_folds.csv: all deposits on the map, each fold's held-out deposits, their mean and sd.
std::string folds_csv(const ValidationResult& r) {
  std::string o = "row,fold_assignment,retrained,deposits,auc,roc_auc";
  for (const auto& c : r.all.capture) {
    o.append(",capture_top_");
    o.append(exact(c.first));
  }
  o.push_back('\n');
  const std::string how = r.split == "none" ? "" : fold_assignment(r);
  const std::string retrained = r.retrained ? "true" : "false";
  csv_row(o, "all", "", "false", std::to_string(r.all.deposits), figures_of(r.all));
  for (const auto& f : r.folds) {
    csv_row(o, "fold " + std::to_string(f.fold + 1), how, retrained,
            std::to_string(f.prediction.deposits), figures_of(f.prediction));
  }
  if (r.folds.empty()) return o;
  std::vector<FoldSpread> spreads{fold_spread(r, auc_of), fold_spread(r, roc_auc_of)};
  for (std::size_t i = 0; i < r.all.capture.size(); ++i) spreads.push_back(fold_spread(r, capture_of, i));
  std::vector<double> mean;
  std::vector<double> sd;
  for (const auto& f : spreads) {
    mean.push_back(f.mean);
    sd.push_back(f.sd);
  }
  csv_row(o, "mean", how, retrained, "", mean);
  csv_row(o, "sd", how, retrained, "", sd);
  return o;
}

}  // namespace

namespace {

/// The class of a Float32 score: 1 + the thresholds at or below it, compared in Float32.
std::int64_t class_of(double score, const std::vector<double>& thresholds) {
  const auto v = static_cast<float>(score);
  std::int64_t c = 1;
  for (double t : thresholds) c += v >= static_cast<float>(t) ? 1 : 0;
  return c;
}

}  // namespace

geo::PointTable deposits_table(const ValidationResult& r, const std::string& crs_wkt,
                               const std::vector<double>* class_thresholds) {
  using T = geo::PointColumn::Type;
  geo::PointTable t;
  t.layer = "deposits";
  t.crs_wkt = crs_wkt;
  std::vector<geo::PointColumn> cols{{"name", T::text, {}, {}, {}},       {"role", T::text, {}, {}, {}},
                                     {"status", T::text, {}, {}, {}},     {"reason", T::text, {}, {}, {}},
                                     {"map_value", T::real, {}, {}, {}},  {"percentile", T::real, {}, {}, {}},
                                     {"fold", T::integer, {}, {}, {}},    {"col", T::integer, {}, {}, {}},
                                     {"row", T::integer, {}, {}, {}},     {"class", T::integer, {}, {}, {}}};
  const double n = static_cast<double>(r.valid_cells);
  auto used = [&](const RankedDeposit& d, const char* role) {
    t.xy.emplace_back(std::make_pair(d.x, d.y));
    cols[0].text.push_back(d.name);
    cols[1].text.emplace_back(role);
    cols[2].text.emplace_back("used");
    cols[3].text.emplace_back();
    cols[4].real.push_back(static_cast<double>(d.score));
    cols[5].real.push_back(n > 0.0 ? 100.0 * (n - static_cast<double>(d.above) -
                                              0.5 * static_cast<double>(d.equal)) / n
                                   : nan_d);
    cols[6].integer.push_back(d.fold + 1);
    cols[7].integer.push_back(d.col);
    cols[8].integer.push_back(d.row);
    if (class_thresholds != nullptr) cols[9].integer.push_back(class_of(d.score, *class_thresholds));
  };
  auto rejected = [&](const geo::RejectedDeposit& d, const char* role) {
    t.xy.emplace_back(std::nullopt);
    cols[0].text.push_back(d.name);
    cols[1].text.emplace_back(role);
    cols[2].text.emplace_back("rejected");
    cols[3].text.push_back(d.reason);
    cols[4].real.push_back(nan_d);
    cols[5].real.push_back(nan_d);
    for (std::size_t c = 6; c < 9; ++c) cols[c].integer.push_back(c == 6 ? 0 : -1);
    if (class_thresholds != nullptr) cols[9].integer.push_back(0);  // the class raster's nodata
  };
  for (const auto& d : r.deposits) used(d, "validation");
  for (const auto& d : r.rejected) rejected(d, "validation");
  // A retrained fold left out the cells of its held-out deposits (analysis/crossval.cpp): a
  // training deposit on such a cell was not seen by that fold's model.
  std::map<std::pair<std::int64_t, std::int64_t>, int> held_out_fold;
  if (r.retrained) {
    for (const auto& d : r.deposits) held_out_fold.emplace(std::make_pair(d.col, d.row), d.fold);
  }
  for (RankedDeposit d : r.training) {
    const auto it = held_out_fold.find({d.col, d.row});
    d.fold = it == held_out_fold.end() ? -1 : it->second;
    used(d, "training");
  }
  for (const auto& d : r.training_rejected) rejected(d, "training");
  if (class_thresholds == nullptr) cols.pop_back();
  t.columns = std::move(cols);
  return t;
}

std::vector<geo::QuicklookPoint> deposit_points(const ValidationResult& r) {
  using K = geo::QuicklookPoint::Kind;
  std::vector<geo::QuicklookPoint> pts;
  auto add = [&pts](const std::vector<RankedDeposit>& used, const std::vector<geo::RejectedDeposit>& rejected,
                    K used_kind, K rejected_kind) {
    for (const auto& d : used) pts.push_back({d.x, d.y, used_kind});
    for (const auto& d : rejected) {
      if (d.has_xy) pts.push_back({d.x, d.y, rejected_kind});
    }
  };
  add(r.deposits, r.rejected, K::validation_used, K::validation_rejected);
  add(r.training, r.training_rejected, K::training_used, K::training_rejected);
  return pts;
}

void write_deposits_gpkg(const ValidationResult& r, const fs::path& path, StagedFiles& files,
                         const std::vector<double>* class_thresholds) {
  const fs::path gpkg = files.temporary(path, "gpkg");
  geo::write_points_gpkg(gpkg, deposits_table(r, r.crs_wkt, class_thresholds), path.string());
  files.publish(gpkg, path);
}

fs::path deposits_gpkg_path(const fs::path& dir, const std::string& stem) {
  return dir / (stem + "_deposits.gpkg");
}

fs::path training_deposits_gpkg_path(const fs::path& dir, const std::string& stem) {
  return dir / (stem + "_training_deposits.gpkg");
}

std::vector<fs::path> validation_output_paths(const fs::path& dir, const std::string& stem) {
  return {dir / (stem + "_validation.json"), dir / (stem + "_success_rate.csv"),
          dir / (stem + "_roc.csv"), dir / (stem + "_prediction_area.csv"),
          dir / (stem + "_validation.svg"), dir / (stem + "_validation.png"),
          dir / (stem + "_folds.csv"), deposits_gpkg_path(dir, stem)};
}

std::vector<fs::path> write_validation_outputs(const ValidationResult& r, const fs::path& dir,
                                               const std::string& stem, const std::string& title,
                                               StagedFiles& files, bool with_deposits_gpkg) {
  const std::vector<fs::path> paths = validation_output_paths(dir, stem);
  for (const auto& p : paths) files.check(p);
  std::string success = "curve,fold,area_fraction,deposit_fraction,score\n";
  std::string roc = "curve,fold,false_positive_rate,true_positive_rate,score\n";
  auto add = [](std::string& out, const char* name, const std::string& fold,
                const std::vector<CurvePoint>& pts) {
    for (const auto& p : pts) {
      out += std::string(name) + "," + fold + "," + exact(p.x) + "," + exact(p.y) + "," +
             exact(p.score) + "\n";
    }
  };
  add(success, "success", "", r.all.curve);
  add(roc, "all", "", r.all.roc);
  for (const auto& f : r.folds) {
    add(success, "prediction", std::to_string(f.fold + 1), f.prediction.curve);
    add(roc, "held_out", std::to_string(f.fold + 1), f.prediction.roc);
  }
  files.write_text(paths[0], validation_json(r).dump(2) + "\n", "json");
  files.write_text(paths[1], success, "csv");
  files.write_text(paths[2], roc, "csv");
  // Ascending threshold; at each deposit score two rows, >= and > (see PredictionArea).
  std::string pa = "threshold,deposits_pct,area_pct\n";
  for (const auto& q : r.prediction_area.curve) {
    pa += exact(q.threshold) + "," + exact(q.deposits_pct) + "," + exact(q.area_pct) + "\n";
  }
  files.write_text(paths[3], pa, "csv");
  const std::string svg = validation_svg(r, title);
  files.write_text(paths[4], svg, "svg");
  const fs::path png = files.temporary(paths[5], "png");  // the same figure, rendered by librsvg
  geo::write_svg_png(svg, png, "output " + paths[5].string());
  files.publish(png, paths[5]);
  files.write_text(paths[6], folds_csv(r), "csv");
  if (with_deposits_gpkg) write_deposits_gpkg(r, deposits_gpkg_path(dir, stem), files);
  return paths;
}

}  // namespace gp::cli
