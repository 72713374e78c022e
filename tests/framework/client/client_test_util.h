// Running an io_context until something happened, for client tests.
#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/io_context.hpp>

namespace voxpipe::testing {

inline bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(10));
    if (io.stopped()) io.restart();
  }
  return done();
}

}  // namespace voxpipe::testing
