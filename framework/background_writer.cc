#include "framework/background_writer.h"

#include "framework/metrics.h"

namespace voxpipe {

BackgroundWriter& BackgroundWriter::Global() {
  // Destroyed at exit after the tasks queued by then have run, so files
  // written by calls that ended are complete.
  static BackgroundWriter writer;
  return writer;
}

BackgroundWriter::BackgroundWriter() : thread_([this] { Run(); }) {}

BackgroundWriter::~BackgroundWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool BackgroundWriter::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (tasks_.size() < kMaxQueued) {
      tasks_.push_back(std::move(task));
      wake_.notify_one();
      return true;
    }
  }
  static MetricCounter& dropped = Metrics::Global().Counter(
      "voxpipe_file_writes_dropped_total", "File writes refused because the disk fell behind");
  dropped.Increment();
  return false;
}

void BackgroundWriter::Flush() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return tasks_.empty() && !running_task_; });
}

void BackgroundWriter::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) break;  // stopping, and nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    running_task_ = true;
    lock.unlock();
    task();
    lock.lock();
    running_task_ = false;
    if (tasks_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

}  // namespace voxpipe
