// ServerWebSocket: the WebSocketConnection the HTTP server hands to routes,
// on a TCP socket after the upgrade handshake (RFC 6455, server side, frames
// from websocket_frame.h). Internal to the server.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "framework/metrics.h"
#include "framework/runtime.h"
#include "framework/server/websocket_connection.h"

namespace voxpipe::server {

// voxpipe_http_rejected_total{reason}: requests and connections refused or
// cut for cause (shared by the HTTP and WebSocket halves of the server).
MetricCounter& RejectedCounter(const std::string& reason);

// What a server counts of its open connections: in all and per peer
// address. Touched when a connection opens or closes, never per message.
class ConnectionTable {
 public:
  // Counts a new connection from `address`, unless that address already
  // holds `per_address` of them (0: no limit).
  bool TryAdd(const std::string& address, int per_address);
  void Remove(const std::string& address);
  int open() const { return open_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> open_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, int> per_address_;
};

// One connection's place in its loop's load and in its server's table,
// held until the connection is gone.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  // `address` was counted in `table` already (TryAdd).
  ConnectionSlot(EventLoop* loop, std::shared_ptr<ConnectionTable> table, std::string address);
  ConnectionSlot(ConnectionSlot&& other) noexcept;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ~ConnectionSlot();
  EventLoop* loop() const { return loop_; }
  // The same slot counted on another loop (a connection handed over).
  ConnectionSlot MoveTo(EventLoop* loop) &&;

 private:
  void Release();
  EventLoop* loop_ = nullptr;
  std::shared_ptr<ConnectionTable> table_;
  std::string address_;
};

using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, EventLoop::Executor>;

struct WebSocketLimits {
  size_t max_message_bytes = 64 * 1024;
  size_t max_queued_messages = 1024;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};  // 0: never
  std::chrono::milliseconds close_timeout{std::chrono::seconds(5)};  // for the peer's close frame
};

// `already_read`: bytes that arrived behind the upgrade request.
std::shared_ptr<WebSocketConnection> MakeServerWebSocket(Socket socket, ConnectionSlot slot, std::string remote,
                                                         const WebSocketLimits& limits, std::string_view already_read);

}  // namespace voxpipe::server
