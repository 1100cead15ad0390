// CPU vs CUDA cell by cell on the same program (label gpu; skipped without a device). In the
// device-on-host build (preset device-on-host) the "CUDA" backend is the same device source run
// on the host, so these tests run in CI: the host "devices" of host_device.hpp have a finite
// memory (MemoryHog) and a device count that a test may raise.
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"

#include <gtest/gtest.h>

#if defined(GP_DEVICE_ON_HOST)
#include "gp/kernels/host_device.hpp"
#elif defined(GP_WITH_CUDA)
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace gk = gp::kernels;

namespace {

/// A deterministic pseudo-random sequence (SplitMix64), independent of the code under test.
struct SplitMix {
  std::uint64_t s;
  double next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / 9007199254740992.0;
  }
};

/// A linear-only weighted sum (bit-exact across backends) or a network using every transform
/// kind and operator (exp/pow/log10 may differ in the last ulp between CUDA and glibc).
gk::Program program(int n_layers, bool every_kind) {
  gk::Program p;
  p.n_layers = n_layers;
  p.out_nodata = -9999.0f;
  const gk::TransformKind kinds[] = {gk::TransformKind::linear,   gk::TransformKind::large,
                                     gk::TransformKind::small,    gk::TransformKind::gaussian,
                                     gk::TransformKind::near,     gk::TransformKind::ms_large,
                                     gk::TransformKind::ms_small, gk::TransformKind::minmax,
                                     gk::TransformKind::zscore,   gk::TransformKind::log10,
                                     gk::TransformKind::clamp,    gk::TransformKind::identity};
  for (int l = 0; l < n_layers; ++l) {
    auto& op = p.layers[l];
    op.transform.kind = every_kind ? kinds[l % 12] : gk::TransformKind::linear;
    op.transform.a = l % 2 == 0 ? 10.0 : 100.0;  // odd linear layers inverted
    op.transform.b = l % 2 == 0 ? 100.0 : 0.5;
    op.transform.invert = every_kind && l == 3 ? 1 : 0;
    op.skip_missing = l == 1 ? 1 : 0;
  }
  const int half = n_layers / 2;
  p.n_groups = 3;
  p.groups[0] = {gk::CombineMethod::weighted_sum, 0, half, 0, 0.9};
  p.groups[1] = {every_kind ? gk::CombineMethod::fuzzy_or : gk::CombineMethod::weighted_sum, half,
                 n_layers - half, 0, 0.9};
  p.groups[2] = {every_kind ? gk::CombineMethod::fuzzy_gamma : gk::CombineMethod::weighted_sum,
                 n_layers, 2, 0, 0.7};
  for (int l = 0; l < n_layers; ++l) {
    p.inputs[l] = l;
    p.input_weights[l] = 1.0 / (l < half ? half : n_layers - half);
  }
  p.inputs[n_layers] = n_layers;
  p.inputs[n_layers + 1] = n_layers + 1;
  p.input_weights[n_layers] = 0.5;
  p.input_weights[n_layers + 1] = 0.5;
  p.n_bands = 2;
  p.bands[0] = n_layers + 2;
  p.bands[1] = n_layers;
  return p;
}

}  // namespace

TEST(CudaBackend, RefusesWithoutDevice) {
  if (gk::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_THROW(gk::make_cuda_backend(0), gp::cuda_error);
}

/// Same statistics, bit for bit (means and variances included).
void expect_same_stats(const gk::LayerStats& a, const gk::LayerStats& b) {
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.invalid, b.invalid);
  EXPECT_EQ(std::memcmp(&a.min, &b.min, sizeof(double)), 0) << a.min << " vs " << b.min;
  EXPECT_EQ(std::memcmp(&a.max, &b.max, sizeof(double)), 0) << a.max << " vs " << b.max;
  EXPECT_EQ(std::memcmp(&a.mean, &b.mean, sizeof(double)), 0) << a.mean << " vs " << b.mean;
  EXPECT_EQ(std::memcmp(&a.m2, &b.m2, sizeof(double)), 0) << a.m2 << " vs " << b.m2;
}

void compare_backends(bool every_kind) {
  auto cpu = gk::make_cpu_backend(0);
  auto gpu = gk::make_cuda_backend(0);
  // Larger than one block and not a multiple of 32 or of the block size.
  for (std::size_t n : {std::size_t{1}, std::size_t{31}, std::size_t{1000003}}) {
    const int L = 12;
    std::vector<std::vector<float>> data(L, std::vector<float>(n));
    SplitMix rng{42};
    for (auto& layer : data) {
      for (auto& v : layer) {
        const double u = rng.next();
        v = u < 0.05 ? std::numeric_limits<float>::quiet_NaN()
                     : static_cast<float>(rng.next() * 120.0 - 10.0);
      }
    }
    std::vector<const float*> ptrs;
    for (auto& layer : data) ptrs.push_back(layer.data());
    const gk::Program p = program(L, every_kind);
    std::vector<float> a0(n), a1(n), b0(n), b1(n);
    float* ca[2] = {a0.data(), a1.data()};
    float* cb[2] = {b0.data(), b1.data()};
    cpu->set_program(p, {});
    gpu->set_program(p, {});
    cpu->score(ptrs.data(), n, ca);
    gpu->score(ptrs.data(), n, cb);
    for (std::size_t i = 0; i < n; ++i) {
      for (int b = 0; b < 2; ++b) {
        const float x = b == 0 ? a0[i] : a1[i];
        const float y = b == 0 ? b0[i] : b1[i];
        if (!every_kind) {
          // Same per-cell code, no FMA contraction on the device: bit-identical results.
          ASSERT_EQ(std::memcmp(&x, &y, sizeof(float)), 0)
              << "band " << b << " cell " << i << ": cpu " << x << " cuda " << y;
        } else {
          ASSERT_EQ(x == -9999.0f, y == -9999.0f) << "nodata differs at cell " << i;
          // Scores of 10-110 have float ulps of 1-8e-6, so an absolute 1e-6 would fail on one
          // ulp: the bound is 4 float ulps of the larger value (2^-21 relative), or 1e-6 near 0.
          const double tol = std::max(1e-6, 4.0 * std::ldexp(std::max(std::abs(double(x)),
                                                                        std::abs(double(y))), -23));
          ASSERT_NEAR(x, y, tol) << "band " << b << " cell " << i;
        }
      }
    }
    // Statistics: the CPU's partials in the CPU's order, so the same bits (defects 4 and 6).
    expect_same_stats(cpu->stats(data[0].data(), n), gpu->stats(data[0].data(), n));
    const std::size_t row_length = n >= 1000 ? 1000 : n;
    const std::size_t rows = n / row_length;
    std::vector<gk::LayerStats> rc(rows), rg(rows);
    cpu->row_stats(data[1].data(), rows, row_length, rc.data());
    gpu->row_stats(data[1].data(), rows, row_length, rg.data());
    for (std::size_t r = 0; r < rows; ++r) expect_same_stats(rc[r], rg[r]);
    expect_same_stats(cpu->stats(data[1].data(), rows * row_length, row_length),
                      gpu->stats(data[1].data(), rows * row_length, row_length));
    std::vector<std::uint64_t> hc(1000, 0), hg(1000, 0);
    cpu->histogram(data[0].data(), n, -10.0, 110.0, 1000, nullptr, 0, hc.data());
    gpu->histogram(data[0].data(), n, -10.0, 110.0, 1000, nullptr, 0, hg.data());
    EXPECT_EQ(hc, hg);  // counts agree exactly
  }
}

TEST(CudaBackend, LinearNetworkMatchesCpuBitForBit) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  compare_backends(false);
}

TEST(CudaBackend, EveryTransformAndOperatorMatchesCpu) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  compare_backends(true);
}

namespace {
/// Takes all but `leave` bytes of the device's free memory for the test's lifetime: on the host
/// "device" its memory budget (host_device.hpp), on a GPU real allocations.
class MemoryHog {
 public:
#if defined(GP_DEVICE_ON_HOST)
  explicit MemoryHog(std::size_t leave) { gk::host_device::leave_memory(leave); }
  ~MemoryHog() { gk::host_device::reset_memory_limit(); }
#elif defined(GP_WITH_CUDA)
  explicit MemoryHog(std::size_t leave) {
    std::size_t free_b = 0;
    std::size_t total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return;
    // cudaMalloc rounds up (2 MiB pages): take in 64 MiB pieces, then smaller ones.
    for (std::size_t piece = std::size_t{64} << 20; piece >= (std::size_t{1} << 20); piece /= 2) {
      for (;;) {
        if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return;
        if (free_b < leave + piece) break;
        void* p = nullptr;
        if (cudaMalloc(&p, piece) != cudaSuccess) {
          cudaGetLastError();
          break;
        }
        ptrs_.push_back(p);
      }
    }
  }
  ~MemoryHog() {
    for (void* p : ptrs_) cudaFree(p);
  }

 private:
  std::vector<void*> ptrs_;

 public:
#else
  explicit MemoryHog(std::size_t /*leave*/) {}
#endif
  MemoryHog(const MemoryHog&) = delete;
  MemoryHog& operator=(const MemoryHog&) = delete;
};

/// `n` cells of `L` layers, 5 % NaN, values in [-10, 110).
std::vector<std::vector<float>> random_layers(int L, std::size_t n, std::uint64_t seed) {
  std::vector<std::vector<float>> data(static_cast<std::size_t>(L), std::vector<float>(n));
  SplitMix rng{seed};
  for (auto& layer : data) {
    for (auto& v : layer) {
      v = rng.next() < 0.05 ? std::numeric_limits<float>::quiet_NaN()
                            : static_cast<float>(rng.next() * 120.0 - 10.0);
    }
  }
  return data;
}

/// Cells per window of the out-of-memory test: 16 Mi on a GPU (14 x 64 MiB of buffers), 2 Mi
/// on the host "device" (the same shape, an eighth of the host memory).
#if defined(GP_DEVICE_ON_HOST)
constexpr std::size_t oom_cells = std::size_t{2} << 20;
#else
constexpr std::size_t oom_cells = std::size_t{16} << 20;
#endif
}  // namespace

// Out of device memory: a window larger than the device's free memory is scored in smaller
// chunks (same bits as the CPU: linear program), and when even 64 Ki-cell chunks do not fit the
// work moves to the CPU with one warning; a bare CUDA backend then reports device_out_of_memory.
// Each block uses backends made, with their program set, before memory is taken: a backend's
// buffers never shrink (a backend that already ran would still hold them), and set_program's
// own small allocation must not be what fails.
TEST(CudaBackend, OutOfMemoryShrinksChunksThenFallsBackToTheCpu) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int L = 12;
  const std::size_t n = oom_cells;
  const auto data = random_layers(L, n, 7);
  std::vector<const float*> ptrs;
  for (const auto& layer : data) ptrs.push_back(layer.data());
  const gk::Program p = program(L, false);
  auto cpu = gk::make_cpu_backend(0);
  cpu->set_program(p, {});
  std::vector<float> c0(n), c1(n);
  float* cb[2] = {c0.data(), c1.data()};
  cpu->score(ptrs.data(), n, cb);
  std::vector<std::uint64_t> hc(100, 0);
  cpu->histogram(data[0].data(), n, -10.0, 110.0, 100, nullptr, 0, hc.data());
  const auto sc = cpu->stats(data[0].data(), n);

  std::vector<std::string> warnings;
  auto fallback = [&] {
    auto b = gk::make_fallback_backend(
        gk::make_cuda_backend(0), [] { return gk::make_cpu_backend(0); },
        [&](const std::string& w) { warnings.push_back(w); });
    b->set_program(p, {});
    return b;
  };
  {
    auto gpu = fallback();
    // 14 floats per cell (12 layers, 2 bands): the whole window needs 56 n bytes, a half 28 n,
    // a quarter 14 n: 19 n bytes left fit a quarter, not a half.
    MemoryHog hog(19 * n);
    std::vector<float> g0(n, 7.0f), g1(n, 7.0f);
    float* gb[2] = {g0.data(), g1.data()};
    gpu->score(ptrs.data(), n, gb);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_EQ(gpu->name().rfind("cuda", 0), 0u) << gpu->name();
    EXPECT_EQ(std::memcmp(g0.data(), c0.data(), n * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(g1.data(), c1.data(), n * sizeof(float)), 0);
    std::vector<std::uint64_t> hg(100, 0);
    gpu->histogram(data[0].data(), n, -10.0, 110.0, 100, nullptr, 0, hg.data());
    EXPECT_EQ(hg, hc);
    // Statistics after the chunks shrank: still the CPU's bits (defect 4).
    expect_same_stats(sc, gpu->stats(data[0].data(), n));
    EXPECT_TRUE(warnings.empty()) << warnings.front();
  }
  {
    auto gpu = fallback();
    auto bare = gk::make_cuda_backend(0);
    bare->set_program(p, {});
    MemoryHog hog(std::size_t{1} << 20);  // 1 MiB left: not even 64 Ki cells x 14 buffers
    std::vector<float> g0(n, 7.0f), g1(n, 7.0f);
    float* gb[2] = {g0.data(), g1.data()};
    EXPECT_THROW(bare->score(ptrs.data(), n, gb), gp::device_out_of_memory);
    gpu->score(ptrs.data(), n, gb);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("ran out of memory while scoring"), std::string::npos)
        << warnings[0];
    EXPECT_EQ(std::memcmp(g0.data(), c0.data(), n * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(g1.data(), c1.data(), n * sizeof(float)), 0);
  }
}

// Histograms whose cells all fall in one bin, and values exactly on bin edges (lo, hi, every
// inner edge): counted by hand (edge k of [0, 10] in 10 bins opens bin k; hi closes the last).
TEST(CudaBackend, HistogramOneBinAndBinEdges) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto gpu = gk::make_cuda_backend(0);
  auto cpu = gk::make_cpu_backend(0);
  const std::size_t n = 100003;
  std::vector<float> same(n, 3.5f);
  std::vector<std::uint64_t> h(10, 0);
  gpu->histogram(same.data(), n, 0.0, 10.0, 10, nullptr, 0, h.data());
  std::vector<std::uint64_t> want(10, 0);
  want[3] = n;
  EXPECT_EQ(h, want);
  std::vector<float> edges;
  for (int rep = 0; rep < 1000; ++rep) {
    for (int k = 0; k <= 10; ++k) edges.push_back(static_cast<float>(k));
  }
  edges.push_back(-0.0f);                                      // == lo: bin 0
  edges.push_back(std::nextafter(0.0f, -1.0f));                // below lo: not counted
  edges.push_back(std::nextafter(10.0f, 11.0f));               // above hi: not counted
  edges.push_back(std::numeric_limits<float>::quiet_NaN());    // invalid: not counted
  std::vector<std::uint64_t> he(10, 0), hcpu(10, 0);
  gpu->histogram(edges.data(), edges.size(), 0.0, 10.0, 10, nullptr, 0, he.data());
  cpu->histogram(edges.data(), edges.size(), 0.0, 10.0, 10, nullptr, 0, hcpu.data());
  std::vector<std::uint64_t> want_e(10, 1000);
  want_e[0] += 1;     // -0.0
  want_e[9] += 1000;  // hi goes to the last bin
  EXPECT_EQ(he, want_e);
  EXPECT_EQ(hcpu, want_e);
  // Refined: slot table with bin 3 refined into 4 sub-bins; every cell in sub-bin 2 (3.5).
  const std::int32_t slots[10] = {-1, -1, -1, 0, -1, -1, -1, -1, -1, -1};
  std::vector<std::uint64_t> hs(4, 0);
  gpu->histogram(same.data(), n, 0.0, 10.0, 10, slots, 4, hs.data());
  EXPECT_EQ(hs, (std::vector<std::uint64_t>{0, 0, n, 0}));
}

// Several devices as one (defects 2 and 4): every share thread selects its device before it
// touches device memory (the refined histogram's slot table included), and statistics have a
// single device's bits. On the host the device count is raised to 3; on a GPU machine this
// needs two devices.
TEST(CudaBackend, SeveralDevicesGiveOneDevicesResults) {
#if defined(GP_DEVICE_ON_HOST)
  gk::host_device::set_count(3);
#endif
  const int devices = std::min(gk::cuda_device_count(), 3);
  if (devices < 2) {
#if defined(GP_DEVICE_ON_HOST)
    gk::host_device::set_count(-1);
#endif
    GTEST_SKIP() << "fewer than two CUDA devices";
  }
  std::vector<std::unique_ptr<gk::Backend>> parts;
  for (int d = 0; d < devices; ++d) parts.push_back(gk::make_cuda_backend(d));
  auto multi = gk::make_multi_backend(std::move(parts));
  auto cpu = gk::make_cpu_backend(0);
  const std::size_t rows = 301;
  const std::size_t cols = 997;
  const auto data = random_layers(1, rows * cols, 11);
  const float* v = data[0].data();
  // Coarse 12 bins over [-10, 110]; bins 2 and 7 refined into 16 sub-bins each.
  std::int32_t slots[12];
  for (auto& s : slots) s = -1;
  slots[2] = 0;
  slots[7] = 1;
  std::vector<std::uint64_t> hm(32, 0), hc(32, 0);
  multi->histogram(v, rows * cols, -10.0, 110.0, 12, slots, 16, hm.data());
  cpu->histogram(v, rows * cols, -10.0, 110.0, 12, slots, 16, hc.data());
  EXPECT_EQ(hm, hc);
  expect_same_stats(cpu->stats(v, rows * cols, cols), multi->stats(v, rows * cols, cols));
  std::vector<gk::LayerStats> rm(rows), rc(rows);
  multi->row_stats(v, rows, cols, rm.data());
  cpu->row_stats(v, rows, cols, rc.data());
  for (std::size_t r = 0; r < rows; ++r) expect_same_stats(rc[r], rm[r]);
#if defined(GP_DEVICE_ON_HOST)
  gk::host_device::set_count(-1);
#endif
}
