#pragma once
// A stand-in for a device backend in tests without a GPU (tests/kernels/fallback_test.cpp,
// tests/cli/device_test.cpp): it tells the test which cells every call got, and may throw there
// (as a device that runs out of memory does), then computes on a one-thread CPU backend.

#include "gp/kernels/backend.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gp::test {

class RecordingBackend final : public kernels::Backend {
 public:
  /// Called with each call's first cell and cell count (rows x row length for row_stats).
  using Seen = std::function<void(const float* first, std::size_t cells)>;

  RecordingBackend(std::string name, Seen seen) : name_(std::move(name)), seen_(std::move(seen)) {}

  [[nodiscard]] std::string name() const override { return name_; }
  void set_program(const kernels::Program& p, const std::vector<double>& aux) override {
    cpu_->set_program(p, aux);
  }
  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    seen_(layers[0], n);
    cpu_->score(layers, n, bands);
  }
  kernels::LayerStats stats(const float* d, std::size_t n, std::size_t rl) override {
    seen_(d, n);
    return cpu_->stats(d, n, rl);
  }
  void row_stats(const float* d, std::size_t rows, std::size_t rl,
                 kernels::LayerStats* o) override {
    seen_(d, rows * rl);
    cpu_->row_stats(d, rows, rl, o);
  }
  void histogram(const float* d, std::size_t n, double lo, double hi, int nb,
                 const std::int32_t* slots, int sub, std::uint64_t* counts) override {
    seen_(d, n);
    cpu_->histogram(d, n, lo, hi, nb, slots, sub, counts);
  }

 private:
  std::string name_;
  Seen seen_;
  std::unique_ptr<kernels::Backend> cpu_ = kernels::make_cpu_backend(1);
};

}  // namespace gp::test
