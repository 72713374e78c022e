// Twilio Media Streams messages, as TwilioStream parses each text frame.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "processors/common/base64.h"
#include "processors/twilio/twilio_serializer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using voxpipe::twilio::TwilioMessage;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static TwilioMessage message;  // reused, as a stream reuses it
  voxpipe::twilio::ParseTwilioMessage(text, message);
  switch (message.kind) {
    case TwilioMessage::Kind::kMedia: {
      std::vector<uint8_t> bytes;
      voxpipe::base64::DecodeTo(message.payload, bytes);  // what the stream does next
      break;
    }
    case TwilioMessage::Kind::kStart:
      if (message.start.call_sid.empty() || message.start.stream_sid.empty()) abort();
      break;
    case TwilioMessage::Kind::kInvalid:
      if (message.error_kind.empty()) abort();  // every refusal is counted under a kind
      break;
    default:
      break;
  }
  return 0;
}
