#pragma once
// A GDAL-style text progress bar ("0...10...20...30" and dots) on stderr, so that stdout stays
// for results. GDALTermProgress would print the same to stdout.

#include <cstdio>

namespace gp::cli {

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  /// An unfinished bar (the run failed) ends its line, so an error message starts on its own.
  ~Progress() {
    if (enabled_ && started_ && step_ < 40) std::fputc('\n', stderr);
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  /// Advances to `fraction` in [0, 1]; prints each 2.5 % step once.
  void update(double fraction) {
    if (!enabled_) return;
    const int target = static_cast<int>(fraction * 40.0 + 1e-9);
    while (step_ < target && step_ < 40) {
      ++step_;
      if (step_ % 4 == 0) {
        std::fprintf(stderr, "%d", step_ / 4 * 10);
      } else {
        std::fputc('.', stderr);
      }
      if (step_ == 40) std::fputs(" - done.\n", stderr);
    }
    if (!started_) {
      started_ = true;
      if (step_ == 0) std::fputc('0', stderr);
    }
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool started_{false};
  int step_{0};
};

}  // namespace gp::cli
