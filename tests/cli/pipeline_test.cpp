// The three-stage window pipeline: order, overlap bound, and error propagation.
#include "run/pipeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace gc = gp::cli;

TEST(Pipeline, ZeroWindowsDoesNothing) {
  int calls = 0;
  auto f = [&](std::int64_t, int) { ++calls; };
  gc::run_pipeline(0, 3, f, f, f);
  EXPECT_EQ(calls, 0);
}

TEST(Pipeline, EveryStageSeesEveryWindowInOrder) {
  for (int depth : {1, 2, 3}) {
    std::vector<std::int64_t> r, c, w;
    std::vector<int> slot_data(static_cast<std::size_t>(depth), -1);
    gc::run_pipeline(
        37, depth,
        [&](std::int64_t i, int s) {
          r.push_back(i);
          slot_data[static_cast<std::size_t>(s)] = static_cast<int>(i);  // "read" into the slot
        },
        [&](std::int64_t i, int s) {
          c.push_back(i);
          // The slot still holds what the reader put there for this window.
          ASSERT_EQ(slot_data[static_cast<std::size_t>(s)], static_cast<int>(i));
        },
        [&](std::int64_t i, int s) {
          w.push_back(i);
          ASSERT_EQ(slot_data[static_cast<std::size_t>(s)], static_cast<int>(i));
        });
    std::vector<std::int64_t> expect(37);
    for (int i = 0; i < 37; ++i) expect[static_cast<std::size_t>(i)] = i;
    EXPECT_EQ(r, expect);
    EXPECT_EQ(c, expect);
    EXPECT_EQ(w, expect);
  }
}

TEST(Pipeline, NeverMoreWindowsInFlightThanSlots) {
  std::atomic<int> in_flight{0};
  std::atomic<int> worst{0};
  gc::run_pipeline(
      200, 2,
      [&](std::int64_t, int) {
        const int now = ++in_flight;
        int prev = worst.load();
        while (now > prev && !worst.compare_exchange_weak(prev, now)) {
        }
      },
      [&](std::int64_t, int) {}, [&](std::int64_t, int) { --in_flight; });
  EXPECT_LE(worst.load(), 2);
}

TEST(Pipeline, ErrorInAnyStageIsRethrownAfterJoin) {
  for (int stage = 0; stage < 3; ++stage) {
    auto maybe = [&](int which) {
      return [&, which](std::int64_t i, int) {
        if (which == stage && i == 5) throw std::runtime_error("stage " + std::to_string(which));
      };
    };
    try {
      gc::run_pipeline(50, 2, maybe(0), maybe(1), maybe(2));
      FAIL() << "expected an exception from stage " << stage;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "stage " + std::to_string(stage));
    }
  }
}
