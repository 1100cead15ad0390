// The device set-up of kernels/ (cuda_device.cuh): the CUDA runtime under nvcc, the host
// "devices" of host_device.hpp in the device-on-host build.
#include "gp/kernels/cuda_device.cuh"

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/device_buffer.cuh"

#if defined(GP_DEVICE_ON_HOST)
#include "gp/kernels/host_device.hpp"

#include <omp.h>
#endif

namespace gp::kernels {

#if defined(GP_DEVICE_ON_HOST)

int cuda_device_count() { return host_device::count(); }

void set_current_device(int device) { host_device::set_current(device); }

CudaDevice::CudaDevice(int device) : id_(device) {
  make_current();
  name_ = "cuda:" + std::to_string(id_) + " (host: Thrust OpenMP)";
  sm_count_ = omp_get_max_threads();
}

CudaDevice::~CudaDevice() = default;

HostFloats device_host_floats(int /*device*/, std::size_t n) { return plain_host_floats(n); }

#else

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void set_current_device(int device) {
  GP_CUDA_TRY(cudaSetDevice(device), "selecting the device");
}

CudaDevice::CudaDevice(int device) : id_(device) {
  make_current();
  cudaDeviceProp prop{};
  GP_CUDA_TRY(cudaGetDeviceProperties(&prop, id_), "reading device properties");
  name_ = "cuda:" + std::to_string(id_) + " (" + prop.name + ")";
  sm_count_ = prop.multiProcessorCount;
  GP_CUDA_TRY(cudaStreamCreate(&stream_), "creating a stream");
}

CudaDevice::~CudaDevice() { cudaStreamDestroy(stream_); }

/// Pinned (page-locked) host memory: cudaMemcpyAsync then needs no staging copy and runs at
/// full bus speed. If the system refuses pinned memory, ordinary memory (slower, correct).
HostFloats device_host_floats(int device, std::size_t n) {
  if (n == 0) return {};
  void* p = nullptr;
  if (cudaSetDevice(device) != cudaSuccess || cudaMallocHost(&p, n * sizeof(float)) != cudaSuccess) {
    cudaGetLastError();
    return plain_host_floats(n);
  }
  return HostFloats(static_cast<float*>(p), n, [](float* q) { cudaFreeHost(q); });
}

#endif

void require_cuda_device(int device, const std::string& what) {
  const int n = cuda_device_count();
  if (device < 0 || device >= n) {
    throw cuda_error(what + ": no CUDA device " + std::to_string(device) + " (found " +
                     std::to_string(n) + ")");
  }
}

}  // namespace gp::kernels
