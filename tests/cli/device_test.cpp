// The device choice (cli/plan/device.hpp) on a machine without a GPU, in the ordinary build:
// the visible-device count, "is CUDA compiled" and the devices themselves come from a fake
// DeviceQuery, so `--device auto|cpu|cuda` and `--devices` are tested for 0, 1, 2, 3 and 4
// devices, with their exact messages, and the backend choose_backend builds (one fallback-
// wrapped device backend per device, as one multi-device backend) is checked to split a window
// into contiguous shares that cover every cell and every row exactly once, also when one device
// runs out of memory and its share moves to the CPU. The chunk halving inside a device backend
// is tested in tests/kernels/fallback_test.cpp (for_each_chunk) and cuda_backend_test.cpp.
#include "plan/device.hpp"

#include "gp/error.hpp"
#include "gp/kernels/backend.hpp"
#include "recording_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace gc = gp::cli;
namespace gk = gp::kernels;

namespace {

/// The cells one call of a fake device got: [first, first + count) of the window.
struct Share {
  int device;
  std::size_t first;
  std::size_t count;
};

/// What the fake devices of one test saw: the ids opened, in order, and every call's share.
struct Log {
  std::vector<int> opened;
  std::vector<Share> shares;
  std::mutex mutex;  // the shares of one call run on one thread per device
};

/// A machine with `count` CUDA devices (fake ones, over cells starting at `base`); the devices
/// listed in `full` have no memory left.
gc::DeviceQuery fake_machine(int count, Log* log, const float* base = nullptr,
                             std::vector<int> full = {}, bool compiled = true) {
  gc::DeviceQuery q;
  q.count = [count] { return count; };
  q.compiled = compiled;
  // Each fake device records which cells each call got (offsets from `base`) and computes on
  // the CPU, or, when full, throws gp::device_out_of_memory as a real device backend does once
  // even its smallest chunk does not fit.
  q.open = [log, base, full](int id) -> std::unique_ptr<gk::Backend> {
    log->opened.push_back(id);
    const bool is_full = std::find(full.begin(), full.end(), id) != full.end();
    const std::string name = "fake:" + std::to_string(id);
    return std::make_unique<gp::test::RecordingBackend>(
        name, [=](const float* d, std::size_t n) {
          if (is_full) throw gp::device_out_of_memory(name + ": out of memory");
          const std::lock_guard<std::mutex> lock(log->mutex);
          log->shares.push_back(Share{id, static_cast<std::size_t>(d - base), n});
        });
  };
  return q;
}

/// The message of the gp::cuda_error that fn throws ("" when it throws none).
template <class Fn>
std::string cuda_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const gp::cuda_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// auto on a machine without a device: the CPU, with the reason the log shows, and no device is
// opened; --devices is not checked then (there is nothing to check it against).
TEST(DeviceChoice, AutoWithoutADeviceRunsOnTheCpu) {
  Log log;
  const gc::DeviceQuery none = fake_machine(0, &log);
  const gc::ChosenBackend chosen = gc::choose_backend(gc::DeviceChoice::automatic, {}, 1, none);
  EXPECT_EQ(chosen.why, "auto: no CUDA device found");
  EXPECT_EQ(chosen.backend->name(), gk::make_cpu_backend(1)->name());
  EXPECT_FALSE(gc::uses_cuda(gc::DeviceChoice::automatic, none));
  EXPECT_FALSE(gc::engine_device(gc::DeviceChoice::automatic, {1}, none).cuda);
  EXPECT_NO_THROW(gc::check_devices(gc::DeviceChoice::automatic, {3}, none));
  EXPECT_TRUE(log.opened.empty());

  const gc::DeviceQuery cpu_build = fake_machine(0, &log, nullptr, {}, false);
  EXPECT_EQ(gc::choose_backend(gc::DeviceChoice::automatic, {}, 1, cpu_build).why,
            "auto: built without CUDA");
}

// auto with two devices: both, as one backend, in device order.
TEST(DeviceChoice, AutoWithTwoDevicesRunsOnBoth) {
  Log log;
  const gc::DeviceQuery two = fake_machine(2, &log);
  EXPECT_TRUE(gc::uses_cuda(gc::DeviceChoice::automatic, two));
  const gc::ChosenBackend chosen = gc::choose_backend(gc::DeviceChoice::automatic, {}, 1, two);
  EXPECT_EQ(chosen.why, "auto: CUDA device found");
  EXPECT_EQ(chosen.backend->name(), "fake:0 + fake:1");
  EXPECT_EQ(log.opened, (std::vector<int>{0, 1}));
  // --device cpu never opens a device, however many there are.
  EXPECT_EQ(gc::choose_backend(gc::DeviceChoice::cpu, {1}, 1, two).why, "requested");
  EXPECT_FALSE(gc::uses_cuda(gc::DeviceChoice::cpu, two));
  EXPECT_EQ(log.opened.size(), 2u);
}

// --device cuda on a machine without a device: the one line (exit 6: a cuda_error),
// before any work; in a build without CUDA, that the build is the reason.
TEST(DeviceChoice, CudaWithoutADeviceSaysSoInOneLine) {
  Log log;
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::cuda, {}, fake_machine(0, &log)); }),
            "no CUDA device: --device cuda needs one; use --device auto or cpu");
  EXPECT_EQ(cuda_error_of([&] {
              gc::check_devices(gc::DeviceChoice::cuda, {}, fake_machine(0, &log, nullptr, {}, false));
            }),
            "built without CUDA: --device cuda needs a CUDA build; use --device auto or cpu");
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::cuda, {}, fake_machine(1, &log)); }),
            "");
  EXPECT_TRUE(log.opened.empty());
}

// --devices naming a device that is not there: the id and the visible count, for cuda and auto.
TEST(DeviceChoice, DevicesBeyondTheVisibleOnesAreRefusedByIdAndCount) {
  Log log;
  const gc::DeviceQuery two = fake_machine(2, &log);
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::cuda, {0, 3}, two); }),
            "--devices: no CUDA device 3 (2 visible: 0-1)");
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::automatic, {3}, two); }),
            "--devices: no CUDA device 3 (2 visible: 0-1)");
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::cuda, {-1}, two); }),
            "--devices: no CUDA device -1 (2 visible: 0-1)");
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::cuda, {1, 0}, two); }), "");
  EXPECT_EQ(cuda_error_of([&] { gc::check_devices(gc::DeviceChoice::cpu, {7}, two); }), "");
}

// The single-device engines run on the first listed device; auto follows the injected count.
TEST(DeviceChoice, EngineDeviceIsTheFirstListedOne) {
  Log log;
  const gc::EngineDevice listed =
      gc::engine_device(gc::DeviceChoice::automatic, {2, 0}, fake_machine(3, &log));
  EXPECT_TRUE(listed.cuda);
  EXPECT_EQ(listed.id, 2);
  const gc::EngineDevice first = gc::engine_device(gc::DeviceChoice::automatic, {}, fake_machine(1, &log));
  EXPECT_TRUE(first.cuda);
  EXPECT_EQ(first.id, 0);
  // The scoring backend opens the listed devices in the listed order.
  gc::choose_backend(gc::DeviceChoice::cuda, {2, 0}, 1, fake_machine(3, &log));
  EXPECT_EQ(log.opened, (std::vector<int>{2, 0}));
}

namespace {

/// Checks that the shares of one call cover [0, n) once, in device order, each device's share
/// contiguous and of n * k / d .. n * (k + 1) / d (worked out here, not read from the program):
/// `ids` are the devices' ids in the backend's order; `unit` cells make one item (a row).
void expect_contiguous_shares(const std::vector<Share>& shares, const std::vector<int>& ids,
                              std::size_t n, std::size_t unit) {
  const std::size_t d = ids.size();
  std::vector<int> times(n * unit, 0);
  std::size_t expected_calls = 0;
  for (std::size_t k = 0; k < d; ++k) {
    const std::size_t b = n * k / d;
    const std::size_t e = n * (k + 1) / d;
    if (e == b) continue;  // fewer items than devices: this device gets nothing
    ++expected_calls;
    bool found = false;
    for (const Share& s : shares) {
      if (s.device != ids[k]) continue;
      EXPECT_FALSE(found) << "device " << ids[k] << " called twice";
      found = true;
      EXPECT_EQ(s.first, b * unit) << "device " << ids[k] << ", " << n << " items";
      EXPECT_EQ(s.count, (e - b) * unit) << "device " << ids[k] << ", " << n << " items";
    }
    EXPECT_TRUE(found) << "device " << ids[k] << " got no share of " << n << " items";
  }
  EXPECT_EQ(shares.size(), expected_calls);
  for (const Share& s : shares) {
    for (std::size_t i = s.first; i < s.first + s.count && i < times.size(); ++i) ++times[i];
  }
  for (std::size_t i = 0; i < times.size(); ++i) ASSERT_EQ(times[i], 1) << "cell " << i;
}

/// One layer written through unchanged (identity transform, band = the layer's node): every
/// output cell must equal its input cell.
gk::Program pass_through() {
  gk::Program p;
  p.n_layers = 1;
  p.layers[0].transform.kind = gk::TransformKind::identity;
  p.bands[0] = 0;
  return p;
}

std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 101) * 0.25f - 7.0f;
  return v;
}

}  // namespace

// 1 to 4 devices, windows of odd sizes (fewer cells than devices, a prime, one more than a
// multiple of every count): each cell scored once, on the device whose share holds it, the
// output equal to the input (pass-through program); rows of row_stats likewise, whole rows.
TEST(MultiDevice, EveryCellAndRowOnceInContiguousSharesFor1To4Devices) {
  for (int count = 1; count <= 4; ++count) {
    std::vector<int> ids;
    for (int k = 0; k < count; ++k) ids.push_back(k);
    for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{13}, std::size_t{1201}}) {
      SCOPED_TRACE("devices " + std::to_string(count) + ", n " + std::to_string(n));
      const std::vector<float> a = ramp(n * 7);
      Log log;
      auto be = gc::choose_backend(gc::DeviceChoice::cuda, {}, 1, fake_machine(count, &log, a.data()))
                    .backend;
      be->set_program(pass_through(), {});
      std::vector<float> out(n, -1.0f);
      const float* in[1] = {a.data()};
      float* bands[1] = {out.data()};
      be->score(in, n, bands);
      expect_contiguous_shares(log.shares, ids, n, 1);
      EXPECT_EQ(0, std::memcmp(out.data(), a.data(), n * sizeof(float)));

      // n rows of 7 cells: whole rows per device, each row's statistics from its own cells.
      log.shares.clear();
      std::vector<gk::LayerStats> rows(n);
      be->row_stats(a.data(), n, 7, rows.data());
      expect_contiguous_shares(log.shares, ids, n, 7);
      for (std::size_t r = 0; r < n; ++r) {
        double sum = 0.0;
        for (std::size_t c = 0; c < 7; ++c) sum += a[r * 7 + c];
        EXPECT_EQ(rows[r].valid, 7u);
        EXPECT_NEAR(rows[r].mean, sum / 7.0, 1e-9) << "row " << r;
      }
    }
  }
}

// Three devices, the middle one out of memory: its share (and only its share) moves to the CPU,
// the other two keep theirs, and every cell is still counted once (histogram of 1201 cells in 4
// bins of 25 values: counts worked out from the ramp here).
TEST(MultiDevice, ADeviceOutOfMemoryHandsOnlyItsShareToTheCpu) {
  const std::size_t n = 1201;
  const std::vector<float> a = ramp(n);
  Log log;
  auto be = gc::choose_backend(gc::DeviceChoice::cuda, {}, 1, fake_machine(3, &log, a.data(), {1}))
                .backend;
  std::vector<std::uint64_t> counts(4, 0);
  be->histogram(a.data(), n, -7.0, 18.0, 4, nullptr, 1, counts.data());
  std::vector<std::uint64_t> want(4, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = a[i];
    const int bin = x >= 18.0 ? 3 : static_cast<int>((x + 7.0) / 6.25);
    ++want[static_cast<std::size_t>(bin)];
  }
  EXPECT_EQ(counts, want);
  ASSERT_EQ(log.shares.size(), 2u);  // devices 0 and 2; device 1's share ran on the CPU
  for (const Share& s : log.shares) {
    const std::size_t k = static_cast<std::size_t>(s.device);
    EXPECT_EQ(s.first, n * k / 3);
    EXPECT_EQ(s.count, n * (k + 1) / 3 - n * k / 3);
  }
  EXPECT_NE(be->name().find("after fake:1 ran out of memory"), std::string::npos) << be->name();
}
