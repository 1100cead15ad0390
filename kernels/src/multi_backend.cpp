// Several devices behind one Backend: each call splits its cells (or rows) into one contiguous
// share per device and runs the shares at once, one host thread per device. Results are the
// same as one device's: the per-cell code is per cell, and shares are merged in order.

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/reduce_ops.hpp"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace gp::kernels {
namespace {

class MultiBackend final : public Backend {
 public:
  explicit MultiBackend(std::vector<std::unique_ptr<Backend>> parts) : parts_(std::move(parts)) {}

  /// The first part's memory: pinned host memory of one CUDA device is pinned for all (UVA).
  [[nodiscard]] HostFloats host_floats(std::size_t n) override {
    return parts_.front()->host_floats(n);
  }

  [[nodiscard]] std::string name() const override {
    std::string n;
    for (const auto& p : parts_) n += (n.empty() ? "" : " + ") + p->name();
    return n;
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    program_ = program;
    for (auto& p : parts_) p->set_program(program, aux);
  }

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    const auto n_in = static_cast<std::size_t>(program_inputs(program_));
    const auto n_out = static_cast<std::size_t>(program_.n_bands);
    each_share(n, [&](std::size_t k, std::size_t b, std::size_t len) {
      std::vector<const float*> in(n_in);
      std::vector<float*> out(n_out);
      for (std::size_t l = 0; l < n_in; ++l) in[l] = layers[l] + b;
      for (std::size_t o = 0; o < n_out; ++o) out[o] = bands[o] + b;
      parts_[k]->score(in.data(), len, out.data());
    });
  }

  /// The partials every backend folds (stats_chunk cells or rows), computed by the devices'
  /// row_stats and folded here in order: a single device's bits, whatever the device count.
  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t row_length) override {
    const std::size_t piece = stats_chunk(row_length);
    const std::size_t full = n / piece;
    std::vector<LayerStats> part(full);
    each_share(full, [&](std::size_t k, std::size_t b, std::size_t len) {
      parts_[k]->row_stats(data + b * piece, len, piece, part.data() + b);
    });
    LayerStats total;
    for (const auto& p : part) total.merge(p);
    // The shorter last piece (without rows only): one partial, as every backend computes it.
    if (n > full * piece) total.merge(parts_.front()->stats(data + full * piece, n - full * piece, 0));
    return total;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    each_share(rows, [&](std::size_t k, std::size_t b, std::size_t len) {
      parts_[k]->row_stats(data + b * row_length, len, row_length, out + b);
    });
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    const std::size_t total_bins = histogram_size(nbins, slot_of_bin, sub_bins);
    std::vector<std::vector<std::uint64_t>> part(parts_.size(),
                                                 std::vector<std::uint64_t>(total_bins, 0));
    each_share(n, [&](std::size_t k, std::size_t b, std::size_t len) {
      parts_[k]->histogram(data + b, len, lo, hi, nbins, slot_of_bin, sub_bins, part[k].data());
    });
    for (const auto& p : part) {
      for (std::size_t i = 0; i < total_bins; ++i) counts[i] += p[i];
    }
  }

 private:
  /// Runs fn(device, first, count) for each device's contiguous share of `n` items, at once.
  template <class Fn>
  void each_share(std::size_t n, Fn&& fn) {
    const std::size_t d = parts_.size();
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(d);
    for (std::size_t k = 0; k < d; ++k) {
      const std::size_t b = n * k / d;
      const std::size_t e = n * (k + 1) / d;
      if (e == b) continue;
      threads.emplace_back([&, k, b, e] {
        try {
          fn(k, b, e - b);
        } catch (...) {
          errors[k] = std::current_exception();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }

  std::vector<std::unique_ptr<Backend>> parts_;
  Program program_{};
};

}  // namespace

std::unique_ptr<Backend> make_multi_backend(std::vector<std::unique_ptr<Backend>> parts) {
  if (parts.empty()) throw cuda_error("no device to run on");
  if (parts.size() == 1) return std::move(parts.front());
  return std::make_unique<MultiBackend>(std::move(parts));
}

}  // namespace gp::kernels
