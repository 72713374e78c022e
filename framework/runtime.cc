#include "framework/runtime.h"

namespace voxpipe {

Runtime::Runtime(int threads)
    : threads_(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency())),
      io_(threads_),
      work_(boost::asio::make_work_guard(io_)) {}

Runtime::~Runtime() {
  Stop();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void Runtime::Run() {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { io_.run(); });
  io_.run();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void Runtime::Stop() { work_.reset(); }

}  // namespace voxpipe
