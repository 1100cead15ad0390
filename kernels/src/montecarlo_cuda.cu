// Monte Carlo uncertainty on the device. Per chunk of a window: one functor per cell evaluates
// every draw (the layers are read once per cell) into a draw-major scratch buffer (coalesced:
// draw d of neighbouring cells are neighbours); pass 1 then counts every scratch value in its
// draw's histogram (64-bit libcu++ atomics), pass 2 summarises each cell's column of draws in
// place. The chunk is sized so that the scratch stays under scratch_budget_bytes. The same
// source runs in the device-on-host build.

#include "gp/error.hpp"
#include "gp/kernels/device_system.hpp"
#include "gp/kernels/montecarlo.hpp"

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cuda/atomic>

#include <string>

namespace gp::kernels {
namespace {

constexpr int threads_per_block = 256;
#if defined(GP_DEVICE_ON_HOST)
// 1 MiB on the host "device": the tests' windows then cross chunk boundaries (the algorithm is
// the same; only where chunks start changes).
constexpr std::size_t scratch_budget_bytes = std::size_t{1} << 20;
#else
constexpr std::size_t scratch_budget_bytes = std::size_t{1} << 30;
#endif

GP_CONSTANT Program c_mc_program;
GP_CONSTANT McSetup c_mc_setup;

/// Cell j of the chunk: buf[d * chunk + j] = draw d's score of cell offset + j (NaN = nodata).
struct EvalCell {
  const float* layers;
  std::size_t stride;
  std::size_t offset;
  std::size_t chunk;
  const double* aux;
  const double* par;
  float* buf;
  GP_DEVICE void operator()(std::size_t j) const {
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
};

/// Element t = d * chunk + j of the scratch: counted in draw d's histogram (64-bit atomics).
struct HistValue {
  const float* buf;
  std::size_t chunk;
  unsigned long long* hist;
  GP_DEVICE void operator()(std::size_t t) const {
    const float v = buf[t];
    if (!(v == v)) return;
    const std::size_t d = t / chunk;
    const int k = mc_bin(static_cast<double>(v), c_mc_setup.hist_lo, c_mc_setup.hist_hi);
    cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> c(
        hist[d * static_cast<std::size_t>(mc_bins) + static_cast<std::size_t>(k)]);
    c.fetch_add(1ULL, cuda::memory_order_relaxed);
  }
};

/// Cell j of the chunk: its column of draws summarised in place into the output bands.
struct SummariseCell {
  float* buf;
  std::size_t chunk;
  const std::int32_t* thr;
  float nodata;
  float* out;
  std::size_t out_stride;
  std::size_t offset;
  GP_DEVICE void operator()(std::size_t j) const {
    float o[mc_outputs];
    mc_summarise(buf + j, chunk, c_mc_setup.draws, thr, c_mc_setup.hist_lo, c_mc_setup.hist_hi,
                 nodata, o);
    for (int k = 0; k < mc_outputs; ++k) {
      out[static_cast<std::size_t>(k) * out_stride + offset + j] = o[k];
    }
  }
};

template <class Fn>
void for_each_index(device_stream stream, std::size_t n, Fn fn) {
  thrust::for_each(dev::policy(stream), thrust::counting_iterator<std::size_t>(0),
                   thrust::counting_iterator<std::size_t>(n), fn);
}

class CudaMonteCarlo final : public MonteCarlo {
 public:
  explicit CudaMonteCarlo(int device) : dev_(device) {}
  CudaMonteCarlo(const CudaMonteCarlo&) = delete;
  CudaMonteCarlo& operator=(const CudaMonteCarlo&) = delete;

  [[nodiscard]] std::string name() const override { return dev_.name(); }

  void set(const Program& program, const std::vector<double>& aux, const McSetup& setup,
           const std::vector<double>& params) override {
    mc_require_setup(setup, params.size());
    dev_.make_current();
    program_ = program;
    setup_ = setup;
    dev::to_constant(c_mc_program, program, dev_.stream(), "uploading the model program");
    dev::to_constant(c_mc_setup, setup, dev_.stream(), "uploading the Monte Carlo setup");
    d_aux_.reserve(aux.size() + 1);
    dev::to_device(d_aux_.data(), aux.data(), aux.size(), dev_.stream(),
                   "uploading the percentile tables");
    d_par_.reserve(params.size());
    dev::to_device(d_par_.data(), params.data(), params.size(), dev_.stream(), "uploading the draws");
    dev::synchronize(dev_.stream(), "uploading the draws");
  }

  void histogram(const float* const* layers, std::size_t n, std::uint64_t* hist) override {
    if (n == 0) return;
    upload(layers, n);
    const std::size_t total = static_cast<std::size_t>(setup_.draws) * mc_bins;
    d_hist_.reserve(total);
    dev::zero(d_hist_.data(), total, dev_.stream(), "clearing the draw histograms");
    const std::size_t chunk = chunk_for(n);
    for (std::size_t off = 0; off < n; off += chunk) {
      const std::size_t c = n - off < chunk ? n - off : chunk;
      eval(n, off, c);
      dev::run("running the draw histogram kernel", [&] {
        for_each_index(dev_.stream(), static_cast<std::size_t>(setup_.draws) * c,
                       HistValue{d_buf_.data(), c, d_hist_.data()});
      });
    }
    std::vector<unsigned long long> host(total);
    dev::to_host(host.data(), d_hist_.data(), total, dev_.stream(), "downloading the draw histograms");
    dev::synchronize(dev_.stream(), "computing the draw histograms");
    for (std::size_t k = 0; k < total; ++k) hist[k] += host[k];
  }

  void cell_stats(const float* const* layers, std::size_t n,
                  const std::vector<std::int32_t>& thresholds, float nodata,
                  float* const* out) override {
    mc_require_thresholds(setup_, thresholds.size());
    if (n == 0) return;
    upload(layers, n);
    d_thr_.reserve(thresholds.size());
    dev::to_device(d_thr_.data(), thresholds.data(), thresholds.size(), dev_.stream(),
                   "uploading the top-area thresholds");
    d_out_.reserve(static_cast<std::size_t>(mc_outputs) * n);
    const std::size_t chunk = chunk_for(n);
    for (std::size_t off = 0; off < n; off += chunk) {
      const std::size_t c = n - off < chunk ? n - off : chunk;
      eval(n, off, c);
      dev::run("running the draw summary kernel", [&] {
        for_each_index(dev_.stream(), c,
                       SummariseCell{d_buf_.data(), c, d_thr_.data(), nodata, d_out_.data(), n, off});
      });
    }
    for (int k = 0; k < mc_outputs; ++k) {
      dev::to_host(out[k], d_out_.data() + static_cast<std::size_t>(k) * n, n, dev_.stream(),
                   "downloading the uncertainty bands");
    }
    dev::synchronize(dev_.stream(), "summarising the draws");
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
      dev::to_device(d_layers_.data() + l * n, layers[l], n, dev_.stream(), "uploading a layer window");
    }
    d_buf_.reserve(static_cast<std::size_t>(setup_.draws) * chunk_for(n));
  }

  int program_inputs_() const {
    const int n = program_.n_inputs >= 0 ? program_.n_inputs : program_.n_layers;
    return program_.mask_layer >= 0 && program_.mask_layer + 1 > n ? program_.mask_layer + 1 : n;
  }

  void eval(std::size_t n, std::size_t off, std::size_t c) {
    dev::run("running the draw evaluation kernel", [&] {
      for_each_index(dev_.stream(), c,
                     EvalCell{d_layers_.data(), n, off, c, d_aux_.data(), d_par_.data(), d_buf_.data()});
    });
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
