// The rank counter (validation) and the class counter (weights of evidence) on a device that
// runs out of memory (device_fallback.hpp): as make_fallback_backend does for scoring, each
// call is first retried in smaller chunks on the device (for_each_chunk, down to 64 Ki cells);
// when even those do not fit, one warning, and this call's remaining cells and every later call
// go to the CPU counter. Counts are integers, so the result equals an all-CPU or all-device count exactly.

#include "gp/error.hpp"
#include "gp/kernels/chunking.hpp"
#include "gp/kernels/class_counts.hpp"
#include "gp/kernels/device_fallback.hpp"
#include "gp/kernels/rank.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gp::kernels {
namespace {

/// Smallest device chunk before giving up on the device (as the CUDA backend's).
constexpr std::size_t min_chunk = std::size_t{1} << 16;

/// The switch-over shared by both wrappers (a DeviceFallback over chunks): run() gives every
/// cell of [0, n) to fn exactly once, on the device while it copes, in chunks that shrink down
/// to min_chunk, then on the fallback from the first cell it could not take.
template <class Counter>
class Switch {
 public:
  /// `device` names the primary in the warning; `keep(primary)` runs just before the switch.
  Switch(std::unique_ptr<Counter> primary, std::function<std::unique_ptr<Counter>()> make,
         std::function<void(const std::string&)> warn, std::string device, const char* stage,
         std::function<void(Counter&)> keep = [](Counter&) {})
      : sw_(std::move(primary), std::move(make),
            [say = std::move(warn), before = std::move(keep), name = std::move(device)](
                Counter& dev, Counter&, const char* what, const device_out_of_memory& e) {
              before(dev);
              if (say) {
                say(name + " ran out of memory while " + what + " (" + e.what() +
                     "), even in chunks of 64 Ki cells; continuing on the CPU (integer counts: "
                     "the result is the same)");
              }
            }),
        stage_(stage) {}

  template <class Fn>
  void run(std::size_t n, Fn fn) {
    std::size_t done = 0;
    sw_.run(stage_, [&](Counter& c) {
      if (&c != &sw_.primary()) {
        if (done < n) fn(c, done, n - done);
        return;
      }
      for_each_chunk(
          n, capacity_, min_chunk,
          [&](std::size_t first, std::size_t count) {
            fn(c, first, count);
            done = first + count;
          },
          [](std::size_t) {});
    });
  }

  [[nodiscard]] bool switched() const { return sw_.switched(); }
  Counter& primary() { return sw_.primary(); }
  Counter& fallback() { return sw_.fallback(); }

 private:
  DeviceFallback<Counter> sw_;
  const char* stage_;
  std::size_t capacity_{0};
};

class FallbackRankCounter final : public RankCounter {
 public:
  FallbackRankCounter(std::unique_ptr<RankCounter> primary,
                      std::function<std::unique_ptr<RankCounter>()> make,
                      std::function<void(const std::string&)> warn)
      : name_(primary->name()),
        // The device's counts up to the failure stay valid (a chunk that fails has not
        // counted: its upload buffer is allocated before the kernel runs); they are added to
        // the CPU's.
        sw_(std::move(primary), std::move(make), std::move(warn), name_, "counting map ranks",
            [this](RankCounter& dev) {
              carried_ = dev.counts();
              carried_invalid_ = dev.invalid();
            }) {}

  void add(const float* data, std::size_t n) override {
    sw_.run(n, [data](RankCounter& c, std::size_t first, std::size_t count) {
      c.add(data + first, count);
    });
  }

  [[nodiscard]] std::vector<std::uint64_t> counts() override {
    if (!sw_.switched()) return sw_.primary().counts();
    std::vector<std::uint64_t> r = sw_.fallback().counts();
    for (std::size_t k = 0; k < r.size() && k < carried_.size(); ++k) r[k] += carried_[k];
    return r;
  }

  [[nodiscard]] std::uint64_t invalid() override {
    return sw_.switched() ? sw_.fallback().invalid() + carried_invalid_ : sw_.primary().invalid();
  }

  [[nodiscard]] std::string name() const override {
    return sw_.switched() ? "cpu (after " + name_ + " ran out of memory)" : name_;
  }

 private:
  std::string name_;
  std::vector<std::uint64_t> carried_;
  std::uint64_t carried_invalid_{0};
  Switch<RankCounter> sw_;
};

class FallbackClassCounter final : public ClassCounter {
 public:
  FallbackClassCounter(std::unique_ptr<ClassCounter> primary,
                       std::function<std::unique_ptr<ClassCounter>()> make,
                       std::function<void(const std::string&)> warn)
      : sw_(std::move(primary), std::move(make), std::move(warn), "the CUDA class counter",
            "counting evidence classes") {}

  ClassCountTally count(const float* data, std::size_t n, long long lo, long long nbins,
                        std::uint64_t* counts) override {
    ClassCountTally total;
    sw_.run(n, [&](ClassCounter& c, std::size_t first, std::size_t m) {
      merge(total, c.count(data + first, m, lo, nbins, counts));
    });
    return total;
  }

 private:
  /// Tallies of consecutive chunks as one (min/max only over chunks that saw a finite value).
  static void merge(ClassCountTally& a, const ClassCountTally& b) {
    if (b.valid > 0) {
      a.min = a.valid > 0 ? std::min(a.min, b.min) : b.min;
      a.max = a.valid > 0 ? std::max(a.max, b.max) : b.max;
    }
    a.valid += b.valid;
    a.below += b.below;
    a.above += b.above;
  }
  Switch<ClassCounter> sw_;
};

}  // namespace

std::unique_ptr<RankCounter> make_fallback_rank_counter(
    std::unique_ptr<RankCounter> primary, std::function<std::unique_ptr<RankCounter>()> make,
    std::function<void(const std::string&)> warn) {
  return std::make_unique<FallbackRankCounter>(std::move(primary), std::move(make),
                                               std::move(warn));
}

std::unique_ptr<ClassCounter> make_fallback_class_counter(
    std::unique_ptr<ClassCounter> primary, std::function<std::unique_ptr<ClassCounter>()> make,
    std::function<void(const std::string&)> warn) {
  return std::make_unique<FallbackClassCounter>(std::move(primary), std::move(make),
                                                std::move(warn));
}

}  // namespace gp::kernels
