// The host "devices" of the device-on-host build (host_device.hpp).
#include "gp/kernels/host_device.hpp"

#include <atomic>
#include <cstdlib>
#include <limits>
#include <mutex>

namespace gp::kernels::host_device {
namespace {

std::atomic<int> g_count{-1};
thread_local int t_current = 0;

std::mutex g_memory_mutex;
std::size_t g_in_use = 0;
std::size_t g_limit = std::numeric_limits<std::size_t>::max();

int default_count() {
  const char* env = std::getenv("GP_HOST_DEVICES");
  if (env == nullptr || *env == '\0') return 1;
  const int n = std::atoi(env);
  return n >= 0 ? n : 1;
}

}  // namespace

int count() {
  const int n = g_count.load();
  return n >= 0 ? n : default_count();
}

void set_count(int n) { g_count.store(n); }

int current() { return t_current; }

void set_current(int device) { t_current = device; }

void leave_memory(std::size_t bytes) {
  const std::lock_guard<std::mutex> lock(g_memory_mutex);
  g_limit = g_in_use + bytes;
}

void reset_memory_limit() {
  const std::lock_guard<std::mutex> lock(g_memory_mutex);
  g_limit = std::numeric_limits<std::size_t>::max();
}

std::size_t memory_in_use() {
  const std::lock_guard<std::mutex> lock(g_memory_mutex);
  return g_in_use;
}

bool try_allocate(std::size_t bytes) {
  const std::lock_guard<std::mutex> lock(g_memory_mutex);
  if (bytes > g_limit - g_in_use) return false;
  g_in_use += bytes;
  return true;
}

void release(std::size_t bytes) {
  const std::lock_guard<std::mutex> lock(g_memory_mutex);
  g_in_use -= bytes;
}

}  // namespace gp::kernels::host_device
