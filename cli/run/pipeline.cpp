#include "run/pipeline.hpp"

#include "gp/error.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace gp::cli {
namespace {

enum class SlotState { free, read, computed };

class Stages {
 public:
  explicit Stages(int depth) : state_(static_cast<std::size_t>(depth), SlotState::free) {}

  /// Waits until `slot` is in `want` (false when the pipeline failed meanwhile).
  bool wait_for(int slot, SlotState want) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return failed_ || state_[static_cast<std::size_t>(slot)] == want; });
    return !failed_;
  }

  void set(int slot, SlotState s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_[static_cast<std::size_t>(slot)] = s;
    }
    cv_.notify_all();
  }

  void fail(std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_) error_ = std::move(e);
      failed_ = true;
    }
    cv_.notify_all();
  }

  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SlotState> state_;
  bool failed_{false};
  std::exception_ptr error_;
};

using Stage = std::function<void(std::int64_t, int)>;

/// Runs one stage on window `w`; an allocation failure becomes gp::host_out_of_memory naming
/// the stage (the user's one line says what ran out, not "std::bad_alloc").
void run_stage(const Stage& f, std::int64_t w, int slot, const char* stage) {
  try {
    f(w, slot);
  } catch (const std::bad_alloc&) {
    throw host_out_of_memory(std::string("out of memory while ") + stage);
  }
}

/// A started thread, or gp::host_out_of_memory when none can start (no memory for its stack).
template <typename Body>
std::thread start_thread(Body&& body) {
  try {
    return std::thread(std::forward<Body>(body));
  } catch (const std::system_error& e) {
    throw host_out_of_memory(std::string("out of memory: cannot start the run's threads (") +
                             e.what() + ")");
  }
}

/// One stage's thread body: `f` on every window in order, each once its slot reaches `ready`,
/// then the slot marked `done`. Stops when another stage failed; records its own failure.
void stage_loop(Stages& st, std::int64_t n, int depth, SlotState ready, SlotState done,
                const Stage& f, const char* what) noexcept {
  try {
    for (std::int64_t w = 0; w < n; ++w) {
      const int slot = static_cast<int>(w % depth);
      if (!st.wait_for(slot, ready)) return;
      run_stage(f, w, slot, what);
      st.set(slot, done);
    }
  } catch (...) {
    st.fail(std::current_exception());
  }
}

}  // namespace

void run_pipeline(std::int64_t n, int depth, const std::function<void(std::int64_t, int)>& read,
                  const std::function<void(std::int64_t, int)>& compute,
                  const std::function<void(std::int64_t, int)>& write) {
  if (depth <= 1) {
    for (std::int64_t w = 0; w < n; ++w) {
      run_stage(read, w, 0, "reading the layers");
      run_stage(compute, w, 0, "scoring");
      run_stage(write, w, 0, "writing the map");
    }
    return;
  }
  Stages st(depth);
  std::thread reader = start_thread([&] {
    stage_loop(st, n, depth, SlotState::free, SlotState::read, read, "reading the layers");
  });
  std::thread writer;
  try {
    writer = start_thread([&] {
      stage_loop(st, n, depth, SlotState::computed, SlotState::free, write, "writing the map");
    });
  } catch (...) {
    // The reader is running: stop it and wait for it, or its std::thread would terminate the
    // program when it goes out of scope still joinable.
    st.fail(std::current_exception());
    reader.join();
    throw;
  }
  stage_loop(st, n, depth, SlotState::read, SlotState::computed, compute, "scoring");
  reader.join();
  writer.join();
  st.rethrow();
}

void reserve_threads(int n) {
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  auto release = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      go = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
  };
  try {
    threads.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      // Each waits until all have started, so that n stacks exist at the same time.
      threads.push_back(start_thread([&] {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return go; });
      }));
    }
  } catch (...) {
    release();
    throw;
  }
  release();
}

}  // namespace gp::cli
