// The Cloncurry weights-of-evidence demos through the CLI. The test recounts every
// class and deposit cell itself (GDAL reads of the rasters, OGR reads of the deposits, its own
// cell placement and de-duplication), applies the weight formulas, and checks the weights
// tables and every cell of the posterior, its standard deviation and the confidence.
#include "test_support.hpp"

#include <gdal_priv.h>
#include <ogrsf_frmts.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using gp::test::run_cli;

namespace {

const fs::path demo = gp::test::source_dir() / "data-samples" / "cloncurry";

struct Raster {
  int w{0};
  int h{0};
  std::array<double, 6> gt{};
  std::vector<double> v;
  std::optional<double> nodata;
};

Raster read(const fs::path& p) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(p.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  EXPECT_TRUE(ds) << p;
  Raster r;
  r.w = ds->GetRasterXSize();
  r.h = ds->GetRasterYSize();
  ds->GetGeoTransform(r.gt.data());
  r.v.resize(static_cast<std::size_t>(r.w) * r.h);
  EXPECT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, r.w, r.h, r.v.data(), r.w, r.h,
                                           GDT_Float64, 0, 0),
            CE_None);
  int has = 0;
  const double nd = ds->GetRasterBand(1)->GetNoDataValue(&has);
  if (has != 0) r.nodata = nd;
  return r;
}

/// Deposit cells (row * width + col), each once.
std::set<std::size_t> deposit_cells(const Raster& g) {
  GDALDatasetUniquePtr ds(GDALDataset::Open((demo / "deposits" / "IOCG_Deposits.shp").c_str(),
                                            GDAL_OF_VECTOR | GDAL_OF_READONLY));
  EXPECT_TRUE(ds);
  std::set<std::size_t> cells;
  for (auto& f : ds->GetLayer(0)) {
    const OGRPoint* p = f->GetGeometryRef()->toPoint();
    const double c = std::floor((p->getX() - g.gt[0]) / g.gt[1]);
    const double r = std::floor((p->getY() - g.gt[3]) / g.gt[5]);
    if (c >= 0 && r >= 0 && c < g.w && r < g.h) {
      cells.insert(static_cast<std::size_t>(r) * g.w + static_cast<std::size_t>(c));
    }
  }
  return cells;
}

struct W {
  double wp{0}, sp{0}, wm{0}, sm{0};
  bool p_ok{false}, m_ok{false};
};

/// The weights of a pattern: areas in unit cells (cells x 0.01 for 100 m cells, 1 km² units).
W weights_of(double cells_b, double d_b, double cells_t, double d_t) {
  const double ab = cells_b * 0.01;
  const double at = cells_t * 0.01;
  W w;
  if (d_b > 0 && ab - d_b > 0) {
    w.wp = std::log((d_b / d_t) / ((ab - d_b) / (at - d_t)));
    w.sp = std::sqrt(1 / d_b + 1 / (ab - d_b));
    w.p_ok = true;
  }
  const double an = at - ab;
  const double dn = d_t - d_b;
  if (dn > 0 && an - dn > 1e-9) {
    w.wm = std::log((dn / d_t) / ((an - dn) / (at - d_t)));
    w.sm = std::sqrt(1 / dn + 1 / (an - dn));
    w.m_ok = true;
  }
  return w;
}

std::vector<std::map<std::string, std::string>> read_table(const fs::path& p) {
  EXPECT_TRUE(fs::exists(p)) << p;
  std::string line;
  auto rows = gp::test::read_csv_rows(p, &line);
  EXPECT_EQ(line,
            "CLASS,CLASS_AREA,AREA_UNITS,NO_POINTS,WPLUS,S_WPLUS,WMINUS,S_WMINUS,CONTRAST,"
            "S_CONTRAST,STUDC,GEN_CLASS,WEIGHT,W_STD,NOTE");
  return rows;
}

double num(const std::string& s) {
  std::istringstream in(s);
  in.imbue(std::locale::classic());
  double v = 0;
  in >> v;
  return v;
}

void expect_rel(double got, double want, double rel, const std::string& what) {
  EXPECT_NEAR(got, want, rel * std::max(1.0, std::abs(want))) << what;
}

TEST(CloncurryDemo, BinaryWofeTablesAndEveryCell) {
  const fs::path dir = gp::test::scratch_dir();
  const fs::path out = dir / "wofe.tif";
  const auto r = run_cli({"run", (demo / "iocg_wofe_binary.toml").string(), "-o", out.string(),
                          "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::vector<std::string> names{"Dist2Breccia", "Dist2Fault", "FaultDensity", "StratNo"};
  std::vector<Raster> layers;
  for (const auto& n : names) layers.push_back(read(demo / "inputs_binary" / (n + ".tif")));
  const Raster& g = layers[0];
  const std::size_t n = g.v.size();
  const std::set<std::size_t> dep = deposit_cells(g);
  EXPECT_EQ(dep.size(), 252u);  // 258 points, 6 share a cell (SOURCES.md)
  const double d_t = static_cast<double>(dep.size());
  const double t_cells = static_cast<double>(n);  // no nodata cell in these layers

  // Per layer, classes 1 and 2: weight and variance by class.
  std::vector<std::map<int, std::pair<double, double>>> wv(names.size());
  for (std::size_t l = 0; l < names.size(); ++l) {
    std::map<int, double> cells;
    std::map<int, double> deps;
    for (std::size_t i = 0; i < n; ++i) cells[static_cast<int>(layers[l].v[i])] += 1;
    for (std::size_t i : dep) deps[static_cast<int>(layers[l].v[i])] += 1;
    ASSERT_EQ(cells.size(), 2u) << names[l];
    const auto rows = read_table(dir / ("wofe_wofe_" + names[l] + ".csv"));
    ASSERT_EQ(rows.size(), 2u);
    int k = 0;
    for (const auto& [cls, c] : cells) {
      const auto& row = rows[static_cast<std::size_t>(k++)];
      const W w = weights_of(c, deps[cls], t_cells, d_t);
      ASSERT_TRUE(w.p_ok && w.m_ok);
      const std::string what = names[l] + " class " + std::to_string(cls);
      EXPECT_EQ(num(row.at("CLASS")), cls) << what;
      expect_rel(num(row.at("AREA_UNITS")), c * 0.01, 1e-11, what);
      expect_rel(num(row.at("CLASS_AREA")), c * 0.01, 1e-11, what);
      EXPECT_EQ(num(row.at("NO_POINTS")), deps[cls]) << what;
      expect_rel(num(row.at("WPLUS")), w.wp, 1e-10, what);
      expect_rel(num(row.at("S_WPLUS")), w.sp, 1e-10, what);
      expect_rel(num(row.at("WMINUS")), w.wm, 1e-10, what);
      expect_rel(num(row.at("S_WMINUS")), w.sm, 1e-10, what);
      expect_rel(num(row.at("CONTRAST")), w.wp - w.wm, 1e-10, what);
      const double sc = std::sqrt(w.sp * w.sp + w.sm * w.sm);
      expect_rel(num(row.at("S_CONTRAST")), sc, 1e-10, what);
      expect_rel(num(row.at("STUDC")), (w.wp - w.wm) / sc, 1e-10, what);
      EXPECT_EQ(num(row.at("GEN_CLASS")), cls) << what;
      expect_rel(num(row.at("WEIGHT")), w.wp, 1e-10, what);
      expect_rel(num(row.at("W_STD")), w.sp, 1e-10, what);
      wv[l][cls] = {w.wp, w.sp * w.sp};
    }
  }

  // Every cell of the three bands.
  GDALDatasetUniquePtr ds(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds);
  ASSERT_EQ(ds->GetRasterCount(), 3);
  EXPECT_STREQ(ds->GetRasterBand(1)->GetDescription(), "posterior");
  EXPECT_STREQ(ds->GetRasterBand(2)->GetDescription(), "posterior_std");
  EXPECT_STREQ(ds->GetRasterBand(3)->GetDescription(), "confidence");
  const auto post = gp::test::read_raster(out, 1);
  const auto sd = gp::test::read_raster(out, 2);
  const auto conf = gp::test::read_raster(out, 3);
  ASSERT_EQ(post.size(), n);
  const double prior = std::log(d_t / (t_cells * 0.01 - d_t));
  std::size_t bad = 0;
  double predicted = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double logit = prior;
    double var = 1.0 / d_t;
    for (std::size_t l = 0; l < names.size(); ++l) {
      const auto& [w, v] = wv[l].at(static_cast<int>(layers[l].v[i]));
      logit += w;
      var += v;
    }
    const double p = 1.0 / (1.0 + std::exp(-logit));
    const double s = p * std::sqrt(var);
    predicted += p * 0.01;
    const bool ok = std::abs(post[i] - p) <= 2e-6 * p && std::abs(sd[i] - s) <= 2e-6 * s &&
                    std::abs(conf[i] - p / s) <= 2e-6 * p / s;
    if (!ok && bad++ < 5) {
      ADD_FAILURE() << "cell " << i << ": " << post[i] << " " << sd[i] << " " << conf[i]
                    << " expected " << p << " " << s << " " << p / s;
    }
  }
  EXPECT_EQ(bad, 0u);

  // Report: conditional independence (observed / predicted) and the warning below 0.85.
  std::ifstream rin(dir / "wofe_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  const auto& ci = rep.at("weights_of_evidence").at("conditional_independence");
  EXPECT_NEAR(ci.at("predicted_deposits").get<double>(), predicted, 1e-4 * predicted);
  EXPECT_NEAR(ci.at("ratio").get<double>(), d_t / predicted, 1e-4);
  EXPECT_EQ(ci.at("unique_conditions"), 16);
  const double p_value = ci.at("agterberg_cheng").at("p_value").get<double>();
  EXPECT_GE(p_value, 0.0);
  EXPECT_LE(p_value, 1.0);
  EXPECT_EQ(ci.contains("warning"), d_t / predicted < 0.85);
  EXPECT_EQ(rep.at("weights_of_evidence").at("deposits").at("sharing_a_cell").size(), 6u);
}

/// Threshold of maximum studentised contrast, recounted: classes in cumulative order; its
/// studentised contrast goes to `best_studc`.
double best_threshold(const std::map<double, std::pair<double, double>>& cls, bool ascending,
                      double t_cells, double d_t, double* best_studc = nullptr) {
  std::vector<std::pair<double, std::pair<double, double>>> order(cls.begin(), cls.end());
  if (!ascending) std::reverse(order.begin(), order.end());
  double cb = 0, db = 0, best = -1e300, thr = 0;
  for (const auto& [v, cd] : order) {
    cb += cd.first;
    db += cd.second;
    const W w = weights_of(cb, db, t_cells, d_t);
    if (!(w.p_ok && w.m_ok)) continue;
    const double studc = (w.wp - w.wm) / std::sqrt(w.sp * w.sp + w.sm * w.sm);
    if (studc > best) {
      best = studc;
      thr = v;
    }
  }
  if (best_studc != nullptr) *best_studc = best;
  return thr;
}

TEST(CloncurryDemo, MulticlassWofeGeneralisation) {
  const fs::path dir = gp::test::scratch_dir();
  const fs::path out = dir / "multi.tif";
  // Not --quiet: the warnings are counted below.
  const auto r = run_cli({"run", (demo / "iocg_wofe_multiclass.toml").string(), "-o",
                          out.string(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream rin(dir / "multi_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  auto report_of = [&](const std::string& layer) {
    for (const auto& l : rep.at("weights_of_evidence").at("layers")) {
      if (l.at("layer") == layer) return l;
    }
    ADD_FAILURE() << "no report entry for " << layer;
    return nlohmann::json();
  };
  std::size_t weak = 0;  // chosen thresholds with C/s(C) < 2 (ArcSDM's rule of thumb)
  struct Case {
    std::string name;
    bool ascending;
    std::size_t classes;
  };
  for (const Case& c : {Case{"Dist2Breccia", true, 642}, Case{"FaultDensity", false, 10}}) {
    const Raster ras = read(demo / "inputs_multiclass" / (c.name + ".tif"));
    const std::set<std::size_t> dep = deposit_cells(ras);
    std::map<double, std::pair<double, double>> cls;
    for (double v : ras.v) cls[v].first += 1;
    for (std::size_t i : dep) cls[ras.v[i]].second += 1;
    ASSERT_EQ(cls.size(), c.classes) << c.name;
    double studc = 0.0;
    const double thr = best_threshold(cls, c.ascending, static_cast<double>(ras.v.size()),
                                      static_cast<double>(dep.size()), &studc);
    weak += studc < 2.0 ? 1 : 0;
    // The threshold in the layer's own units (these layers have no breaks: the class values are
    // the values, e.g. metres for Dist2Breccia), as the report gives it.
    const nlohmann::json lr = report_of(c.name);
    EXPECT_EQ(lr.at("threshold_value").get<double>(), thr) << c.name;
    std::ostringstream pattern;
    pattern << c.name << (c.ascending ? " <= " : " >= ") << thr;
    EXPECT_EQ(lr.at("favourable_pattern").get<std::string>(), pattern.str());
    std::size_t logged = 0;
    for (const auto& line : gp::test::lines(r.err)) {
      logged += line.find("threshold " + pattern.str() + " (") != std::string::npos ? 1 : 0;
    }
    EXPECT_EQ(logged, 1u) << r.err;
    const auto rows = read_table(dir / ("multi_wofe_" + c.name + ".csv"));
    ASSERT_EQ(rows.size(), c.classes);
    // Rows in cumulative order; generalised class 2 exactly for the classes on the favourable
    // side of the threshold.
    for (const auto& row : rows) {
      const double v = num(row.at("CLASS"));
      const bool inside = c.ascending ? v <= thr : v >= thr;
      EXPECT_EQ(num(row.at("GEN_CLASS")), inside ? 2 : 1) << c.name << " class " << v;
    }
    EXPECT_EQ(num(rows.front().at("CLASS")), c.ascending ? cls.begin()->first : cls.rbegin()->first);
  }
  // GA's test data thresholds fault density at classes 10-6 by hand; the statistics agree.
  EXPECT_EQ(report_of("FaultDensity").at("threshold").get<double>(), 6.0);
  // One warning per weak threshold, none about the 252 deposits (10 or more). Dist2Breccia's
  // 642 classes are whole numbers (metres): not refused.
  std::size_t weak_lines = 0;
  std::size_t few_lines = 0;
  for (const auto& line : gp::test::lines(r.err)) {
    weak_lines += line.find("studentised contrast C/s(C)") != std::string::npos ? 1 : 0;
    few_lines += line.find("rest on") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(weak_lines, weak) << r.err;
  EXPECT_EQ(few_lines, 0u) << r.err;
  const auto strat = read_table(dir / "multi_wofe_StratNo.csv");
  EXPECT_EQ(strat.size(), 87u);
  for (const auto& row : strat) {
    if (num(row.at("NO_POINTS")) == 0) {
      EXPECT_EQ(num(row.at("WEIGHT")), 0.0);
      EXPECT_FALSE(row.at("NOTE").empty());
    }
  }
  EXPECT_EQ(gp::test::read_raster(out, 1).size(), 1259u * 2487u);
}

TEST(CloncurryDemo, LogisticRegressionIsTheMaximumLikelihoodFit) {
  const fs::path dir = gp::test::scratch_dir();
  const fs::path out = dir / "lr.tif";
  const auto r = run_cli({"run", (demo / "iocg_logistic.toml").string(), "-o", out.string(),
                          "--device", "cpu", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Coefficients from the CSV: intercept, Dist2Fault=1, FaultDensity=2, StratNo=2, Dist2Breccia_m.
  std::ifstream in(dir / "lr_logistic.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "TERM,COEFFICIENT,STD_ERROR,Z");
  std::vector<std::string> terms;
  std::vector<double> beta;
  while (std::getline(in, line)) {
    const auto q = line.find("\",");
    terms.push_back(line.substr(1, q - 1));
    std::stringstream rest(line.substr(q + 2));
    std::string c;
    std::getline(rest, c, ',');
    beta.push_back(num(c));
  }
  ASSERT_EQ(terms, (std::vector<std::string>{"intercept", "Dist2Fault=1", "FaultDensity=2",
                                             "StratNo=2", "Dist2Breccia_m"}));
  // The test's own design: indicators where the binary layers are 1 / 2 / 2 (the reference is
  // each layer's more common class: 2 / 1 / 1 in these files), distance standardised with the
  // population mean and standard deviation over every cell.
  const Raster fault = read(demo / "inputs_binary" / "Dist2Fault.tif");
  const Raster dens = read(demo / "inputs_binary" / "FaultDensity.tif");
  const Raster strat = read(demo / "inputs_binary" / "StratNo.tif");
  const Raster dist = read(demo / "inputs_multiclass" / "Dist2Breccia.tif");
  const std::size_t n = dist.v.size();
  double mean = 0.0;
  for (double v : dist.v) mean += v;
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (double v : dist.v) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(n));
  const std::set<std::size_t> dep = deposit_cells(dist);
  const auto prob = gp::test::read_raster(out, 1);
  // Score equations at the reported coefficients: sum x (y - a p) = 0 (a = 0.01 unit cells).
  std::vector<double> grad(5, 0.0);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x[5] = {1.0, fault.v[i] == 1 ? 1.0 : 0.0, dens.v[i] == 2 ? 1.0 : 0.0,
                         strat.v[i] == 2 ? 1.0 : 0.0, (dist.v[i] - mean) / sd};
    double eta = 0.0;
    for (int j = 0; j < 5; ++j) eta += x[j] * beta[static_cast<std::size_t>(j)];
    const double p = 1.0 / (1.0 + std::exp(-eta));
    if (std::abs(prob[i] - p) > 1e-5 * p && bad++ < 5) {
      ADD_FAILURE() << "cell " << i << ": " << prob[i] << " expected " << p;
    }
    const double y = dep.count(i) != 0 ? 1.0 : 0.0;
    for (int j = 0; j < 5; ++j) grad[static_cast<std::size_t>(j)] += x[j] * (y - 0.01 * p);
  }
  EXPECT_EQ(bad, 0u);
  for (std::size_t j = 0; j < 5; ++j) EXPECT_NEAR(grad[j], 0.0, 1e-3) << terms[j];
  std::ifstream rin(dir / "lr_report.json");
  const nlohmann::json rep = nlohmann::json::parse(rin);
  EXPECT_TRUE(rep.at("logistic_regression").at("converged").get<bool>());
  GDALDatasetUniquePtr ds(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(ds);
  EXPECT_STREQ(ds->GetRasterBand(1)->GetDescription(), "probability");
}

}  // namespace
