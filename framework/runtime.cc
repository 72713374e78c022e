#include "framework/runtime.h"

#include "framework/metrics.h"

#include <algorithm>

namespace voxpipe {
namespace {

thread_local EventLoop* current_loop = nullptr;

}  // namespace

EventLoop* EventLoop::Current() { return current_loop; }

ReadyQueue& EventLoop::ready_queue() {
  if (!ready_) ready_ = std::make_unique<ReadyQueue>(io_);
  return *ready_;
}

ReadyQueue* EventLoop::ReadyQueueFor(const boost::asio::execution_context& io) {
  EventLoop* loop = Current();
  return loop && &loop->io_ == &io ? &loop->ready_queue() : nullptr;
}

int EventLoop::CurrentIndex() { return current_loop ? current_loop->index_ : -1; }

int metrics_detail::ShardIndex() {
  int loop = current_loop ? current_loop->index() : -1;
  return loop >= 0 && loop < kShards - 1 ? loop : kShards - 1;
}

void EventLoop::RunHere() {
  EventLoop* previous = std::exchange(current_loop, this);
  RunInBatches(io_, batch_window_, [this] { return ready_ ? ready_->TakeTold() : 0; });
  current_loop = previous;
}

void RunInBatches(boost::asio::io_context& io, std::chrono::microseconds window,
                  const std::function<size_t()>& more_work) {
  if (window.count() <= 0) {
    io.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  constexpr auto kMeasure = std::chrono::milliseconds(100);
  constexpr size_t kBusyPerMeasure = Runtime::kBusyHandlers / 10;
  bool busy = false;
  size_t handled = 0;
  auto measured_from = Clock::now();
  // run_one() blocks until there is something to do; 0 once stopped or out of work.
  for (size_t n; (n = io.run_one()) > 0;) {
    auto now = Clock::now();
    handled += n + io.poll();
    if (more_work) handled += more_work();
    if (now - measured_from >= kMeasure) {
      busy = handled >= kBusyPerMeasure;
      handled = 0;
      measured_from = now;
    }
    if (busy) std::this_thread::sleep_until(now + window);
  }
}

Runtime::Runtime(int loops, std::chrono::microseconds batch_window) {
  int n = loops > 0 ? loops : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    loops_.push_back(std::unique_ptr<EventLoop>(new EventLoop(i, batch_window)));
    work_.emplace_back(boost::asio::make_work_guard(loops_.back()->io()));
  }
}

Runtime::~Runtime() {
  Stop();
  Join();
  // Handlers left on one loop may own objects of another (a session queued
  // on loop 1 holding a listener of loop 0), so every loop drops its
  // handlers while all loops' services still exist, and only then are the
  // services destroyed.
  for (auto& loop : loops_) {
    if (loop->ready_) loop->ready_->Shutdown();
  }
  for (auto& loop : loops_) loop->io_.shutdown();
  for (auto& loop : loops_) loop->io_.destroy();
}

EventLoop& Runtime::Place() {
  for (auto& loop : loops_) {
    if (loop->load() < fill_load_) return *loop;
  }
  unsigned start = next_.fetch_add(1, std::memory_order_relaxed);
  EventLoop* best = nullptr;
  for (size_t k = 0; k < loops_.size(); ++k) {
    EventLoop* candidate = loops_[(start + k) % loops_.size()].get();
    if (!best || candidate->load() < best->load()) best = candidate;
  }
  return *best;
}

void Runtime::Run() {
  for (size_t i = 1; i < loops_.size(); ++i) threads_.emplace_back([loop = loops_[i].get()] { loop->RunHere(); });
  loops_.front()->RunHere();
  Join();
}

void Runtime::Start() {
  for (auto& loop : loops_) threads_.emplace_back([loop = loop.get()] { loop->RunHere(); });
}

void Runtime::Stop() {
  std::lock_guard lock(work_mutex_);
  for (auto& guard : work_) guard.reset();
}

void Runtime::Abort() {
  for (auto& loop : loops_) loop->io().stop();
}

void Runtime::Join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace voxpipe
