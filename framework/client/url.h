// Url: the parts of a ws://, wss://, http:// or https:// address that a
// client needs to connect.
#pragma once

#include <string>
#include <string_view>

#include "framework/status.h"

namespace voxpipe {

struct Url {
  std::string scheme;  // "ws", "wss", "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // explicit, or the scheme's default
  std::string target;  // path and query, at least "/"

  bool secure() const { return scheme == "wss" || scheme == "https"; }
  // "host" or "host:port" when the port is not the scheme's default, as the
  // Host header wants it.
  std::string host_header() const;
};

// Parses an absolute URL; errors say what is wrong without echoing the query
// (it may carry a key).
Result<Url> ParseUrl(std::string_view text);

// The URL with its query removed, for logs.
std::string UrlForLog(std::string_view text);

}  // namespace voxpipe
