// Runtime: the one io_context of a process and the threads that run it (one
// per core by default). Every pipeline instance gets its own strand on it.
#pragma once

#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "framework/pipeline_context.h"

namespace voxpipe {

class Runtime {
 public:
  // `threads` <= 0 means one per hardware thread.
  explicit Runtime(int threads = 0);
  ~Runtime();

  boost::asio::io_context& io() { return io_; }
  int threads() const { return threads_; }
  PipelineContext::Executor NewStrand() { return boost::asio::make_strand(io_); }

  // Starts threads-1 workers and runs the context on the calling thread too,
  // until Stop() or until no work is left.
  void Run();
  // Lets Run() return once outstanding handlers are done.
  void Stop();

 private:
  int threads_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> workers_;
};

}  // namespace voxpipe
