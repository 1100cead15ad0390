#pragma once
// The CUDA device set-up every CUDA class in kernels/ shares: check that the device exists,
// make it current, read its name and multiprocessor count, and own one stream on it.

#include <cuda_runtime.h>

#include <string>

namespace gp::kernels {

/// Throws gp::cuda_error "<what>: no CUDA device <device> (found <n>)" unless `device` is one
/// of the cuda_device_count() devices.
void require_cuda_device(int device, const std::string& what);

/// One device, made current, described and given a stream (destroyed with it). Construction
/// throws gp::cuda_error (gp::device_out_of_memory when the device has no memory left).
class CudaDevice {
 public:
  explicit CudaDevice(int device);
  ~CudaDevice();
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  /// Makes the device current for the calling thread: before every copy or launch, since the
  /// caller's thread may have switched devices in between.
  void make_current() const;

  [[nodiscard]] int id() const { return id_; }
  /// "cuda:<id> (<device name>)", as the logs and reports show it.
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] int sm_count() const { return sm_count_; }
  [[nodiscard]] cudaStream_t stream() const { return stream_; }

 private:
  int id_;
  int sm_count_{1};
  std::string name_;
  cudaStream_t stream_{};
};

}  // namespace gp::kernels
