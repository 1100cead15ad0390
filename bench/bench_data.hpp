#pragma once
// Deterministic synthetic windows and the benchmark program, shared by kernel_bench.cpp and
// cuda_copy_bench.cu. Host code only; nothing here touches files.

#include "gp/kernels/program.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace gp::bench {

/// Layers in the benchmark program (the e2e benchmark's default, too).
inline constexpr int bench_layers = 6;
/// Seed of the synthetic data; fixed so every run scores the same bytes.
inline constexpr std::uint64_t bench_seed = 42;
/// Cells per hole decision: holes come in runs, like real nodata areas, not as isolated cells
/// (isolated NaNs would make the branches in eval_cell far less predictable than on real maps).
inline constexpr std::size_t hole_run = 64;
/// Probability that a run of `hole_run` cells is a hole (about 5% NaN per layer).
inline constexpr double hole_fraction = 0.05;

/// SplitMix64: a tiny generator whose output is fixed by its seed on every platform (unlike
/// std:: distributions, whose algorithms are implementation-defined).
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Uniform double in [0, 1) from the top 53 bits.
inline double unit_double(std::uint64_t& state) {
  return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
}

/// Value range of synthetic layer `l` (what the program's linear transform maps to 0..1).
inline void layer_range(int l, double& lo, double& hi) {
  static constexpr double ranges[][2] = {{0.0, 5.0},   {0.0, 40.0},  {2.0, 60.0},
                                         {0.02, 0.6},  {-80.0, 40.0}, {-500.0, 1500.0}};
  constexpr int n = static_cast<int>(sizeof(ranges) / sizeof(ranges[0]));
  lo = ranges[l % n][0];
  hi = ranges[l % n][1];
}

/// `n_layers` windows of `side` x `side` cells, layer-major, NaN for nodata.
struct SyntheticLayers {
  std::int64_t side{0};
  std::size_t cells{0};
  std::vector<std::vector<float>> layers;
  std::vector<const float*> ptrs;  ///< layers[l].data(), what Backend::score takes
};

/// Fills one layer: uniform values spanning 10% beyond the layer's range on each side (so the
/// clamp in the linear transform is exercised), NaN in runs covering about 5% of the cells.
inline void fill_layer(std::vector<float>& v, std::size_t cells, int layer) {
  std::uint64_t state = bench_seed ^ (0xD1B54A32D192ED03ull * static_cast<std::uint64_t>(layer + 1));
  double lo = 0.0;
  double hi = 1.0;
  layer_range(layer, lo, hi);
  const double span = hi - lo;
  v.resize(cells);
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t i0 = 0; i0 < cells; i0 += hole_run) {
    const std::size_t i1 = i0 + hole_run < cells ? i0 + hole_run : cells;
    if (unit_double(state) < hole_fraction) {
      for (std::size_t i = i0; i < i1; ++i) v[i] = nan;
      continue;
    }
    for (std::size_t i = i0; i < i1; ++i) {
      v[i] = static_cast<float>(lo + span * (unit_double(state) * 1.2 - 0.1));
    }
  }
}

/// The synthetic layers of a `side` x `side` window. Cached: the latest size only, so a run over
/// several sizes (benchmarks are registered size by size) holds one data set at a time.
inline const SyntheticLayers& synthetic_layers(std::int64_t side, int n_layers = bench_layers) {
  static SyntheticLayers cache;
  if (cache.side == side && static_cast<int>(cache.layers.size()) == n_layers) return cache;
  cache = SyntheticLayers{};
  cache.side = side;
  cache.cells = static_cast<std::size_t>(side) * static_cast<std::size_t>(side);
  cache.layers.resize(static_cast<std::size_t>(n_layers));
  for (int l = 0; l < n_layers; ++l) {
    fill_layer(cache.layers[static_cast<std::size_t>(l)], cache.cells, l);
    cache.ptrs.push_back(cache.layers[static_cast<std::size_t>(l)].data());
  }
  return cache;
}

/// The 6-layer fuzzy network (bench/network_vs_sum.sh) on the six synthetic layers: l1 large, l2 small
/// (midpoint: the middle of the layer's range, spread 5), l3 gaussian, l4 near (midpoint the
/// middle, spread 1 / (range / 4)^2), l5 linear, l6 linear inverted; g1 = fuzzy-or(l1, l2),
/// g2 = weighted-sum(l3..l6; 0.3, 0.3, 0.2, 0.2), final = fuzzy-gamma(g1, g2; 0.9).
inline kernels::Program network_program() {
  using K = kernels::TransformKind;
  kernels::Program p;
  p.n_layers = 6;
  p.n_groups = 3;
  p.n_bands = 1;
  p.mask_layer = -1;
  p.out_nodata = -9999.0f;
  const K kinds[] = {K::large, K::small, K::gaussian, K::near, K::linear, K::linear};
  for (int l = 0; l < 6; ++l) {
    double lo = 0.0;
    double hi = 1.0;
    layer_range(l, lo, hi);
    kernels::TransformParams& t = p.layers[l].transform;
    t.kind = kinds[l];
    const double mid = 0.5 * (lo + hi);
    const double quarter = (hi - lo) / 4.0;
    if (l < 2) {
      t.a = mid;
      t.b = 5.0;
    } else if (l < 4) {
      t.a = mid;
      t.b = 1.0 / (quarter * quarter);
    } else {
      t.a = l == 4 ? lo : hi;
      t.b = l == 4 ? hi : lo;
    }
  }
  const int in[] = {0, 1, 2, 3, 4, 5, 6, 7};
  const double w[] = {0.5, 0.5, 0.3, 0.3, 0.2, 0.2, 0.5, 0.5};
  for (int k = 0; k < 8; ++k) {
    p.inputs[k] = in[k];
    p.input_weights[k] = w[k];
  }
  p.groups[0] = {kernels::CombineMethod::fuzzy_or, 0, 2, 0, 0.9, 0.0};
  p.groups[1] = {kernels::CombineMethod::weighted_sum, 2, 4, 0, 0.9, 0.0};
  p.groups[2] = {kernels::CombineMethod::fuzzy_gamma, 6, 2, 0, 0.9, 0.0};
  p.bands[0] = 8;  // node numbering: layers 0-5, groups 6-8
  return p;
}

/// A linear weighted sum over `n_layers` layers: each layer scaled over its range to 0..1, then
/// weighted 0.25, 0.2, 0.15, 0.15, 0.15, 0.1 (normalised, as the runner normalises weights).
/// One weighted-sum group over every layer, written to one band; no mask, no aux table.
/// GP_BENCH_PROGRAM=network (six layers) benchmarks network_program() instead.
inline kernels::Program bench_program(int n_layers = bench_layers) {
  if (const char* e = std::getenv("GP_BENCH_PROGRAM");
      e != nullptr && std::string(e) == "network" && n_layers == 6) {
    return network_program();
  }
  static constexpr double weights[] = {0.25, 0.2, 0.15, 0.15, 0.15, 0.1};
  kernels::Program p;
  p.n_layers = n_layers;
  p.n_groups = 1;
  p.n_bands = 1;
  p.mask_layer = -1;
  p.out_nodata = -9999.0f;
  double wsum = 0.0;
  for (int l = 0; l < n_layers; ++l) wsum += weights[l % 6];
  for (int l = 0; l < n_layers; ++l) {
    kernels::LayerOp& op = p.layers[l];
    op.transform.kind = kernels::TransformKind::linear;
    layer_range(l, op.transform.a, op.transform.b);
    op.weight = weights[l % 6] / wsum;
    op.skip_missing = 0;
    p.inputs[l] = l;
    p.input_weights[l] = weights[l % 6] / wsum;
  }
  kernels::GroupOp& g = p.groups[0];
  g.method = kernels::CombineMethod::weighted_sum;
  g.first_input = 0;
  g.n_inputs = n_layers;
  g.skip_missing = 0;
  p.bands[0] = n_layers;  // node numbering: layers first, then groups
  return p;
}

/// Bytes a score pass moves: every layer read once, the result written once.
inline std::size_t score_bytes(std::size_t cells, int n_layers = bench_layers) {
  return cells * sizeof(float) * static_cast<std::size_t>(n_layers + 1);
}

/// "side:N" style names, like Google Benchmark's ArgNames.
inline std::string bench_name(const std::string& base, std::int64_t side) {
  return base + "/side:" + std::to_string(side);
}

#if defined(GP_BENCH_CUDA)
/// Registers the device-resident benchmarks of cuda_copy_bench.cu (device-to-device copy and the
/// scoring kernel alone) for one side. Call only when a CUDA device is present.
void register_cuda_device_benchmarks(std::int64_t side);
#endif

}  // namespace gp::bench
