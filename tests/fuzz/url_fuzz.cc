// ParseUrl: the URLs in pipeline files and in Twilio's forwarded headers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "framework/client/url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto url = voxpipe::ParseUrl(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!url.ok()) return 0;
  if (url->host.empty() || url->port.empty() || url->target.empty() || url->target[0] != '/') abort();
  if (url->scheme != "ws" && url->scheme != "wss" && url->scheme != "http" && url->scheme != "https") abort();
  (void)url->host_header();
  return 0;
}
