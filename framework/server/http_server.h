// HttpServer: HTTP/1.1 and WebSocket on one port, on Boost.Beast.
//
//   HttpServer server(io, options);
//   server.Handle("GET", "/health", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); });
//   server.HandleWebSocket("/stream", {.admit = ..., .open = ...});
//   if (Status s = server.Start(); !s.ok()) ...
//
// Each connection gets its own strand; handlers run on it, so handlers shared
// by many connections must be thread-safe. Requests are bounded (header and
// body size, read timeout); an oversized or malformed request gets 4xx and
// the connection is closed. Routes match the path exactly.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "framework/server/http_message.h"
#include "framework/server/websocket_connection.h"
#include "framework/status.h"

namespace voxpipe::server {

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  int port = 0;  // 0 picks a free port; see HttpServer::port()
  size_t header_limit = 8 * 1024;
  size_t body_limit = 64 * 1024;
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};  // per request, and idle keep-alive
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds websocket_idle_timeout{std::chrono::seconds(30)};  // pings keep a live peer open
  size_t websocket_message_limit = 64 * 1024;
  size_t websocket_queue_limit = 1024;  // outgoing messages waiting
  std::string server_name = "voxpipe";
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct WebSocketRoute {
  // Before the handshake: std::nullopt accepts; a response refuses (403, 503).
  std::function<std::optional<HttpResponse>(const HttpRequest&)> admit;
  // After the handshake, on the connection's strand. The route owns the
  // connection from here; it must call Start() on it.
  std::function<void(std::shared_ptr<WebSocketConnection>, const HttpRequest&)> open;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options);
  ~HttpServer();

  // Routes are added before Start().
  void Handle(std::string method, std::string path, HttpHandler handler);
  void HandleWebSocket(std::string path, WebSocketRoute route);

  // Binds and starts accepting; the error names the address and port.
  Status Start();
  // Stops accepting and closes idle HTTP connections; WebSocket connections
  // already handed to routes are theirs to close. Thread-safe.
  void Stop();
  // The bound port (after Start()).
  int port() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace voxpipe::server
