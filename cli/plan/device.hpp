#pragma once
// The one device choice: `--device auto|cpu|cuda` (and `--devices`) to a backend, logged once
// with the reason. Every engine of a run (scoring, distance transform, Monte Carlo, validation
// counters, weights-of-evidence counters) asks here whether it runs on CUDA.

#include "gp/kernels/backend.hpp"

#include <memory>
#include <string>
#include <vector>

namespace gp::cli {

enum class DeviceChoice { automatic, cpu, cuda };

/// Parses "auto" | "cpu" | "cuda"; throws gp::config_error.
DeviceChoice parse_device(const std::string& s);

/// True when the engines of a run with this choice run on CUDA: requested, or auto with a
/// device present.
bool uses_cuda(DeviceChoice choice);

/// The scoring backend and why it was chosen ("requested", "auto: no CUDA device found", ...).
struct ChosenBackend {
  std::unique_ptr<kernels::Backend> backend;
  std::string why;
};

/// The CPU backend, or every listed CUDA device (all visible ones when `devices` is empty) as
/// one backend whose devices each fall back to the CPU when out of memory.
ChosenBackend choose_backend(DeviceChoice choice, const std::vector<int>& devices, int threads);

}  // namespace gp::cli
