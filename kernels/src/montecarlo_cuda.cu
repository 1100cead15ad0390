// Monte Carlo uncertainty on CUDA. Per chunk of a window: one thread per cell evaluates every
// draw (the layers are read once per cell) into a draw-major scratch buffer (coalesced: draw d
// of neighbouring cells are neighbours); pass 1 then builds per-draw histograms in shared
// memory (one block row per draw), pass 2 summarises each cell's column of draws in place.
// The chunk is sized so that the scratch stays under scratch_budget_bytes.

#include "gp/error.hpp"
#include "gp/kernels/cuda_device.cuh"
#include "gp/kernels/device_buffer.cuh"
#include "gp/kernels/montecarlo.hpp"

#include <cuda_runtime.h>

#include <string>

namespace gp::kernels {
namespace {

constexpr int threads_per_block = 256;
constexpr std::size_t scratch_budget_bytes = std::size_t{1} << 30;

__constant__ Program c_mc_program;
__constant__ McSetup c_mc_setup;

/// buf[d * chunk + j] = draw d's score of cell offset + j (NaN = nodata).
__global__ void mc_eval_kernel(const float* __restrict__ layers, std::size_t stride,
                               std::size_t offset, std::size_t chunk,
                               const double* __restrict__ aux, const double* __restrict__ par,
                               float* __restrict__ buf) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= chunk) return;
  const Program& p = c_mc_program;
  const McSetup& s = c_mc_setup;
  const std::size_t i = offset + j;
  double raw[max_layers + 1];
  double base[max_nodes];
  double node[max_nodes];
  unsigned char skip[max_nodes];
  const bool ok = mc_base(
      p, aux, s, [&](int l) { return layers[static_cast<std::size_t>(l) * stride + i]; }, raw,
      base, skip);
  mc_draw_scores(p, aux, s, par, ok, raw, base, skip, node, 0, s.draws, buf + j, chunk);
}

/// Block row y = draw y; shared-memory histogram of mc_bins 32-bit counts, flushed once.
__global__ void mc_hist_kernel(const float* __restrict__ buf, std::size_t chunk,
                               unsigned long long* __restrict__ hist) {
  extern __shared__ unsigned int local[];
  const int d = static_cast<int>(blockIdx.y);
  for (int k = threadIdx.x; k < mc_bins; k += blockDim.x) local[k] = 0u;
  __syncthreads();
  const double lo = c_mc_setup.hist_lo;
  const double hi = c_mc_setup.hist_hi;
  const float* row = buf + static_cast<std::size_t>(d) * chunk;
  const std::size_t step = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t j = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       j < chunk; j += step) {
    const float v = row[j];
    if (v == v) atomicAdd(local + mc_bin(static_cast<double>(v), lo, hi), 1u);
  }
  __syncthreads();
  unsigned long long* out = hist + static_cast<std::size_t>(d) * mc_bins;
  for (int k = threadIdx.x; k < mc_bins; k += blockDim.x) {
    if (local[k] != 0u) atomicAdd(out + k, static_cast<unsigned long long>(local[k]));
  }
}

__global__ void mc_summary_kernel(float* __restrict__ buf, std::size_t chunk,
                                  const std::int32_t* __restrict__ thr, float nodata,
                                  float* __restrict__ out, std::size_t out_stride,
                                  std::size_t offset) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= chunk) return;
  float o[mc_outputs];
  mc_summarise(buf + j, chunk, c_mc_setup.draws, thr, c_mc_setup.hist_lo, c_mc_setup.hist_hi,
               nodata, o);
  for (int k = 0; k < mc_outputs; ++k) out[static_cast<std::size_t>(k) * out_stride + offset + j] = o[k];
}

class CudaMonteCarlo final : public MonteCarlo {
 public:
  explicit CudaMonteCarlo(int device) : dev_(device) {
    GP_CUDA_TRY(cudaFuncSetAttribute(mc_hist_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(mc_bins * sizeof(unsigned int))),
                "enabling 64 KiB of shared memory for the histogram kernel");
  }
  CudaMonteCarlo(const CudaMonteCarlo&) = delete;
  CudaMonteCarlo& operator=(const CudaMonteCarlo&) = delete;

  [[nodiscard]] std::string name() const override { return dev_.name(); }

  void set(const Program& program, const std::vector<double>& aux, const McSetup& setup,
           const std::vector<double>& params) override {
    mc_require_setup(setup, params.size());
    dev_.make_current();
    program_ = program;
    setup_ = setup;
    GP_CUDA_TRY(cudaMemcpyToSymbolAsync(c_mc_program, &program, sizeof(Program), 0,
                                        cudaMemcpyHostToDevice, dev_.stream()),
                "uploading the model program");
    GP_CUDA_TRY(cudaMemcpyToSymbolAsync(c_mc_setup, &setup, sizeof(McSetup), 0,
                                        cudaMemcpyHostToDevice, dev_.stream()),
                "uploading the Monte Carlo setup");
    d_aux_.reserve(aux.size() + 1);
    if (!aux.empty()) {
      GP_CUDA_TRY(cudaMemcpyAsync(d_aux_.data(), aux.data(), aux.size() * sizeof(double),
                                  cudaMemcpyHostToDevice, dev_.stream()),
                  "uploading the percentile tables");
    }
    d_par_.reserve(params.size());
    GP_CUDA_TRY(cudaMemcpyAsync(d_par_.data(), params.data(), params.size() * sizeof(double),
                                cudaMemcpyHostToDevice, dev_.stream()),
                "uploading the draws");
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "uploading the draws");
  }

  void histogram(const float* const* layers, std::size_t n, std::uint64_t* hist) override {
    if (n == 0) return;
    upload(layers, n);
    const std::size_t total = static_cast<std::size_t>(setup_.draws) * mc_bins;
    d_hist_.reserve(total);
    GP_CUDA_TRY(cudaMemsetAsync(d_hist_.data(), 0, total * sizeof(unsigned long long), dev_.stream()),
                "clearing the draw histograms");
    const std::size_t chunk = chunk_for(n);
    for (std::size_t off = 0; off < n; off += chunk) {
      const std::size_t c = n - off < chunk ? n - off : chunk;
      eval(n, off, c);
      // Each thread counts >= 64 values of its draw row, so that zeroing and flushing the
      // block's 16384 shared bins stays small beside the counting.
      std::size_t bx = c / (static_cast<std::size_t>(threads_per_block) * 64);
      if (bx < 1) bx = 1;
      if (bx > 64) bx = 64;
      mc_hist_kernel<<<dim3(static_cast<unsigned>(bx), static_cast<unsigned>(setup_.draws)),
                       threads_per_block, mc_bins * sizeof(unsigned int), dev_.stream()>>>(
          d_buf_.data(), c, d_hist_.data());
      GP_CUDA_TRY(cudaGetLastError(), "launching the draw histogram kernel");
    }
    std::vector<unsigned long long> host(total);
    GP_CUDA_TRY(cudaMemcpyAsync(host.data(), d_hist_.data(), total * sizeof(unsigned long long),
                                cudaMemcpyDeviceToHost, dev_.stream()),
                "downloading the draw histograms");
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "computing the draw histograms");
    for (std::size_t k = 0; k < total; ++k) hist[k] += host[k];
  }

  void cell_stats(const float* const* layers, std::size_t n,
                  const std::vector<std::int32_t>& thresholds, float nodata,
                  float* const* out) override {
    mc_require_thresholds(setup_, thresholds.size());
    if (n == 0) return;
    upload(layers, n);
    d_thr_.reserve(thresholds.size());
    GP_CUDA_TRY(cudaMemcpyAsync(d_thr_.data(), thresholds.data(),
                                thresholds.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice,
                                dev_.stream()),
                "uploading the top-area thresholds");
    d_out_.reserve(static_cast<std::size_t>(mc_outputs) * n);
    const std::size_t chunk = chunk_for(n);
    for (std::size_t off = 0; off < n; off += chunk) {
      const std::size_t c = n - off < chunk ? n - off : chunk;
      eval(n, off, c);
      const auto blocks = static_cast<unsigned>((c + threads_per_block - 1) / threads_per_block);
      mc_summary_kernel<<<blocks, threads_per_block, 0, dev_.stream()>>>(d_buf_.data(), c,
                                                                    d_thr_.data(), nodata,
                                                                    d_out_.data(), n, off);
      GP_CUDA_TRY(cudaGetLastError(), "launching the draw summary kernel");
    }
    for (int k = 0; k < mc_outputs; ++k) {
      GP_CUDA_TRY(cudaMemcpyAsync(out[k], d_out_.data() + static_cast<std::size_t>(k) * n,
                                  n * sizeof(float), cudaMemcpyDeviceToHost, dev_.stream()),
                  "downloading the uncertainty bands");
    }
    GP_CUDA_TRY(cudaStreamSynchronize(dev_.stream()), "summarising the draws");
  }

 private:
  std::size_t chunk_for(std::size_t n) const {
    std::size_t chunk = scratch_budget_bytes / (static_cast<std::size_t>(setup_.draws) * sizeof(float));
    if (chunk < threads_per_block) chunk = threads_per_block;
    return chunk < n ? chunk : n;
  }

  void upload(const float* const* layers, std::size_t n) {
    dev_.make_current();
    const auto n_in = static_cast<std::size_t>(program_inputs_());
    d_layers_.reserve(n_in * n);
    for (std::size_t l = 0; l < n_in; ++l) {
      GP_CUDA_TRY(cudaMemcpyAsync(d_layers_.data() + l * n, layers[l], n * sizeof(float),
                                  cudaMemcpyHostToDevice, dev_.stream()),
                  "uploading a layer window");
    }
    d_buf_.reserve(static_cast<std::size_t>(setup_.draws) * chunk_for(n));
  }

  int program_inputs_() const {
    const int n = program_.n_inputs >= 0 ? program_.n_inputs : program_.n_layers;
    return program_.mask_layer >= 0 && program_.mask_layer + 1 > n ? program_.mask_layer + 1 : n;
  }

  void eval(std::size_t n, std::size_t off, std::size_t c) {
    const auto blocks = static_cast<unsigned>((c + threads_per_block - 1) / threads_per_block);
    mc_eval_kernel<<<blocks, threads_per_block, 0, dev_.stream()>>>(d_layers_.data(), n, off, c,
                                                               d_aux_.data(), d_par_.data(),
                                                               d_buf_.data());
    GP_CUDA_TRY(cudaGetLastError(), "launching the draw evaluation kernel");
  }

  CudaDevice dev_;
  Program program_{};
  McSetup setup_{};
  device_buffer<float> d_layers_;
  device_buffer<double> d_aux_;
  device_buffer<double> d_par_;
  device_buffer<float> d_buf_;
  device_buffer<unsigned long long> d_hist_;
  device_buffer<std::int32_t> d_thr_;
  device_buffer<float> d_out_;
};

}  // namespace

std::unique_ptr<MonteCarlo> make_montecarlo_cuda(int device) {
  require_cuda_device(device, "Monte Carlo on CUDA");
  return std::make_unique<CudaMonteCarlo>(device);
}

}  // namespace gp::kernels
