#pragma once
// The project's one exception hierarchy (cuSpatial error.hpp / RMM detail/error.hpp model).
// Device code never throws: only host code raises these.

#include <stdexcept>
#include <string>

namespace gp {

/// Base of every error geoprospect raises on purpose.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The model file or the command line asks for something invalid (exit code 3).
class config_error : public error {
 public:
  using error::error;
};

/// An input cannot be read or is not what was expected (exit code 4).
class input_error : public error {
 public:
  using error::error;
};

/// An output cannot be written (exit code 5).
class io_error : public error {
 public:
  using error::error;
};

/// The host ran out of memory, or of threads (exit code 7). The message names the stage when
/// it is known ("out of memory while reading the layers").
class host_out_of_memory : public error {
 public:
  using error::error;
};

/// A CUDA call failed (exit code 6).
class cuda_error : public error {
 public:
  using error::error;
};

/// The device had no memory for a buffer (cudaErrorMemoryAllocation, or Thrust's bad_alloc).
/// Recoverable: the CUDA backend retries with smaller chunks, then the fallback wrapper moves
/// the work to the CPU (kernels/fallback_backend.cpp); exit code 6 only if both fail.
class device_out_of_memory : public cuda_error {
 public:
  using cuda_error::cuda_error;
};

}  // namespace gp

#define GP_STRINGIFY_DETAIL(x) #x
#define GP_STRINGIFY(x) GP_STRINGIFY_DETAIL(x)

/// Throws `ExceptionType(msg)` when `cond` is false.
#define GP_EXPECTS(cond, ExceptionType, msg) \
  do {                                       \
    if (!(cond)) throw ExceptionType(msg);   \
  } while (0)
