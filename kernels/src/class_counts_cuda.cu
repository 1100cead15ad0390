// Per-class counts on the device: one functor per cell adds to 64-bit bins (libcu++ atomics),
// and a Thrust reduction over the cells gives the tallies and the range (exact: counts, min
// and max do not depend on the order). The same source runs in the device-on-host build.
#include "gp/kernels/class_counts.hpp"

#include "gp/error.hpp"
#include "gp/kernels/device_system.hpp"

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <cuda/atomic>

#include <vector>

namespace gp::kernels {
namespace {

/// The tally of some cells: valid, below and above counts, range of the valid values.
struct Tally {
  unsigned long long valid;
  unsigned long long below;
  unsigned long long above;
  float min;
  float max;
};

struct CellTally {
  const float* data;
  long long lo;
  long long nbins;
  GP_HD Tally operator()(std::size_t i) const {
    const float v = data[i];
    const long long b = class_bin(v, lo, nbins);
    if (b == -1) return Tally{0, 0, 0, 3.4028235e38f, -3.4028235e38f};
    return Tally{1, b == -2 ? 1ULL : 0ULL, b == -3 ? 1ULL : 0ULL, v, v};
  }
};

struct MergeTally {
  GP_HD Tally operator()(const Tally& a, const Tally& b) const {
    return Tally{a.valid + b.valid, a.below + b.below, a.above + b.above,
                 a.min < b.min ? a.min : b.min, a.max > b.max ? a.max : b.max};
  }
};

struct CountCell {
  const float* data;
  long long lo;
  long long nbins;
  unsigned long long* counts;
  GP_HD void operator()(std::size_t i) const {
    const long long b = class_bin(data[i], lo, nbins);
    if (b >= 0) {
      cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> c(counts[b]);
      c.fetch_add(1ULL, cuda::memory_order_relaxed);
    }
  }
};

class CudaClassCounter final : public ClassCounter {
 public:
  explicit CudaClassCounter(int device) : dev_(device) {}

  ClassCountTally count(const float* data, std::size_t n, long long lo, long long nbins,
                        std::uint64_t* counts) override {
    ClassCountTally r;
    if (n == 0) return r;
    dev_.make_current();
    const auto nb = static_cast<std::size_t>(nbins);
    d_data_.reserve(n);
    d_counts_.reserve(nb + 1);
    dev::to_device(d_data_.data(), data, n, dev_.stream(), "uploading a layer for class counts");
    dev::zero(d_counts_.data(), nb, dev_.stream(), "clearing class counts");
    Tally t{};
    const float* d = d_data_.data();
    unsigned long long* c = d_counts_.data();
    dev::run("counting classes", [&] {
      const auto policy = dev::policy(dev_.stream());
      thrust::for_each(policy, thrust::counting_iterator<std::size_t>(0),
                       thrust::counting_iterator<std::size_t>(n), CountCell{d, lo, nbins, c});
      t = thrust::transform_reduce(policy, thrust::counting_iterator<std::size_t>(0),
                                   thrust::counting_iterator<std::size_t>(n),
                                   CellTally{d, lo, nbins},
                                   Tally{0, 0, 0, 3.4028235e38f, -3.4028235e38f}, MergeTally{});
    });
    host_.resize(nb);
    dev::to_host(host_.data(), d_counts_.data(), nb, dev_.stream(), "downloading class counts");
    dev::synchronize(dev_.stream(), "counting classes");
    for (std::size_t k = 0; k < nb; ++k) counts[k] += host_[k];
    r.valid = t.valid;
    r.below = t.below;
    r.above = t.above;
    if (r.valid > 0) {
      r.min = t.min;
      r.max = t.max;
    }
    return r;
  }

 private:
  CudaDevice dev_;
  device_buffer<float> d_data_;
  device_buffer<unsigned long long> d_counts_;
  std::vector<unsigned long long> host_;
};

}  // namespace

std::unique_ptr<ClassCounter> make_cuda_class_counter(int device) {
  require_cuda_device(device, "class counts on CUDA");
  return std::make_unique<CudaClassCounter>(device);
}

}  // namespace gp::kernels
