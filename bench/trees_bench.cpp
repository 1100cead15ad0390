// Tree ensembles: XGBoost training time on a deposit / background table, and per-cell inference
// of the fused kernel's CPU path beside XGBoost's own CPU prediction (XGBoosterPredictFromDense)
// on the same cells with the same threads. Layers are generated in memory (no I/O), so the
// figures are the scoring alone.
//
//   gp_trees_bench [size=2048] [threads=0 (all)] [trees=300] [depth=6] [deposits=500] [layers=6]
//
// The issue's full case is `gp_trees_bench 8192 0 300 6 500 6` (6 x 8192 x 8192 layers: 1.6 GB
// of layers plus the same again row-major for XGBoost, and about 10^11 node visits).

#include "model/model.hpp"
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
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 2048;
  const int threads = argc > 2 && std::atoi(argv[2]) > 0 ? std::atoi(argv[2]) : omp_get_max_threads();
  const int n_trees = argc > 3 ? std::atoi(argv[3]) : 300;
  const int depth = argc > 4 ? std::atoi(argv[4]) : 6;
  const int n_dep = argc > 5 ? std::atoi(argv[5]) : 500;
  const int n_layers = argc > 6 ? std::atoi(argv[6]) : 6;
  const auto cells = static_cast<std::size_t>(n * n);
  std::vector<std::vector<float>> layers;
  for (int l = 0; l < n_layers; ++l) layers.push_back(make_layer(l, n));

  // Training table: deposits where layers 0 + 1 are high, 20 background cells per deposit.
  gp::cli::trees::Table t;
  t.n_features = static_cast<std::size_t>(n_layers);
  for (int l = 0; l < n_layers; ++l) t.names.push_back("layer" + std::to_string(l));
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> cell(0, cells - 1);
  auto add = [&](std::size_t i, float label) {
    for (int l = 0; l < n_layers; ++l) t.x.push_back(layers[static_cast<std::size_t>(l)][i]);
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
  gp::model::TreesSpec spec;
  spec.n_trees = n_trees;
  spec.max_depth = depth;
  spec.seed = 7;
  auto t0 = Clock::now();
  const gp::cli::trees::Booster b = gp::cli::trees::train_booster(t, gp::model::Method::boosted_trees, spec);
  const double train_s = since(t0);

  // The fused kernel on the CPU: identity layers and the trees.
  std::vector<double> aux;
  gp::kernels::GroupOp g = gp::cli::trees::flatten_model(b.model_json, aux);
  gp::kernels::Program p;
  p.n_layers = n_layers;
  g.n_inputs = n_layers;
  for (int l = 0; l < n_layers; ++l) p.inputs[l] = l;
  p.groups[0] = g;
  p.n_groups = 1;
  p.bands[0] = n_layers;
  auto be = gp::kernels::make_cpu_backend(threads);
  be->set_program(p, aux);
  std::vector<const float*> in;
  for (auto& l : layers) in.push_back(l.data());
  std::vector<float> ours(cells);
  float* bands[1] = {ours.data()};
  be->score(in.data(), std::min<std::size_t>(cells, 65536), bands);  // warm-up
  t0 = Clock::now();
  be->score(in.data(), cells, bands);
  const double ours_s = since(t0);

  // XGBoost's own CPU prediction on the same cells (row-major copy made first, not timed).
  std::vector<float> rows(cells * static_cast<std::size_t>(n_layers));
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(cells); ++i) {
    for (int l = 0; l < n_layers; ++l) {
      rows[static_cast<std::size_t>(i) * n_layers + l] = layers[static_cast<std::size_t>(l)][static_cast<std::size_t>(i)];
    }
  }
  void* bst = nullptr;
  XGBoosterCreate(nullptr, 0, &bst);
  XGBoosterLoadModelFromBuffer(bst, b.model_json.data(), b.model_json.size());
  XGBoosterSetParam(bst, "nthread", std::to_string(threads).c_str());
  char iface[256];
  std::snprintf(iface, sizeof iface,
                R"({"data": [%llu, true], "shape": [%llu, %d], "typestr": "<f4", "version": 3})",
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(rows.data())),
                static_cast<unsigned long long>(cells), n_layers);
  const char* config = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  t0 = Clock::now();
  if (XGBoosterPredictFromDense(bst, iface, config, nullptr, &shape, &dim, &res) != 0) {
    std::fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
    return 1;
  }
  const double xgb_s = since(t0);
  double err = 0.0;
  for (std::size_t i = 0; i < cells; ++i) err = std::max(err, std::abs(double(ours[i]) - res[i]));
  XGBoosterFree(bst);
  const double c = static_cast<double>(cells);
  std::printf("grid %lld x %lld x %d layers, %d deposits + %d background, %d trees of depth %d, %d threads\n",
              static_cast<long long>(n), static_cast<long long>(n), n_layers, n_dep, 20 * n_dep,
              n_trees, depth, threads);
  std::printf("training (XGBoost hist, 1 thread): %.3f s\n", train_s);
  std::printf("fused kernel, CPU:          %.3f s  %.3g cells/s\n", ours_s, c / ours_s);
  std::printf("XGBoosterPredictFromDense:  %.3f s  %.3g cells/s\n", xgb_s, c / xgb_s);
  std::printf("speed-up %.2fx; max |kernel - XGBoost| = %.3g\n", xgb_s / ours_s, err);
  return err <= 1e-6 ? 0 : 1;
}
