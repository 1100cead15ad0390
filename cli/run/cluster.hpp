#pragma once
// Runs spread over MPI ranks (OpenMPI), when the build has MPI and the process was started by
// mpirun; otherwise a single "rank 0 of 1" with no-op collectives, so the runner has one code
// path. Windows are dealt round-robin (window w belongs to rank w % size): every rank works at
// once while rank 0 receives the finished windows in order and writes the one output.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace gp::cli::cluster {

/// Initialises MPI when running under mpirun (idempotent); returns false otherwise.
bool init(int* argc, char*** argv);
/// Finalises MPI if init() started it.
void finalize();
/// Ends every rank at once after an unrecoverable error on this one (MPI_Abort); no-op alone.
[[noreturn]] void abort_all(int exit_code);

[[nodiscard]] int rank();
[[nodiscard]] int size();
[[nodiscard]] inline bool is_root() { return rank() == 0; }
[[nodiscard]] inline bool owns(std::int64_t window) { return window % size() == rank(); }
[[nodiscard]] inline int owner(std::int64_t window) { return static_cast<int>(window % size()); }

/// Bitwise OR of `bytes` bytes across ranks, in place. Each record of the buffer is filled by
/// exactly one rank (zeros elsewhere), so the OR reassembles every rank's records exactly —
/// bit for bit, unlike a floating-point sum.
void allreduce_bor(void* data, std::size_t bytes);
/// Sum of unsigned 64-bit counts across ranks, in place (exact).
void allreduce_sum(std::uint64_t* data, std::size_t count);
/// Logical AND of a flag across ranks (e.g. "every rank succeeded").
bool allreduce_and(bool flag);

/// Every rank's `mine`, concatenated in rank order, on every rank (`mine` itself alone). The
/// records travel as bytes, each in a slot of its own rank, so they arrive exactly.
template <class T>
std::vector<T> allgather(const std::vector<T>& mine);

/// Per-window partial results, made whole on every rank and folded in window order:
/// `partials` holds `per_window` records for every window, filled in by the rank that owns the
/// window and left value-initialised (all zero bytes) by the others. After the exchange,
/// `fold(w, const T* records)` runs for w = 0, 1, ... on every rank. A floating-point sum
/// folded this way has the same bits on 1 rank as on N (each partial is computed by one rank in
/// a fixed order, and the fold order never changes), and every rank ends with the same value.
template <class T, class Fold>
void fold_in_window_order(std::vector<T>& partials, std::size_t per_window, Fold&& fold);

/// Point-to-point transfer of a window's floats (tag = window index).
void send_floats(const float* data, std::size_t count, int to, std::int64_t window);
void recv_floats(float* data, std::size_t count, int from, std::int64_t window);

/// "rank r/N: " when running on several ranks, "" alone.
std::string prefix();

template <class T>
std::vector<T> allgather(const std::vector<T>& mine) {
  static_assert(std::is_trivially_copyable_v<T>, "records travel as bytes");
  if (size() == 1) return mine;
  // Every rank's record count first (each fills its own slot), then the records themselves.
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(size()), 0);
  counts[static_cast<std::size_t>(rank())] = mine.size();
  allreduce_sum(counts.data(), counts.size());
  std::size_t offset = 0;
  std::size_t total = 0;
  for (int r = 0; r < size(); ++r) {
    if (r < rank()) offset += counts[static_cast<std::size_t>(r)];
    total += counts[static_cast<std::size_t>(r)];
  }
  // Zero bytes outside this rank's slot (padding included), so the OR keeps every record whole.
  std::vector<unsigned char> bytes(total * sizeof(T), 0);
  if (!mine.empty()) {
    std::memcpy(bytes.data() + offset * sizeof(T), mine.data(), mine.size() * sizeof(T));
  }
  allreduce_bor(bytes.data(), bytes.size());
  std::vector<T> all(total);
  if (total > 0) std::memcpy(all.data(), bytes.data(), bytes.size());
  return all;
}

template <class T, class Fold>
void fold_in_window_order(std::vector<T>& partials, std::size_t per_window, Fold&& fold) {
  static_assert(std::is_trivially_copyable_v<T>, "partials travel as bytes");
  allreduce_bor(partials.data(), partials.size() * sizeof(T));
  if (per_window == 0) return;
  for (std::size_t w = 0; w * per_window < partials.size(); ++w) {
    fold(w, static_cast<const T*>(partials.data() + w * per_window));
  }
}

}  // namespace gp::cli::cluster
