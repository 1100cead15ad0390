#pragma once
// Runs spread over MPI ranks (OpenMPI), when the build has MPI and the process was started by
// mpirun; otherwise a single "rank 0 of 1" with no-op collectives, so the runner has one code
// path. Windows are dealt round-robin (window w belongs to rank w % size): every rank works at
// once while rank 0 receives the finished windows in order and writes the one output.

#include <cstddef>
#include <cstdint>
#include <string>

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

/// Point-to-point transfer of a window's floats (tag = window index).
void send_floats(const float* data, std::size_t count, int to, std::int64_t window);
void recv_floats(float* data, std::size_t count, int from, std::int64_t window);

/// "rank r/N: " when running on several ranks, "" alone.
std::string prefix();

}  // namespace gp::cli::cluster
