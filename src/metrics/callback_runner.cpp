#include "metrics/callback_runner.hpp"

#include <exception>

namespace emp::telemetry::metrics {

using Clock = std::chrono::steady_clock;

CallbackRunner::~CallbackRunner() {
  if (!helper_) return;
  {
    std::lock_guard<std::mutex> lock(helper_->mu);
    helper_->stop = true;
  }
  helper_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CallbackRunner::loop(std::shared_ptr<Helper> helper) noexcept {
  for (;;) {
    std::shared_ptr<CallbackJob> job;
    {
      std::unique_lock<std::mutex> lock(helper->mu);
      helper->cv.wait(lock,
                      [&] { return helper->stop || helper->abandoned || helper->job != nullptr; });
      if (helper->job == nullptr) return;  // stopped or replaced with nothing to do
      job = std::move(helper->job);        // the slot is free for the next job at once
    }
    bool threw = false;
    std::string error;
    try {
      ObservableResult result(job->buffer.get());
      (*job->callback)(result);
    } catch (const std::exception& e) {
      threw = true;
      try {
        error = e.what();
      } catch (...) {
      }
    } catch (...) {
      threw = true;
      error = "unknown exception";
    }
    job->busy->store(false, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(job->mu);
      job->done = true;
      job->threw = threw;
      job->error = std::move(error);
    }
    job->cv.notify_all();
    std::lock_guard<std::mutex> lock(helper->mu);
    // An abandoned helper has been replaced; it only had to finish its call.
    if (helper->abandoned || helper->stop) return;
  }
}

bool CallbackRunner::ensure_helper() {
  if (helper_) return true;
  try {
    auto h = std::make_shared<Helper>();
    thread_ = std::thread(&CallbackRunner::loop, h);
    helper_ = std::move(h);
    return true;
  } catch (...) {
    return false;
  }
}

CallbackRunner::Result CallbackRunner::run(const std::shared_ptr<CallbackJob>& job,
                                           Clock::time_point deadline,
                                           const std::atomic<bool>* cancel) {
  if (!ensure_helper()) return {Outcome::kThrew, "could not start the callback thread"};
  job->busy->store(true, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(helper_->mu);
    helper_->job = job;
  }
  helper_->cv.notify_all();
  bool done;
  bool cancelled = false;
  {
    std::unique_lock<std::mutex> lock(job->mu);
    for (;;) {
      const auto step = std::min(deadline, Clock::now() + std::chrono::milliseconds(20));
      done = job->cv.wait_until(lock, step, [&] { return job->done; });
      if (done || Clock::now() >= deadline) break;
      if (cancel != nullptr && cancel->load(std::memory_order_acquire)) {
        cancelled = true;
        break;
      }
    }
  }
  if (!done) {
    // It may have returned just as the wait ended.
    std::lock_guard<std::mutex> lock(job->mu);
    done = job->done;
  }
  if (done) {
    Result r;
    if (job->threw) {
      r.outcome = Outcome::kThrew;
      r.error = job->error;
    }
    return r;
  }
  // Abandon: late observations are ignored and the helper is replaced.
  {
    std::lock_guard<std::mutex> lock(job->buffer->mu);
    job->buffer->closed = true;
  }
  {
    std::lock_guard<std::mutex> lock(helper_->mu);
    helper_->abandoned = true;
  }
  helper_->cv.notify_all();
  thread_.detach();
  helper_.reset();
  ++abandoned_;
  return {cancelled ? Outcome::kCancelled : Outcome::kTimedOut, {}};
}

void CallbackRunner::forget_after_fork() noexcept {
  new (&thread_) std::thread();
  // Its state may hold locks of the parent's threads: leave it untouched.
  new (&helper_) std::shared_ptr<Helper>();
}

}  // namespace emp::telemetry::metrics
