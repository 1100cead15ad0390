// Google Benchmark for the compute backends: Backend::score (a 6-layer linear weighted sum) and
// Backend::stats on deterministic synthetic windows held in memory, raster side as the axis.
// No I/O in the timed region. items_per_second = cells/s; bytes_per_second counts the bytes a
// pass reads and writes (score: 6 layers in + 1 out, 4 bytes each; stats: 4 bytes per cell).
//
// The CPU backend runs everywhere (1 thread and all cores). The CUDA backend (host pointers in,
// host pointers out: includes the transfers) is registered only when cuda_device_count() > 0;
// builds with CUDA add cuda_copy_bench.cu: the kernel alone on device-resident data beside a
// device-to-device copy of the same traffic.
//
// Sides: GP_BENCH_SIDES (default 1024,2048,4096) and GP_BENCH_CUDA_SIDES (default
// 1024,2048,4096,8192), comma-separated.

#include "bench_data.hpp"

#include "gp/kernels/backend.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using gp::bench::bench_name;
using gp::bench::synthetic_layers;

std::vector<std::int64_t> sides_from_env(const char* var, std::vector<std::int64_t> fallback) {
  const char* s = std::getenv(var);
  if (s == nullptr || *s == '\0') return fallback;
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const long long v = std::atoll(item.c_str());
    if (v > 0) out.push_back(v);
  }
  return out.empty() ? fallback : out;
}

void set_score_counters(benchmark::State& state, std::size_t cells) {
  const auto iters = static_cast<std::int64_t>(state.iterations());
  state.SetItemsProcessed(iters * static_cast<std::int64_t>(cells));
  state.SetBytesProcessed(iters * static_cast<std::int64_t>(gp::bench::score_bytes(cells)));
  state.counters["cells"] = static_cast<double>(cells);
}

void set_stats_counters(benchmark::State& state, std::size_t cells) {
  const auto iters = static_cast<std::int64_t>(state.iterations());
  state.SetItemsProcessed(iters * static_cast<std::int64_t>(cells));
  state.SetBytesProcessed(iters * static_cast<std::int64_t>(cells * sizeof(float)));
  state.counters["cells"] = static_cast<double>(cells);
}

/// Backend::score over one side x side window; `make` builds the backend outside the timing, and
/// the program is set once (as the runner does), so the timed region is score() alone.
template <class Make>
void bm_score(benchmark::State& state, std::int64_t side, Make make) {
  try {
    const auto& data = synthetic_layers(side);
    std::unique_ptr<gp::kernels::Backend> backend = make();
    std::vector<float> out(data.cells);
    float* bands[] = {out.data()};
    state.SetLabel(backend->name());
    backend->set_program(gp::bench::bench_program(), {});
    backend->score(data.ptrs.data(), data.cells, bands);  // warm-up, allocations
    for (auto _ : state) {
      backend->score(data.ptrs.data(), data.cells, bands);
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
    set_score_counters(state, data.cells);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

/// Backend::stats over layer 0 of a side x side window.
template <class Make>
void bm_stats(benchmark::State& state, std::int64_t side, Make make) {
  try {
    const auto& data = synthetic_layers(side);
    std::unique_ptr<gp::kernels::Backend> backend = make();
    state.SetLabel(backend->name());
    benchmark::DoNotOptimize(backend->stats(data.ptrs[0], data.cells));
    for (auto _ : state) {
      gp::kernels::LayerStats s = backend->stats(data.ptrs[0], data.cells);
      benchmark::DoNotOptimize(s);
    }
    set_stats_counters(state, data.cells);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void register_cpu(const std::vector<std::int64_t>& sides) {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<int> thread_counts{1};
  if (hw > 1) thread_counts.push_back(hw);
  // Size by size, so the synthetic-data cache holds one size at a time.
  for (const std::int64_t side : sides) {
    for (const int threads : thread_counts) {
      auto make = [threads] { return gp::kernels::make_cpu_backend(threads); };
      const std::string suffix = "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark((bench_name("BM_score_cpu", side) + suffix).c_str(),
                                   [side, make](benchmark::State& s) { bm_score(s, side, make); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark((bench_name("BM_stats_cpu", side) + suffix).c_str(),
                                   [side, make](benchmark::State& s) { bm_stats(s, side, make); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

void register_cuda_backend(std::int64_t side) {
  auto make = [] { return gp::kernels::make_cuda_backend(0); };
  benchmark::RegisterBenchmark(bench_name("BM_score_cuda_backend", side).c_str(),
                               [side, make](benchmark::State& s) { bm_score(s, side, make); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark(bench_name("BM_stats_cuda_backend", side).c_str(),
                               [side, make](benchmark::State& s) { bm_stats(s, side, make); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  register_cpu(sides_from_env("GP_BENCH_SIDES", {1024, 2048, 4096}));

  const int devices = gp::kernels::cuda_device_count();
  benchmark::AddCustomContext("gp_cuda_compiled", gp::kernels::cuda_compiled() ? "yes" : "no");
  benchmark::AddCustomContext("gp_cuda_devices", std::to_string(devices));
  if (devices > 0) {
    for (const std::int64_t side : sides_from_env("GP_BENCH_CUDA_SIDES", {1024, 2048, 4096, 8192})) {
      register_cuda_backend(side);
#if defined(GP_BENCH_CUDA)
      gp::bench::register_cuda_device_benchmarks(side);
#endif
    }
  } else {
    benchmark::AddCustomContext("gp_cuda_benchmarks", "not registered (no CUDA device)");
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
