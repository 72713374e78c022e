// Differential: what ParseTwilioMessage (simdjson, the hot path) accepts must
// read the same under a plain nlohmann::json parse of the whole message —
// the same event, the payload only from inside "media", the same track.
// Issue 12 found 30 inputs where an older scanner and a JSON parse disagreed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "processors/twilio/twilio_serializer.h"

namespace {

[[noreturn]] void Disagree(const char* what, std::string_view text) {
  fprintf(stderr, "parsers disagree: %s on %.*s\n", what, static_cast<int>(std::min<size_t>(text.size(), 400)),
          text.data());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using voxpipe::twilio::TwilioMessage;
  using json = nlohmann::json;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  TwilioMessage message;
  voxpipe::twilio::ParseTwilioMessage(text, message);
  json reference = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (message.kind == TwilioMessage::Kind::kInvalid) {
    return 0;  // refused: nothing of it is used
  }
  if (reference.is_discarded() || !reference.is_object()) Disagree("accepted text that is not a JSON object", text);
  const json* event = reference.contains("event") ? &reference["event"] : nullptr;
  if (!event || !event->is_string()) Disagree("accepted a message without a string event", text);
  const std::string& name = event->get_ref<const std::string&>();
  switch (message.kind) {
    case TwilioMessage::Kind::kMedia: {
      if (name != "media") Disagree("media for another event", text);
      const json& media = reference["media"];
      if (!media.is_object() || !media.contains("payload") || !media["payload"].is_string()) {
        Disagree("media without media.payload", text);
      }
      if (media["payload"].get_ref<const std::string&>() != message.payload) Disagree("another payload", text);
      bool inbound = !media.contains("track") || media["track"] == "inbound";
      if (media.contains("track") && !media["track"].is_string()) Disagree("a track that is not a string", text);
      if (inbound != message.inbound) Disagree("another track", text);
      break;
    }
    case TwilioMessage::Kind::kStart: {
      if (name != "start") Disagree("start for another event", text);
      const json& start = reference["start"];
      if (!start.is_object() || !start.contains("callSid") || start["callSid"] != message.start.call_sid) {
        Disagree("another callSid", text);
      }
      break;
    }
    case TwilioMessage::Kind::kMark:
      if (name != "mark" || !reference["mark"].is_object() || reference["mark"]["name"] != message.mark) {
        Disagree("another mark", text);
      }
      break;
    case TwilioMessage::Kind::kDtmf:
      if (name != "dtmf" || reference["dtmf"]["digit"] != std::string(1, message.digit)) Disagree("another digit", text);
      break;
    case TwilioMessage::Kind::kConnected:
      if (name != "connected") Disagree("connected for another event", text);
      break;
    case TwilioMessage::Kind::kStop:
      if (name != "stop") Disagree("stop for another event", text);
      break;
    case TwilioMessage::Kind::kInvalid:
      break;
  }
  return 0;
}
