// HttpFetch: one asynchronous HTTP/1.1 request over http:// or https://.
//
//   HttpFetch(strand, {.method = "POST", .url = "https://api.example.com/x",
//                      .headers = {{"Content-Type", "application/json"}},
//                      .body = json, .timeout = 5s},
//             [](Result<HttpResponse> r) { ... });
//
// The whole exchange (resolve, connect, TLS, request, response) must finish
// within `timeout`; a response body larger than `max_body` is an error. The
// callback runs once, on `executor`. HTTPS verifies the server's certificate
// and name against the system CA store (see tls_context.h). Header values are
// never logged.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "framework/client/tls_context.h"
#include "framework/status.h"

namespace voxpipe {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  size_t max_body = 1024 * 1024;
  TlsContextPtr tls;  // null: DefaultTlsClientContext()
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

using HttpCallback = std::function<void(Result<HttpResponse>)>;

void HttpFetch(boost::asio::any_io_executor executor, HttpRequest request, HttpCallback done);

}  // namespace voxpipe
