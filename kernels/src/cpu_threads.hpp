#pragma once
// The CPU engines' thread count and name, written once for the backend, the Monte Carlo
// engine, the counters and the distance transform.

#include <omp.h>

#include <string>

namespace gp::kernels {

/// `threads` when > 0, else every thread OpenMP would use.
inline int cpu_threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

/// How a CPU engine names itself in logs and reports: "cpu (OpenMP, 2 threads)".
inline std::string cpu_engine_name(int threads) {
  return "cpu (OpenMP, " + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
}

}  // namespace gp::kernels
