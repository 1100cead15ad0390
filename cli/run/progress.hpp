#pragma once
// A GDAL-style text progress bar ("0...10...20...30" and dots) on stderr, so that stdout stays
// for results. GDALTermProgress would print the same to stdout. While its line is open, a log
// message ends it first (gp::log::progress_line_open), and the bar goes on on the next line.

#include "run/progress_callback.hpp"

#include "gp/log.hpp"

#include <cstdio>
#include <string>
#include <utility>

namespace gp::cli {

class Progress {
 public:
  explicit Progress(bool enabled, ProgressCallback callback = {})
      : enabled_(enabled), callback_(std::move(callback)) {}
  /// An unfinished bar (the run failed) ends its line, so an error message starts on its own.
  ~Progress() {
    if (enabled_ && gp::log::progress_line_open().exchange(false)) std::fputc('\n', stderr);
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  /// What the run does now, passed to the callback with the next update.
  void stage(std::string message) { message_ = std::move(message); }
  /// Advances to `fraction` in [0, 1]; prints each 2.5 % step once; tells the callback.
  void update(double fraction) {
    if (callback_) callback_(fraction, message_);
    if (!enabled_) return;
    const int target = static_cast<int>(fraction * 40.0 + 1e-9);
    const int before = step_;
    while (step_ < target && step_ < 40) {
      ++step_;
      if (step_ % 4 == 0) {
        std::fprintf(stderr, "%d", step_ / 4 * 10);
      } else {
        std::fputc('.', stderr);
      }
      if (step_ == 40) std::fputs(" - done.\n", stderr);
    }
    const bool opened = !started_;
    if (!started_) {
      started_ = true;
      if (step_ == 0) std::fputc('0', stderr);
    }
    // Open when this call printed part of the bar (a message since may have ended the line).
    if (opened || step_ > before) gp::log::progress_line_open() = step_ < 40;
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  ProgressCallback callback_;
  std::string message_;
  bool started_{false};
  int step_{0};
};

}  // namespace gp::cli
