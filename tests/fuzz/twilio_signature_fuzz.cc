// X-Twilio-Signature validation over a URL and a form body, as a webhook or
// the stream upgrade checks it. Input: token \n signature \n url \n body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "framework/server/http_message.h"
#include "processors/twilio/server/signature.h"

namespace {

std::string_view Line(std::string_view& text) {
  size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tw = voxpipe::twilio;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string_view token = Line(text);
  std::string_view signature = Line(text);
  std::string_view url = Line(text);
  std::string_view body = text;
  auto form = voxpipe::server::ParseForm(body);
  tw::FormParams params(form.begin(), form.end());
  (void)tw::UrlVariants(url);
  bool valid = tw::ValidateSignature(token, signature, url, params);
  // The signature it computes itself must always validate.
  std::string own = tw::ComputeSignature(token, url, params);
  if (!tw::ValidateSignature(token, own, url, params)) abort();
  if (valid && signature.empty()) abort();
  return 0;
}
