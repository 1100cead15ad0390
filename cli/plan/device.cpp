#include "plan/device.hpp"

#include "gp/error.hpp"
#include "gp/log.hpp"

namespace gp::cli {

namespace {

std::unique_ptr<kernels::Backend> make_cuda_backends(const std::vector<int>& wanted, int threads,
                                                     const DeviceQuery& query) {
  const int count = query.count();
  std::vector<int> ids = wanted;
  if (ids.empty()) {
    for (int d = 0; d < count; ++d) ids.push_back(d);
  }
  if (ids.empty()) ids.push_back(0);  // query.open explains that there is none
  std::vector<std::unique_ptr<kernels::Backend>> parts;
  for (int d : ids) {
    // Out of device memory even in small chunks: that device's share moves to the CPU.
    parts.push_back(kernels::make_fallback_backend(
        query.open(d), [threads] { return kernels::make_cpu_backend(threads); },
        [](const std::string& w) { gp::log::warning(w); }));
  }
  return kernels::make_multi_backend(std::move(parts));
}

}  // namespace

const DeviceQuery& runtime_devices() {
  static const DeviceQuery runtime{kernels::cuda_device_count, kernels::cuda_compiled(),
                                   kernels::make_cuda_backend};
  return runtime;
}

DeviceChoice parse_device(const std::string& s) {
  if (s == "auto") return DeviceChoice::automatic;
  if (s == "cpu") return DeviceChoice::cpu;
  if (s == "cuda") return DeviceChoice::cuda;
  throw config_error("--device: unknown device '" + s + "' (expected auto, cpu or cuda)");
}

void check_devices(DeviceChoice choice, const std::vector<int>& devices,
                   const DeviceQuery& query) {
  if (choice == DeviceChoice::cpu) return;
  const int count = query.count();
  if (choice == DeviceChoice::cuda && count == 0) {
    throw cuda_error(query.compiled
                         ? "no CUDA device: --device cuda needs one; use --device auto or cpu"
                         : "built without CUDA: --device cuda needs a CUDA build; use --device "
                           "auto or cpu");
  }
  if (count == 0) return;  // auto without a device: the CPU, whatever --devices lists
  for (int d : devices) {
    if (d < 0 || d >= count) {
      throw cuda_error("--devices: no CUDA device " + std::to_string(d) + " (" +
                       std::to_string(count) + " visible: 0-" + std::to_string(count - 1) + ")");
    }
  }
}

bool uses_cuda(DeviceChoice choice, const DeviceQuery& query) {
  return choice == DeviceChoice::cuda ||
         (choice == DeviceChoice::automatic && query.count() > 0);
}

EngineDevice engine_device(DeviceChoice choice, const std::vector<int>& devices,
                           const DeviceQuery& query) {
  return {uses_cuda(choice, query), devices.empty() ? 0 : devices.front()};
}

ChosenBackend choose_backend(DeviceChoice choice, const std::vector<int>& devices, int threads,
                             const DeviceQuery& query) {
  switch (choice) {
    case DeviceChoice::cpu:
      return {kernels::make_cpu_backend(threads), "requested"};
    case DeviceChoice::cuda:
      return {make_cuda_backends(devices, threads, query), "requested"};
    case DeviceChoice::automatic:
      break;
  }
  if (query.count() > 0) {
    return {make_cuda_backends(devices, threads, query), "auto: CUDA device found"};
  }
  return {kernels::make_cpu_backend(threads),
          query.compiled ? "auto: no CUDA device found" : "auto: built without CUDA"};
}

}  // namespace gp::cli
