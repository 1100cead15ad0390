#pragma once
// The "devices" of the device-on-host build (GP_DEVICE_ON_HOST, preset device-on-host): the
// device algorithms run on host threads, and these few rules of the CUDA runtime stay, so that
// the bugs they cause show up in CI: each thread has a current device (0 on a new thread),
// device memory belongs to the device current at allocation and using it on another one is an
// illegal address, and device memory is finite. Tests inject the device count and allocation
// failures here. Plain C++, no CUDA.

#include <cstddef>

namespace gp::kernels::host_device {

/// Number of host "devices": $GP_HOST_DEVICES (1 when unset), or set_count's.
int count();
/// Overrides the device count (tests of multi-device partitioning); n < 0 restores the default.
void set_count(int n);
/// The calling thread's current device (CUDA's rule: 0 on a thread that never chose one).
int current();
void set_current(int device);

/// Device memory left for allocations: `bytes` beyond what is allocated now (tests: "all but
/// this much is taken"), or unlimited again with reset_memory_limit().
void leave_memory(std::size_t bytes);
void reset_memory_limit();
/// Bytes allocated by device buffers now.
std::size_t memory_in_use();
/// Takes `bytes` of the budget; false (nothing taken) when they do not fit.
bool try_allocate(std::size_t bytes);
void release(std::size_t bytes);

}  // namespace gp::kernels::host_device
