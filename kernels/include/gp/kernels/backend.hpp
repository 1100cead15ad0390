#pragma once
// Compute backends: the CPU (OpenMP) and CUDA run the same per-cell functions of cell_ops.hpp.
// Host pointers everywhere in this interface; a CUDA backend stages through its own device
// buffers, sized to the largest window seen and reused.

#include "gp/kernels/program.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gp::kernels {

/// Whole-grid statistics of one layer's valid (finite) raw values; mergeable across windows
/// (Chan et al.'s pairwise update, so that mean and variance stay accurate on large grids).
struct LayerStats {
  std::uint64_t valid{0};    ///< number of finite cells
  std::uint64_t invalid{0};  ///< number of non-finite cells (nodata)
  double min{0.0};           ///< meaningful when valid > 0
  double max{0.0};
  double mean{0.0};
  double m2{0.0};            ///< sum of squared deviations from the mean

  /// Folds `o` into this.
  void merge(const LayerStats& o);
  /// Population standard deviation (0 when fewer than 2 cells).
  [[nodiscard]] double stddev() const;
};

/// Number of input layers a program reads per cell (its layers plus the mask, if any).
/// The mask, when present, is the last input buffer (index program_inputs - 1 == mask_layer).
inline int program_inputs(const Program& p) {
  const int n = p.n_inputs >= 0 ? p.n_inputs : p.n_layers;
  return p.mask_layer >= 0 && p.mask_layer + 1 > n ? p.mask_layer + 1 : n;
}

/// Host floats for the windows a backend works on: page-locked (pinned) memory from a CUDA
/// backend, so that uploads and downloads run at full bus speed without a staging copy;
/// ordinary memory otherwise (or when pinned memory is refused). Move-only. Not initialised:
/// every user writes a window before reading it (zeroing cost a single-threaded ~0.05 s at
/// the start of each 8192 x 8192 x 6 run, page faults included).
class HostFloats {
 public:
  using Free = void (*)(float*);
  HostFloats() = default;
  HostFloats(float* p, std::size_t n, Free release) : p_(p), n_(n), free_(release) {}
  ~HostFloats() { reset(); }
  HostFloats(HostFloats&& o) noexcept : p_(o.p_), n_(o.n_), free_(o.free_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  HostFloats& operator=(HostFloats&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      n_ = o.n_;
      free_ = o.free_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  HostFloats(const HostFloats&) = delete;
  HostFloats& operator=(const HostFloats&) = delete;

  [[nodiscard]] float* data() { return p_; }
  [[nodiscard]] const float* data() const { return p_; }
  [[nodiscard]] std::size_t size() const { return n_; }
  float& operator[](std::size_t i) { return p_[i]; }
  const float& operator[](std::size_t i) const { return p_[i]; }

 private:
  void reset() {
    if (p_ != nullptr && free_ != nullptr) free_(p_);
    p_ = nullptr;
    n_ = 0;
  }
  float* p_{nullptr};
  std::size_t n_{0};
  Free free_{nullptr};
};

/// Length of the `counts` array Backend::histogram fills: `nbins`, or with `slot_of_bin`,
/// (largest slot + 1) x `sub_bins`.
inline std::size_t histogram_size(int nbins, const std::int32_t* slot_of_bin, int sub_bins) {
  if (slot_of_bin == nullptr) return static_cast<std::size_t>(nbins > 0 ? nbins : 0);
  int slots = 0;
  for (int b = 0; b < nbins; ++b) slots = slot_of_bin[b] + 1 > slots ? slot_of_bin[b] + 1 : slots;
  return static_cast<std::size_t>(slots) * static_cast<std::size_t>(sub_bins > 0 ? sub_bins : 0);
}

/// `n` zeroed floats of ordinary host memory.
HostFloats plain_host_floats(std::size_t n);

/// A compute backend. Not thread-safe: one per runner.
class Backend {
 public:
  virtual ~Backend() = default;

  /// Host memory for `n` floats that this backend transfers fastest (see HostFloats).
  [[nodiscard]] virtual HostFloats host_floats(std::size_t n) { return plain_host_floats(n); }

  /// Human-readable description, e.g. "cpu (OpenMP, 2 threads)" or "cuda:0 (NVIDIA H100)".
  [[nodiscard]] virtual std::string name() const = 0;

  /// Sets the program and its aux table (percentile knots) for the following score() calls.
  virtual void set_program(const Program& program, const std::vector<double>& aux) = 0;

  /// Scores `n` cells. `layers[l]` points to `n` host floats of input l (NaN = nodata), for
  /// l < program_inputs(program); `bands[b]` receives `n` host floats for each output band
  /// (program.out_nodata where nodata).
  virtual void score(const float* const* layers, std::size_t n, float* const* bands) = 0;

  /// score() over a window of `rows` x `cols` cells (row-major), and the statistics of each of
  /// the `n_bands` output bands' rows in segments of `segment` columns (the last of a row may
  /// be shorter), cells equal to `excluded` (the map's nodata value) counting as invalid:
  /// stats[(b * rows + r) * n_seg + k] with n_seg = ceil(cols / segment). The statistics' bits
  /// are those of segment_stats_excluding() over the scored bands. The CPU backend reduces
  /// each row right after scoring it, while the row is in cache; this default scores the
  /// window, then reduces it (`threads` as in segment_stats_excluding).
  virtual void score_with_stats(const float* const* layers, std::size_t rows, std::size_t cols,
                                float* const* bands, std::size_t n_bands, float excluded,
                                std::size_t segment, LayerStats* stats, int threads = 0);

  /// Statistics of `n` host floats (non-finite values count as invalid): partials of each row
  /// (`row_length` > 0, n a multiple of it) or of stats_chunk_cells cells, each reduced in the
  /// CPU's lane order (reduce_ops.hpp), folded in order. Every backend (CPU, CUDA, several
  /// devices) gives the same bits, whatever the thread count, the device count, the chunk size
  /// after an out-of-memory or how rows were grouped into windows.
  [[nodiscard]] virtual LayerStats stats(const float* data, std::size_t n,
                                         std::size_t row_length = 0) = 0;

  /// Statistics of each of `rows` rows of `row_length` host floats, into out[0..rows). Folding
  /// the rows in order gives bits that depend neither on threads nor on windowing.
  virtual void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                         LayerStats* out) = 0;

  /// Adds to `counts[nbins]` the valid values of `data` falling in [lo, hi] (bins of equal
  /// width; hi goes to the last bin). When `slot_of_bin` is given, it maps each of `nbins`
  /// coarse bins to a slot (-1: none) and values of slotted bins are counted instead into
  /// `counts[slot * sub_bins + sub]`, sub-bins of equal width inside the coarse bin.
  virtual void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                         const std::int32_t* slot_of_bin, int sub_bins,
                         std::uint64_t* counts) = 0;
};

/// Several backends (e.g. one per GPU) as one: every call is split into contiguous shares run
/// at once; results equal a single backend's. One part is returned as is.
std::unique_ptr<Backend> make_multi_backend(std::vector<std::unique_ptr<Backend>> parts);

/// `primary` (a device backend) until it throws gp::device_out_of_memory (it has already
/// retried in smaller chunks); then `warn` is called once and that call and every later one
/// run on the backend `make_fallback` returns (the CPU), with the same program. Other errors
/// propagate.
std::unique_ptr<Backend> make_fallback_backend(
    std::unique_ptr<Backend> primary, std::function<std::unique_ptr<Backend>()> make_fallback,
    std::function<void(const std::string&)> warn);

/// Statistics of each row of `rows` x `cols` host floats in segments of `segment` columns (the
/// last of a row may be shorter), as Backend::row_stats of the CPU backend but with cells equal
/// to `excluded` (a map's nodata value) counted as invalid, as if they were NaN: into
/// out[r * n_seg + k], n_seg = ceil(cols / segment). Folding a row's segments left to right
/// gives the same bits however the row was cut into windows of whole segments. `threads` <= 0
/// uses every core.
void segment_stats_excluding(const float* data, std::size_t rows, std::size_t cols,
                             std::size_t segment, float excluded, LayerStats* out,
                             int threads = 0);

/// The OpenMP backend; `threads` <= 0 uses every core.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

/// True when this build contains the CUDA backend.
bool cuda_compiled();
/// Number of usable CUDA devices; 0 when not compiled, no driver, or no device.
int cuda_device_count();
/// The CUDA backend on `device`. Throws gp::cuda_error when unavailable.
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace gp::kernels
