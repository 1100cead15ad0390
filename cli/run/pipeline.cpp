#include "run/pipeline.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
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

}  // namespace

void run_pipeline(std::int64_t n, int depth, const std::function<void(std::int64_t, int)>& read,
                  const std::function<void(std::int64_t, int)>& compute,
                  const std::function<void(std::int64_t, int)>& write) {
  if (depth <= 1) {
    for (std::int64_t w = 0; w < n; ++w) {
      read(w, 0);
      compute(w, 0);
      write(w, 0);
    }
    return;
  }
  Stages st(depth);
  auto slot_of = [depth](std::int64_t w) { return static_cast<int>(w % depth); };
  std::thread reader([&] {
    try {
      for (std::int64_t w = 0; w < n; ++w) {
        if (!st.wait_for(slot_of(w), SlotState::free)) return;
        read(w, slot_of(w));
        st.set(slot_of(w), SlotState::read);
      }
    } catch (...) {
      st.fail(std::current_exception());
    }
  });
  std::thread writer([&] {
    try {
      for (std::int64_t w = 0; w < n; ++w) {
        if (!st.wait_for(slot_of(w), SlotState::computed)) return;
        write(w, slot_of(w));
        st.set(slot_of(w), SlotState::free);
      }
    } catch (...) {
      st.fail(std::current_exception());
    }
  });
  try {
    for (std::int64_t w = 0; w < n; ++w) {
      if (!st.wait_for(slot_of(w), SlotState::read)) break;
      compute(w, slot_of(w));
      st.set(slot_of(w), SlotState::computed);
    }
  } catch (...) {
    st.fail(std::current_exception());
  }
  reader.join();
  writer.join();
  st.rethrow();
}

}  // namespace gp::cli
