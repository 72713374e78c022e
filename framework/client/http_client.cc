#include "framework/client/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "framework/client/client_stream.h"
#include "framework/client/url.h"

namespace voxpipe {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <typename Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

template <typename Stream>
class HttpExchange : public std::enable_shared_from_this<HttpExchange<Stream>> {
 public:
  HttpExchange(net::any_io_executor executor, Url url, HttpRequest request, HttpCallback done, TlsContextPtr tls)
      : executor_(executor),
        resolver_(executor),
        stream_(client_detail::MakeClientStream<Stream, kIsTls<Stream>>(executor, tls.get())),
        url_(std::move(url)),
        request_(std::move(request)),
        done_(std::move(done)),
        tls_(std::move(tls)) {}

  void Run() {
    // One deadline for the whole exchange.
    beast::get_lowest_layer(stream_).expires_after(request_.timeout);
    timer_deadline_ = std::chrono::steady_clock::now() + request_.timeout;
    resolver_.async_resolve(url_.host, url_.port,
                            beast::bind_front_handler(&HttpExchange::on_resolve, this->shared_from_this()));
  }

 private:
  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail(ec, "resolve");
    if (std::chrono::steady_clock::now() >= timer_deadline_) return Finish(Status::Error("timed out resolving"));
    beast::get_lowest_layer(stream_).async_connect(
        results, beast::bind_front_handler(&HttpExchange::on_connect, this->shared_from_this()));
  }

  void on_connect(beast::error_code ec, tcp::resolver::results_type::endpoint_type) {
    if (ec) return fail(ec, "connect");
    if constexpr (kIsTls<Stream>) {
      if (Status s = PrepareTlsClientStream(stream_.native_handle(), url_.host); !s.ok()) return Finish(s);
      stream_.async_handshake(net::ssl::stream_base::client,
                              beast::bind_front_handler(&HttpExchange::on_tls_handshake, this->shared_from_this()));
    } else {
      do_write();
    }
  }

  void on_tls_handshake(beast::error_code ec) {
    if (ec) return fail(ec, "TLS handshake");
    do_write();
  }

  void do_write() {
    auto verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) return Finish(Status::Error(fmt::format("unknown HTTP method '{}'", request_.method)));
    req_.method(verb);
    req_.target(url_.target);
    req_.version(11);
    req_.set(http::field::host, url_.host_header());
    req_.set(http::field::user_agent, "voxpipe");
    for (const auto& [name, value] : request_.headers) req_.set(name, value);
    if (!request_.body.empty() || verb == http::verb::post || verb == http::verb::put) {
      req_.body() = std::move(request_.body);
      req_.prepare_payload();
    }
    http::async_write(stream_, req_, beast::bind_front_handler(&HttpExchange::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) return fail(ec, "write");
    parser_.body_limit(request_.max_body);
    parser_.header_limit(64 * 1024);
    http::async_read(stream_, buffer_, parser_, beast::bind_front_handler(&HttpExchange::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      return Finish(Status::Error(fmt::format("response from {} is larger than {} bytes", url_.host, request_.max_body)));
    }
    if (ec) return fail(ec, "read");
    auto& res = parser_.get();
    HttpResponse response;
    response.status = static_cast<int>(res.result_int());
    for (const auto& field : res) response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    response.body = std::move(res.body());
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    Finish(std::move(response));
  }

  void fail(beast::error_code ec, const char* what) {
    if (ec == beast::error::timeout) {
      return Finish(Status::Error(fmt::format("{} {} timed out after {} ms", request_.method, url_.host, request_.timeout.count())));
    }
    Finish(Status::Error(fmt::format("{} {}: {}: {}", request_.method, url_.host, what,
                                     kIsTls<Stream> ? TlsErrorText(ec) : ec.message())));
  }

  void Finish(Result<HttpResponse> result) {
    if (!done_) return;
    beast::get_lowest_layer(stream_).expires_never();
    net::post(executor_, [done = std::move(done_), result = std::move(result)]() mutable { done(std::move(result)); });
    done_ = nullptr;
  }

  net::any_io_executor executor_;
  tcp::resolver resolver_;
  Stream stream_;
  Url url_;
  HttpRequest request_;
  HttpCallback done_;
  TlsContextPtr tls_;
  std::chrono::steady_clock::time_point timer_deadline_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

void HttpFetch(boost::asio::any_io_executor executor, HttpRequest request, HttpCallback done) {
  auto fail = [&](std::string message) {
    net::post(executor, [done = std::move(done), message = std::move(message)] { done(Status::Error(message)); });
  };
  auto url = ParseUrl(request.url);
  if (!url.ok()) return fail(url.message());
  if (url->scheme != "http" && url->scheme != "https") {
    return fail(fmt::format("'{}' is not an http:// or https:// URL", UrlForLog(request.url)));
  }
  if (!url->secure()) {
    auto exchange = std::make_shared<HttpExchange<PlainStream>>(executor, std::move(url).value(), std::move(request),
                                                                std::move(done), nullptr);
    return exchange->Run();
  }
  TlsContextPtr tls = request.tls;
  if (!tls) {
    auto shared = DefaultTlsClientContext();
    if (!shared.ok()) return fail(shared.message());
    tls = *shared;
  }
  auto exchange = std::make_shared<HttpExchange<TlsStream>>(executor, std::move(url).value(), std::move(request),
                                                            std::move(done), std::move(tls));
  exchange->Run();
}

}  // namespace voxpipe
