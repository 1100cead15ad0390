#pragma once
// A minimal RAII device allocation (RMM's rule: no raw cudaMalloc/cudaFree in algorithm code).

#include "gp/error.hpp"

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

/// Checks a CUDA runtime call; throws gp::cuda_error naming `stage` and CUDA's message.
#define GP_CUDA_TRY(call, stage)                                                          \
  do {                                                                                    \
    const cudaError_t gp_status_ = (call);                                                \
    if (gp_status_ != cudaSuccess) {                                                      \
      cudaGetLastError();                                                                 \
      throw ::gp::cuda_error(std::string("CUDA error while ") + (stage) + ": " +          \
                             cudaGetErrorString(gp_status_) + " (" __FILE__ ":" +         \
                             std::to_string(__LINE__) + ")");                             \
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

  /// Ensures room for `n` elements; previous contents are not kept.
  void reserve(std::size_t n) {
    if (n <= size_) return;
    release();
    void* p = nullptr;
    GP_CUDA_TRY(cudaMalloc(&p, n * sizeof(T)), "allocating device memory");
    ptr_ = static_cast<T*>(p);
    size_ = n;
  }

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
