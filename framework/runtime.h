// Runtime: the event loops of a process, one per core by default.
//
// Each EventLoop is an io_context (concurrency hint 1) run by one thread. A
// call lives on one loop for its whole life — its connection, its pipeline
// instance, its model socket, its timers — so nothing of a call crosses
// threads, its processors need no locks and no strand sits on the media
// path. Calls go to loops as their connections are accepted: each loop
// takes up to kDefaultFillLoad connections before the next is used, then
// the least-loaded takes the next one. Work moves between loops only by
// post(), and only once per call (e.g. a stream handed to the loop where its
// call's early model session waits), never per frame.
//
// This replaced one io_context run by a pool with a strand per call:
// measured, the pool's cross-thread wake-ups cost more CPU than the second
// core gave (docs/performance.md).
//
// A busy loop gathers its wake-ups: with many calls, messages arrive a few
// hundred microseconds apart and a loop that sleeps in epoll_wait between
// them pays a context switch for each. Once a loop does more than
// kBusyHandlers pieces of work a second (handlers, and sockets its
// ReadyQueue tells), after each burst it waits out
// `batch_window` before looking again, so one wake-up serves every message
// that came meanwhile; each message waits at most that long. A quiet loop
// (a few calls) never waits. Measured in docs/performance.md.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "framework/ready_queue.h"

namespace voxpipe {

// Runs `io` until it is stopped or out of work. Once it does more than
// Runtime::kBusyHandlers pieces of work a second, it waits out `window`
// after each burst before looking again (above); 0 never waits. Work is the
// handlers run plus what `more_work` (when given) reports since it was last
// asked: the sockets a loop's ReadyQueue told, as its one handler can serve
// a hundred. Every EventLoop runs this way, and so does the Gemini Live
// emulator: a busy server does not need to be woken for each message.
void RunInBatches(boost::asio::io_context& io, std::chrono::microseconds window,
                  const std::function<size_t()>& more_work = {});

class EventLoop {
 public:
  using Executor = boost::asio::io_context::executor_type;

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& io() { return io_; }
  Executor executor() { return io_.get_executor(); }
  int index() const { return index_; }

  // Connections (or calls) living on this loop, for least-loaded placement.
  // Changed when one is placed or ends, never per frame.
  void AddLoad(int delta) { load_.fetch_add(delta, std::memory_order_relaxed); }
  int load() const { return load_.load(std::memory_order_relaxed); }

  // The loop's edge-triggered set for media sockets; on the loop's thread.
  ReadyQueue& ready_queue();
  // The calling thread's loop's set when `io` is that loop's, else null.
  static ReadyQueue* ReadyQueueFor(const boost::asio::execution_context& io);

  // The loop the calling thread runs, or null on any other thread.
  static EventLoop* Current();
  // The calling thread's loop index, or -1.
  static int CurrentIndex();

 private:
  friend class Runtime;
  EventLoop(int index, std::chrono::microseconds batch_window)
      : io_(1), index_(index), batch_window_(batch_window) {}
  void RunHere();

  // An io_context whose teardown the Runtime can split in two (below).
  struct Context : boost::asio::io_context {
    using io_context::io_context;
    using execution_context::destroy;
    using execution_context::shutdown;
  };

  Context io_;
  std::unique_ptr<ReadyQueue> ready_;  // made on first use
  int index_;
  std::chrono::microseconds batch_window_;
  std::atomic<int> load_{0};
};

class Runtime {
 public:
  // Pieces of work a second above which a loop counts as busy and gathers.
  static constexpr int kBusyHandlers = 2000;
  // The default: 1 ms keeps a message's added latency under the 2 ms budget.
  static constexpr std::chrono::microseconds kDefaultBatchWindow{1000};
  // Connections a loop takes before the next loop is used (Place()). 256
  // calls keep one loop (a core) about half busy on this machine, and a
  // packed loop gathers its wake-ups (docs/performance.md); 0 spreads every
  // connection over the loops.
  static constexpr int kDefaultFillLoad = 256;

  // `loops` <= 0 means one per hardware thread; `batch_window` 0 never waits.
  explicit Runtime(int loops = 0, std::chrono::microseconds batch_window = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int size() const { return static_cast<int>(loops_.size()); }
  EventLoop& loop(int i) { return *loops_[i]; }
  // Loop 0: the runner's signals, drains and other process-wide work.
  EventLoop& main() { return *loops_.front(); }
  boost::asio::io_context& io() { return main().io(); }
  // Where a new connection (or call) goes: the first loop holding fewer
  // than `fill_load` connections, else the one with the fewest (ties round
  // robin). Packing saves CPU: a busy loop gathers its wake-ups, so calls
  // packed on a few loops wake each far less often than the same calls
  // spread thin over many (docs/performance.md).
  EventLoop& Place();
  // 0: always the least-loaded loop. Set before the loops run.
  void set_fill_load(int connections) { fill_load_ = connections; }

  // Runs loop 0 on the calling thread and every other loop on a thread of
  // its own, until Stop() and no work is left (or Abort()).
  void Run();
  // Runs every loop on a background thread (tests); the destructor joins.
  void Start();
  // Lets the loops return once their work is done. Thread-safe.
  void Stop();
  // Stops every loop now, with handlers still queued. Thread-safe.
  void Abort();
  // Waits for the loops' threads (after Stop() or Abort()), so that what
  // they used can be destroyed; from the thread that called Start().
  void Join();

 private:

  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::mutex work_mutex_;
  std::vector<std::optional<boost::asio::executor_work_guard<EventLoop::Executor>>> work_;
  std::vector<std::thread> threads_;
  std::atomic<unsigned> next_{0};
  int fill_load_ = kDefaultFillLoad;
};

}  // namespace voxpipe
