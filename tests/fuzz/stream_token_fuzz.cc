// Stream tokens, as the stream upgrade reads them from the URL path. No
// forged token may verify, and a real one verifies only for its call.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "processors/twilio/server/stream_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using voxpipe::twilio::StreamTokens;
  static StreamTokens tokens("fuzz-secret", std::chrono::seconds(60));
  static const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tokens.Verify(text, now);
  if (tokens.Matches(text, "CAfuzz")) abort();  // forged: the fuzzer cannot know the MAC
  // A real token for a call id taken from the input.
  std::string call_sid(text.substr(0, 40));
  std::string issued = tokens.Issue(call_sid, now);
  if (tokens.Verify(issued, now) != StreamTokens::Check::kOk) abort();
  if (!tokens.Matches(issued, call_sid)) abort();
  if (tokens.Matches(issued, call_sid + "x")) abort();
  if (tokens.Verify(issued, now + std::chrono::seconds(61)) != StreamTokens::Check::kExpired) abort();
  return 0;
}
