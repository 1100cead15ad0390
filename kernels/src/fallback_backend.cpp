// A device backend that hands its work to the CPU when the device runs out of memory
// (device_fallback.hpp): the CUDA backend first retries in smaller chunks (chunking.hpp); only
// when even its smallest chunk does not fit does this wrapper warn once and send that call and
// every later one to the fallback backend, given the same program.

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/device_fallback.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gp::kernels {
namespace {

class FallbackBackend final : public Backend {
 public:
  FallbackBackend(std::unique_ptr<Backend> primary,
                  std::function<std::unique_ptr<Backend>()> make_fallback,
                  std::function<void(const std::string&)> warn)
      : warn_(std::move(warn)),
        sw_(std::move(primary), std::move(make_fallback),
            [this](Backend& dev, Backend& cpu, const char* stage, const device_out_of_memory& e) {
              if (has_program_) cpu.set_program(program_, aux_);
              if (warn_) {
                warn_(dev.name() + " ran out of memory while " + stage + " (" + e.what() +
                      "), even in chunks of 64 Ki cells; continuing on " + cpu.name() +
                      " (same per-cell code; results agree within the CPU/CUDA tolerance)");
              }
            }) {}

  [[nodiscard]] HostFloats host_floats(std::size_t n) override {
    return sw_.primary().host_floats(n);  // pinned memory also serves the CPU fallback
  }

  [[nodiscard]] std::string name() const override {
    return sw_.switched()
               ? sw_.fallback().name() + " (after " + sw_.primary().name() + " ran out of memory)"
               : sw_.primary().name();
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    program_ = program;
    aux_ = aux;
    has_program_ = true;
    sw_.run("uploading the model", [&](Backend& b) { b.set_program(program, aux); });
  }

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    sw_.run("scoring", [&](Backend& b) { b.score(layers, n, bands); });
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t row_length) override {
    LayerStats r;
    sw_.run("reducing layer statistics", [&](Backend& b) { r = b.stats(data, n, row_length); });
    return r;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    sw_.run("reducing row statistics",
            [&](Backend& b) { b.row_stats(data, rows, row_length, out); });
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    // histogram() adds to `counts`: the device counts into a copy, added only when the whole
    // call succeeded, so a call that fails half-way and is redone on the CPU counts once.
    if (sw_.switched()) {
      sw_.fallback().histogram(data, n, lo, hi, nbins, slot_of_bin, sub_bins, counts);
      return;
    }
    const std::size_t total = histogram_size(nbins, slot_of_bin, sub_bins);
    std::vector<std::uint64_t> part(total, 0);
    bool on_device = true;
    sw_.run("computing a histogram", [&](Backend& b) {
      if (&b == &sw_.primary()) {
        b.histogram(data, n, lo, hi, nbins, slot_of_bin, sub_bins, part.data());
      } else {
        on_device = false;
        b.histogram(data, n, lo, hi, nbins, slot_of_bin, sub_bins, counts);
      }
    });
    if (on_device) {
      for (std::size_t k = 0; k < total; ++k) counts[k] += part[k];
    }
  }

 private:
  std::function<void(const std::string&)> warn_;
  Program program_{};
  std::vector<double> aux_;
  bool has_program_{false};
  DeviceFallback<Backend> sw_;
};

}  // namespace

std::unique_ptr<Backend> make_fallback_backend(
    std::unique_ptr<Backend> primary, std::function<std::unique_ptr<Backend>()> make_fallback,
    std::function<void(const std::string&)> warn) {
  return std::make_unique<FallbackBackend>(std::move(primary), std::move(make_fallback),
                                           std::move(warn));
}

}  // namespace gp::kernels
