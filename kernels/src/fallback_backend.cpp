// A device backend that hands its work to the CPU when the device runs out of memory (issue 9):
// the CUDA backend first retries in smaller chunks (chunking.hpp); only when even its smallest
// chunk does not fit does gp::device_out_of_memory reach this wrapper, which warns once and
// sends that call and every later one to the fallback backend. Other device errors propagate
// unchanged (they name their stage and end the run with the device exit code).

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"

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
      : primary_(std::move(primary)),
        make_fallback_(std::move(make_fallback)),
        warn_(std::move(warn)) {}

  [[nodiscard]] HostFloats host_floats(std::size_t n) override {
    return primary_->host_floats(n);  // pinned memory also serves the CPU fallback
  }

  [[nodiscard]] std::string name() const override {
    return fallback_ ? fallback_->name() + " (after " + primary_->name() + " ran out of memory)"
                     : primary_->name();
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    program_ = program;
    aux_ = aux;
    has_program_ = true;
    run("uploading the model", [&](Backend& b) { b.set_program(program, aux); });
  }

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    run("scoring", [&](Backend& b) { b.score(layers, n, bands); });
  }

  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t row_length) override {
    LayerStats r;
    run("reducing layer statistics", [&](Backend& b) { r = b.stats(data, n, row_length); });
    return r;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    run("reducing row statistics", [&](Backend& b) { b.row_stats(data, rows, row_length, out); });
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    // histogram() adds to `counts`: the device counts into a copy, added only when the whole
    // call succeeded, so a call that fails half-way and is redone on the CPU counts once.
    const std::size_t total = histogram_size(nbins, slot_of_bin, sub_bins);
    if (fallback_) {
      fallback_->histogram(data, n, lo, hi, nbins, slot_of_bin, sub_bins, counts);
      return;
    }
    std::vector<std::uint64_t> part(total, 0);
    try {
      primary_->histogram(data, n, lo, hi, nbins, slot_of_bin, sub_bins, part.data());
    } catch (const device_out_of_memory& e) {
      switch_over("computing a histogram", e);
      fallback_->histogram(data, n, lo, hi, nbins, slot_of_bin, sub_bins, counts);
      return;
    }
    for (std::size_t k = 0; k < total; ++k) counts[k] += part[k];
  }

 private:
  template <class Call>
  void run(const char* stage, Call call) {
    if (!fallback_) {
      try {
        call(*primary_);
        return;
      } catch (const device_out_of_memory& e) {
        switch_over(stage, e);
      }
    }
    call(*fallback_);
  }

  void switch_over(const char* stage, const device_out_of_memory& e) {
    fallback_ = make_fallback_();
    if (has_program_) fallback_->set_program(program_, aux_);
    if (warn_) {
      warn_(primary_->name() + " ran out of memory while " + stage + " (" + e.what() +
            "), even in chunks of 64 Ki cells; continuing on " + fallback_->name() +
            " (same per-cell code; results agree within the CPU/CUDA tolerance)");
    }
  }

  std::unique_ptr<Backend> primary_;
  std::function<std::unique_ptr<Backend>()> make_fallback_;
  std::function<void(const std::string&)> warn_;
  std::unique_ptr<Backend> fallback_;
  Program program_{};
  std::vector<double> aux_;
  bool has_program_{false};
};

}  // namespace

std::unique_ptr<Backend> make_fallback_backend(
    std::unique_ptr<Backend> primary, std::function<std::unique_ptr<Backend>()> make_fallback,
    std::function<void(const std::string&)> warn) {
  return std::make_unique<FallbackBackend>(std::move(primary), std::move(make_fallback),
                                           std::move(warn));
}

}  // namespace gp::kernels
