// HTTP requests, read as HttpServer reads them: Beast's request parser with
// the server's default header and body limits, fed in two pieces (a request
// arrives in several reads), then the form body a webhook parses.
#include <cstdint>
#include <string_view>

#include <boost/beast/http.hpp>

#include "framework/server/http_message.h"
#include "framework/server/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  if (size < 1) return 0;
  size_t split = data[0] % (size);  // where the first read ends
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  split = std::min(split, text.size());
  voxpipe::server::HttpServerOptions defaults;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(defaults.header_limit));
  parser.body_limit(defaults.body_limit);
  parser.eager(true);
  boost::beast::error_code ec;
  for (std::string_view piece : {text.substr(0, split), text.substr(split)}) {
    while (!piece.empty() && !ec && !parser.is_done()) {
      size_t used = parser.put(boost::asio::buffer(piece.data(), piece.size()), ec);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      piece.remove_prefix(used);
      if (used == 0) break;
    }
    if (ec) return 0;
  }
  if (!parser.is_done()) return 0;
  const auto& request = parser.get();
  auto form = voxpipe::server::ParseForm(request.body());
  for (const auto& [name, value] : form) (void)voxpipe::server::UrlEncode(name + value);
  (void)voxpipe::server::UrlDecode(std::string_view(request.target().data(), request.target().size()));
  return 0;
}
