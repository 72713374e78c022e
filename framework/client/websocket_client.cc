#include "framework/client/websocket_client.h"

#include <deque>

#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/client/client_stream.h"
#include "framework/client/url.h"

namespace voxpipe {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

using PlainStream = websocket::stream<beast::tcp_stream>;
using TlsStream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

WebSocketCloseInfo Failure(std::string error) {
  WebSocketCloseInfo info;
  info.error = std::move(error);
  return info;
}

template <typename Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

template <typename Stream>
class WebSocketSession : public WebSocketClient, public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(net::any_io_executor executor, Url url, WebSocketClientOptions options, WebSocketHandlers handlers,
                   TlsContextPtr tls)
      : resolver_(executor),
        ws_(client_detail::MakeClientStream<Stream, kIsTls<Stream>>(executor, tls.get())),
        url_(std::move(url)),
        options_(std::move(options)),
        handlers_(std::move(handlers)),
        tls_(std::move(tls)) {}

  void Connect() override {
    resolver_.async_resolve(url_.host, url_.port,
                            beast::bind_front_handler(&WebSocketSession::on_resolve, this->shared_from_this()));
  }

  bool Send(std::string message, bool binary) override {
    if (!open_ || closing_ || queue_.size() >= options_.max_queued_messages) return false;
    queue_.emplace_back(std::move(message), binary);
    if (queue_.size() == 1) do_write();
    return true;
  }

  void Close(int code, std::string reason) override {
    if (finished_ || closing_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!open_) {
      // Still connecting: stop the attempt; the pending operation reports it.
      resolver_.cancel();
      beast::get_lowest_layer(ws_).close();
      return;
    }
    if (queue_.empty()) do_close();
  }

  void Detach() override {
    detached_ = true;
    // The handlers often hold their owner, which holds this client: let go
    // of them now, or the two keep each other alive. One of them may be the
    // caller, though; then they go once it has returned.
    if (in_handler_ > 0) {
      net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->handlers_ = {}; });
    } else {
      handlers_ = {};
    }
    Close(1000, {});
  }

  void Abort() override {
    resolver_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

  bool is_open() const override { return open_ && !closing_; }
  size_t queued() const override { return queue_.size(); }

 private:
  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail(ec, "resolve");
    beast::get_lowest_layer(ws_).expires_after(options_.connect_timeout);
    beast::get_lowest_layer(ws_).async_connect(
        results, beast::bind_front_handler(&WebSocketSession::on_connect, this->shared_from_this()));
  }

  void on_connect(beast::error_code ec, tcp::resolver::results_type::endpoint_type) {
    if (ec) return fail(ec, "connect");
    // Audio goes out in small messages; Nagle's algorithm would hold them
    // back waiting for acknowledgements (about 40 ms on the first reply).
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (kIsTls<Stream>) {
      if (Status s = PrepareTlsClientStream(ws_.next_layer().native_handle(), url_.host); !s.ok()) {
        return Finish(Failure(s.message()));
      }
      ws_.next_layer().async_handshake(
          net::ssl::stream_base::client,
          beast::bind_front_handler(&WebSocketSession::on_tls_handshake, this->shared_from_this()));
    } else {
      do_handshake();
    }
  }

  void on_tls_handshake(beast::error_code ec) {
    if (ec) {
      if constexpr (kIsTls<Stream>) {
        long verify = SSL_get_verify_result(ws_.next_layer().native_handle());
        if (verify != X509_V_OK) {
          return Finish(Failure(fmt::format("TLS handshake with {}: certificate verification failed: {}", url_.host,
                                              X509_verify_cert_error_string(verify))));
        }
      }
      return fail(ec, "TLS handshake");
    }
    do_handshake();
  }

  void do_handshake() {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{options_.connect_timeout, websocket::stream_base::none(), false};
    ws_.set_option(timeout);
    ws_.read_message_max(options_.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator([headers = options_.headers](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "voxpipe");
      for (const auto& [name, value] : headers) req.set(name, value);
    }));
    ws_.async_handshake(response_, url_.host_header(), url_.target,
                        beast::bind_front_handler(&WebSocketSession::on_handshake, this->shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      WebSocketCloseInfo info = Failure(fmt::format("WebSocket handshake: {}", ec.message()));
      if (response_.result_int() != 0 && response_.result_int() != 101) {
        info.http_status = static_cast<int>(response_.result_int());
        info.error = fmt::format("server refused the WebSocket upgrade with HTTP {}", info.http_status);
      }
      return Finish(std::move(info));
    }
    if (closing_) {
      do_close();
    } else {
      open_ = true;
      if (!detached_ && handlers_.on_open) Call(handlers_.on_open);
    }
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WebSocketSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec && close_sent_) {
      // We started the closing handshake; report it as the clean close it was.
      WebSocketCloseInfo info;
      info.code = ws_.reason().code != websocket::close_code::none ? static_cast<int>(ws_.reason().code)
                                                                    : static_cast<int>(close_reason_.code);
      info.reason = std::string(ws_.reason().reason.c_str());
      return Finish(std::move(info));
    }
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      WebSocketCloseInfo info;
      info.code = static_cast<int>(reason.code);
      info.reason = std::string(reason.reason.c_str());
      return Finish(std::move(info));
    }
    if (ec) return fail(ec, "read");
    if (!detached_ && handlers_.on_message) {
      auto data = buffer_.cdata();
      Call(handlers_.on_message, std::string_view(static_cast<const char*>(data.data()), data.size()), ws_.got_binary());
    }
    buffer_.consume(buffer_.size());
    if (!finished_) do_read();
  }

  void do_write() {
    ws_.binary(queue_.front().second);
    ws_.async_write(net::buffer(queue_.front().first),
                    beast::bind_front_handler(&WebSocketSession::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) {
      queue_.clear();
      return;  // the read side reports how the connection ended
    }
    queue_.pop_front();
    if (!detached_ && handlers_.on_written) Call(handlers_.on_written);
    if (!queue_.empty()) return do_write();
    if (closing_) do_close();
  }

  void do_close() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code) {});
  }

  void fail(beast::error_code ec, const char* what) {
    Finish(Failure(fmt::format("{} {}: {}", what, url_.host, kIsTls<Stream> ? TlsErrorText(ec) : ec.message())));
  }

  void Finish(WebSocketCloseInfo info) {
    if (finished_) return;
    finished_ = true;
    info.opened = open_;
    open_ = false;
    queue_.clear();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    // Nothing is called after on_close: the handlers (and whatever they hold)
    // go now.
    auto on_close = std::move(handlers_.on_close);
    if (in_handler_ == 0) handlers_ = {};
    if (detached_) return;
    detached_ = true;
    if (on_close) on_close(info);
  }

  template <typename Handler, typename... Args>
  void Call(Handler& handler, Args&&... args) {
    ++in_handler_;
    handler(std::forward<Args>(args)...);
    --in_handler_;
  }

  tcp::resolver resolver_;
  Stream ws_;
  Url url_;
  WebSocketClientOptions options_;
  WebSocketHandlers handlers_;
  TlsContextPtr tls_;
  beast::flat_buffer buffer_;
  websocket::response_type response_;
  std::deque<std::pair<std::string, bool>> queue_;
  websocket::close_reason close_reason_;
  bool open_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  bool detached_ = false;
  int in_handler_ = 0;  // handlers running (one may call Detach)
};

// Reports a configuration error through on_close, as a failed connect would.
class FailedClient : public WebSocketClient, public std::enable_shared_from_this<FailedClient> {
 public:
  FailedClient(net::any_io_executor executor, std::string error, WebSocketHandlers handlers)
      : executor_(std::move(executor)), error_(std::move(error)), handlers_(std::move(handlers)) {}
  void Connect() override {
    net::post(executor_, [self = shared_from_this()] {
      if (auto on_close = std::move(self->handlers_.on_close)) on_close(Failure(self->error_));
    });
  }
  bool Send(std::string, bool) override { return false; }
  void Close(int, std::string) override {}
  void Detach() override { handlers_ = {}; }
  void Abort() override {}
  bool is_open() const override { return false; }
  size_t queued() const override { return 0; }

 private:
  net::any_io_executor executor_;
  std::string error_;
  WebSocketHandlers handlers_;
};

}  // namespace

std::shared_ptr<WebSocketClient> WebSocketClient::Create(boost::asio::any_io_executor executor,
                                                         WebSocketClientOptions options, WebSocketHandlers handlers) {
  auto url = ParseUrl(options.url);
  if (!url.ok()) return std::make_shared<FailedClient>(executor, url.message(), std::move(handlers));
  if (url->scheme != "ws" && url->scheme != "wss") {
    return std::make_shared<FailedClient>(executor, fmt::format("'{}' is not a ws:// or wss:// URL", UrlForLog(options.url)),
                                          std::move(handlers));
  }
  if (!url->secure()) {
    return std::make_shared<WebSocketSession<PlainStream>>(executor, std::move(url).value(), std::move(options),
                                                           std::move(handlers), nullptr);
  }
  TlsContextPtr tls = options.tls;
  if (!tls) {
    auto shared = DefaultTlsClientContext();
    if (!shared.ok()) return std::make_shared<FailedClient>(executor, shared.message(), std::move(handlers));
    tls = *shared;
  }
  return std::make_shared<WebSocketSession<TlsStream>>(executor, std::move(url).value(), std::move(options),
                                                       std::move(handlers), std::move(tls));
}

}  // namespace voxpipe
