// Device-resident CUDA benchmarks, compiled only when the build has CUDA (GP_WITH_CUDA):
//
//   BM_cuda_d2d_copy/side:N      cudaMemcpy device-to-device moving the same traffic as one
//                                scoring pass (half the bytes read + written = the copy size),
//                                the practical ceiling for a memory-bound kernel.
//   BM_cuda_score_kernel/side:N  the scoring kernel alone on layers already on the device: the
//                                CUDA backend's own functor (score_cell.hpp: eval_cell +
//                                store_value per cell) and launch (dev::for_each_index, Thrust
//                                on a stream), with the program in __constant__ memory. Reports its
//                                GB/s beside a copy measured in the same run (copy_GBps,
//                                pct_of_copy) and checks a sample of cells against the host.
//
// Timing uses CUDA events (manual time), so host overheads of the benchmark loop do not count.
// The backend's own entry point (Backend::score) takes host pointers and includes the transfers;
// kernel_bench.cpp measures that as BM_score_cuda_backend.

#include "bench_data.hpp"

#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/device_buffer.cuh"
#include "gp/kernels/device_system.hpp"
#include "gp/kernels/score_cell.hpp"

#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

namespace gp::bench {
namespace {

GP_CONSTANT kernels::Program c_bench_program;

/// The benchmark's program (no aux table: no percentile transform), in this file's constant
/// memory as the backend's is in cuda_backend.cu's.
struct BenchProgram {
  static GP_DEVICE const kernels::Program& get() { return c_bench_program; }
};

class Stream {
 public:
  Stream() { GP_CUDA_TRY(cudaStreamCreate(&s_), "creating a stream"); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  [[nodiscard]] cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_{};
};

/// A start/stop event pair around work on one stream.
class EventTimer {
 public:
  EventTimer() {
    GP_CUDA_TRY(cudaEventCreate(&start_), "creating an event");
    GP_CUDA_TRY(cudaEventCreate(&stop_), "creating an event");
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start(cudaStream_t s) { GP_CUDA_TRY(cudaEventRecord(start_, s), "recording an event"); }
  /// Records the stop event, waits for it and returns the elapsed seconds.
  double stop(cudaStream_t s) {
    GP_CUDA_TRY(cudaEventRecord(stop_, s), "recording an event");
    GP_CUDA_TRY(cudaEventSynchronize(stop_), "waiting for an event");
    float ms = 0.0f;
    GP_CUDA_TRY(cudaEventElapsedTime(&ms, start_, stop_), "reading an event timer");
    return static_cast<double>(ms) * 1e-3;
  }

 private:
  cudaEvent_t start_{};
  cudaEvent_t stop_{};
};

/// Device buffers for one side, kept across the calls Google Benchmark makes while it sizes the
/// iteration count (uploading 1.5 GiB each call would dominate the run). Latest side only.
struct DeviceData {
  std::int64_t side{0};
  std::size_t cells{0};
  kernels::device_buffer<float> layers;  ///< bench_layers rows of `cells` floats
  kernels::device_buffer<float> out;
  kernels::device_buffer<float> copy_src;  ///< copy_floats each
  kernels::device_buffer<float> copy_dst;
  std::size_t copy_floats{0};
  bool checked{false};  ///< the sample check against the host passed for this side
};

DeviceData& device_data(std::int64_t side) {
  static DeviceData d;
  if (d.side == side) return d;
  d.side = 0;
  d.checked = false;
  const SyntheticLayers& host = synthetic_layers(side);
  d.cells = host.cells;
  d.layers.reserve(host.cells * static_cast<std::size_t>(bench_layers));
  d.out.reserve(host.cells);
  for (int l = 0; l < bench_layers; ++l) {
    GP_CUDA_TRY(cudaMemcpy(d.layers.data() + static_cast<std::size_t>(l) * host.cells,
                           host.ptrs[static_cast<std::size_t>(l)], host.cells * sizeof(float),
                           cudaMemcpyHostToDevice),
                "uploading a synthetic layer");
  }
  // A copy of `c` bytes reads c and writes c: half the scoring pass's traffic each way.
  d.copy_floats = (score_bytes(host.cells) / sizeof(float) + 1) / 2;
  d.copy_src.reserve(d.copy_floats);
  d.copy_dst.reserve(d.copy_floats);
  GP_CUDA_TRY(cudaMemset(d.copy_src.data(), 0, d.copy_floats * sizeof(float)),
              "clearing the copy source");
  const kernels::Program program = bench_program();
  GP_CUDA_TRY(cudaMemcpyToSymbol(c_bench_program, &program, sizeof(program)),
              "uploading the program");
  d.side = side;
  return d;
}

/// The CUDA backend's scoring launch: its functor (score_cell.hpp) over every cell through
/// dev::for_each_index (Thrust's CUDA system on `s`), layers rows of `cells` floats.
void launch_score(DeviceData& d, cudaStream_t s) {
  kernels::dev::for_each_index(
      s, d.cells,
      kernels::ScoreCellOf<BenchProgram>{d.layers.data(), nullptr, d.cells, d.out.data()});
  kernels::dev::check_launch("launching the scoring functor");
}

void launch_copy(DeviceData& d, cudaStream_t s) {
  GP_CUDA_TRY(cudaMemcpyAsync(d.copy_dst.data(), d.copy_src.data(), d.copy_floats * sizeof(float),
                              cudaMemcpyDeviceToDevice, s),
              "copying device to device");
}

/// Bytes moved (read + written) per second by a device-to-device copy, best of `reps`.
double copy_bytes_per_s(DeviceData& d, cudaStream_t s, EventTimer& timer, int reps) {
  const double moved = 2.0 * static_cast<double>(d.copy_floats * sizeof(float));
  double best = 0.0;
  launch_copy(d, s);  // warm-up
  for (int r = 0; r < reps; ++r) {
    timer.start(s);
    launch_copy(d, s);
    const double t = timer.stop(s);
    if (t > 0.0 && moved / t > best) best = moved / t;
  }
  return best;
}

/// Compares every 4099th cell of the device result with the host's eval_cell: the same code
/// with --fmad=false, so the floats must match exactly.
std::string check_sample(const DeviceData& d) {
  const SyntheticLayers& host = synthetic_layers(d.side);
  const kernels::Program program = bench_program();
  for (std::size_t i = 0; i < d.cells; i += 4099) {
    float got = 0.0f;
    GP_CUDA_TRY(cudaMemcpy(&got, d.out.data() + i, sizeof(float), cudaMemcpyDeviceToHost),
                "reading back a result cell");
    float want = 0.0f;
    kernels::eval_cell(
        program, nullptr, [&](int l) { return host.layers[static_cast<std::size_t>(l)][i]; },
        [&](int /*band*/, double v) { want = kernels::store_value(program, v); });
    if (!(got == want)) {
      return "cell " + std::to_string(i) + ": device " + std::to_string(got) + ", host " +
             std::to_string(want);
    }
  }
  return {};
}

void bm_d2d_copy(benchmark::State& state, std::int64_t side) {
  try {
    DeviceData& d = device_data(side);
    Stream stream;
    EventTimer timer;
    launch_copy(d, stream.get());
    for (auto _ : state) {
      timer.start(stream.get());
      launch_copy(d, stream.get());
      state.SetIterationTime(timer.stop(stream.get()));
    }
    const auto iters = static_cast<std::int64_t>(state.iterations());
    const auto copy_bytes = static_cast<std::int64_t>(d.copy_floats * sizeof(float));
    state.SetBytesProcessed(iters * 2 * copy_bytes);  // read + written, like the kernel's count
    state.SetItemsProcessed(iters * static_cast<std::int64_t>(d.cells));
    state.counters["copy_bytes"] = static_cast<double>(copy_bytes);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void bm_score_kernel(benchmark::State& state, std::int64_t side) {
  try {
    DeviceData& d = device_data(side);
    Stream stream;
    EventTimer timer;
    launch_score(d, stream.get());  // warm-up
    GP_CUDA_TRY(cudaStreamSynchronize(stream.get()), "running the scoring kernel");
    if (!d.checked) {
      const std::string bad = check_sample(d);
      if (!bad.empty()) {
        state.SkipWithError(("device and host scores differ at " + bad).c_str());
        return;
      }
      d.checked = true;
    }
    const double copy_bps = copy_bytes_per_s(d, stream.get(), timer, 10);
    double total_s = 0.0;
    for (auto _ : state) {
      timer.start(stream.get());
      launch_score(d, stream.get());
      const double t = timer.stop(stream.get());
      state.SetIterationTime(t);
      total_s += t;
    }
    const auto iters = static_cast<std::int64_t>(state.iterations());
    const auto bytes = static_cast<std::int64_t>(score_bytes(d.cells));
    state.SetBytesProcessed(iters * bytes);
    state.SetItemsProcessed(iters * static_cast<std::int64_t>(d.cells));
    const double kernel_bps = total_s > 0.0 ? static_cast<double>(iters * bytes) / total_s : 0.0;
    state.counters["kernel_GBps"] = kernel_bps * 1e-9;
    state.counters["copy_GBps"] = copy_bps * 1e-9;
    state.counters["pct_of_copy"] = copy_bps > 0.0 ? 100.0 * kernel_bps / copy_bps : 0.0;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

}  // namespace

void register_cuda_device_benchmarks(std::int64_t side) {
  static bool named = false;
  cudaDeviceProp prop{};
  if (!named && cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    benchmark::AddCustomContext("gp_cuda_device_0", prop.name);
    named = true;
  }
  benchmark::RegisterBenchmark(bench_name("BM_cuda_d2d_copy", side).c_str(),
                               [side](benchmark::State& s) { bm_d2d_copy(s, side); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(bench_name("BM_cuda_score_kernel", side).c_str(),
                               [side](benchmark::State& s) { bm_score_kernel(s, side); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace gp::bench
