#include "framework/server/http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/server/server_websocket.h"
#include "framework/server/websocket_frame.h"

namespace voxpipe::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Acceptor = net::basic_socket_acceptor<tcp, EventLoop::Executor>;
using HttpStream = beast::basic_stream<tcp, EventLoop::Executor>;

MetricCounter& RejectedCounter(const std::string& reason) {
  return Metrics::Global().Counter("voxpipe_http_rejected_total", "HTTP requests and connections refused or cut",
                                   {{"reason", reason}});
}

namespace {

// Descriptors kept free for what calls open themselves (model sockets,
// recordings) and for the admin listener, whatever the peers do.
constexpr int kDescriptorReserve = 64;
constexpr auto kMaxAcceptBackoff = std::chrono::seconds(1);

// Errors that are part of a connection's normal end, not worth a warning.
bool IsExpected(const beast::error_code& ec) {
  return ec == net::error::operation_aborted || ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe || ec == beast::error::timeout;
}

// Accept failures that mean "out of descriptors or memory": retrying at once
// only spins.
bool IsResourceExhaustion(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space || ec == net::error::no_memory ||
         ec.value() == ENFILE;
}

MetricCounter& RequestCounter(int status) {
  static MetricCounter* by_class[6] = {};
  static std::once_flag once;
  std::call_once(once, [] {
    for (int c = 1; c <= 5; ++c) {
      by_class[c] = &Metrics::Global().Counter("voxpipe_http_responses_total", "HTTP responses sent, by status class",
                                               {{"code", fmt::format("{}xx", c)}});
    }
  });
  return *by_class[std::clamp(status / 100, 1, 5)];
}

int DefaultMaxConnections() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 100000;
  // A call holds its own connection and one to the model: half of what is
  // left after the reserve.
  long usable = (static_cast<long>(limit.rlim_cur) - kDescriptorReserve) / 2;
  return static_cast<int>(std::clamp<long>(usable, 16, 100000));
}

HttpRequest ToRequest(const http::request<http::string_body>& req, const std::string& remote) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  size_t q = out.target.find('?');
  out.path = out.target.substr(0, q);
  if (q != std::string::npos) out.query = out.target.substr(q + 1);
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += "," + std::string(field.value());
  }
  out.body = req.body();
  out.remote = remote;
  return out;
}

bool HeaderHasToken(const std::string& value, std::string_view token) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string_view item(value.data() + start, (comma == std::string::npos ? value.size() : comma) - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() &&
        std::equal(item.begin(), item.end(), token.begin(), [](char a, char b) { return std::tolower(a) == b; })) {
      return true;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

bool IsUpgrade(const HttpRequest& request) {
  return HeaderHasToken(request.Header("connection"), "upgrade") &&
         HeaderHasToken(request.Header("upgrade"), "websocket");
}

}  // namespace

class HttpSession;

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(Runtime& runtime, HttpServerOptions options)
      : runtime_(runtime), options_(std::move(options)), acceptor_(runtime.main().executor()),
        backoff_timer_(runtime.main().executor()) {}

  void do_accept();
  void on_accept(EventLoop& loop, const beast::error_code& ec, Socket socket);
  void PauseAccepting(const beast::error_code& ec);
  HttpResponse Dispatch(const HttpRequest& request) const;
  const WebSocketRoute* FindWebSocketRoute(const std::string& path) const;
  void Stop();

  WebSocketLimits websocket_limits() const {
    return {options_.websocket_message_limit, options_.websocket_queue_limit, options_.websocket_idle_timeout,
            options_.handshake_timeout};
  }

  Runtime& runtime_;
  HttpServerOptions options_;
  Acceptor acceptor_;
  net::steady_timer backoff_timer_;
  std::chrono::milliseconds backoff_{0};
  std::map<std::pair<std::string, std::string>, HttpHandler> routes_;  // (path, method)
  std::vector<std::pair<std::string, WebSocketRoute>> websocket_routes_;
  std::shared_ptr<ConnectionTable> connections_ = std::make_shared<ConnectionTable>();
  int max_connections_ = 0;
  std::atomic<int> port_{0};
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::vector<std::weak_ptr<HttpSession>> sessions_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Socket&& socket, ConnectionSlot slot, std::string remote, std::shared_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), slot_(std::move(slot)), remote_(std::move(remote)), server_(std::move(server)) {}

  void Run() { do_read(); }

  // From any thread: ends the connection (idle keep-alive or not).
  void Shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->upgraded_) return;
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.close();
    });
  }

 private:
  const HttpServerOptions& options() const { return server_->options_; }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options().header_limit));
    parser_->body_limit(options().body_limit);
    stream_.expires_after(options().request_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      RejectedCounter("body_too_large").Increment();
      return Respond(HttpResponse::Text(413, "request body too large\n"), false);
    }
    if (ec == http::error::header_limit) {
      RejectedCounter("header_too_large").Increment();
      return Respond(HttpResponse::Text(431, "request header too large\n"), false);
    }
    if (ec) {
      if (ec == beast::error::timeout) {
        // A request begun and never finished (slowloris), or a connection
        // that sent nothing at all for request_timeout.
        RejectedCounter(buffer_.size() > 0 || parser_->got_some() ? "request_timeout" : "idle_timeout").Increment();
      }
      if (IsExpected(ec)) return do_close();
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {  // a parse error
        RejectedCounter("bad_request").Increment();
        spdlog::debug("http {}: bad request: {}", remote_, ec.message());
        return Respond(HttpResponse::Text(400, "bad request\n"), false);
      }
      spdlog::debug("http {}: read: {}", remote_, ec.message());
      return do_close();
    }
    // A Transfer-Encoding whose last coding is not chunked leaves the body's
    // length undefined (RFC 9112 §6.3): Beast then reads none, and what
    // follows would be taken as the next request (request smuggling).
    if (parser_->get().count(http::field::transfer_encoding) > 0 && !parser_->chunked()) {
      RejectedCounter("bad_transfer_encoding").Increment();
      return Respond(HttpResponse::Text(400, "unsupported transfer encoding\n"), false);
    }
    auto req = parser_->release();
    HttpRequest request = ToRequest(req, remote_);
    if (IsUpgrade(request)) return Upgrade(std::move(request));
    Respond(Handle(request), req.keep_alive());
  }

  // Handlers should not throw; if one does, the client gets a 500 and the
  // server lives on.
  HttpResponse Handle(const HttpRequest& request) {
    try {
      return server_->Dispatch(request);
    } catch (const std::exception& e) {
      spdlog::error("http {} {}: handler failed: {}", request.method, request.path, e.what());
      RejectedCounter("handler_exception").Increment();
      return HttpResponse::Text(500, "internal error\n");
    }
  }

  // The WebSocket opening handshake (RFC 6455 §4.2), then the connection is
  // the route's.
  void Upgrade(HttpRequest request) {
    const WebSocketRoute* route = server_->FindWebSocketRoute(request.path);
    if (!route) {
      RejectedCounter("websocket_no_route").Increment();
      return Respond(HttpResponse::Text(404, "no websocket endpoint here\n"), false);
    }
    const std::string& key = request.Header("sec-websocket-key");
    if (request.method != "GET" || key.size() != 24) {
      RejectedCounter("websocket_handshake").Increment();
      return Respond(HttpResponse::Text(400, "bad websocket upgrade\n"), false);
    }
    if (request.Header("sec-websocket-version") != "13") {
      RejectedCounter("websocket_handshake").Increment();
      HttpResponse refusal = HttpResponse::Text(426, "websocket version 13 required\n");
      refusal.headers.emplace_back("Sec-WebSocket-Version", "13");
      return Respond(std::move(refusal), false);
    }
    if (route->admit) {
      std::optional<HttpResponse> refusal;
      try {
        refusal = route->admit(request);
      } catch (const std::exception& e) {
        spdlog::error("websocket {}: admission failed: {}", request.path, e.what());
        refusal = HttpResponse::Text(500, "internal error\n");
      }
      if (refusal) return Respond(std::move(*refusal), false);
    }
    upgraded_ = true;
    stream_.expires_never();
    EventLoop* target = route->place ? route->place(request) : nullptr;
    auto upgrade = std::make_shared<PendingUpgrade>(PendingUpgrade{
        .socket = stream_.release_socket(),
        .slot = std::move(slot_),
        .response = fmt::format("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: {}\r\nServer: {}\r\n\r\n",
                                WebSocketAcceptKey(key), options().server_name),
        .already_read = beast::buffers_to_string(buffer_.data()),
        .request = std::move(request),
        .open = route->open,
        .remote = remote_,
        .limits = server_->websocket_limits(),
    });
    if (target && target != upgrade->slot.loop()) {
      // Once per call: the connection joins the loop its call lives on.
      beast::error_code ec;
      auto protocol = upgrade->socket.local_endpoint(ec).protocol();
      auto native = upgrade->socket.release(ec);
      if (ec) return;
      upgrade->socket = Socket(target->executor());
      upgrade->socket.assign(protocol, native, ec);
      if (ec) return;
      upgrade->slot = std::move(upgrade->slot).MoveTo(target);
      return net::post(target->executor(), [upgrade] { CompleteUpgrade(upgrade); });
    }
    CompleteUpgrade(upgrade);
  }

  struct PendingUpgrade {
    Socket socket;
    ConnectionSlot slot;
    std::string response;
    std::string already_read;
    HttpRequest request;
    std::function<void(std::shared_ptr<WebSocketConnection>, const HttpRequest&)> open;
    std::string remote;
    WebSocketLimits limits;
  };

  static void CompleteUpgrade(std::shared_ptr<PendingUpgrade> upgrade) {
    net::async_write(upgrade->socket, net::buffer(upgrade->response), [upgrade](beast::error_code ec, size_t) {
      if (ec) return;
      auto ws = MakeServerWebSocket(std::move(upgrade->socket), std::move(upgrade->slot), upgrade->remote,
                                    upgrade->limits, upgrade->already_read);
      upgrade->open(std::move(ws), upgrade->request);
    });
  }

  void Respond(HttpResponse response, bool keep_alive) {
    RequestCounter(response.status).Increment();
    res_ = {};
    res_.version(11);
    res_.result(static_cast<http::status>(response.status));
    res_.set(http::field::server, options().server_name);
    res_.set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res_.set(name, value);
    res_.body() = std::move(response.body);
    res_.keep_alive(keep_alive && !server_->stopped_);
    res_.prepare_payload();
    stream_.expires_after(options().request_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&HttpSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) {
      if (!IsExpected(ec)) spdlog::debug("http {}: write: {}", remote_, ec.message());
      return do_close();
    }
    if (!res_.keep_alive()) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  HttpStream stream_;
  ConnectionSlot slot_;
  std::string remote_;
  std::shared_ptr<HttpServer::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool upgraded_ = false;
};

void HttpServer::Impl::do_accept() {
  EventLoop& loop = runtime_.Place();
  acceptor_.async_accept(loop.executor(), [self = shared_from_this(), &loop](beast::error_code ec, Socket socket) {
    self->on_accept(loop, ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(EventLoop& loop, const beast::error_code& ec, Socket socket) {
  if (stopped_) return;
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    if (IsResourceExhaustion(ec)) return PauseAccepting(ec);
    spdlog::debug("accept: {}", ec.message());
    return do_accept();
  }
  backoff_ = std::chrono::milliseconds(0);
  beast::error_code endpoint_error;
  auto endpoint = socket.remote_endpoint(endpoint_error);
  std::string remote = endpoint_error ? "unknown" : endpoint.address().to_string();
  auto refuse = [&](const char* reason) {
    RejectedCounter(reason).Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, std::string("connection_refused_") + reason,
             "refusing connections: {} ({} open, limit {}{})", reason, connections_->open(), max_connections_,
             options_.max_connections_per_address > 0
                 ? fmt::format(", {} per address", options_.max_connections_per_address)
                 : "");
    // Reset rather than a graceful close: nothing of it lingers.
    beast::error_code ignored;
    socket.set_option(net::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    do_accept();
  };
  if (connections_->open() >= max_connections_) return refuse("connection_limit");
  if (!connections_->TryAdd(remote, options_.max_connections_per_address)) return refuse("address_limit");
  // Media messages are small and latency-bound: no Nagle delay.
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<HttpSession>(std::move(socket), ConnectionSlot(&loop, connections_, remote),
                                               std::move(remote), shared_from_this());
  {
    std::lock_guard lock(mutex_);
    if (sessions_.size() > 64) std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
    sessions_.push_back(session);
  }
  net::post(loop.executor(), [session] { session->Run(); });
  do_accept();
}

void HttpServer::Impl::PauseAccepting(const beast::error_code& ec) {
  backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(kMaxAcceptBackoff));
  RejectedCounter("accept_failed").Increment();
  LogEvery(std::chrono::seconds(1), spdlog::level::err, "accept_exhausted",
           "accept: {}; pausing accepting for {} ms ({} connections open)", ec.message(), backoff_.count(),
           connections_->open());
  backoff_timer_.expires_after(backoff_);
  backoff_timer_.async_wait([self = shared_from_this()](const beast::error_code& wait_error) {
    if (!wait_error && !self->stopped_) self->do_accept();
  });
}

const WebSocketRoute* HttpServer::Impl::FindWebSocketRoute(const std::string& path) const {
  for (const auto& [base, route] : websocket_routes_) {
    if (path == base) return &route;
    if (route.prefix && path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
        path[base.size()] == '/') {
      return &route;
    }
  }
  return nullptr;
}

HttpResponse HttpServer::Impl::Dispatch(const HttpRequest& request) const {
  auto it = routes_.find({request.path, request.method});
  if (it != routes_.end()) return it->second(request);
  auto any = routes_.lower_bound({request.path, ""});
  if (any != routes_.end() && any->first.first == request.path) {
    return HttpResponse::Text(405, "method not allowed\n");
  }
  if (FindWebSocketRoute(request.path)) return HttpResponse::Text(426, "this endpoint takes a WebSocket\n");
  return HttpResponse::Text(404, "not found\n");
}

void HttpServer::Impl::Stop() {
  if (stopped_.exchange(true)) return;
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->backoff_timer_.cancel();
  });
  std::vector<std::weak_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(mutex_);
    sessions.swap(sessions_);
  }
  for (auto& weak : sessions) {
    if (auto s = weak.lock()) s->Shutdown();
  }
}

HttpServer::HttpServer(Runtime& runtime, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(runtime, std::move(options))) {}

HttpServer::~HttpServer() { impl_->Stop(); }

void HttpServer::Handle(std::string method, std::string path, HttpHandler handler) {
  impl_->routes_[{std::move(path), std::move(method)}] = std::move(handler);
}

void HttpServer::HandleWebSocket(std::string path, WebSocketRoute route) {
  impl_->websocket_routes_.emplace_back(std::move(path), std::move(route));
}

Status HttpServer::Start() {
  const auto& o = impl_->options_;
  beast::error_code ec;
  auto address = net::ip::make_address(o.address, ec);
  if (ec) return Status::Error(fmt::format("server address '{}': {}", o.address, ec.message()));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
  auto& acceptor = impl_->acceptor_;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Error(fmt::format("cannot listen on {}:{}: {}", o.address, o.port, ec.message()));
  impl_->port_ = acceptor.local_endpoint().port();
  impl_->max_connections_ = o.max_connections > 0 ? o.max_connections : DefaultMaxConnections();
  net::dispatch(acceptor.get_executor(), [impl = impl_] { impl->do_accept(); });
  return OkStatus();
}

void HttpServer::Stop() { impl_->Stop(); }

int HttpServer::port() const { return impl_->port_; }

int HttpServer::open_connections() const { return impl_->connections_->open(); }

int HttpServer::max_connections() const { return impl_->max_connections_; }

}  // namespace voxpipe::server
