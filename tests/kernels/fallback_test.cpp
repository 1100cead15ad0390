// Device out-of-memory handling, without a GPU: the chunking rule the CUDA backend
// uses (for_each_chunk) and the wrapper that moves work to the CPU (make_fallback_backend),
// driven by a fake device backend that runs out of memory on demand; the same for the rank
// counter (validation) and the class counter (weights of evidence). The CUDA backend itself is
// exercised under real memory pressure in cuda_backend_test.cpp (label gpu).
#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "gp/kernels/chunking.hpp"
#include "gp/kernels/class_counts.hpp"
#include "gp/kernels/device_fallback.hpp"
#include "gp/kernels/rank.hpp"
#include "recording_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gk = gp::kernels;

namespace {

struct Call {
  std::size_t first, count;
  bool operator==(const Call& o) const { return first == o.first && count == o.count; }
};

}  // namespace

TEST(ForEachChunk, WholeRangeInOneCallWhenItFits) {
  std::size_t cap = 0;
  std::vector<Call> calls;
  int shrinks = 0;
  gk::for_each_chunk(
      5000, cap, 64, [&](std::size_t f, std::size_t c) { calls.push_back({f, c}); },
      [&](std::size_t) { ++shrinks; });
  EXPECT_EQ(calls, (std::vector<Call>{{0, 5000}}));
  EXPECT_EQ(cap, 0u);
  EXPECT_EQ(shrinks, 0);
}

TEST(ForEachChunk, HalvesUntilAChunkFitsThenCoversEveryUnitOnce) {
  // "Device" with room for 1000 units: 5000 -> 2500 -> 1250 fail, 625 fits: 8 chunks of 625.
  std::size_t cap = 0;
  std::vector<Call> done;
  std::vector<std::size_t> shrunk_from;
  gk::for_each_chunk(
      5000, cap, 64,
      [&](std::size_t f, std::size_t c) {
        if (c > 1000) throw gp::device_out_of_memory("fake: out of memory");
        done.push_back({f, c});
      },
      [&](std::size_t c) { shrunk_from.push_back(c); });
  EXPECT_EQ(shrunk_from, (std::vector<std::size_t>{5000, 2500, 1250}));
  EXPECT_EQ(cap, 625u);
  ASSERT_EQ(done.size(), 8u);
  std::size_t next = 0;
  for (const auto& c : done) {
    EXPECT_EQ(c.first, next);
    EXPECT_EQ(c.count, 625u);
    next += c.count;
  }
  EXPECT_EQ(next, 5000u);
  // The smaller capacity is kept: the next call starts at 625 without failing first.
  done.clear();
  shrunk_from.clear();
  gk::for_each_chunk(
      1300, cap, 64,
      [&](std::size_t f, std::size_t c) {
        if (c > 1000) throw gp::device_out_of_memory("fake");
        done.push_back({f, c});
      },
      [&](std::size_t c) { shrunk_from.push_back(c); });
  EXPECT_TRUE(shrunk_from.empty());
  EXPECT_EQ(done, (std::vector<Call>{{0, 625}, {625, 625}, {1250, 50}}));
}

TEST(ForEachChunk, GivesUpAtTheFloorAndLeavesOtherErrorsAlone) {
  std::size_t cap = 0;
  std::size_t smallest = 0;
  EXPECT_THROW(gk::for_each_chunk(
                   100000, cap, 4096,
                   [&](std::size_t, std::size_t c) {
                     smallest = c;
                     throw gp::device_out_of_memory("fake: out of memory");
                   },
                   [](std::size_t) {}),
               gp::device_out_of_memory);
  EXPECT_EQ(smallest, 4096u);  // tried down to the floor, not below
  std::size_t cap2 = 0;
  int calls = 0;
  EXPECT_THROW(gk::for_each_chunk(
                   100000, cap2, 4096,
                   [&](std::size_t, std::size_t) {
                     ++calls;
                     throw gp::cuda_error("fake: illegal address");
                   },
                   [](std::size_t) {}),
               gp::cuda_error);
  EXPECT_EQ(calls, 1);  // a device fault is not retried
  EXPECT_EQ(cap2, 0u);
}

namespace {

/// A device that runs out of memory for windows above `room` cells (score, stats, histogram)
/// and otherwise computes on the CPU. Its histogram adds half of its counts before failing, as a
/// device that dies part-way through its chunks would.
class FakeDevice final : public gk::Backend {
 public:
  FakeDevice(std::size_t room, int* calls) : room_(room), calls_(calls) {}
  [[nodiscard]] std::string name() const override { return "fake-device"; }
  void set_program(const gk::Program& p, const std::vector<double>& aux) override {
    cpu_->set_program(p, aux);
  }
  void score(const float* const* layers, std::size_t n, float* const* bands) override {
    ++*calls_;
    if (n > room_) throw gp::device_out_of_memory("fake: out of memory");
    cpu_->score(layers, n, bands);
  }
  gk::LayerStats stats(const float* d, std::size_t n, std::size_t rl) override {
    ++*calls_;
    if (n > room_) throw gp::device_out_of_memory("fake: out of memory");
    return cpu_->stats(d, n, rl);
  }
  void row_stats(const float* d, std::size_t rows, std::size_t rl, gk::LayerStats* o) override {
    ++*calls_;
    if (rows * rl > room_) throw gp::device_out_of_memory("fake: out of memory");
    cpu_->row_stats(d, rows, rl, o);
  }
  void histogram(const float* d, std::size_t n, double lo, double hi, int nb,
                 const std::int32_t* slots, int sub, std::uint64_t* counts) override {
    ++*calls_;
    if (n > room_) {
      cpu_->histogram(d, n / 2, lo, hi, nb, slots, sub, counts);  // partial work, then failure
      throw gp::device_out_of_memory("fake: out of memory");
    }
    cpu_->histogram(d, n, lo, hi, nb, slots, sub, counts);
  }

 private:
  std::size_t room_;
  int* calls_;
  std::unique_ptr<gk::Backend> cpu_ = gk::make_cpu_backend(1);
};

gk::Program two_layer_sum() {
  gk::Program p;
  p.n_layers = 2;
  p.layers[0].transform.kind = gk::TransformKind::large;  // 1 / (1 + (x / 5)^-2)
  p.layers[0].transform.a = 5.0;
  p.layers[0].transform.b = 2.0;
  p.layers[1].transform.kind = gk::TransformKind::identity;
  p.n_groups = 1;
  p.groups[0].n_inputs = 2;
  p.inputs[0] = 0;
  p.inputs[1] = 1;
  p.input_weights[0] = 0.5;
  p.input_weights[1] = 0.5;
  p.bands[0] = 2;
  return p;
}

}  // namespace

TEST(FallbackBackend, MovesToTheCpuOnceTheDeviceRunsOutOfMemory) {
  int device_calls = 0;
  std::vector<std::string> warnings;
  auto be = gk::make_fallback_backend(
      std::make_unique<FakeDevice>(1000, &device_calls), [] { return gk::make_cpu_backend(1); },
      [&](const std::string& w) { warnings.push_back(w); });
  be->set_program(two_layer_sum(), {});
  EXPECT_EQ(be->name(), "fake-device");

  const std::size_t n = 4000;
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i % 20);        // 0 .. 19
    b[i] = i % 13 == 0 ? std::numeric_limits<float>::quiet_NaN() : 0.25f;
  }
  const float* layers[2] = {a.data(), b.data()};
  const auto expected = [&](std::size_t i) {
    if (i % 13 == 0) return -9999.0f;
    const double x = static_cast<double>(i % 20);
    const double mu = x <= 0.0 ? 0.0 : 1.0 / (1.0 + (5.0 / x) * (5.0 / x));
    return static_cast<float>(0.5 * mu + 0.5 * 0.25);
  };

  // Fits: the device does the work, no warning.
  std::vector<float> small(500, 7.0f);
  float* sb[1] = {small.data()};
  be->score(layers, small.size(), sb);
  EXPECT_EQ(device_calls, 1);
  EXPECT_TRUE(warnings.empty());
  for (std::size_t i = 0; i < small.size(); ++i) ASSERT_FLOAT_EQ(small[i], expected(i)) << i;

  // Does not fit: one warning naming the device and the stage, the CPU gives every cell.
  std::vector<float> out(n, 7.0f);
  float* ob[1] = {out.data()};
  be->score(layers, n, ob);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("fake-device ran out of memory while scoring"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("continuing on cpu"), std::string::npos) << warnings[0];
  for (std::size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(out[i], expected(i)) << i;
  EXPECT_NE(be->name().find("after fake-device ran out of memory"), std::string::npos);

  // Later calls, even small ones, stay on the CPU: the device is not tried again.
  const int calls_before = device_calls;
  be->score(layers, small.size(), sb);
  const auto s = be->stats(a.data(), n, 0);
  EXPECT_EQ(device_calls, calls_before);
  EXPECT_EQ(s.valid, n);
  EXPECT_EQ(s.max, 19.0);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(FallbackBackend, HistogramRedoneOnTheCpuCountsEveryValueOnce) {
  int device_calls = 0;
  std::vector<std::string> warnings;
  auto be = gk::make_fallback_backend(
      std::make_unique<FakeDevice>(100, &device_calls), [] { return gk::make_cpu_backend(1); },
      [&](const std::string& w) { warnings.push_back(w); });
  const std::size_t n = 1000;
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 10);  // 100 of each 0..9
  std::vector<std::uint64_t> counts(10, 5);  // histogram() adds to what is there
  be->histogram(v.data(), n, 0.0, 10.0, 10, nullptr, 0, counts.data());
  EXPECT_EQ(counts, std::vector<std::uint64_t>(10, 105));
  EXPECT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("while computing a histogram"), std::string::npos);
}

TEST(FallbackBackend, OtherDeviceErrorsAreNotHidden) {
  class Faulty final : public gk::Backend {
   public:
    [[nodiscard]] std::string name() const override { return "faulty"; }
    void set_program(const gk::Program&, const std::vector<double>&) override {}
    void score(const float* const*, std::size_t, float* const*) override {
      throw gp::cuda_error("CUDA error while running the scoring kernel: an illegal memory access");
    }
    gk::LayerStats stats(const float*, std::size_t, std::size_t) override { return {}; }
    void row_stats(const float*, std::size_t, std::size_t, gk::LayerStats*) override {}
    void histogram(const float*, std::size_t, double, double, int, const std::int32_t*, int,
                   std::uint64_t*) override {}
  };
  int fallbacks = 0;
  auto be = gk::make_fallback_backend(
      std::make_unique<Faulty>(),
      [&] {
        ++fallbacks;
        return gk::make_cpu_backend(1);
      },
      [](const std::string&) {});
  const float x = 1.0f;
  const float* layers[1] = {&x};
  float y = 0.0f;
  float* bands[1] = {&y};
  EXPECT_THROW(be->score(layers, 1, bands), gp::cuda_error);
  EXPECT_EQ(fallbacks, 0);
}

namespace {

/// A device rank counter with room for `room` cells per call, that runs out of memory for good
/// after `budget` successful calls (a device that other work fills up); it counts on the CPU.
class FakeRankDevice final : public gk::RankCounter {
 public:
  FakeRankDevice(std::vector<std::uint32_t> edges, std::size_t room, int budget)
      : cpu_(gk::make_rank_counter_cpu(std::move(edges), 1)), room_(room), budget_(budget) {}
  void add(const float* d, std::size_t n) override {
    if (n > room_ || budget_ <= 0) throw gp::device_out_of_memory("fake: out of memory");
    --budget_;
    cpu_->add(d, n);
  }
  std::vector<std::uint64_t> counts() override { return cpu_->counts(); }
  std::uint64_t invalid() override { return cpu_->invalid(); }
  [[nodiscard]] std::string name() const override { return "fake-device"; }

 private:
  std::unique_ptr<gk::RankCounter> cpu_;
  std::size_t room_;
  int budget_;
};

class FakeClassDevice final : public gk::ClassCounter {
 public:
  FakeClassDevice(std::size_t room, int budget) : room_(room), budget_(budget) {}
  gk::ClassCountTally count(const float* d, std::size_t n, long long lo, long long nb,
                            std::uint64_t* counts) override {
    if (n > room_ || budget_ <= 0) throw gp::device_out_of_memory("fake: out of memory");
    --budget_;
    return cpu_->count(d, n, lo, nb, counts);
  }

 private:
  std::unique_ptr<gk::ClassCounter> cpu_ = gk::make_cpu_class_counter(1);
  std::size_t room_;
  int budget_;
};

/// 0, 1, ..., 9 repeated, every 7th cell NaN.
std::vector<float> tens(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = i % 7 == 0 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(i % 10);
  }
  return v;
}

}  // namespace

TEST(FallbackRankCounter, ShrinksThenCountsTheRestOnTheCpuWithTheDeviceCountsKept) {
  // Slots around the deposit scores 2 and 5: below 2, = 2, between, = 5, above 5.
  const std::vector<float> scores = {2.0f, 5.0f};
  const std::size_t n = 300000;  // above the device's room of 100000 cells per call
  const std::vector<float> v = tens(n);
  std::vector<std::uint64_t> expected(5, 0);
  std::uint64_t nan = 0;
  for (const float x : v) {
    if (x != x) {
      ++nan;
      continue;
    }
    expected[x < 2.0f ? 0 : x == 2.0f ? 1 : x < 5.0f ? 2 : x == 5.0f ? 3 : 4] += 1;
  }
  std::vector<std::string> warnings;
  // Room for 100000 cells and three calls: 300000 -> 150000 -> 75000 cells, three chunks
  // fit, the fourth finds the device full and the last 75000 cells go to the CPU.
  auto c = gk::make_fallback_rank_counter(
      std::make_unique<FakeRankDevice>(gk::edge_keys(scores), 100000, 3),
      [&] { return gk::make_rank_counter_cpu(gk::edge_keys(scores), 1); },
      [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(c->name(), "fake-device");
  c->add(v.data(), n);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("fake-device ran out of memory while counting map ranks"),
            std::string::npos)
      << warnings[0];
  c->add(v.data(), 1000);  // a later call goes straight to the CPU, no second warning
  EXPECT_EQ(warnings.size(), 1u);
  for (std::size_t i = 0; i < 1000; ++i) {
    const float x = v[i];
    if (x != x) {
      ++nan;
      continue;
    }
    expected[x < 2.0f ? 0 : x == 2.0f ? 1 : x < 5.0f ? 2 : x == 5.0f ? 3 : 4] += 1;
  }
  EXPECT_EQ(c->counts(), expected);
  EXPECT_EQ(c->invalid(), nan);
  EXPECT_NE(c->name().find("cpu (after fake-device ran out of memory)"), std::string::npos);
}

TEST(FallbackClassCounter, SameCountsAndTallyAsTheCpuAfterTheDeviceRunsOut) {
  const std::size_t n = 200000;
  const std::vector<float> v = tens(n);
  // Bins 2..7 (lo = 2, 6 bins): classes 0, 1 below, 8, 9 above.
  std::vector<std::uint64_t> expected(6, 0);
  std::uint64_t valid = 0, below = 0, above = 0;
  for (const float x : v) {
    if (x != x) continue;
    ++valid;
    const int c = static_cast<int>(x);
    if (c < 2) ++below;
    else if (c > 7) ++above;
    else expected[static_cast<std::size_t>(c - 2)] += 1;
  }
  std::vector<std::string> warnings;
  auto c = gk::make_fallback_class_counter(
      std::make_unique<FakeClassDevice>(80000, 2), [] { return gk::make_cpu_class_counter(1); },
      [&](const std::string& w) { warnings.push_back(w); });
  std::vector<std::uint64_t> counts(6, 0);
  const gk::ClassCountTally t = c->count(v.data(), n, 2, 6, counts.data());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("counting evidence classes"), std::string::npos) << warnings[0];
  EXPECT_EQ(counts, expected);
  EXPECT_EQ(t.valid, valid);
  EXPECT_EQ(t.below, below);
  EXPECT_EQ(t.above, above);
  EXPECT_EQ(t.min, 0.0);
  EXPECT_EQ(t.max, 9.0);
}

TEST(FallbackClassCounter, DeviceThatCopesIsUsedAlone) {
  const std::vector<float> v = tens(5000);
  std::vector<std::string> warnings;
  auto c = gk::make_fallback_class_counter(
      std::make_unique<FakeClassDevice>(100000, 1000), [] { return gk::make_cpu_class_counter(1); },
      [&](const std::string& w) { warnings.push_back(w); });
  std::vector<std::uint64_t> counts(10, 0);
  const gk::ClassCountTally t = c->count(v.data(), v.size(), 0, 10, counts.data());
  EXPECT_TRUE(warnings.empty());
  std::uint64_t total = 0;
  for (const auto k : counts) total += k;
  EXPECT_EQ(t.valid, total);
  EXPECT_EQ(counts[3], static_cast<std::uint64_t>(std::count_if(
                           v.begin(), v.end(), [](float x) { return x == 3.0f; })));
}

// ---- The one switch-over helper (device_fallback.hpp) that every fallback above uses ----

TEST(WithDeviceFallback, DeviceSucceedsCpuNeverRuns) {
  int device = 0;
  int cpu = 0;
  int switched = 0;
  gk::with_device_fallback([&] { ++device; }, [&] { ++cpu; },
                           [&](const gp::device_out_of_memory&) { ++switched; });
  EXPECT_EQ(device, 1);
  EXPECT_EQ(cpu, 0);
  EXPECT_EQ(switched, 0);
}

TEST(WithDeviceFallback, OutOfMemorySwitchesOnceThenCpu) {
  std::vector<std::string> order;
  gk::with_device_fallback(
      [&] {
        order.emplace_back("device");
        throw gp::device_out_of_memory("full");
      },
      [&] { order.emplace_back("cpu"); },
      [&](const gp::device_out_of_memory& e) { order.emplace_back(std::string("switch:") + e.what()); });
  EXPECT_EQ(order, (std::vector<std::string>{"device", "switch:full", "cpu"}));
}

TEST(WithDeviceFallback, OtherErrorsPropagate) {
  int cpu = 0;
  EXPECT_THROW(gk::with_device_fallback([] { throw gp::cuda_error("launch failed"); },
                                        [&] { ++cpu; }, [](const gp::device_out_of_memory&) {}),
               gp::cuda_error);
  EXPECT_EQ(cpu, 0);
}

namespace {
struct Engine {
  std::string name;
  bool fails{false};
  int calls{0};
  void work() {
    ++calls;
    if (fails) throw gp::device_out_of_memory(name + " is full");
  }
};
}  // namespace

TEST(DeviceFallback, StaysOnTheFallbackAfterTheFirstFailure) {
  int made = 0;
  std::vector<std::string> warnings;
  gk::DeviceFallback<Engine> sw(
      std::make_unique<Engine>(Engine{"dev", false, 0}),
      [&] {
        ++made;
        return std::make_unique<Engine>(Engine{"cpu", false, 0});
      },
      [&](Engine& dev, Engine& cpu, const char* stage, const gp::device_out_of_memory& e) {
        warnings.push_back(dev.name + "->" + cpu.name + " while " + stage + ": " + e.what());
      });
  sw.run("a", [](Engine& e) { e.work(); });
  EXPECT_FALSE(sw.switched());
  EXPECT_EQ(&sw.current(), &sw.primary());
  sw.primary().fails = true;
  sw.run("b", [](Engine& e) { e.work(); });
  ASSERT_TRUE(sw.switched());
  sw.run("c", [](Engine& e) { e.work(); });
  EXPECT_EQ(made, 1);
  EXPECT_EQ(sw.primary().calls, 2);   // "a", and "b" which failed
  EXPECT_EQ(sw.fallback().calls, 2);  // "b" again, and "c"
  EXPECT_EQ(&sw.current(), &sw.fallback());
  EXPECT_EQ(warnings, (std::vector<std::string>{"dev->cpu while b: dev is full"}));
}

// ---- Several devices as one (make_multi_backend), without a GPU ------------------------------

// Three devices: each call is cut into contiguous shares n*k/3 .. n*(k+1)/3 (worked out here),
// each cell scored once; statistics (partials of 65536 cells, the last shorter) have the
// single CPU backend's bits, whatever the device count.
TEST(MultiBackend, ContiguousSharesEveryCellOnceAndOneDevicesStatistics) {
  const std::size_t n = 3 * 65536 + 17;
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = i % 97 == 0 ? std::numeric_limits<float>::quiet_NaN()
                       : static_cast<float>(std::sin(0.001 * static_cast<double>(i)) * 50.0 + 3.0);
    b[i] = static_cast<float>(i % 13);
  }
  std::vector<std::vector<Call>> calls(3);
  std::vector<std::unique_ptr<gk::Backend>> parts;
  for (auto& c : calls) {
    parts.push_back(std::make_unique<gp::test::RecordingBackend>(
        "recording", [&c, base = a.data()](const float* d, std::size_t m) {
          c.push_back(Call{static_cast<std::size_t>(d - base), m});
        }));
  }
  auto multi = gk::make_multi_backend(std::move(parts));
  auto cpu = gk::make_cpu_backend(1);
  const gk::Program p = two_layer_sum();
  multi->set_program(p, {});
  cpu->set_program(p, {});
  const float* layers[2] = {a.data(), b.data()};
  std::vector<float> got(n, -1.0f), want(n, -2.0f);
  float* go[1] = {got.data()};
  float* wo[1] = {want.data()};
  multi->score(layers, n, go);
  cpu->score(layers, n, wo);
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), n * sizeof(float)));
  for (std::size_t k = 0; k < 3; ++k) {
    ASSERT_EQ(calls[k].size(), 1u);
    EXPECT_EQ(calls[k][0], (Call{n * k / 3, n * (k + 1) / 3 - n * k / 3})) << k;
  }
  const gk::LayerStats sm = multi->stats(a.data(), n, 0);
  const gk::LayerStats sc = cpu->stats(a.data(), n, 0);
  EXPECT_EQ(sm.valid, sc.valid);
  EXPECT_EQ(sm.invalid, sc.invalid);
  EXPECT_EQ(0, std::memcmp(&sm.mean, &sc.mean, sizeof(double)));
  EXPECT_EQ(0, std::memcmp(&sm.m2, &sc.m2, sizeof(double)));
  // The statistics' shares are whole partials: 3 x 65536 cells split 1 + 1 + 1, the last 17
  // cells one more partial on the first device.
  EXPECT_EQ(calls[0][1], (Call{0, 65536}));
  EXPECT_EQ(calls[1][1], (Call{65536, 65536}));
  EXPECT_EQ(calls[2][1], (Call{2 * 65536, 65536}));
  EXPECT_EQ(calls[0][2], (Call{3 * 65536, 17}));
}
