// Plain HTTP request and response values for server handlers, free of Beast
// so that handlers (and their headers) compile quickly.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voxpipe::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received: path and query
  std::string path;    // the target up to '?'
  std::string query;   // after '?', without it; may be empty
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string remote;  // peer address

  // The header's value, or "" when absent; `name` in lower case.
  const std::string& Header(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
  static HttpResponse Xml(int status, std::string body);
};

// application/x-www-form-urlencoded (a POST body or a query string) as
// decoded name/value pairs in their order. Malformed escapes are kept as
// literal text: the result is only data, never trusted structure.
std::vector<std::pair<std::string, std::string>> ParseForm(std::string_view text);
std::string UrlDecode(std::string_view text);
std::string UrlEncode(std::string_view text);

}  // namespace voxpipe::server
