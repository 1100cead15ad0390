#pragma once
// The one thin layer between the device algorithms (kernels/src/*.cu) and the system they run
// on. The algorithms are per-element or per-row functors launched through Thrust with
// device_policy(stream), atomics through libcu++'s cuda::atomic_ref, constants declared
// GP_CONSTANT; they never touch the CUDA runtime themselves. Two systems implement this layer:
//  - nvcc (the product's CUDA build): Thrust's CUDA system on the GPU, cudaMemcpyAsync on a
//    stream, __constant__ memory;
//  - GP_DEVICE_ON_HOST (the `device-on-host` preset): the same .cu sources compiled by the
//    ordinary C++ compiler, Thrust's OpenMP system, plain memcpy, plain globals. Its "devices"
//    (host_device.hpp) keep CUDA's rules that matter for bugs: a thread's current device,
//    buffers that belong to the device they were allocated on, and a memory budget that tests
//    can shrink to inject out-of-memory.
// So CI runs every device algorithm on every run, and the GPU-only code is this file,
// device_buffer.cuh and cuda_device.cu.

#include "gp/kernels/device_buffer.cuh"
#include "gp/kernels/cuda_device.cuh"

#include "gp/error.hpp"

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <string>

#if defined(GP_DEVICE_ON_HOST)
#include <thrust/system/omp/execution_policy.h>
#else
#include <thrust/execution_policy.h>
#endif

#if defined(__CUDACC__) && !defined(GP_DEVICE_ON_HOST)
/// A model-wide constant: constant memory on the GPU, a plain global on the host.
#define GP_CONSTANT __constant__
/// Functor bodies that read GP_CONSTANT data: device code under nvcc.
#define GP_DEVICE __device__
#else
#define GP_CONSTANT
#define GP_DEVICE
#endif

namespace gp::kernels::dev {

#if defined(GP_DEVICE_ON_HOST)

// GCC (12, -O2) warns on these copies that n * sizeof(T) may exceed the largest object when it
// cannot bound n (a vector's size() - 1 at a call site): a false alarm, n counts real elements.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

/// Thrust's execution policy for work on `stream`: OpenMP threads on the host.
inline auto policy(device_stream /*stream*/) { return thrust::omp::par; }

template <class T>
void to_device(T* dst, const T* src, std::size_t n, device_stream /*stream*/, const char* /*stage*/) {
  if (n > 0) std::memcpy(dst, src, n * sizeof(T));
}
template <class T>
void to_host(T* dst, const T* src, std::size_t n, device_stream /*stream*/, const char* /*stage*/) {
  if (n > 0) std::memcpy(dst, src, n * sizeof(T));
}
template <class T>
void zero(T* dst, std::size_t n, device_stream /*stream*/, const char* /*stage*/) {
  if (n > 0) std::memset(static_cast<void*>(dst), 0, n * sizeof(T));
}
/// Copies `value` into the GP_CONSTANT `symbol`.
template <class T>
void to_constant(T& symbol, const T& value, device_stream /*stream*/, const char* /*stage*/) {
  symbol = value;
}
inline void synchronize(device_stream /*stream*/, const char* /*stage*/) {}
inline void check_launch(const char* /*stage*/) {}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#else

inline auto policy(cudaStream_t stream) { return thrust::cuda::par.on(stream); }

template <class T>
void to_device(T* dst, const T* src, std::size_t n, cudaStream_t stream, const char* stage) {
  if (n > 0) GP_CUDA_TRY(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, stream), stage);
}
template <class T>
void to_host(T* dst, const T* src, std::size_t n, cudaStream_t stream, const char* stage) {
  if (n > 0) GP_CUDA_TRY(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, stream), stage);
}
template <class T>
void zero(T* dst, std::size_t n, cudaStream_t stream, const char* stage) {
  if (n > 0) GP_CUDA_TRY(cudaMemsetAsync(dst, 0, n * sizeof(T), stream), stage);
}
template <class T>
void to_constant(T& symbol, const T& value, cudaStream_t stream, const char* stage) {
  GP_CUDA_TRY(cudaMemcpyToSymbolAsync(symbol, &value, sizeof(T), 0, cudaMemcpyHostToDevice, stream),
              stage);
}
inline void synchronize(cudaStream_t stream, const char* stage) {
  GP_CUDA_TRY(cudaStreamSynchronize(stream), stage);
}
inline void check_launch(const char* stage) { GP_CUDA_TRY(cudaGetLastError(), stage); }

#endif

/// The one launch of the device algorithms: fn(i) for every i in [0, n), on `stream`.
template <class Fn>
void for_each_index(device_stream stream, std::size_t n, Fn fn) {
  thrust::for_each(policy(stream), thrust::counting_iterator<std::size_t>(0),
                   thrust::counting_iterator<std::size_t>(n), fn);
}

/// Runs `algorithm` (Thrust calls), turning Thrust's errors into the product's: its temporary
/// storage running out (std::bad_alloc) into gp::device_out_of_memory, which the caller retries
/// in smaller chunks, anything else into gp::cuda_error naming `stage`.
template <class Fn>
void run(const char* stage, Fn&& algorithm) {
  try {
    algorithm();
  } catch (const std::bad_alloc&) {
    check_launch(stage);
    throw device_out_of_memory(std::string("CUDA error while ") + stage + ": out of memory");
  } catch (const thrust::system_error& e) {
    throw cuda_error(std::string("CUDA error while ") + stage + ": " + e.what());
  }
  check_launch(stage);
}

}  // namespace gp::kernels::dev
