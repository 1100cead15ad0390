#include "gp/kernels/cuda_device.cuh"

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/device_buffer.cuh"

namespace gp::kernels {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void require_cuda_device(int device, const std::string& what) {
  const int n = cuda_device_count();
  if (device < 0 || device >= n) {
    throw cuda_error(what + ": no CUDA device " + std::to_string(device) + " (found " +
                     std::to_string(n) + ")");
  }
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

void CudaDevice::make_current() const {
  GP_CUDA_TRY(cudaSetDevice(id_), "selecting the device");
}

}  // namespace gp::kernels
