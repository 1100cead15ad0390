// Built instead of cuda_backend.cu when CUDA is disabled (GP_ENABLE_CUDA=OFF or no nvcc).
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"

namespace gp::kernels {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::unique_ptr<Backend> make_cuda_backend(int /*device*/) {
  throw cuda_error("--device cuda: this build has no CUDA backend (built with GP_ENABLE_CUDA=OFF)");
}

}  // namespace gp::kernels
