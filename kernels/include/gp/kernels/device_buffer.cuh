#pragma once
// A minimal RAII device allocation (RMM's rule: no raw cudaMalloc/cudaFree in algorithm code).
// In the device-on-host build (GP_DEVICE_ON_HOST) it is host memory under the rules of
// host_device.hpp: a finite budget and an owning device.

#include "gp/error.hpp"

#include <cstddef>
#include <string>

#if defined(GP_DEVICE_ON_HOST)
#include "gp/kernels/host_device.hpp"

#include <cstdlib>
#else
#include <cuda_runtime.h>

/// Checks a CUDA runtime call; throws gp::cuda_error naming `stage` and CUDA's message
/// (gp::device_out_of_memory for cudaErrorMemoryAllocation, which the caller may recover from).
#define GP_CUDA_TRY(call, stage)                                                          \
  do {                                                                                    \
    const cudaError_t gp_status_ = (call);                                                \
    if (gp_status_ != cudaSuccess) {                                                      \
      cudaGetLastError();                                                                 \
      const std::string gp_msg_ = std::string("CUDA error while ") + (stage) + ": " +     \
                                  cudaGetErrorString(gp_status_) + " (" __FILE__ ":" +    \
                                  std::to_string(__LINE__) + ")";                         \
      if (gp_status_ == cudaErrorMemoryAllocation) throw ::gp::device_out_of_memory(gp_msg_); \
      throw ::gp::cuda_error(gp_msg_);                                                    \
    }                                                                                     \
  } while (0)
#endif

namespace gp::kernels {

namespace detail {
inline std::string device_oom_message(std::size_t bytes) {
  return "CUDA error while allocating " + std::to_string((bytes + (1u << 20) - 1) >> 20) +
         " MiB of device memory: out of memory";
}
}  // namespace detail

/// Uninitialised device memory for `size()` elements of T; grows, never shrinks.
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  ~device_buffer() { release(); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept : ptr_(o.ptr_), size_(o.size_), device_(o.device_) {
    o.ptr_ = nullptr;
    o.size_ = 0;
  }

  /// Ensures room for `n` elements; previous contents are not kept. Throws
  /// gp::device_out_of_memory when the device has no room (the buffer is then empty).
  void reserve(std::size_t n) {
    if (n <= size_) return;
    release();
    allocate(n);
  }

  /// Frees the allocation (before a retry with smaller chunks).
  void clear() { release(); }

  [[nodiscard]] T* data() {
    check_device();
    return ptr_;
  }
  [[nodiscard]] const T* data() const {
    check_device();
    return ptr_;
  }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
#if defined(GP_DEVICE_ON_HOST)
  void allocate(std::size_t n) {
    if (!host_device::try_allocate(n * sizeof(T))) {
      throw ::gp::device_out_of_memory(detail::device_oom_message(n * sizeof(T)));
    }
    ptr_ = static_cast<T*>(std::malloc(n * sizeof(T)));
    if (ptr_ == nullptr) {
      host_device::release(n * sizeof(T));
      throw ::gp::device_out_of_memory(detail::device_oom_message(n * sizeof(T)));
    }
    size_ = n;
    device_ = host_device::current();
  }
  void release() {
    if (ptr_ != nullptr) {
      std::free(ptr_);
      host_device::release(size_ * sizeof(T));
    }
    ptr_ = nullptr;
    size_ = 0;
  }
  /// CUDA would fault on memory of another device (no peer access is set up): so does this.
  void check_device() const {
    if (ptr_ != nullptr && device_ != host_device::current()) {
      throw ::gp::cuda_error("CUDA error: an illegal memory access was encountered (memory of device " +
                             std::to_string(device_) + " used while device " +
                             std::to_string(host_device::current()) + " is current)");
    }
  }
#else
  void allocate(std::size_t n) {
    void* p = nullptr;
    const cudaError_t st = cudaMalloc(&p, n * sizeof(T));
    if (st == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it, the context stays usable
      throw ::gp::device_out_of_memory(detail::device_oom_message(n * sizeof(T)));
    }
    GP_CUDA_TRY(st, "allocating device memory");
    ptr_ = static_cast<T*>(p);
    size_ = n;
  }
  void release() {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = nullptr;
    size_ = 0;
  }
  void check_device() const {}
#endif
  T* ptr_{nullptr};
  std::size_t size_{0};
  int device_{0};
};

}  // namespace gp::kernels
