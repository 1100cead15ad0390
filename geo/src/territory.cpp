#include "gp/geo/territory.hpp"

#include "ogr_crs.hpp"
#include "gp/error.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/us_states.hpp"
#include "gp/geo/vector_source.hpp"
#include "gp/log.hpp"
#include "gp/text.hpp"

#include <ogr_geometry.h>
#include <ogr_spatialref.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#ifndef GP_DATA_DIR
#define GP_DATA_DIR ""
#endif

namespace gp::geo {
namespace fs = std::filesystem;

namespace {

// Natural Earth's Europe reaches overseas (French Guiana, Réunion, the Caribbean Netherlands...);
// European territories keep what lies within EPSG:3035's area of use.
const LonLatBox europe{-35.6, 24.6, 44.9, 84.8};

// Japan has no national equal-area CRS in the EPSG registry (its national grids are 19 plane
// rectangular TM zones): an Albers equal-area conic on the GRS80 ellipsoid (JGD2011 is
// ITRF-based, so no datum shift from WGS84), standard parallels 1/6 and 5/6 of 24-46 N.
const char* const japan_albers =
    "+proj=aea +lat_0=35 +lon_0=137 +lat_1=27.7 +lat_2=42.3 +x_0=0 +y_0=0 +ellps=GRS80 "
    "+towgs84=0,0,0,0,0,0,0 +units=m +no_defs +type=crs";

struct EuMember {
  const char* code;
  const char* name;
  const char* id;
};
// ISO 3166-1 alpha-3 and numeric codes of the 27 EU members (Åland, 248, is Finland's).
const EuMember eu_members[] = {
    {"AUT", "Austria", "040"},     {"BEL", "Belgium", "056"},     {"BGR", "Bulgaria", "100"},
    {"HRV", "Croatia", "191"},     {"CYP", "Cyprus", "196"},      {"CZE", "Czechia", "203"},
    {"DNK", "Denmark", "208"},     {"EST", "Estonia", "233"},     {"FIN", "Finland", "246"},
    {"FRA", "France", "250"},      {"DEU", "Germany", "276"},     {"GRC", "Greece", "300"},
    {"HUN", "Hungary", "348"},     {"IRL", "Ireland", "372"},     {"ITA", "Italy", "380"},
    {"LVA", "Latvia", "428"},      {"LTU", "Lithuania", "440"},   {"LUX", "Luxembourg", "442"},
    {"MLT", "Malta", "470"},       {"NLD", "Netherlands", "528"}, {"POL", "Poland", "616"},
    {"PRT", "Portugal", "620"},    {"ROU", "Romania", "642"},     {"SVK", "Slovakia", "703"},
    {"SVN", "Slovenia", "705"},    {"ESP", "Spain", "724"},       {"SWE", "Sweden", "752"},
};

/// An equal-area CRS for the insular areas, which EPSG has none for: Lambert azimuthal
/// equal-area centred on the islands (GRS80; their datums, NAD83 variants, are ITRF-aligned,
/// so no shift from WGS84 at this scale).
std::string island_laea(double lat, double lon) {
  return "+proj=laea +lat_0=" + text::shortest_plain(lat) + " +lon_0=" +
         text::shortest_plain(lon) +
         " +x_0=0 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs +type=crs";
}

/// A state's, DC's or insular area's territory: code US-<USPS> (the insular areas: their USPS
/// code alone), boundary = the Census feature of its FIPS code.
Territory state_territory(const UsState& s) {
  Territory t{std::string(s.insular ? "" : "US-") + s.usps, s.name, "EPSG:5070",
              "NAD83 / Conus Albers: the USGS equal-area CRS for the lower 48", {s.fips}, {},
              BoundarySet::us_census};
  const std::string usps = s.usps;
  if (usps == "AK") {
    t.crs = "EPSG:3338";
    t.crs_note = "NAD83 / Alaska Albers: equal-area, its area of use spans the antimeridian";
  } else if (usps == "HI") {
    t.crs = "ESRI:102007";
    t.crs_note = "Hawaii Albers Equal Area Conic (NAD83): EPSG has no equal-area CRS for Hawaii";
  } else if (s.insular) {
    // Centres of the islands' extents (American Samoa reaches Swains Island, 11 S).
    const std::map<std::string, std::array<double, 2>> centre = {
        {"PR", {18.2, -66.5}}, {"VI", {18.05, -64.8}}, {"GU", {13.45, 144.8}},
        {"MP", {17.3, 145.7}}, {"AS", {-13.0, -170.0}}};
    const auto& c = centre.at(usps);
    t.crs = island_laea(c[0], c[1]);
    t.crs_note = "Lambert azimuthal equal-area centred on the islands: EPSG has no equal-area "
                 "CRS for them";
  }
  return t;
}

std::vector<Territory> build_table() {
  const std::string laea_eu = "EPSG:3035 (ETRS89-extended / LAEA Europe): the EU's equal-area CRS";
  std::vector<Territory> t;
  t.push_back({"USA", "United States (CONUS, Alaska, Hawaii)", "EPSG:9311",
               "US National Atlas Equal Area (Lambert azimuthal): equal-area over all 50 states; "
               "NAD27-based, so PROJ's WGS84 shift is a ballpark one (tens of metres)",
               {"840"}, {}});
  t.push_back({"CONUS", "Contiguous United States", "EPSG:5070",
               "NAD83 / Conus Albers: the USGS equal-area CRS for the lower 48",
               {"840"}, {{-125.5, 24.0, -66.0, 50.0}}});
  t.push_back({"ALASKA", "Alaska (with the Aleutians across the antimeridian)", "EPSG:3338",
               "NAD83 / Alaska Albers: equal-area, its area of use spans the antimeridian",
               {"840"}, {{-180.0, 50.0, -129.0, 72.0}, {170.0, 50.0, 180.0, 72.0}}});
  t.push_back({"HAWAII", "Hawaii", "ESRI:102007",
               "Hawaii Albers Equal Area Conic (NAD83): EPSG has no equal-area CRS for Hawaii",
               {"840"}, {{-161.0, 18.0, -154.0, 23.0}}});
  t.push_back({"CAN", "Canada", "EPSG:3978",
               "NAD83 / Canada Atlas Lambert: Natural Resources Canada's national CRS (conformal)",
               {"124"}, {}});
  t.push_back({"AUS", "Australia (mainland and Tasmania)", "EPSG:3577",
               "GDA94 / Australian Albers: Geoscience Australia's equal-area CRS",
               {"036"}, {{110.0, -45.0, 155.0, -9.0}}});
  t.push_back({"GBR", "United Kingdom", "EPSG:3035",
               laea_eu + "; EPSG:27700 (British National Grid) leaves out Northern Ireland",
               {"826"}, {europe}});
  Territory eu{"EU", "European Union (27 members, European part)", "EPSG:3035", laea_eu, {},
               {europe}};
  for (const auto& m : eu_members) {
    eu.ids.emplace_back(m.id);
    if (std::string(m.id) == "246") eu.ids.emplace_back("248");
  }
  t.push_back(eu);
  t.push_back({"NOR", "Norway (with Svalbard)", "EPSG:3035", laea_eu, {"578"}, {europe}});
  t.push_back({"GRL", "Greenland", "EPSG:6931",
               "WGS 84 / NSIDC EASE-Grid 2.0 North (polar Lambert azimuthal): equal-area; "
               "EPSG:3413 (polar stereographic) is conformal, so cell areas would vary",
               {"304"}, {}});
  t.push_back({"JPN", "Japan", japan_albers,
               "Albers equal-area conic for Japan (GRS80/JGD2011): EPSG has none; the national "
               "grids are 19 TM zones",
               {"392"}, {{122.0, 20.0, 154.0, 46.0}}});
  t.push_back({"KOR", "South Korea", "EPSG:5179",
               "Korea 2000 / Unified CS: the national CRS covering the whole country (TM; area "
               "distortion below 0.1 % over South Korea)",
               {"410"}, {}});
  for (const auto& m : eu_members) {
    Territory c{m.code, m.name, "EPSG:3035", laea_eu, {m.id}, {europe}};
    if (std::string(m.id) == "246") c.ids.emplace_back("248");
    t.push_back(c);
  }
  for (const auto& s : us_states()) t.push_back(state_territory(s));
  return t;
}

using text::upper;

bool in_box(const LonLatBox& b, double lon, double lat) {
  return lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3];
}

void add_polygons(const OGRGeometry* g, const std::vector<LonLatBox>& keep, OGRMultiPolygon& out) {
  if (g == nullptr) return;
  const OGRwkbGeometryType t = wkbFlatten(g->getGeometryType());
  if (t == wkbPolygon) {
    if (!keep.empty()) {
      OGREnvelope e;
      g->getEnvelope(&e);
      const double lon = 0.5 * (e.MinX + e.MaxX);
      const double lat = 0.5 * (e.MinY + e.MaxY);
      if (std::none_of(keep.begin(), keep.end(),
                       [&](const LonLatBox& b) { return in_box(b, lon, lat); })) {
        return;
      }
    }
    out.addGeometry(g);
  } else if (OGR_GT_IsSubClassOf(t, wkbGeometryCollection)) {
    for (const OGRGeometry* part : g->toGeometryCollection()) add_polygons(part, keep, out);
  } else if (OGR_GT_IsNonLinear(t)) {
    std::unique_ptr<OGRGeometry> lin(g->getLinearGeometry());
    add_polygons(lin.get(), keep, out);
  }
}

struct CtDeleter {
  void operator()(OGRCoordinateTransformation* ct) const {
    OGRCoordinateTransformation::DestroyCT(ct);
  }
};

}  // namespace

const std::vector<Territory>& territories() {
  static const std::vector<Territory> table = build_table();
  return table;
}

namespace {

/// "Norway (with Svalbard)" -> "NORWAY": a territory's name as a user would type it.
std::string plain_name(const std::string& name) {
  return upper(name.substr(0, name.find(" (")));
}

/// How far `key` (upper-case) is from a territory, by code and by name: 0 for its USPS code
/// ("WY" for US-WY) or its name; a code or name that starts the same way counts as 1.
std::size_t distance_to(const std::string& key, const Territory& t) {
  if (t.code == "US-" + key || plain_name(t.name) == key) return 0;
  std::size_t d = std::min(text::edit_distance(key, t.code),
                           text::edit_distance(key, plain_name(t.name)));
  // A code that starts the same way is a good guess too ("CON" -> CONUS).
  if (t.code.rfind(key.substr(0, std::min<std::size_t>(2, key.size())), 0) == 0) {
    d = std::min<std::size_t>(d, 1);
  }
  return d;
}

}  // namespace

const Territory& find_territory(const std::string& code, const std::string& what) {
  std::string key = upper(code);
  const std::map<std::string, std::string> aliases = {
      {"US", "USA"}, {"UK", "GBR"}, {"AK", "ALASKA"}, {"HI", "HAWAII"}};
  if (const auto it = aliases.find(key); it != aliases.end()) key = it->second;
  if (key.rfind("US-", 0) == 0) {
    // The insular areas' codes are their USPS codes alone: US-PR is PR.
    for (const auto& s : us_states()) {
      if (s.insular && key == std::string("US-") + s.usps) key = s.usps;
    }
  }
  for (const auto& t : territories()) {
    if (t.code == key) return t;
  }
  std::vector<std::pair<std::size_t, std::string>> ranked;
  for (const auto& t : territories()) ranked.emplace_back(distance_to(key, t), t.code);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string closest;
  for (std::size_t i = 0; i < std::min<std::size_t>(3, ranked.size()); ++i) {
    closest += (i ? ", " : "") + ranked[i].second;
  }
  throw config_error(what + ": unknown territory '" + code + "'; closest: " + closest +
                     " (geoprospect territories lists them all)");
}

fs::path boundaries_file(const Territory& t) {
  const std::string name = t.source == BoundarySet::us_census
                               ? "us_states/states-10m.json"
                               : "boundaries/ne_countries_50m.topojson";
  std::vector<fs::path> tries;
  if (const char* env = std::getenv("GP_DATA_DIR"); env != nullptr && *env != '\0') {
    tries.emplace_back(fs::path(env) / name);
  }
  if (std::string(GP_DATA_DIR).size() > 0) tries.emplace_back(fs::path(GP_DATA_DIR) / name);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    tries.emplace_back(exe.parent_path() / "data-samples" / name);
    tries.emplace_back(exe.parent_path().parent_path() / "data-samples" / name);
    tries.emplace_back(exe.parent_path().parent_path() / "share/geoprospect" / name);
  }
  for (const auto& p : tries) {
    if (fs::exists(p, ec)) return p;
  }
  throw input_error("territory boundaries not found (looked for " + name +
                    " under $GP_DATA_DIR, the source tree and next to the executable)");
}

GeometryPtr territory_boundary(const Territory& t, const std::string& target_wkt) {
  VectorSpec vs;
  vs.path = boundaries_file(t).string();
  vs.layer = t.source == BoundarySet::us_census ? "states" : "countries";
  vs.crs = "EPSG:4326";  // the TopoJSONs carry no CRS; both sets are lon/lat
  std::string in;
  for (const auto& id : t.ids) in += (in.empty() ? "'" : ", '") + id + "'";
  vs.where = "id IN (" + in + ")";
  vs.what = "territory " + t.code;
  VectorSource src(vs);
  // Read in lon/lat first: the parts are chosen by their lon/lat boxes, then reprojected.
  std::vector<Feature> feats = src.read(std::string());
  auto mp = std::make_unique<OGRMultiPolygon>();
  for (const auto& f : feats) add_polygons(f.geometry.get(), t.keep, *mp);
  if (mp->IsEmpty()) {
    throw input_error("territory " + t.code + ": no boundary polygon found in " + vs.path);
  }
  OGRSpatialReference src_srs = parse_crs("EPSG:4326", "territory");
  OGRSpatialReference dst = parse_crs(target_wkt, "territory CRS");
  std::unique_ptr<OGRCoordinateTransformation, CtDeleter> ct(
      OGRCreateCoordinateTransformation(&src_srs, &dst));
  if (!ct || mp->transform(ct.get()) != OGRERR_NONE) {
    throw input_error("territory " + t.code + ": its boundary cannot be projected to " +
                      crs_label(dst) + ": " + last_gdal_error());
  }
  return GeometryPtr(mp.release());
}

GeometryPtr boundary_from_file(const std::string& path, const std::string& layer,
                               const std::string& where, const std::string& target_wkt,
                               const std::string& what) {
  VectorSpec vs;
  vs.path = path;
  vs.layer = layer;
  vs.where = where;
  vs.what = what;
  VectorSource src(vs);
  std::vector<Feature> feats = src.read(target_wkt);
  auto mp = std::make_unique<OGRMultiPolygon>();
  for (const auto& f : feats) add_polygons(f.geometry.get(), {}, *mp);
  if (mp->IsEmpty()) {
    throw input_error(what + ": " + path + " has no polygon" +
                      (where.empty() ? std::string() : " matching where = \"" + where + "\""));
  }
  return GeometryPtr(mp.release());
}

std::array<double, 4> geometry_extent(const OGRGeometry& g) {
  OGREnvelope e;
  g.getEnvelope(&e);
  return {e.MinX, e.MinY, e.MaxX, e.MaxY};
}

Grid aligned_grid(const std::string& crs_wkt, const std::array<double, 4>& extent, double dx,
                  double dy) {
  constexpr double eps = 1e-9;
  Grid g;
  g.crs_wkt = crs_wkt;
  g.dx = dx;
  g.dy = dy;
  g.x0 = std::floor(extent[0] / dx + eps) * dx;
  g.y0 = std::ceil(extent[3] / dy - eps) * dy;
  g.width = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((extent[2] - g.x0) / dx - eps)));
  g.height = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((g.y0 - extent[1]) / dy - eps)));
  return g;
}

void write_boundary_mask(const OGRGeometry& boundary, const Grid& grid, const fs::path& out,
                         const std::string& what) {
  burn_geometries_tiff({&boundary}, {1.0}, std::numeric_limits<double>::quiet_NaN(), false, grid,
                       out, what);
}

std::string area_of_use_warning(const Grid& grid) {
  OGRSpatialReference srs;
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  if (srs.importFromWkt(grid.crs_wkt.c_str()) != OGRERR_NONE) return {};
  double w = 0, s = 0, e = 0, n = 0;
  const char* area = nullptr;
  if (!srs.GetAreaOfUse(&w, &s, &e, &n, &area)) return {};
  // The area of use is a lon/lat box; a grid is a rectangle in its CRS, whose corners lie
  // outside that box whenever the box is not a rectangle there. So compare in the grid's CRS:
  // the box's projected bounds (edges densified; GDAL handles a box across the antimeridian).
  OGRSpatialReference ll = parse_crs("EPSG:4326", "area of use");
  std::unique_ptr<OGRCoordinateTransformation, CtDeleter> ct(
      OGRCreateCoordinateTransformation(&ll, &srs));
  if (!ct) return {};
  double px0 = 0, py0 = 0, px1 = 0, py1 = 0;
  if (!ct->TransformBounds(w, s, e, n, &px0, &py0, &px1, &py1, 101)) return {};
  const double tol_x = 0.01 * (px1 - px0) + grid.dx;
  const double tol_y = 0.01 * (py1 - py0) + grid.dy;
  const double out = std::max({px0 - grid.x0 - tol_x, grid.xmax() - px1 - tol_x,
                               py0 - grid.ymin() - tol_y, grid.y0 - py1 - tol_y});
  if (out <= 0.0) return {};
  char box[160];
  std::snprintf(box, sizeof(box), "lon %.2f..%.2f, lat %.2f..%.2f", w, e, s, n);
  std::string name = area != nullptr ? std::string(area) : std::string();
  if (name.size() > 80) name = name.substr(0, 77) + "...";
  return "the grid reaches outside the area of use of " + crs_label(srs) + " (" + name + " " +
         box + ") by up to " + text::shortest_plain(std::round(out + std::max(tol_x, tol_y))) +
         " CRS units; distances and areas there may be distorted";
}

}  // namespace gp::geo
