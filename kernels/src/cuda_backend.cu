// The device backend: the same per-cell functions as the CPU backend (cell_ops.hpp), one
// functor per cell launched through Thrust, with the model program in constant memory. The
// algorithm (the functors and the order of their launches) is the same source on the GPU and
// in the device-on-host build; the memory, copies and streams go through device_system.hpp.

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/chunking.hpp"
#include "gp/kernels/device_system.hpp"
#include "gp/kernels/reduce_ops.hpp"
#include "gp/kernels/score_cell.hpp"

#include <cuda/atomic>

#include <algorithm>
#include <string>
#include <vector>

namespace gp::kernels {
namespace {

GP_CONSTANT Program c_program;

/// The scoring functor's program: this translation unit's constant memory.
struct BackendProgram {
  static GP_DEVICE const Program& get() { return c_program; }
};
using ScoreCell = ScoreCellOf<BackendProgram>;
using ScoreCellShap = ScoreCellOf<BackendProgram, true>;

/// One cell of a histogram: a relaxed 64-bit atomic add (counts only, order is irrelevant).
struct HistogramCell {
  const float* data;
  double lo;
  double hi;
  int nbins;
  const std::int32_t* slot_of_bin;
  int sub_bins;
  unsigned long long* counts;
  GP_HD void operator()(std::size_t i) const {
    const long long k = histogram_index(data[i], lo, hi, nbins, slot_of_bin, sub_bins);
    if (k >= 0) {
      cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> c(counts[k]);
      c.fetch_add(1ULL, cuda::memory_order_relaxed);
    }
  }
};

/// The cells of piece p of `data` (n cells cut in pieces of `piece` cells, the last shorter).
struct Pieces {
  const float* data;
  std::size_t n;
  std::size_t piece;
  GP_HD std::size_t length(std::size_t p) const {
    const std::size_t b = p * piece;
    return n - b < piece ? n - b : piece;
  }
};

/// Thread t: lane t % stats_lanes of piece t / stats_lanes (reduce_ops.hpp: the CPU's order).
struct StatsLane {
  Pieces pieces;
  LaneSums* lanes;
  GP_HD void operator()(std::size_t t) const {
    const std::size_t p = t / stats_lanes;
    const float* row = pieces.data + p * pieces.piece;
    const std::size_t len = pieces.length(p);
    const std::size_t first = first_usable(row, len, false, 0.0);
    lanes[t] = first < len ? row_stats_lane(row, len, first, static_cast<int>(t % stats_lanes),
                                            false, 0.0)
                           : LaneSums{};
  }
};

/// Piece p's statistics from its lanes, folded in lane order.
struct StatsFold {
  Pieces pieces;
  const LaneSums* lanes;
  LayerStats* out;
  GP_HD void operator()(std::size_t p) const {
    const float* row = pieces.data + p * pieces.piece;
    const std::size_t len = pieces.length(p);
    const std::size_t first = first_usable(row, len, false, 0.0);
    if (first == len) {
      LayerStats s;
      s.invalid = len;
      out[p] = s;
      return;
    }
    out[p] = fold_lanes(lanes + p * stats_lanes, len, row[first]);
  }
};

using dev::for_each_index;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : dev_(device) {}
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  [[nodiscard]] std::string name() const override { return dev_.name(); }

  [[nodiscard]] HostFloats host_floats(std::size_t n) override {
    return device_host_floats(dev_.id(), n);
  }

  void set_program(const Program& program, const std::vector<double>& aux) override {
    dev_.make_current();
    program_ = program;
    shap_ = has_tree_shap(program);
    dev::to_constant(c_program, program, dev_.stream(), "uploading the model program");
    d_aux_.reserve(aux.size() + 1);
    dev::to_device(d_aux_.data(), aux.data(), aux.size(), dev_.stream(),
                   "uploading the percentile tables");
    dev::synchronize(dev_.stream(), "uploading the model program");
  }

  // Every entry point first makes its device current (a multi-device share runs on a fresh
  // thread, whose current device is 0), then works in chunks (for_each_chunk): a whole window
  // when it fits, halves, quarters, ... after an out-of-memory, down to min_chunk cells; then
  // the error goes up to the fallback wrapper, which continues on the CPU. Chunks only change
  // where the work is split, never a cell's arithmetic (scores), what is counted (histograms)
  // or where statistics partials start (always at the same rows or stats_chunk_cells).

  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    if (n == 0) return;
    dev_.make_current();
    const auto n_in = static_cast<std::size_t>(program_inputs(program_));
    const auto n_out = static_cast<std::size_t>(program_.n_bands);
    for_each_chunk(
        n, chunk_cells_, min_chunk,
        [&](std::size_t first, std::size_t m) {
          d_layers_.reserve(n_in * m);
          d_out_.reserve(n_out * m);
          for (std::size_t l = 0; l < n_in; ++l) {
            dev::to_device(d_layers_.data() + l * m, layers[l] + first, m, dev_.stream(),
                           "uploading a layer window");
          }
          dev::run("running the scoring kernel", [&] {
            if (shap_) {
              for_each_index(dev_.stream(), m,
                             ScoreCellShap{d_layers_.data(), d_aux_.data(), m, d_out_.data()});
            } else {
              for_each_index(dev_.stream(), m,
                             ScoreCell{d_layers_.data(), d_aux_.data(), m, d_out_.data()});
            }
          });
          for (std::size_t b = 0; b < n_out; ++b) {
            dev::to_host(bands[b] + first, d_out_.data() + b * m, m, dev_.stream(),
                         "downloading the scores");
          }
          dev::synchronize(dev_.stream(), "running the scoring kernel");
        },
        [&](std::size_t) { free_buffers(); });
  }

  /// Partials of stats_chunk(row_length) cells folded in order, as the CPU backend does: the
  /// same bits, whatever the chunking after an out-of-memory or the device's size.
  [[nodiscard]] LayerStats stats(const float* data, std::size_t n,
                                 std::size_t row_length) override {
    const std::size_t piece = stats_chunk(row_length);
    std::vector<LayerStats> partial((n + piece - 1) / piece);
    piece_stats(Pieces{data, n, piece}, partial.data());
    LayerStats total;
    for (const auto& p : partial) total.merge(p);
    return total;
  }

  void row_stats(const float* data, std::size_t rows, std::size_t row_length,
                 LayerStats* out) override {
    if (rows == 0 || row_length == 0) return;
    piece_stats(Pieces{data, rows * row_length, row_length}, out);
  }

  void histogram(const float* data, std::size_t n, double lo, double hi, int nbins,
                 const std::int32_t* slot_of_bin, int sub_bins, std::uint64_t* counts) override {
    if (n == 0) return;
    const std::size_t total_bins = histogram_size(nbins, slot_of_bin, sub_bins);
    if (total_bins == 0) return;
    dev_.make_current();  // before the slot table: it must live on this device
    std::vector<unsigned long long> host(total_bins);
    for_each_chunk(
        n, chunk_cells_, min_chunk,
        [&](std::size_t first, std::size_t m) {
          if (slot_of_bin != nullptr) {
            d_slots_.reserve(static_cast<std::size_t>(nbins));
            dev::to_device(d_slots_.data(), slot_of_bin, static_cast<std::size_t>(nbins),
                           dev_.stream(), "uploading histogram slots");
          }
          upload_single(data + first, m);
          d_counts_.reserve(total_bins);
          dev::zero(d_counts_.data(), total_bins, dev_.stream(), "clearing a histogram");
          dev::run("running the histogram kernel", [&] {
            for_each_index(dev_.stream(), m,
                           HistogramCell{d_layers_.data(), lo, hi, nbins,
                                         slot_of_bin != nullptr ? d_slots_.data() : nullptr,
                                         sub_bins, d_counts_.data()});
          });
          dev::to_host(host.data(), d_counts_.data(), total_bins, dev_.stream(),
                       "downloading a histogram");
          dev::synchronize(dev_.stream(), "computing a histogram");
          // Added only once the chunk succeeded: a retried chunk is never counted twice.
          for (std::size_t k = 0; k < total_bins; ++k) counts[k] += host[k];
        },
        [&](std::size_t) { free_buffers(); });
  }

 private:
  /// Smallest chunk tried after an out-of-memory (64 Ki cells, 256 KiB per layer); below it the
  /// device is unusable for this run and the fallback wrapper takes over.
  static constexpr std::size_t min_chunk = std::size_t{1} << 16;

  /// Statistics of each piece into out[0, pieces): one thread per lane, then one per piece.
  void piece_stats(const Pieces& all, LayerStats* out) {
    const std::size_t count = (all.n + all.piece - 1) / all.piece;
    if (count == 0) return;
    dev_.make_current();
    // Chunks of whole pieces: capacity in pieces, derived from the cell capacity.
    std::size_t cap = chunk_cells_ > 0 ? std::max<std::size_t>(chunk_cells_ / all.piece, 1) : 0;
    for_each_chunk(
        count, cap, 1,
        [&](std::size_t first, std::size_t m) {
          const std::size_t b = first * all.piece;
          const std::size_t cells = std::min(m * all.piece, all.n - b);
          upload_single(all.data + b, cells);
          d_lanes_.reserve(m * stats_lanes);
          d_rows_.reserve(m);
          const Pieces here{d_layers_.data(), cells, all.piece};
          dev::run("reducing layer statistics", [&] {
            for_each_index(dev_.stream(), m * stats_lanes, StatsLane{here, d_lanes_.data()});
            for_each_index(dev_.stream(), m, StatsFold{here, d_lanes_.data(), d_rows_.data()});
          });
          dev::to_host(out + first, d_rows_.data(), m, dev_.stream(),
                       "downloading layer statistics");
          dev::synchronize(dev_.stream(), "reducing layer statistics");
        },
        [&](std::size_t m) {
          free_buffers();
          chunk_cells_ = std::max<std::size_t>(m / 2, 1) * all.piece;
        });
  }

  /// Frees every window buffer (not the program's aux table) before a smaller retry.
  void free_buffers() {
    d_layers_.clear();
    d_out_.clear();
    d_counts_.clear();
    d_rows_.clear();
    d_lanes_.clear();
  }

  void upload_single(const float* data, std::size_t n) {
    d_layers_.reserve(n);
    dev::to_device(d_layers_.data(), data, n, dev_.stream(), "uploading a layer window");
  }

  CudaDevice dev_;
  std::size_t chunk_cells_{0};  ///< cells per chunk after an out-of-memory (0: whole windows)
  Program program_{};
  bool shap_{false};  ///< the program has TreeSHAP bands: the kernel that computes them
  device_buffer<float> d_layers_;
  device_buffer<float> d_out_;
  device_buffer<double> d_aux_;
  device_buffer<std::int32_t> d_slots_;
  device_buffer<unsigned long long> d_counts_;
  device_buffer<LayerStats> d_rows_;
  device_buffer<LaneSums> d_lanes_;
};

}  // namespace

bool cuda_compiled() { return true; }

std::unique_ptr<Backend> make_cuda_backend(int device) {
  require_cuda_device(device, "--device cuda");
  return std::make_unique<CudaBackend>(device);
}

}  // namespace gp::kernels
