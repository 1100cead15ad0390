// Tree ensembles: XGBoost training time on a deposit / background table, and per-cell inference
// of the fused kernel's CPU path beside XGBoost's own CPU prediction (XGBoosterPredictFromDense)
// on the same cells with the same threads. Layers are generated in memory (no I/O), so the
// figures are the scoring alone.
//
//   gp_trees_bench [size=2048] [threads=0 (all)] [trees=300] [depth=6] [deposits=500] [layers=6]
//                  [runs=3] [shap_cells=0]
//
// With shap_cells > 0 it also times TreeSHAP ([output] contributions: the contributions
// program's CPU backend, kernels/tree_shap.hpp) on the first shap_cells cells beside XGBoost's
// own pred_contribs (XGBoosterPredictFromDMatrix, type 2) on the same cells and threads, and
// compares their values (TreeSHAP costs O(trees x leaves x depth^2) per cell: a slice of the
// grid gives its cells/s).
//
// Each run times the kernel and XGBoost one after the other on the same cells (so a shared
// machine's load falls on both alike); the figures are the medians over the runs, wall and CPU
// seconds (CPU: every thread's, the process's clock). The issue's full case is
// `gp_trees_bench 8192 0 300 6 500 6` (6 x 8192 x 8192 layers: 1.6 GB of layers plus the same
// again row-major for XGBoost, and about 10^11 node visits).

#include "model/model.hpp"
#include "plan/program.hpp"
#include "train/trees.hpp"

#include "gp/kernels/backend.hpp"

#include <omp.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// This process's CPU seconds (every thread's).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Wall and CPU seconds of one call of f.
struct Timing {
  double wall;
  double cpu;
};
template <class F>
Timing timed(F&& f) {
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  f();
  return {since(t0), cpu_seconds() - c0};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

/// Smooth synthetic layer l over an n x n grid with a little noise and 1 % missing cells.
std::vector<float> make_layer(int l, std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n * n));
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < n; ++r) {
    std::mt19937 rng(static_cast<std::uint32_t>(r * 131 + l));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (std::int64_t c = 0; c < n; ++c) {
      const double x = static_cast<double>(c) / static_cast<double>(n);
      const double y = static_cast<double>(r) / static_cast<double>(n);
      const float noise = u(rng);
      const float value = static_cast<float>(std::sin((l + 1) * 6.0 * x) * std::cos((l + 2) * 4.0 * y)) +
                          0.2f * noise;
      v[static_cast<std::size_t>(r * n + c)] = u(rng) < 0.01f ? NAN : value;
    }
  }
  return v;
}

/// The training table: deposits where layers 0 + 1 are high, 20 background cells per deposit.
gp::cli::trees::Table training_table(const std::vector<std::vector<float>>& layers, int n_dep) {
  const auto n_layers = static_cast<int>(layers.size());
  gp::cli::trees::Table t;
  t.n_features = layers.size();
  for (int l = 0; l < n_layers; ++l) t.names.push_back("layer" + std::to_string(l));
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> cell(0, layers[0].size() - 1);
  auto add = [&](std::size_t i, float label) {
    for (const auto& l : layers) t.x.push_back(l[i]);
    t.label.push_back(label);
  };
  for (int d = 0; d < n_dep;) {
    const std::size_t i = cell(rng);
    if (layers[0][i] + layers[1][i] > 0.9f) {
      add(i, 1.0f);
      ++d;
    }
  }
  for (int k = 0; k < 20 * n_dep; ++k) add(cell(rng), 0.0f);
  return t;
}

/// The fused kernel's CPU backend set up with identity layers and the trees of `model_json`.
std::unique_ptr<gp::kernels::Backend> kernel_backend(const std::string& model_json, int n_layers,
                                                     int threads) {
  std::vector<double> aux;
  gp::kernels::GroupOp g = gp::cli::trees::flatten_model(model_json, aux);
  gp::kernels::Program p;
  p.n_layers = n_layers;
  g.n_inputs = n_layers;
  for (int l = 0; l < n_layers; ++l) p.inputs[l] = l;
  p.groups[0] = g;
  p.n_groups = 1;
  p.bands[0] = n_layers;
  auto be = gp::kernels::make_cpu_backend(threads);
  be->set_program(p, aux);
  return be;
}

/// XGBoost's booster with `threads` threads predicting from a row-major copy of the layers
/// (made here, not timed: XGBoosterPredictFromDense reads rows).
class XgbPredict {
 public:
  XgbPredict(const std::string& model_json, const std::vector<std::vector<float>>& layers,
             int threads)
      : cells_(layers[0].size()), rows_(cells_ * layers.size()) {
    const std::size_t nl = layers.size();
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(cells_); ++i) {
      for (std::size_t l = 0; l < nl; ++l) rows_[static_cast<std::size_t>(i) * nl + l] = layers[l][static_cast<std::size_t>(i)];
    }
    XGBoosterCreate(nullptr, 0, &bst_);
    XGBoosterLoadModelFromBuffer(bst_, model_json.data(), model_json.size());
    XGBoosterSetParam(bst_, "nthread", std::to_string(threads).c_str());
    char iface[256];
    std::snprintf(iface, sizeof iface,
                  R"({"data": [%llu, true], "shape": [%llu, %d], "typestr": "<f4", "version": 3})",
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(rows_.data())),
                  static_cast<unsigned long long>(cells_), static_cast<int>(nl));
    iface_ = iface;
  }
  XgbPredict(const XgbPredict&) = delete;
  XgbPredict& operator=(const XgbPredict&) = delete;
  ~XgbPredict() {
    if (dm_ != nullptr) XGDMatrixFree(dm_);
    XGBoosterFree(bst_);
  }
  /// XGBoost's probabilities, owned by the booster until the next call.
  const float* predict() {
    const char* config = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* res = nullptr;
    if (XGBoosterPredictFromDense(bst_, iface_.c_str(), config, nullptr, &shape, &dim, &res) != 0) {
      std::fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
      std::exit(1);
    }
    return res;
  }
  /// The first `k` cells as a DMatrix for contribs (made here, not timed: the inplace predict
  /// has no contributions).
  void prepare_contribs(std::size_t k) {
    if (dm_ != nullptr) XGDMatrixFree(dm_);
    XGDMatrixCreateFromMat(rows_.data(), k, rows_.size() / cells_, NAN, &dm_);
  }
  /// XGBoost's pred_contribs of the prepared cells (per cell the layers' SHAP, then the bias).
  const float* contribs() {
    const char* config = R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* res = nullptr;
    if (XGBoosterPredictFromDMatrix(bst_, dm_, config, &shape, &dim, &res) != 0) {
      std::fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
      std::exit(1);
    }
    return res;
  }

 private:
  std::size_t cells_;
  std::vector<float> rows_;
  void* bst_{nullptr};
  void* dm_{nullptr};
  std::string iface_;
};

/// TreeSHAP on the first k cells: the contributions program's CPU backend beside XGBoost's
/// pred_contribs, `runs` times each; prints the medians and the largest difference.
void bench_shap(const std::string& model_json, const std::vector<std::vector<float>>& layers,
                int threads, std::size_t k, int runs, XgbPredict& xgb) {
  const auto n_layers = static_cast<int>(layers.size());
  std::vector<double> aux;
  gp::kernels::GroupOp g = gp::cli::trees::flatten_model(model_json, aux);
  gp::kernels::Program map;
  map.n_layers = n_layers;
  g.n_inputs = n_layers;
  std::vector<std::string> names;
  for (int l = 0; l < n_layers; ++l) {
    map.inputs[l] = l;
    names.push_back("layer" + std::to_string(l));
  }
  names.emplace_back("trees");
  map.groups[0] = g;
  map.n_groups = 1;
  map.bands[0] = n_layers;
  std::vector<gp::cli::ContributionBand> cb;
  const gp::kernels::Program p = gp::cli::contributions_program(map, names, cb);
  auto be = gp::kernels::make_cpu_backend(threads);
  be->set_program(p, aux);
  std::vector<const float*> in;
  for (const auto& l : layers) in.push_back(l.data());
  std::vector<std::vector<float>> out(static_cast<std::size_t>(p.n_bands), std::vector<float>(k));
  std::vector<float*> bands;
  for (auto& o : out) bands.push_back(o.data());
  const float* res = nullptr;
  xgb.prepare_contribs(k);
  std::vector<double> ow, oc, xw, xc;
  for (int r = 0; r < runs; ++r) {
    const Timing o = timed([&] { be->score(in.data(), k, bands.data()); });
    const Timing x = timed([&] { res = xgb.contribs(); });
    ow.push_back(o.wall);
    oc.push_back(o.cpu);
    xw.push_back(x.wall);
    xc.push_back(x.cpu);
    std::printf("TreeSHAP run %d: kernel %.3f s (cpu %.3f s), XGBoost pred_contribs %.3f s (cpu %.3f s)\n",
                r + 1, o.wall, o.cpu, x.wall, x.cpu);
  }
  double err = 0.0;
  std::size_t identical = 0;
  for (std::size_t i = 0; i < k; ++i) {
    for (int l = 0; l < n_layers; ++l) {
      const double a = out[static_cast<std::size_t>(l) + 1][i];
      const double b = res[i * static_cast<std::size_t>(n_layers + 1) + static_cast<std::size_t>(l)];
      err = std::max(err, std::abs(a - b));
      identical += a == b ? 1 : 0;
    }
  }
  const double c = static_cast<double>(k);
  std::printf("TreeSHAP, %zu cells, %d threads: kernel %.3g cells/s (%.3g cells per cpu s), XGBoost "
              "pred_contribs %.3g cells/s (%.3g per cpu s): kernel / XGBoost %.2fx (wall), %.2fx (cpu); "
              "%zu of %zu values bit-identical, max difference %.3g\n",
              k, threads, c / median(ow), c / median(oc), c / median(xw), c / median(xc),
              median(xw) / median(ow), median(xc) / median(oc), identical,
              k * static_cast<std::size_t>(n_layers), err);
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 2048;
  const int threads = argc > 2 && std::atoi(argv[2]) > 0 ? std::atoi(argv[2]) : omp_get_max_threads();
  const int n_trees = argc > 3 ? std::atoi(argv[3]) : 300;
  const int depth = argc > 4 ? std::atoi(argv[4]) : 6;
  const int n_dep = argc > 5 ? std::atoi(argv[5]) : 500;
  const int n_layers = argc > 6 ? std::atoi(argv[6]) : 6;
  const int runs = argc > 7 && std::atoi(argv[7]) > 0 ? std::atoi(argv[7]) : 3;
  const auto shap_cells = static_cast<std::size_t>(argc > 8 ? std::atoll(argv[8]) : 0);
  const auto cells = static_cast<std::size_t>(n * n);
  std::vector<std::vector<float>> layers;
  for (int l = 0; l < n_layers; ++l) layers.push_back(make_layer(l, n));

  const gp::cli::trees::Table t = training_table(layers, n_dep);
  gp::model::TreesSpec spec;
  spec.n_trees = n_trees;
  spec.max_depth = depth;
  spec.seed = 7;
  gp::cli::trees::Booster b;
  const Timing train = timed([&] { b = gp::cli::trees::train_booster(t, gp::model::Method::boosted_trees, spec); });

  auto be = kernel_backend(b.model_json, n_layers, threads);
  std::vector<const float*> in;
  for (auto& l : layers) in.push_back(l.data());
  std::vector<float> ours(cells);
  float* bands[1] = {ours.data()};
  be->score(in.data(), std::min<std::size_t>(cells, 65536), bands);  // warm-up
  XgbPredict xgb(b.model_json, layers, threads);
  const float* res = nullptr;
  std::vector<double> ours_wall, ours_cpu, xgb_wall, xgb_cpu;
  for (int r = 0; r < runs; ++r) {
    const Timing o = timed([&] { be->score(in.data(), cells, bands); });
    const Timing x = timed([&] { res = xgb.predict(); });
    ours_wall.push_back(o.wall);
    ours_cpu.push_back(o.cpu);
    xgb_wall.push_back(x.wall);
    xgb_cpu.push_back(x.cpu);
    std::printf("run %d: kernel %.3f s (cpu %.3f s), XGBoost %.3f s (cpu %.3f s): %.2fx\n", r + 1,
                o.wall, o.cpu, x.wall, x.cpu, x.wall / o.wall);
  }
  double err = 0.0;
  for (std::size_t i = 0; i < cells; ++i) err = std::max(err, std::abs(double(ours[i]) - res[i]));
  const double c = static_cast<double>(cells);
  const double ow = median(ours_wall), xw = median(xgb_wall), oc = median(ours_cpu), xc = median(xgb_cpu);
  std::printf("grid %lld x %lld x %d layers, %d deposits + %d background, %d trees of depth %d, %d threads, median of %d runs\n",
              static_cast<long long>(n), static_cast<long long>(n), n_layers, n_dep, 20 * n_dep,
              n_trees, depth, threads, runs);
  std::printf("training (XGBoost hist, 1 thread): %.3f s (cpu %.3f s)\n", train.wall, train.cpu);
  std::printf("fused kernel, CPU:          %.3f s  %.3g cells/s  (cpu %.3f s, %.3g cells per cpu s)\n", ow, c / ow, oc, c / oc);
  std::printf("XGBoosterPredictFromDense:  %.3f s  %.3g cells/s  (cpu %.3f s, %.3g cells per cpu s)\n", xw, c / xw, xc, c / xc);
  std::printf("kernel / XGBoost: %.2fx (wall), %.2fx (cpu); max |kernel - XGBoost| = %.3g\n", xw / ow,
              xc / oc, err);
  if (shap_cells > 0) bench_shap(b.model_json, layers, threads, std::min(shap_cells, cells), runs, xgb);
  return err <= 1e-6 ? 0 : 1;
}
