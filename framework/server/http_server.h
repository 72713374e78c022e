// HttpServer: HTTP/1.1 and WebSocket on one port, on Boost.Beast's HTTP
// parser and a WebSocket framing of our own (websocket_frame.h).
//
//   HttpServer server(runtime, options);
//   server.Handle("GET", "/health", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); });
//   server.HandleWebSocket("/stream", {.admit = ..., .open = ...});
//   if (Status s = server.Start(); !s.ok()) ...
//
// One acceptor, on the runtime's main loop, places every new connection on
// the least-loaded event loop (runtime.h); the connection, and the handlers
// it runs, stay there. Handlers shared by many connections therefore run on
// several threads at once and must be thread-safe.
//
// Requests are bounded (header and body size, read timeout); an oversized or
// malformed request gets 4xx and the connection is closed. Connections are
// bounded too: at most max_connections open (by default what the descriptor
// limit allows, keeping a reserve for model sockets and files) and
// max_connections_per_address from one peer; the excess is closed at once.
// When the process runs out of descriptors anyway, accepting pauses with a
// backoff instead of spinning. HTTP routes match the path exactly;
// WebSocket routes match it or, with `prefix`, anything below it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "framework/runtime.h"
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
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};  // WebSocket closing handshake
  std::chrono::milliseconds websocket_idle_timeout{std::chrono::seconds(30)};  // pings keep a live peer open
  size_t websocket_message_limit = 64 * 1024;
  size_t websocket_queue_limit = 1024;  // outgoing messages waiting
  int max_connections = 0;              // 0: from the descriptor limit
  int max_connections_per_address = 0;  // 0: no limit (a balancer or Twilio's edge is one address for many calls)
  std::string server_name = "voxpipe";
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct WebSocketRoute {
  // Before the handshake: std::nullopt accepts; a response refuses (403, 503).
  std::function<std::optional<HttpResponse>(const HttpRequest&)> admit;
  // Optional: the loop the connection should live on (e.g. where its call's
  // model session was opened); null keeps it where it was accepted.
  std::function<EventLoop*(const HttpRequest&)> place;
  // After the handshake, on the connection's loop. The route owns the
  // connection from here; it must call Start() on it.
  std::function<void(std::shared_ptr<WebSocketConnection>, const HttpRequest&)> open;
  // Also match every path below this one ("/twilio/stream/TOKEN").
  bool prefix = false;
};

class HttpServer {
 public:
  HttpServer(Runtime& runtime, HttpServerOptions options);
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
  // Connections open now (HTTP and WebSocket).
  int open_connections() const;
  // The connection limit in force (after Start()).
  int max_connections() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace voxpipe::server
