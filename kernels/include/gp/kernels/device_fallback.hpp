#pragma once
// The one way a device that runs out of memory hands its work to the CPU. Device code first
// retries in smaller chunks (chunking.hpp); only when even its smallest chunk does not fit does
// gp::device_out_of_memory reach these helpers, which move the work to the CPU. Other device
// errors propagate unchanged (they name their stage and end the run with the device exit code).
// Host-only and CUDA-free, so that the switch is tested on machines without a GPU.

#include "gp/error.hpp"

#include <functional>
#include <memory>
#include <utility>

namespace gp::kernels {

/// Runs `on_device()`; when it throws gp::device_out_of_memory, calls `on_switch(error)` (warn,
/// prepare the CPU side) and then `on_cpu()`, outside the handler. `on_device` must leave no
/// partial result that `on_cpu` would count twice.
template <class OnDevice, class OnCpu, class OnSwitch>
void with_device_fallback(OnDevice&& on_device, OnCpu&& on_cpu, OnSwitch&& on_switch) {
  try {
    on_device();
    return;
  } catch (const device_out_of_memory& e) {
    on_switch(e);
  }
  on_cpu();
}

/// A device engine (backend, counter, Monte Carlo engine) with a CPU engine behind it. run()
/// gives each call to the primary engine until one runs out of device memory; from then on that
/// call and every later one go to the fallback engine, made once by `make_fallback`.
/// `on_switch(primary, fallback, stage, error)` runs once, right after the fallback is made:
/// it warns and gives the fallback the state the primary had (program, set-up, counts so far).
template <class Engine>
class DeviceFallback {
 public:
  using Make = std::function<std::unique_ptr<Engine>()>;
  using OnSwitch =
      std::function<void(Engine& primary, Engine& fallback, const char* stage,
                         const device_out_of_memory& error)>;

  DeviceFallback(std::unique_ptr<Engine> primary, Make make_fallback, OnSwitch on_switch)
      : primary_(std::move(primary)),
        make_fallback_(std::move(make_fallback)),
        on_switch_(std::move(on_switch)) {}

  /// call(engine) on the engine in use; `stage` names the work in the switch-over warning.
  template <class Call>
  void run(const char* stage, Call&& call) {
    if (fallback_) {
      call(*fallback_);
      return;
    }
    with_device_fallback([&] { call(*primary_); }, [&] { call(*fallback_); },
                         [&](const device_out_of_memory& e) {
                           fallback_ = make_fallback_();
                           if (on_switch_) on_switch_(*primary_, *fallback_, stage, e);
                         });
  }

  [[nodiscard]] bool switched() const { return fallback_ != nullptr; }
  [[nodiscard]] Engine& primary() const { return *primary_; }
  /// Only after switched().
  [[nodiscard]] Engine& fallback() const { return *fallback_; }
  [[nodiscard]] Engine& current() const { return fallback_ ? *fallback_ : *primary_; }

 private:
  std::unique_ptr<Engine> primary_;
  Make make_fallback_;
  OnSwitch on_switch_;
  std::unique_ptr<Engine> fallback_;
};

}  // namespace gp::kernels
