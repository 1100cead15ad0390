// The cluster helpers on one rank (no mpirun): what the runner and the training passes rely on
// to give one process the same arithmetic as N ranks. Several ranks: tests/cli/mpi_test.sh.
#include "run/cluster.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace cl = gp::cli::cluster;

TEST(Cluster, OneRankOwnsEveryWindow) {
  ASSERT_EQ(cl::size(), 1);
  EXPECT_TRUE(cl::is_root());
  for (std::int64_t w : {0, 1, 7, 1000}) {
    EXPECT_TRUE(cl::owns(w));
    EXPECT_EQ(cl::owner(w), 0);
  }
}

TEST(Cluster, AllgatherOfNothingIsNothing) {
  EXPECT_TRUE(cl::allgather(std::vector<std::uint64_t>{}).empty());
}

TEST(Cluster, AllgatherAloneIsItsInput) {
  struct Entry {
    long long cls;
    std::uint64_t count;
  };
  const std::vector<Entry> mine{{-3, 5}, {12, 1}};
  const std::vector<Entry> all = cl::allgather(mine);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].cls, 12);
  EXPECT_EQ(all[0].count, 5u);
}

TEST(Cluster, FoldInWindowOrderWithNoWindowsCallsNothing) {
  std::vector<double> none;
  int calls = 0;
  cl::fold_in_window_order(none, 3, [&](std::size_t, const double*) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(Cluster, FoldInWindowOrderVisitsEveryWindowInOrder) {
  // 5 windows of 2 records each; the fold sees window w's records at w, in order 0..4.
  std::vector<double> partials(10);
  for (std::size_t i = 0; i < partials.size(); ++i) partials[i] = static_cast<double>(i) * 0.5;
  std::vector<std::pair<std::size_t, double>> seen;
  cl::fold_in_window_order(
      partials, 2, [&](std::size_t w, const double* r) { seen.emplace_back(w, r[0] + r[1]); });
  ASSERT_EQ(seen.size(), 5u);
  for (std::size_t w = 0; w < 5; ++w) {
    EXPECT_EQ(seen[w].first, w);
    EXPECT_EQ(seen[w].second,
              static_cast<double>(2 * w) * 0.5 + static_cast<double>(2 * w + 1) * 0.5);
  }
}
