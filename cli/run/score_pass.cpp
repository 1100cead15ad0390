#include "run/score_pass.hpp"

#include "run/cluster.hpp"
#include "run/pipeline.hpp"

#include "gp/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace gp::cli {

namespace {

/// Buffers of one window in flight: every layer's input and every band's output.
struct Slot {
  std::vector<kernels::HostFloats> in;
  std::vector<kernels::HostFloats> out;
  std::vector<const float*> in_ptrs;
  std::vector<float*> out_ptrs;
};

class ScorePass {
 public:
  explicit ScorePass(ScorePassInput in) : in_(std::move(in)), root_(cluster::is_root()) {
    const std::size_t n_layers = in_.sources.size();
    const std::size_t cells = in_.windows.max_cells();
    slots_.resize(static_cast<std::size_t>(std::max(1, in_.depth)));
    for (std::size_t k = 0; k < slots_.size(); ++k) {
      Slot& sl = slots_[k];
      if (k == 0) {
        sl.in = std::move(in_.first_inputs);
      } else {
        for (std::size_t l = 0; l < n_layers; ++l) sl.in.push_back(in_.backend.host_floats(cells));
      }
      for (std::size_t b = 0; b < in_.n_bands; ++b) sl.out.push_back(in_.backend.host_floats(cells));
      for (auto& v : sl.in) sl.in_ptrs.push_back(v.data());
      for (auto& v : sl.out) sl.out_ptrs.push_back(v.data());
    }
    band_acc_.resize(in_.n_bands);
    // Per band, the rows of the current band of windows, folded segment by segment as its
    // column windows come, then into band_acc_ row by row once the band is complete.
    const auto band_rows = static_cast<std::size_t>(std::min(in_.windows.rows, in_.windows.height));
    row_acc_.assign(in_.n_bands, std::vector<kernels::LayerStats>(band_rows));
    // Testing hook: GP_TEST_FAIL_RANK=r makes rank r fail at its second window
    // (tests/cli/mpi_test.sh checks that the other ranks stop and nothing is left).
    const char* fault_env = std::getenv("GP_TEST_FAIL_RANK");
    fault_rank_ = fault_env != nullptr ? std::atoi(fault_env) : -1;
  }

  ScorePassResult run() {
    const std::size_t n_layers = in_.sources.size();
    // Valid cells per layer in this pass only (the statistics pass read some too).
    std::vector<std::uint64_t> valid_before(n_layers, 0);
    for (std::size_t l = 0; l < n_layers; ++l) valid_before[l] = in_.sources[l]->valid_cells();
    if (in_.capture != nullptr && cluster::size() > 1) in_.capture->abandon();
    run_pipeline(
        in_.windows.count(), static_cast<int>(slots_.size()),
        [this](std::int64_t w, int s) { read(w, slots_[static_cast<std::size_t>(s)]); },
        [this](std::int64_t w, int s) { score(w, slots_[static_cast<std::size_t>(s)]); },
        [this](std::int64_t w, int s) { write(w, slots_[static_cast<std::size_t>(s)]); });
    ScorePassResult res;
    res.bands = band_acc_;
    res.layer_valid.resize(n_layers);
    for (std::size_t l = 0; l < n_layers; ++l) {
      res.layer_valid[l] = in_.sources[l]->valid_cells() - valid_before[l];
    }
    cluster::allreduce_sum(res.layer_valid.data(), res.layer_valid.size());
    return res;
  }

 private:
  void read(std::int64_t w, Slot& sl) {  // reader thread: only this rank's windows
    if (!in_.windows.owned(w)) return;
    if (fault_rank_ >= 0 && cluster::rank() == fault_rank_ && w >= cluster::size()) {
      throw input_error("injected fault on rank " + std::to_string(fault_rank_) +
                        " (GP_TEST_FAIL_RANK)");
    }
    const geo::Window win = in_.windows.at(w);
    for (std::size_t l = 0; l < in_.sources.size(); ++l) in_.sources[l]->read(win, sl.in[l].data());
  }

  void score(std::int64_t w, Slot& sl) {  // this thread: score, or move windows between ranks
    const geo::Window win = in_.windows.at(w);
    const std::size_t cells = win.cells();
    const auto rows = static_cast<std::size_t>(win.rows);
    const auto cols = static_cast<std::size_t>(win.cols);
    const auto seg = static_cast<std::size_t>(geo::segment_columns(geo::WriterOptions{}.tile));
    const std::size_t n_seg = (cols + seg - 1) / seg;
    const std::size_t n_bands = in_.n_bands;
    // Band statistics (rank 0, every window in order), per row segment: the map's nodata value
    // counts as invalid; its invalid cells are the band's nodata.
    seg_stats_.resize(n_bands * rows * n_seg);
    if (in_.windows.owned(w)) {
      if (!root_) {
        in_.backend.score(sl.in_ptrs.data(), cells, sl.out_ptrs.data());
        for (std::size_t b = 0; b < n_bands; ++b) cluster::send_floats(sl.out_ptrs[b], cells, 0, w);
        return;
      }
      in_.backend.score_with_stats(sl.in_ptrs.data(), rows, cols, sl.out_ptrs.data(), n_bands,
                                   in_.out_nodata, seg, seg_stats_.data(), in_.threads);
      if (in_.capture != nullptr) in_.capture->take(win, sl.in_ptrs.data());
    } else if (root_) {
      for (std::size_t b = 0; b < n_bands; ++b) {
        cluster::recv_floats(sl.out_ptrs[b], cells, in_.windows.owner(w), w);
        kernels::segment_stats_excluding(sl.out_ptrs[b], rows, cols, seg, in_.out_nodata,
                                         seg_stats_.data() + b * rows * n_seg, in_.threads);
      }
    } else {
      return;
    }
    // The trained method sees every scored window in order, on rank 0 (which finishes the
    // report), as it would in one process.
    if (in_.trained != nullptr) in_.trained->on_window(sl.out_ptrs.data(), cells);
    fold_band_stats(win, rows, n_seg);
    in_.progress(static_cast<double>(in_.sources.size()));
  }

  void fold_band_stats(const geo::Window& win, std::size_t rows, std::size_t n_seg) {
    for (std::size_t b = 0; b < in_.n_bands; ++b) {
      auto& rows_b = row_acc_[b];
      if (win.col == 0) std::fill(rows_b.begin(), rows_b.end(), kernels::LayerStats{});
      const kernels::LayerStats* st = seg_stats_.data() + b * rows * n_seg;
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t k = 0; k < n_seg; ++k) rows_b[r].merge(st[r * n_seg + k]);
      }
      if (win.col + win.cols == in_.windows.width) {
        for (std::int64_t r = 0; r < win.rows; ++r) {
          band_acc_[b].merge(rows_b[static_cast<std::size_t>(r)]);
        }
      }
    }
  }

  void write(std::int64_t w, Slot& sl) {  // writer thread: rank 0 writes every window in order
    if (!root_) return;
    const geo::Window win = in_.windows.at(w);
    if (win.cols == in_.windows.width) {
      in_.writer->write_rows(sl.out_ptrs.data(), win.rows);
    } else {
      in_.writer->write_window(sl.out_ptrs.data(), win);
    }
  }

  ScorePassInput in_;
  bool root_;
  int fault_rank_{-1};
  std::vector<Slot> slots_;
  std::vector<kernels::LayerStats> band_acc_;
  std::vector<std::vector<kernels::LayerStats>> row_acc_;
  std::vector<kernels::LayerStats> seg_stats_;  // the current window's, [band][row][segment]
};

}  // namespace

ScorePassResult run_score_pass(ScorePassInput in) { return ScorePass(std::move(in)).run(); }

}  // namespace gp::cli
