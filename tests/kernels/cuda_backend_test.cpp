// CPU vs CUDA cell by cell on the same program (label gpu; skipped without a device).
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"

#include <gtest/gtest.h>

#if defined(GP_WITH_CUDA)
#include <cuda_runtime.h>
#endif

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
          ASSERT_NEAR(x, y, 1e-6) << "band " << b << " cell " << i;
        }
      }
    }
    const auto sc = cpu->stats(data[0].data(), n);
    const auto sg = gpu->stats(data[0].data(), n);
    EXPECT_EQ(sc.valid, sg.valid);
    EXPECT_EQ(sc.invalid, sg.invalid);
    EXPECT_EQ(sc.min, sg.min);
    EXPECT_EQ(sc.max, sg.max);
    EXPECT_NEAR(sc.mean, sg.mean, 1e-9 * std::abs(sc.mean) + 1e-12);
    EXPECT_NEAR(sc.stddev(), sg.stddev(), 1e-9 * sc.stddev() + 1e-12);
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

#if defined(GP_WITH_CUDA)
namespace {
/// Takes all but `leave` bytes of the device's free memory for the test's lifetime.
class MemoryHog {
 public:
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
  MemoryHog(const MemoryHog&) = delete;
  MemoryHog& operator=(const MemoryHog&) = delete;

 private:
  std::vector<void*> ptrs_;
};
}  // namespace
#endif

// Out of device memory: a window larger than the device's free memory is scored in smaller chunks (same
// bits as the CPU: linear program), and when even 64 Ki-cell chunks do not fit the work moves
// to the CPU with one warning; a bare CUDA backend then reports device_out_of_memory.
TEST(CudaBackend, OutOfMemoryShrinksChunksThenFallsBackToTheCpu) {
#if !defined(GP_WITH_CUDA)
  GTEST_SKIP() << "built without CUDA";
#else
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int L = 12;
  const std::size_t n = std::size_t{16} << 20;  // 16 Mi cells: 14 x 64 MiB on the device
  std::vector<std::vector<float>> data(L, std::vector<float>(n));
  SplitMix rng{7};
  for (auto& layer : data) {
    for (auto& v : layer) {
      v = rng.next() < 0.05 ? std::numeric_limits<float>::quiet_NaN()
                            : static_cast<float>(rng.next() * 120.0 - 10.0);
    }
  }
  std::vector<const float*> ptrs;
  for (auto& layer : data) ptrs.push_back(layer.data());
  const gk::Program p = program(L, false);
  auto cpu = gk::make_cpu_backend(0);
  cpu->set_program(p, {});
  std::vector<float> c0(n), c1(n);
  float* cb[2] = {c0.data(), c1.data()};
  cpu->score(ptrs.data(), n, cb);
  std::vector<std::uint64_t> hc(100, 0);
  cpu->histogram(data[0].data(), n, -10.0, 110.0, 100, nullptr, 0, hc.data());

  std::vector<std::string> warnings;
  auto gpu = gk::make_fallback_backend(
      gk::make_cuda_backend(0), [] { return gk::make_cpu_backend(0); },
      [&](const std::string& w) { warnings.push_back(w); });
  gpu->set_program(p, {});
  {
    MemoryHog hog(std::size_t{300} << 20);  // 300 MiB left: a quarter of the window fits
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
  }
  {
    MemoryHog hog(std::size_t{1} << 20);  // 1 MiB left: not even 64 Ki cells x 14 buffers
    auto bare = gk::make_cuda_backend(0);
    bare->set_program(p, {});
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
#endif
}
