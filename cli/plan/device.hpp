#pragma once
// The one device choice: `--device auto|cpu|cuda` (and `--devices`) to a backend, logged once
// with the reason. Every engine of a run (scoring, distance transform, Monte Carlo, validation
// counters, weights-of-evidence counters) asks here whether it runs on CUDA.

#include "gp/kernels/backend.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gp::cli {

/// What the device choice asks of the machine: how many CUDA devices are visible, whether the
/// build has CUDA at all, and how to open one as a backend. Every function below takes one,
/// defaulting to the real runtime (runtime_devices()); tests pass a fake with any device count
/// and fake devices, so the choice, its messages and the multi-device split are tested on a
/// machine without a GPU, in the ordinary build (tests/cli/device_test.cpp).
struct DeviceQuery {
  std::function<int()> count;
  bool compiled{false};
  std::function<std::unique_ptr<kernels::Backend>(int)> open;
};

/// The CUDA runtime's: kernels::cuda_device_count, cuda_compiled, make_cuda_backend.
const DeviceQuery& runtime_devices();

enum class DeviceChoice { automatic, cpu, cuda };

/// Parses "auto" | "cpu" | "cuda"; throws gp::config_error.
DeviceChoice parse_device(const std::string& s);

/// Checks, before any work, that the devices a run asks for exist: `--device cuda` on a machine
/// (or build) without CUDA, or a `--devices` id beyond the visible devices, throws
/// gp::cuda_error (exit 6) with one line saying what to use instead.
void check_devices(DeviceChoice choice, const std::vector<int>& devices,
                   const DeviceQuery& query = runtime_devices());

/// True when the engines of a run with this choice run on CUDA: requested, or auto with a
/// device present.
bool uses_cuda(DeviceChoice choice, const DeviceQuery& query = runtime_devices());

/// Where a run's single-device engines run (distance transform, Monte Carlo, the validation
/// rank counter, the weights-of-evidence class counter): on CUDA device `id` (the first of
/// `--devices`, device 0 when none is listed), or on the CPU when `cuda` is false.
struct EngineDevice {
  bool cuda{false};
  int id{0};
};

/// The engine device of a run with this choice (uses_cuda decides CUDA or CPU).
EngineDevice engine_device(DeviceChoice choice, const std::vector<int>& devices,
                           const DeviceQuery& query = runtime_devices());

/// The scoring backend and why it was chosen ("requested", "auto: no CUDA device found", ...).
struct ChosenBackend {
  std::unique_ptr<kernels::Backend> backend;
  std::string why;
};

/// The CPU backend, or every listed CUDA device (all visible ones when `devices` is empty) as
/// one backend whose devices each fall back to the CPU when out of memory.
ChosenBackend choose_backend(DeviceChoice choice, const std::vector<int>& devices, int threads,
                             const DeviceQuery& query = runtime_devices());

}  // namespace gp::cli
