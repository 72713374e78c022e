#include "framework/client/url.h"

#include <fmt/format.h>

namespace voxpipe {

std::string Url::host_header() const {
  bool default_port = (port == "443" && secure()) || (port == "80" && !secure());
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? host_part : host_part + ":" + port;
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return Status::Error(fmt::format("'{}' is not an absolute URL", UrlForLog(text)));
  url.scheme = std::string(text.substr(0, scheme_end));
  for (auto& c : url.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string default_port;
  if (url.scheme == "ws" || url.scheme == "http") default_port = "80";
  else if (url.scheme == "wss" || url.scheme == "https") default_port = "443";
  else return Status::Error(fmt::format("unsupported URL scheme '{}' (use ws, wss, http or https)", url.scheme));

  std::string_view rest = text.substr(scheme_end + 3);
  auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  url.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (url.target.front() == '?') url.target.insert(url.target.begin(), '/');
  if (authority.find('@') != std::string_view::npos) return Status::Error("credentials in URLs are not supported");

  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return Status::Error("unterminated IPv6 address in URL");
    url.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() != ':') return Status::Error("bad text after IPv6 address in URL");
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    authority.remove_prefix(colon == std::string_view::npos ? authority.size() : colon);
  }
  if (url.host.empty()) return Status::Error(fmt::format("URL '{}' has no host", UrlForLog(text)));
  if (!authority.empty()) {
    url.port = std::string(authority.substr(1));
    if (url.port.empty() || url.port.find_first_not_of("0123456789") != std::string::npos || url.port.size() > 5) {
      return Status::Error(fmt::format("URL '{}' has a bad port", UrlForLog(text)));
    }
  } else {
    url.port = default_port;
  }
  return url;
}

std::string UrlForLog(std::string_view text) {
  auto query = text.find('?');
  return query == std::string_view::npos ? std::string(text) : std::string(text.substr(0, query)) + "?…";
}

}  // namespace voxpipe
