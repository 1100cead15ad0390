// The three-stage window pipeline: order, overlap bound, and error propagation.
#include "run/cell_capture.hpp"
#include "run/pipeline.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

// The scoring pass's kept inputs: each chosen cell's values from the window that holds it, on
// row-band windows and on column windows; cells never in a window, or off the grid, are not found.
TEST(CellCapture, KeepsTheInputsAtTheChosenCells) {
  constexpr std::int64_t width = 10;
  constexpr std::int64_t height = 7;
  auto value = [](std::size_t l, std::int64_t c, std::int64_t r) {
    return static_cast<float>(1000 * (l + 1) + 10 * r + c);
  };
  const std::vector<std::pair<std::int64_t, std::int64_t>> cells{{3, 2}, {9, 6}, {0, 0}, {3, 2}, {4, 5}, {12, 1}};
  for (const std::int64_t win_cols : {width, std::int64_t{4}}) {
    gc::CellCapture cap(cells, 2);
    for (std::int64_t r0 = 0; r0 < height; r0 += 3) {
      for (std::int64_t c0 = 0; c0 < width; c0 += win_cols) {
        const gp::geo::Window w{c0, r0, std::min(win_cols, width - c0), std::min<std::int64_t>(3, height - r0)};
        if (w.row == 3 && w.col == 0) continue;  // this window is never scored here: (0..3, 3..5)
        std::vector<std::vector<float>> in(2, std::vector<float>(w.cells()));
        for (std::size_t l = 0; l < 2; ++l) {
          for (std::int64_t r = 0; r < w.rows; ++r) {
            for (std::int64_t c = 0; c < w.cols; ++c) {
              in[l][static_cast<std::size_t>(r * w.cols + c)] = value(l, w.col + c, w.row + r);
            }
          }
        }
        const float* ptrs[2] = {in[0].data(), in[1].data()};
        cap.take(w, ptrs);
      }
    }
    for (const auto& [c, r] : std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 2}, {9, 6}, {0, 0}}) {
      const float* v = cap.at(c, r);
      ASSERT_NE(v, nullptr) << win_cols << ": " << c << "," << r;
      EXPECT_EQ(v[0], value(0, c, r));
      EXPECT_EQ(v[1], value(1, c, r));
    }
    // (4, 5): in the skipped window only when windows are 4 columns wide (cols 0..3: no; 4..7 yes).
    EXPECT_EQ(cap.at(4, 5) == nullptr, win_cols == width);
    EXPECT_EQ(cap.at(12, 1), nullptr);  // off the grid
    EXPECT_EQ(cap.at(5, 5), nullptr);   // not chosen
    cap.abandon();
    EXPECT_EQ(cap.at(3, 2), nullptr);
  }
}
