#include "framework/client/websocket_client.h"

#include <optional>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "framework/client/url.h"
#include "framework/runtime.h"
#include "framework/server/websocket_frame.h"

namespace voxpipe {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using server::WebSocketOpcode;
using server::WebSocketReader;

// The upgrade response's headers; Google's are well under 2 KiB.
constexpr size_t kMaxResponseHeader = 16 * 1024;
// The frame reader starts with room for a model message or two and reads
// into whatever is free, at least kMinRead; a bigger frame grows it.
constexpr size_t kReaderBuffer = 4096;
constexpr size_t kMinRead = 1024;
// A buffer that grew past this (the setup message, a burst) is given back
// once empty, and is not kept for TakeBuffer(): calls are many, and each
// keeps only what a steady stream of audio messages needs.
constexpr size_t kMaxIdleBuffer = 4096;

WebSocketCloseInfo Failure(std::string error) {
  WebSocketCloseInfo info;
  info.error = std::move(error);
  return info;
}

// Masking keys (RFC 6455 §5.3) keep intermediaries from reading a client's
// frames as something else; a generator seeded from the system's entropy
// per thread does that without a system call per frame.
uint32_t NextMask() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<uint32_t>(generator());
}

std::string NewHandshakeKey() {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    for (auto& byte : nonce) byte = static_cast<unsigned char>(NextMask());
  }
  unsigned char encoded[25];
  int n = EVP_EncodeBlock(encoded, nonce, sizeof nonce);
  return std::string(reinterpret_cast<const char*>(encoded), n);
}

bool HasLineBreak(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }

// What differs between ws:// and wss://: the stream the bytes go through.
template <typename Executor>
struct PlainTransport {
  using Socket = net::basic_stream_socket<tcp, Executor>;
  static constexpr bool kTls = false;
  PlainTransport(const Executor& executor, net::ssl::context*) : stream(executor) {}
  Socket& socket() { return stream; }
  Socket stream;
};

template <typename Executor>
struct TlsTransport {
  using Socket = net::basic_stream_socket<tcp, Executor>;
  static constexpr bool kTls = true;
  TlsTransport(const Executor& executor, net::ssl::context* tls) : stream(Socket(executor), *tls) {}
  Socket& socket() { return stream.next_layer(); }
  net::ssl::stream<Socket> stream;
};

// One connection. Frames use websocket_frame.h, as the server's do. Each
// message is framed and masked into a write buffer as it is sent; over
// plain TCP the buffer goes straight to the socket (one non-blocking send,
// no asynchronous operation unless the socket is full), and messages sent
// while a write is in flight go out together after it. Reading waits for
// the socket, then takes all it holds.
template <typename Transport, typename Executor>
class WebSocketSession : public WebSocketClient,
                         public ReadyQueue::Watcher,
                         public std::enable_shared_from_this<WebSocketSession<Transport, Executor>> {
 public:
  WebSocketSession(const Executor& executor, Url url, WebSocketClientOptions options, WebSocketHandlers handlers,
                   TlsContextPtr tls)
      : executor_(executor), resolver_(executor), transport_(executor, tls.get()), timer_(executor), url_(std::move(url)),
        options_(std::move(options)), handlers_(std::move(handlers)), tls_(std::move(tls)),
        reader_(options_.max_message_bytes, kReaderBuffer, WebSocketReader::From::kServer) {}
  ~WebSocketSession() { Unwatch(); }

  void Connect() override {
    ArmTimer(options_.connect_timeout);
    resolver_.async_resolve(url_.host, url_.port, [self = this->shared_from_this()](const error_code& ec, auto results) {
      self->on_resolve(ec, std::move(results));
    });
  }

  bool Send(std::string message, bool binary) override {
    if (!is_open() || queued() >= options_.max_queued_messages) return false;
    Queue(binary ? WebSocketOpcode::kBinary : WebSocketOpcode::kText, message);
    if (message.capacity() > spare_.capacity() && message.capacity() <= kMaxIdleBuffer) spare_ = std::move(message);
    return true;
  }

  std::string TakeBuffer() override {
    std::string buffer = std::move(spare_);
    buffer.clear();
    return buffer;
  }

  void Close(int code, std::string reason) override {
    if (finished_ || closing_) return;
    closing_ = true;
    close_code_ = code;
    if (!open_) {
      // Still connecting: stop the attempt; the pending operation reports it.
      Cancel();
      return;
    }
    close_queued_ = true;
    Queue(WebSocketOpcode::kClose, server::ClosePayload(code, reason));
  }

  void Detach() override {
    detached_ = true;
    // The handlers often hold their owner, which holds this client: let go
    // of them now, or the two keep each other alive. One of them may be the
    // caller, though; then they go once it has returned.
    if (in_handler_ > 0) {
      net::post(executor_, [self = this->shared_from_this()] { self->handlers_ = {}; });
    } else {
      handlers_ = {};
    }
    Close(1000, {});
  }

  void Abort() override {
    const bool watched = ready_.joined();
    Cancel();
    // A socket waiting in the ReadyQueue has no operation pending to report
    // the end, as Asio's would: report it the same way, from the loop.
    if (watched) {
      net::post(executor_, [self = this->shared_from_this()] {
        self->Finish(Failure(fmt::format("read {}: connection aborted", self->url_.host)));
      });
    }
  }

  bool is_open() const override { return open_ && !closing_; }
  size_t queued() const override { return pending_messages_ + writing_messages_; }

 private:
  using Socket = typename Transport::Socket;
  using Resolver = net::ip::basic_resolver<tcp, Executor>;
  using Timer = net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, Executor>;

  // ---- opening: TCP, TLS, the HTTP upgrade

  void on_resolve(const error_code& ec, typename Resolver::results_type results) {
    if (finished_) return;
    if (ec) return fail(ec, "resolve");
    net::async_connect(transport_.socket(), results,
                       [self = this->shared_from_this()](const error_code& ec, const tcp::endpoint&) {
                         self->on_connect(ec);
                       });
  }

  void on_connect(const error_code& ec) {
    if (finished_) return;
    if (ec) return fail(ec, "connect");
    // Audio goes out in small messages; Nagle's algorithm would hold them
    // back waiting for acknowledgements (about 40 ms on the first reply).
    error_code ignored;
    transport_.socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (Transport::kTls) {
      if (Status s = PrepareTlsClientStream(transport_.stream.native_handle(), url_.host); !s.ok()) {
        return Finish(Failure(s.message()));
      }
      transport_.stream.async_handshake(net::ssl::stream_base::client,
                                        [self = this->shared_from_this()](const error_code& ec) {
                                          self->on_tls_handshake(ec);
                                        });
    } else {
      do_upgrade();
    }
  }

  void on_tls_handshake(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      if constexpr (Transport::kTls) {
        long verify = SSL_get_verify_result(transport_.stream.native_handle());
        if (verify != X509_V_OK) {
          return Finish(Failure(fmt::format("TLS handshake with {}: certificate verification failed: {}", url_.host,
                                            X509_verify_cert_error_string(verify))));
        }
      }
      return fail(ec, "TLS handshake");
    }
    do_upgrade();
  }

  void do_upgrade() {
    key_ = NewHandshakeKey();
    writing_ = fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\n"
        "Sec-WebSocket-Version: 13\r\nUser-Agent: voxpipe\r\n",
        url_.target, url_.host_header(), key_);
    for (const auto& [name, value] : options_.headers) writing_ += fmt::format("{}: {}\r\n", name, value);
    writing_ += "\r\n";
    net::async_write(transport_.stream, net::buffer(writing_),
                     [self = this->shared_from_this()](const error_code& ec, size_t) { self->on_upgrade_sent(ec); });
  }

  void on_upgrade_sent(const error_code& ec) {
    // The request held the API key: it leaves memory with the buffer.
    std::fill(writing_.begin(), writing_.end(), '\0');
    writing_.clear();
    if (finished_) return;
    if (ec) return fail(ec, "WebSocket handshake: write");
    do_read_response();
  }

  void do_read_response() {
    const size_t have = response_.size();
    response_.resize(have + kMinRead);
    transport_.stream.async_read_some(net::buffer(response_.data() + have, kMinRead),
                                      [self = this->shared_from_this(), have](const error_code& ec, size_t n) {
                                        self->response_.resize(have + n);
                                        self->on_response(ec);
                                      });
  }

  void on_response(const error_code& ec) {
    if (finished_) return;
    if (ec) return fail(ec, "WebSocket handshake: read");
    size_t end = response_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (response_.size() >= kMaxResponseHeader) {
        return Finish(Failure("WebSocket handshake: the server's response headers are too long"));
      }
      return do_read_response();
    }
    end += 4;
    WebSocketCloseInfo problem = CheckUpgradeResponse(std::string_view(response_).substr(0, end));
    if (problem.http_status || !problem.error.empty()) return Finish(std::move(problem));
    reader_.Append(std::string_view(response_).substr(end));  // frames that came with the response
    std::string().swap(response_);
    error_code ignored;
    transport_.socket().non_blocking(true, ignored);  // reads and direct writes never block the loop
    Watch();
    timer_.cancel();
    open_ = true;
    if (!detached_ && handlers_.on_open) Call(handlers_.on_open);
    if (!finished_ && HandleEvents()) do_read();
  }

  // A failure (http_status or error set) unless `headers` accept the upgrade.
  WebSocketCloseInfo CheckUpgradeResponse(std::string_view headers) {
    http::response_parser<http::empty_body> parser;
    parser.header_limit(kMaxResponseHeader);
    error_code ec;
    parser.put(net::buffer(headers.data(), headers.size()), ec);
    if (ec || !parser.is_header_done()) {
      return Failure(fmt::format("WebSocket handshake: unreadable response from {}: {}", url_.host,
                                 ec ? ec.message() : "incomplete"));
    }
    const auto& response = parser.get();
    WebSocketCloseInfo info;
    if (response.result_int() != 101) {
      info.http_status = static_cast<int>(response.result_int());
      info.error = fmt::format("server refused the WebSocket upgrade with HTTP {}", info.http_status);
      return info;
    }
    if (!boost::beast::iequals(response[http::field::upgrade], "websocket") ||
        !http::token_list(response[http::field::connection]).exists("upgrade")) {
      info.error = "WebSocket handshake: the server did not upgrade the connection to WebSocket";
    } else if (response[http::field::sec_websocket_accept] != server::WebSocketAcceptKey(key_)) {
      info.error = "WebSocket handshake: wrong Sec-WebSocket-Accept from the server";
    } else if (!response[http::field::sec_websocket_extensions].empty()) {
      info.error = "WebSocket handshake: the server chose an extension that was not offered";
    }
    return info;
  }

  // ---- reading

  // A plain socket on a call's loop waits in the loop's ReadyQueue: no
  // system call to wait for each message (framework/ready_queue.h).
  void Watch() {
    if constexpr (!Transport::kTls && std::is_same_v<Executor, net::io_context::executor_type>) {
      ready_.Join(transport_.socket().get_executor().context(), transport_.socket().native_handle(),
                  this->weak_from_this());
    }
  }

  // Before the socket closes: its descriptor's number may be reused at once.
  void Unwatch() {
    ready_.Leave(transport_.socket().native_handle());
  }

  void OnReadable() override {
    if (ready_.TakeWakeUp()) on_readable({});
  }

  void do_read() {
    if constexpr (Transport::kTls) {
      // TLS may hold decrypted bytes the socket no longer shows: read through it.
      size_t available = 0;
      uint8_t* space = reader_.Prepare(kMinRead, available);
      transport_.stream.async_read_some(net::buffer(space, available),
                                        [self = this->shared_from_this()](const error_code& ec, size_t n) {
                                          self->on_tls_read(ec, n);
                                        });
    } else if (ready_.joined()) {
      ready_.Await();
    } else {
      transport_.stream.async_wait(Socket::wait_read,
                                   [self = this->shared_from_this()](const error_code& ec) { self->on_readable(ec); });
    }
  }

  void on_tls_read(const error_code& ec, size_t n) {
    if (finished_) return;
    if (ec) return on_read_error(ec);
    reader_.Commit(n);
    if (HandleEvents()) do_read();
  }

  void on_readable(const error_code& ec) {
    if (finished_) return;
    if (ec) return on_read_error(ec);
    for (;;) {
      const auto parts = reader_.PrepareScatter(kMinRead);
      const std::array<net::mutable_buffer, 2> buffers{net::buffer(parts[0].data, parts[0].size),
                                                       net::buffer(parts[1].data, parts[1].size)};
      error_code read_ec;
      size_t n = transport_.stream.read_some(buffers, read_ec);
      if (read_ec == net::error::would_block || read_ec == net::error::try_again) break;
      if (read_ec) return on_read_error(read_ec);
      reader_.CommitScatter(n);
      if (!HandleEvents()) return;
      if (n < net::buffer_size(buffers)) {  // emptied the socket; what arrives next wakes the wait
        reader_.GiveBackGrowth();
        break;
      }
    }
    do_read();
  }

  void on_read_error(const error_code& ec) {
    if (close_sent_) {
      // We started the closing handshake; the server ending the connection completes it.
      WebSocketCloseInfo info;
      info.code = close_code_;
      return Finish(std::move(info));
    }
    fail(ec, "read");
  }

  // Dispatches what has been read; false when reading stops.
  bool HandleEvents() {
    while (!finished_) {
      WebSocketReader::Event event = reader_.Next();
      switch (event.kind) {
        case WebSocketReader::Event::kNone:
          return true;
        case WebSocketReader::Event::kText:
        case WebSocketReader::Event::kBinary:
          if (!detached_ && !close_queued_ && handlers_.on_message) {
            Call(handlers_.on_message, event.data, event.kind == WebSocketReader::Event::kBinary);
          }
          break;
        case WebSocketReader::Event::kPing:
          if (!close_queued_) Queue(WebSocketOpcode::kPong, event.data);
          break;
        case WebSocketReader::Event::kPong:
          break;
        case WebSocketReader::Event::kClose: {
          WebSocketCloseInfo info;
          info.code = event.code;
          info.reason = std::string(event.data);
          if (!close_queued_) {
            // Answer it; the connection ends once the answer is written.
            peer_close_ = std::move(info);
            close_queued_ = true;
            Queue(WebSocketOpcode::kClose, server::ClosePayload(event.code == 1005 ? 1000 : event.code, {}));
            if (!finished_) ArmTimer(options_.connect_timeout);  // for the answer to be written
          } else {
            Finish(std::move(info));
          }
          return false;
        }
        case WebSocketReader::Event::kError:
          spdlog::debug("websocket {}: protocol error from the server: {}", url_.host, event.data);
          Finish(Failure(fmt::format("read {}: protocol error from the server: {}", url_.host, event.data)));
          return false;
      }
    }
    return false;
  }

  // ---- writing

  void Queue(WebSocketOpcode opcode, std::string_view payload) {
    server::AppendMaskedFrame(opcode, payload, NextMask(), pending_);
    ++pending_messages_;
    if (!writing_in_flight_) Flush();
  }

  // Writes what is pending: directly when the socket takes it all, else
  // through an asynchronous write of the rest.
  void Flush() {
    if (finished_ || pending_.empty()) return;
    size_t written = 0;
    if constexpr (!Transport::kTls) {
      error_code ec;
      written = transport_.stream.write_some(net::buffer(pending_), ec);
      if (ec && ec != net::error::would_block && ec != net::error::try_again) {
        // The read side reports how the connection ended.
        return DropWrites();
      }
      if (written == pending_.size()) return OnWritten(std::exchange(pending_messages_, 0), /*direct=*/true);
    }
    std::swap(pending_, writing_);
    pending_.clear();
    writing_messages_ = std::exchange(pending_messages_, 0);
    writing_in_flight_ = true;
    net::async_write(transport_.stream, net::buffer(writing_.data() + written, writing_.size() - written),
                     [self = this->shared_from_this()](const error_code& ec, size_t) { self->on_write(ec); });
  }

  void on_write(const error_code& ec) {
    writing_in_flight_ = false;
    if (finished_) return;
    if (ec) return DropWrites();
    writing_.clear();
    if (writing_.capacity() > kMaxIdleBuffer) std::string().swap(writing_);
    OnWritten(std::exchange(writing_messages_, 0), /*direct=*/false);
    if (!finished_) Flush();
  }

  void OnWritten(size_t messages, bool direct) {
    if (direct) {
      pending_.clear();
      if (pending_.capacity() > kMaxIdleBuffer) std::string().swap(pending_);
    }
    if (close_queued_ && !close_sent_ && queued() == 0) {
      OnCloseSent();
      if (finished_) return;
    }
    if (detached_ || !handlers_.on_written) return;
    if (!direct) {
      for (size_t i = 0; i < messages; ++i) Call(handlers_.on_written);
      return;
    }
    // Not from inside Send(): the handler may well send again.
    unreported_writes_ += messages;
    if (unreported_writes_ != messages) return;  // a report is on its way
    net::post(executor_, [self = this->shared_from_this()] {
      size_t n = std::exchange(self->unreported_writes_, 0);
      for (size_t i = 0; i < n && !self->detached_ && self->handlers_.on_written; ++i) self->Call(self->handlers_.on_written);
    });
  }

  void OnCloseSent() {
    close_sent_ = true;
    if (peer_close_) return Finish(std::move(*peer_close_));  // our close answered theirs
    ArmTimer(options_.connect_timeout);  // for the server's close frame
  }

  void DropWrites() {
    pending_.clear();
    writing_.clear();
    pending_messages_ = writing_messages_ = 0;
  }

  // ---- deadlines: the opening handshake, then the closing one

  void ArmTimer(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
      if (!ec) self->on_timer();
    });
  }

  void on_timer() {
    if (finished_) return;
    if (close_sent_) {
      WebSocketCloseInfo info;
      info.code = close_code_;
      return Finish(std::move(info));  // the server never answered our close; it is closed all the same
    }
    if (!open_) {
      Finish(Failure(fmt::format("connect {}: no WebSocket connection within {} ms", url_.host,
                                 options_.connect_timeout.count())));
    }
  }

  // ---- the end

  void Cancel() {
    Unwatch();
    resolver_.cancel();
    error_code ignored;
    transport_.socket().close(ignored);
  }

  void fail(const error_code& ec, const char* what) {
    if (ec == net::error::operation_aborted && closing_) {
      return Finish(Failure(fmt::format("{} {}: closed before the connection was open", what, url_.host)));
    }
    Finish(Failure(fmt::format("{} {}: {}", what, url_.host, Transport::kTls ? TlsErrorText(ec) : ec.message())));
  }

  void Finish(WebSocketCloseInfo info) {
    if (finished_) return;
    finished_ = true;
    info.opened = open_;
    open_ = false;
    timer_.cancel();
    Cancel();
    DropWrites();
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

  Executor executor_;
  Resolver resolver_;
  Transport transport_;
  Timer timer_;
  Url url_;
  WebSocketClientOptions options_;
  WebSocketHandlers handlers_;
  TlsContextPtr tls_;
  WebSocketReader reader_;
  ReadyQueue::Membership ready_;  // when the socket waits in its loop's queue
  std::string key_;             // Sec-WebSocket-Key
  std::string response_;        // the upgrade response as it arrives
  std::string pending_;         // framed messages waiting for the socket
  std::string writing_;         // what an asynchronous write is sending
  std::string spare_;           // a sent message's buffer, for TakeBuffer()
  size_t pending_messages_ = 0;
  size_t writing_messages_ = 0;
  size_t unreported_writes_ = 0;  // direct writes on_written has not heard of
  std::optional<WebSocketCloseInfo> peer_close_;  // the server closed first
  int close_code_ = 1000;
  bool writing_in_flight_ = false;
  bool open_ = false;
  bool closing_ = false;
  bool close_queued_ = false;
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
  std::string TakeBuffer() override { return {}; }
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

// A session on `executor`, typed by the loop's own executor when it is one
// (no polymorphic executor on every operation), else by any_io_executor.
template <template <typename> class Transport>
std::shared_ptr<WebSocketClient> MakeSession(const net::any_io_executor& executor, Url url,
                                             WebSocketClientOptions options, WebSocketHandlers handlers,
                                             TlsContextPtr tls) {
  using LoopExecutor = net::io_context::executor_type;
  if (const auto* loop = executor.target<LoopExecutor>()) {
    return std::make_shared<WebSocketSession<Transport<LoopExecutor>, LoopExecutor>>(
        *loop, std::move(url), std::move(options), std::move(handlers), std::move(tls));
  }
  return std::make_shared<WebSocketSession<Transport<net::any_io_executor>, net::any_io_executor>>(
      executor, std::move(url), std::move(options), std::move(handlers), std::move(tls));
}

}  // namespace

std::shared_ptr<WebSocketClient> WebSocketClient::Create(boost::asio::any_io_executor executor,
                                                         WebSocketClientOptions options, WebSocketHandlers handlers) {
  auto failed = [&](std::string error) {
    return std::make_shared<FailedClient>(executor, std::move(error), std::move(handlers));
  };
  auto url = ParseUrl(options.url);
  if (!url.ok()) return failed(url.message());
  if (url->scheme != "ws" && url->scheme != "wss") {
    return failed(fmt::format("'{}' is not a ws:// or wss:// URL", UrlForLog(options.url)));
  }
  for (const auto& [name, value] : options.headers) {
    // A line break would end the header and start another. Values may be
    // secrets: errors never show them.
    if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos) {
      return failed("a WebSocket request header has an invalid name");
    }
    if (HasLineBreak(value)) return failed(fmt::format("the value of header '{}' contains a line break", name));
  }
  if (!url->secure()) {
    return MakeSession<PlainTransport>(executor, std::move(url).value(), std::move(options), std::move(handlers),
                                       nullptr);
  }
  TlsContextPtr tls = options.tls;
  if (!tls) {
    auto shared = DefaultTlsClientContext();
    if (!shared.ok()) return failed(shared.message());
    tls = *shared;
  }
  return MakeSession<TlsTransport>(executor, std::move(url).value(), std::move(options), std::move(handlers),
                                   std::move(tls));
}

}  // namespace voxpipe
