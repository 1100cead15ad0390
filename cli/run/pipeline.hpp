#pragma once
// A three-stage window pipeline: read (a reader thread), compute (the calling thread) and write
// (a writer thread), so that reading/decoding window k+1 and encoding/writing window k-1
// overlap computing window k. `depth` slots of buffers circulate between the stages; memory is
// bounded by depth x the window. Each stage sees windows in order, one at a time, so a GDAL
// dataset used by one stage only is never used from two threads at once.

#include <cstdint>
#include <functional>

namespace gp::cli {

/// Runs read(w, slot), compute(w, slot), write(w, slot) for w = 0..n-1, slot = w % depth.
/// The first exception thrown by any stage stops the pipeline and is rethrown here after
/// every thread has joined. depth 1 runs the three stages one after another.
void run_pipeline(std::int64_t n, int depth,
                  const std::function<void(std::int64_t, int)>& read,
                  const std::function<void(std::int64_t, int)>& compute,
                  const std::function<void(std::int64_t, int)>& write);

/// Starts `n` threads at once and joins them; throws gp::host_out_of_memory when the system
/// cannot give them stacks. Called before a run: a thread that fails to start later, inside
/// GDAL's thread pools or the OpenMP runtime, hangs the run or ends the process without our
/// message. glibc keeps the freed stacks for reuse, so the threads the run starts find them.
void reserve_threads(int n);

}  // namespace gp::cli
