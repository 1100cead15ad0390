// CPU vs CUDA cell by cell on the same program (label gpu; skipped without a device).
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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

gk::Program program(int n_layers) {
  gk::Program p;
  p.n_layers = n_layers;
  p.out_nodata = -9999.0f;
  for (int l = 0; l < n_layers; ++l) {
    auto& op = p.layers[l];
    op.transform.kind = l % 3 == 2 ? gk::TransformKind::identity : gk::TransformKind::linear;
    op.transform.min = l % 2 == 0 ? 0.0 : 100.0;  // odd layers inverted
    op.transform.max = l % 2 == 0 ? 100.0 : 0.0;
    op.weight = 1.0 / n_layers;
    op.skip_missing = l == 1 ? 1 : 0;
  }
  return p;
}

}  // namespace

TEST(CudaBackend, RefusesWithoutDevice) {
  if (gk::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_THROW(gk::make_cuda_backend(0), gp::cuda_error);
}

TEST(CudaBackend, MatchesCpuCellByCell) {
  if (gk::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto cpu = gk::make_cpu_backend(0);
  auto gpu = gk::make_cuda_backend(0);
  // Larger than one block and not a multiple of 32 or of the block size.
  for (std::size_t n : {std::size_t{1}, std::size_t{31}, std::size_t{1000003}}) {
    const int L = 6;
    std::vector<std::vector<float>> data(L, std::vector<float>(n));
    SplitMix rng{42};
    for (auto& layer : data) {
      for (auto& v : layer) {
        const double u = rng.next();
        v = u < 0.05 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(rng.next() * 120.0 - 10.0);
      }
    }
    std::vector<const float*> ptrs;
    for (auto& layer : data) ptrs.push_back(layer.data());
    const gk::Program p = program(L);
    std::vector<float> a(n);
    std::vector<float> b(n);
    cpu->score(p, ptrs.data(), n, a.data());
    gpu->score(p, ptrs.data(), n, b.data());
    // Same per-cell code, no FMA contraction on the device: bit-identical results.
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0)
          << "cell " << i << ": cpu " << a[i] << " cuda " << b[i];
    }
    const auto sc = cpu->stats(data[0].data(), n);
    const auto sg = gpu->stats(data[0].data(), n);
    EXPECT_EQ(sc.valid, sg.valid);
    EXPECT_EQ(sc.invalid, sg.invalid);
    EXPECT_EQ(sc.min, sg.min);
    EXPECT_EQ(sc.max, sg.max);
    EXPECT_NEAR(sc.sum, sg.sum, 1e-9 * std::abs(sc.sum) + 1e-9);
  }
}
