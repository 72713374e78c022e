#include "framework/server/http_server.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/metrics.h"

namespace voxpipe::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Strand = WebSocketConnection::Executor;

// Errors that are part of a connection's normal end, not worth a warning.
bool IsExpected(const beast::error_code& ec) {
  return ec == net::error::operation_aborted || ec == websocket::error::closed || ec == http::error::end_of_stream ||
         ec == net::error::eof || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == beast::error::timeout;
}

MetricCounter& RejectedCounter(const std::string& reason) {
  return Metrics::Global().Counter("voxpipe_http_rejected_total", "HTTP requests refused before any handler ran",
                                   {{"reason", reason}});
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
  int c = std::clamp(status / 100, 1, 5);
  return *by_class[c];
}

// ------------------------------------------------------------------ websocket

class BeastWebSocket : public WebSocketConnection, public std::enable_shared_from_this<BeastWebSocket> {
 public:
  BeastWebSocket(tcp::socket&& socket, Strand strand, const HttpServerOptions& options, std::string remote)
      : ws_(std::move(socket)), strand_(std::move(strand)), remote_(std::move(remote)),
        queue_limit_(options.websocket_queue_limit) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    websocket::stream_base::timeout timeout{options.handshake_timeout, options.websocket_idle_timeout, true};
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [name = options.server_name](websocket::response_type& res) { res.set(http::field::server, name); }));
    ws_.read_message_max(options.websocket_message_limit);
  }

  using OpenHandler = std::function<void(std::shared_ptr<BeastWebSocket>)>;
  void Accept(http::request<http::string_body> request, OpenHandler on_open) {
    request_ = std::move(request);
    ws_.async_accept(request_, [self = shared_from_this(), on_open = std::move(on_open)](beast::error_code ec) {
      self->request_ = {};
      if (ec) {
        spdlog::debug("websocket handshake with {} failed: {}", self->remote_, ec.message());
        RejectedCounter("websocket_handshake").Increment();
        return;
      }
      self->open_ = true;
      on_open(self);
    });
  }

  const Executor& executor() const override { return strand_; }
  const std::string& remote() const override { return remote_; }

  void Start(Callbacks callbacks) override {
    callbacks_ = std::move(callbacks);
    do_read();
  }

  std::string TakeBuffer() override {
    if (spare_.empty()) return {};
    std::string buffer = std::move(spare_.back());
    spare_.pop_back();
    buffer.clear();
    return buffer;
  }

  bool Send(std::string message) override {
    if (!open_ || close_pending_) return false;
    if (queue_.size() >= queue_limit_) {
      spdlog::warn("websocket {}: {} messages waiting, peer too slow; disconnecting", remote_, queue_.size());
      Abort("send queue full");
      return false;
    }
    queue_.push_back(std::move(message));
    if (!writing_) do_write();
    return true;
  }

  size_t DropQueued() override {
    size_t keep = writing_ ? 1 : 0;  // the one in flight is already the socket's
    size_t dropped = queue_.size() - std::min(keep, queue_.size());
    while (queue_.size() > keep) {
      Recycle(std::move(queue_.back()));
      queue_.pop_back();
    }
    return dropped;
  }

  void Close(std::string reason) override {
    if (!open_ || close_pending_) return;
    close_pending_ = true;
    close_reason_ = std::move(reason);
    if (!writing_) do_close();
  }

  bool is_open() const override { return open_ && !close_pending_; }
  size_t queued() const override { return queue_.empty() ? 0 : queue_.size() - (writing_ ? 1 : 0); }

 private:
  void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&BeastWebSocket::on_read, shared_from_this())); }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
      if (ec == websocket::error::closed) return Finish(close_pending_ ? "closed: " + close_reason_ : "peer closed");
      if (ec == websocket::error::message_too_big) RejectedCounter("websocket_message_too_big").Increment();
      return Finish("read: " + ec.message());
    }
    if (callbacks_.on_message) {
      auto data = buffer_.cdata();
      callbacks_.on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer_.consume(buffer_.size());
    if (!finished_) do_read();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()),
                    beast::bind_front_handler(&BeastWebSocket::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) return Abort("write: " + ec.message());
    Recycle(std::move(queue_.front()));
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (close_pending_) do_close();
  }

  void do_close() {
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code ec) {
      if (ec && !IsExpected(ec)) spdlog::debug("websocket {}: close: {}", self->remote_, ec.message());
      // The pending read completes with `closed` when the peer answers; the
      // close timeout (handshake_timeout) bounds the wait.
    });
  }

  void Abort(const std::string& reason) {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    Finish(reason);
  }

  void Finish(const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    open_ = false;
    queue_.clear();
    // Whatever ended it, nothing more is read or written: release the socket
    // now, so no close handshake or ping timer outlives the connection.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    auto on_close = std::move(callbacks_.on_close);
    callbacks_ = {};
    if (on_close) on_close(reason);
  }

  void Recycle(std::string buffer) {
    if (spare_.size() < 4 && buffer.capacity() <= 64 * 1024) spare_.push_back(std::move(buffer));
  }

  websocket::stream<beast::tcp_stream> ws_;
  Strand strand_;
  std::string remote_;
  size_t queue_limit_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  Callbacks callbacks_;
  std::deque<std::string> queue_;
  std::vector<std::string> spare_;
  std::string close_reason_;
  bool open_ = false;
  bool writing_ = false;
  bool close_pending_ = false;
  bool finished_ = false;
};

}  // namespace

// ------------------------------------------------------------------ http

class HttpSession;

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(net::io_context& io, HttpServerOptions options)
      : io_(io), options_(std::move(options)), acceptor_(net::make_strand(io)) {}

  void do_accept();
  void on_accept(Strand strand, beast::error_code ec, tcp::socket socket);
  HttpResponse Dispatch(const HttpRequest& request) const;
  void Stop();

  net::io_context& io_;
  HttpServerOptions options_;
  tcp::acceptor acceptor_;
  std::map<std::pair<std::string, std::string>, HttpHandler> routes_;  // (path, method)
  std::map<std::string, WebSocketRoute> websocket_routes_;
  std::atomic<int> port_{0};
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::vector<std::weak_ptr<HttpSession>> sessions_;
};

namespace {

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

}  // namespace

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, Strand strand, std::shared_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), strand_(std::move(strand)), server_(std::move(server)) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? "unknown" : endpoint.address().to_string();
  }

  void Run() { net::dispatch(strand_, beast::bind_front_handler(&HttpSession::do_read, shared_from_this())); }

  // From any thread: ends the connection (idle keep-alive or not).
  void Shutdown() {
    net::post(strand_, [self = shared_from_this()] {
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
      if (IsExpected(ec)) return do_close();
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {  // a parse error
        RejectedCounter("bad_request").Increment();
        spdlog::debug("http {}: bad request: {}", remote_, ec.message());
        return Respond(HttpResponse::Text(400, "bad request\n"), false);
      }
      spdlog::debug("http {}: read: {}", remote_, ec.message());
      return do_close();
    }
    auto req = parser_->release();
    if (websocket::is_upgrade(req)) return Upgrade(std::move(req));
    Respond(Handle(ToRequest(req, remote_)), req.keep_alive());
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

  void Upgrade(http::request<http::string_body> req) {
    HttpRequest request = ToRequest(req, remote_);
    auto it = server_->websocket_routes_.find(request.path);
    if (it == server_->websocket_routes_.end()) {
      return Respond(HttpResponse::Text(404, "no websocket endpoint here\n"), false);
    }
    const WebSocketRoute& route = it->second;
    if (route.admit) {
      std::optional<HttpResponse> refusal;
      try {
        refusal = route.admit(request);
      } catch (const std::exception& e) {
        spdlog::error("websocket {}: admission failed: {}", request.path, e.what());
        refusal = HttpResponse::Text(500, "internal error\n");
      }
      if (refusal) return Respond(std::move(*refusal), false);
    }
    upgraded_ = true;
    stream_.expires_never();
    auto ws = std::make_shared<BeastWebSocket>(stream_.release_socket(), strand_, options(), remote_);
    ws->Accept(std::move(req), [open = route.open, request = std::move(request)](std::shared_ptr<BeastWebSocket> ws) {
      open(std::move(ws), request);
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

  beast::tcp_stream stream_;
  Strand strand_;
  std::shared_ptr<HttpServer::Impl> server_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool upgraded_ = false;
};

void HttpServer::Impl::do_accept() {
  Strand strand = net::make_strand(io_);
  acceptor_.async_accept(strand, [self = shared_from_this(), strand](beast::error_code ec, tcp::socket socket) {
    self->on_accept(strand, ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(Strand strand, beast::error_code ec, tcp::socket socket) {
  if (stopped_) return;
  if (ec) {
    spdlog::warn("accept: {}", ec.message());
  } else {
    // Media messages are small and latency-bound: no Nagle delay.
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<HttpSession>(std::move(socket), std::move(strand), shared_from_this());
    {
      std::lock_guard lock(mutex_);
      if (sessions_.size() > 64) {
        std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
      }
      sessions_.push_back(session);
    }
    session->Run();
  }
  do_accept();
}

HttpResponse HttpServer::Impl::Dispatch(const HttpRequest& request) const {
  auto it = routes_.find({request.path, request.method});
  if (it != routes_.end()) return it->second(request);
  auto any = routes_.lower_bound({request.path, ""});
  if (any != routes_.end() && any->first.first == request.path) {
    return HttpResponse::Text(405, "method not allowed\n");
  }
  if (websocket_routes_.count(request.path)) return HttpResponse::Text(426, "this endpoint takes a WebSocket\n");
  return HttpResponse::Text(404, "not found\n");
}

void HttpServer::Impl::Stop() {
  if (stopped_.exchange(true)) return;
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
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

HttpServer::HttpServer(boost::asio::io_context& io, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpServer::~HttpServer() { impl_->Stop(); }

void HttpServer::Handle(std::string method, std::string path, HttpHandler handler) {
  impl_->routes_[{std::move(path), std::move(method)}] = std::move(handler);
}

void HttpServer::HandleWebSocket(std::string path, WebSocketRoute route) {
  impl_->websocket_routes_[std::move(path)] = std::move(route);
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
  net::dispatch(acceptor.get_executor(), [impl = impl_] { impl->do_accept(); });
  return OkStatus();
}

void HttpServer::Stop() { impl_->Stop(); }

int HttpServer::port() const { return impl_->port_; }

}  // namespace voxpipe::server
