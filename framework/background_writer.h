// BackgroundWriter: the process's thread for file writes (recordings, call
// records, messages), so that no event loop ever waits on a disk. Tasks run
// in the order posted. The queue is bounded: when a disk cannot keep up, new
// tasks are refused and counted (voxpipe_file_writes_dropped_total) rather
// than holding a call's loop or growing without end.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace voxpipe {

class BackgroundWriter {
 public:
  static constexpr size_t kMaxQueued = 16384;

  static BackgroundWriter& Global();
  ~BackgroundWriter();

  // False (and counted) when the queue is full.
  bool Post(std::function<void()> task);
  // Waits until every task posted before it has run.
  void Flush();

 private:
  BackgroundWriter();
  void Run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> tasks_;
  bool running_task_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace voxpipe
