#pragma once
// A minimal RAII device allocation (RMM's rule: no raw cudaMalloc/cudaFree in algorithm code).

#include "gp/error.hpp"

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

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

namespace gp::kernels {

/// Uninitialised device memory for `size()` elements of T; grows, never shrinks.
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  ~device_buffer() { release(); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept : ptr_(o.ptr_), size_(o.size_) {
    o.ptr_ = nullptr;
    o.size_ = 0;
  }

  /// Ensures room for `n` elements; previous contents are not kept. Throws
  /// gp::device_out_of_memory when the device has no room (the buffer is then empty).
  void reserve(std::size_t n) {
    if (n <= size_) return;
    release();
    void* p = nullptr;
    const cudaError_t st = cudaMalloc(&p, n * sizeof(T));
    if (st == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it, the context stays usable
      throw ::gp::device_out_of_memory("CUDA error while allocating " +
                                       std::to_string((n * sizeof(T) + (1u << 20) - 1) >> 20) +
                                       " MiB of device memory: out of memory");
    }
    GP_CUDA_TRY(st, "allocating device memory");
    ptr_ = static_cast<T*>(p);
    size_ = n;
  }

  /// Frees the allocation (before a retry with smaller chunks).
  void clear() { release(); }

  [[nodiscard]] T* data() { return ptr_; }
  [[nodiscard]] const T* data() const { return ptr_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  void release() {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = nullptr;
    size_ = 0;
  }
  T* ptr_{nullptr};
  std::size_t size_{0};
};

}  // namespace gp::kernels
