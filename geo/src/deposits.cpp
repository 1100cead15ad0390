#include "gp/geo/deposits.hpp"

#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/text.hpp"

#include <gdal_priv.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace gp::geo {

namespace {
using text::lower;
}  // namespace

bool deposit_filter_keeps(const DepositSpec& spec, const std::string& text) {
  // Done here rather than in OGR SQL: LIKE's case rules differ between drivers.
  if (spec.filter_column.empty()) return true;
  if (!spec.filter_equals.empty() && text != spec.filter_equals) return false;
  return spec.filter_contains.empty() ||
         lower(text).find(lower(spec.filter_contains)) != std::string::npos;
}

DepositPlacement place_deposits(const DepositSpec& spec, const Grid& grid,
                                const CellValidity& valid) {
  VectorSpec vs = spec.source;
  if (vs.what.empty()) vs.what = "deposits";
  const bool filtering = !spec.filter_column.empty();
  if (filtering && spec.filter_contains.empty() && spec.filter_equals.empty()) {
    throw config_error(vs.what + ": filter_column '" + spec.filter_column +
                       "' needs filter_contains or filter_equals");
  }
  VectorSource src(vs);
  std::vector<SkippedFeature> skipped;
  std::vector<Feature> feats =
      src.read(grid.crs_wkt, {}, spec.name_column, &skipped, spec.filter_column);
  if (filtering) {
    auto keep = [&](const std::string& text) { return deposit_filter_keeps(spec, text); };
    std::erase_if(feats, [&](const Feature& f) { return !keep(f.tag); });
    std::erase_if(skipped, [&](const SkippedFeature& f) { return !keep(f.tag); });
  }
  if (feats.empty()) {
    throw_no_features(vs, skipped,
                      filtering ? "filter_column '" + spec.filter_column + "' " +
                                      (spec.filter_equals.empty()
                                           ? "containing '" + spec.filter_contains + "'"
                                           : "equal to '" + spec.filter_equals + "'")
                                : std::string());
  }
  DepositPlacement out;
  for (auto& s : skipped) out.rejected.push_back({s.name, s.reason});
  for (const auto& f : feats) {
    const auto p = representative_point(*f.geometry);
    if (!p) {
      out.rejected.push_back({f.name, "not a point and has no centroid"});
      continue;
    }
    const auto [x, y] = *p;
    const double cx = (x - grid.x0) / grid.dx;
    const double cy = (grid.y0 - y) / grid.dy;
    if (!(cx >= 0.0 && cy >= 0.0 && cx < static_cast<double>(grid.width) &&
          cy < static_cast<double>(grid.height))) {
      out.rejected.push_back({f.name, "outside the grid", true, x, y});
      continue;
    }
    PlacedDeposit d{f.name, x, y, static_cast<std::int64_t>(std::floor(cx)),
                    static_cast<std::int64_t>(std::floor(cy))};
    if (valid && !valid(d.col, d.row)) {
      out.rejected.push_back({f.name, "on a nodata cell", true, x, y});
      continue;
    }
    out.placed.push_back(std::move(d));
  }
  return out;
}

std::string rejected_summary(const std::vector<RejectedDeposit>& rejected, const std::string& verb,
                             const std::string& listed_in) {
  if (rejected.empty()) return {};
  // Reasons in the order they first occur, with their counts.
  std::vector<std::pair<std::string, std::size_t>> reasons;
  for (const auto& r : rejected) {
    auto it = std::find_if(reasons.begin(), reasons.end(),
                           [&](const auto& e) { return e.first == r.reason; });
    if (it == reasons.end()) {
      reasons.emplace_back(r.reason, 1);
    } else {
      ++it->second;
    }
  }
  std::string s = std::to_string(rejected.size()) +
                  (rejected.size() == 1 ? " deposit " : " deposits ") + verb + " (";
  for (std::size_t k = 0; k < reasons.size(); ++k) {
    s += (k > 0 ? ", " : "") + std::to_string(reasons[k].second) + " " + reasons[k].first;
  }
  s += "): ";
  const std::size_t shown = std::min(rejected.size(), rejected_names_shown);
  for (std::size_t i = 0; i < shown; ++i) s += (i > 0 ? ", '" : "'") + rejected[i].name + "'";
  if (shown < rejected.size()) s += ", ...";
  return s + " (all listed in " + listed_in + ")";
}

CellValidity validity_from_raster(const std::string& path) {
  reset_gdal_error();
  std::shared_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY),
                                  [](GDALDataset* d) { GDALClose(GDALDataset::ToHandle(d)); });
  if (!ds) throw input_error("cannot read " + path + ": " + last_gdal_error());
  return [ds](std::int64_t col, std::int64_t row) {
    GDALRasterBand* b = ds->GetRasterBand(1);
    if (col < 0 || row < 0 || col >= b->GetXSize() || row >= b->GetYSize()) return false;
    double v = 0.0;
    if (b->RasterIO(GF_Read, static_cast<int>(col), static_cast<int>(row), 1, 1, &v, 1, 1,
                    GDT_Float64, 0, 0, nullptr) != CE_None) {
      return false;
    }
    int has = 0;
    const double nd = b->GetNoDataValue(&has);
    return std::isfinite(v) && !(has != 0 && v == nd);
  };
}

}  // namespace gp::geo
