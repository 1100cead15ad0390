#pragma once
// The CUDA device set-up every CUDA class in kernels/ shares: check that the device exists,
// make it current, read its name and multiprocessor count, and own one stream on it. In the
// device-on-host build (GP_DEVICE_ON_HOST) the device is a host_device.hpp "device".

#if !defined(GP_DEVICE_ON_HOST)
#include <cuda_runtime.h>
#endif

#include "gp/kernels/backend.hpp"

#include <cstddef>
#include <string>

namespace gp::kernels {

#if defined(GP_DEVICE_ON_HOST)
/// Work on the host runs in order on the calling thread: no stream to name.
struct device_stream {};
#else
using device_stream = cudaStream_t;
#endif

/// Throws gp::cuda_error "<what>: no CUDA device <device> (found <n>)" unless `device` is one
/// of the cuda_device_count() devices.
void require_cuda_device(int device, const std::string& what);

/// `n` host floats that transfer fastest to `device`: pinned (page-locked) memory on a GPU,
/// ordinary memory when the system refuses it or on the host.
HostFloats device_host_floats(int device, std::size_t n);

/// Makes `device` current for the calling thread (throws gp::cuda_error).
void set_current_device(int device);

/// One device, made current, described and given a stream (destroyed with it). Construction
/// throws gp::cuda_error (gp::device_out_of_memory when the device has no memory left).
class CudaDevice {
 public:
  explicit CudaDevice(int device);
  ~CudaDevice();
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  /// Makes the device current for the calling thread: before every copy or launch, since the
  /// caller's thread may have switched devices in between (a multi-device share runs on a
  /// fresh thread, whose current device is 0).
  void make_current() const { set_current_device(id_); }

  [[nodiscard]] int id() const { return id_; }
  /// "cuda:<id> (<device name>)", as the logs and reports show it.
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] int sm_count() const { return sm_count_; }
  [[nodiscard]] device_stream stream() const { return stream_; }

 private:
  int id_;
  int sm_count_{1};
  std::string name_;
  device_stream stream_{};
};

}  // namespace gp::kernels
