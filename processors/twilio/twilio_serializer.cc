#include "processors/twilio/twilio_serializer.h"

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "processors/common/base64.h"

namespace voxpipe::twilio {
namespace {

using Element = simdjson::dom::element;
using Object = simdjson::dom::object;
using Kind = TwilioMessage::Kind;

void Invalid(TwilioMessage& out, std::string_view kind, std::string detail) {
  out.kind = Kind::kInvalid;
  out.error_kind = kind;
  out.error = std::move(detail);
}

// The member `key` of `object` when present exactly once; `count` says how
// often it was there.
std::optional<Element> Member(Object object, std::string_view key, int& count) {
  std::optional<Element> found;
  count = 0;
  for (auto field : object) {
    if (field.key != key) continue;
    if (++count == 1) found = field.value;
  }
  return count == 1 ? found : std::nullopt;
}

std::optional<std::string_view> StringMember(Object object, std::string_view key) {
  int count = 0;
  auto value = Member(object, key, count);
  std::string_view text;
  if (!value || value->get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

std::optional<Object> ObjectMember(Object object, std::string_view key) {
  int count = 0;
  auto value = Member(object, key, count);
  Object inner;
  if (!value || value->get(inner) != simdjson::SUCCESS) return std::nullopt;
  return inner;
}

double NumberOr(Object object, std::string_view key, double fallback) {
  int count = 0;
  auto value = Member(object, key, count);
  double number = 0;
  if (!value) return fallback;
  if (value->get(number) == simdjson::SUCCESS) return number;
  int64_t integer = 0;
  if (value->get(integer) == simdjson::SUCCESS) return static_cast<double>(integer);
  return -1;  // present but not a number: an impossible rate, refused by the caller
}

void ParseStart(Object message, TwilioMessage& out) {
  auto start = ObjectMember(message, "start");
  if (!start) return Invalid(out, "bad_start", "`start` without a start object");
  auto call_sid = StringMember(*start, "callSid");
  auto stream_sid = StringMember(*start, "streamSid");
  if (!stream_sid) stream_sid = StringMember(message, "streamSid");
  if (!call_sid || call_sid->empty() || !stream_sid || stream_sid->empty()) {
    return Invalid(out, "bad_start", "`start` without callSid or streamSid");
  }
  TwilioStart& s = out.start;
  s.call_sid.assign(*call_sid);
  s.stream_sid.assign(*stream_sid);
  s.account_sid.assign(StringMember(*start, "accountSid").value_or(""));
  s.custom_parameters.clear();
  if (auto params = ObjectMember(*start, "customParameters")) {
    for (auto field : *params) {
      std::string_view value;
      if (field.value.get(value) == simdjson::SUCCESS) s.custom_parameters.emplace_back(field.key, value);
    }
  }
  s.encoding.clear();
  s.sample_rate = s.channels = 0;
  if (auto format = ObjectMember(*start, "mediaFormat")) {
    s.encoding.assign(StringMember(*format, "encoding").value_or(""));
    s.sample_rate = NumberOr(*format, "sampleRate", 0);
    s.channels = NumberOr(*format, "channels", 0);
  }
  out.kind = Kind::kStart;
}

void ParseMedia(Object message, TwilioMessage& out) {
  auto media = ObjectMember(message, "media");
  if (!media) return Invalid(out, "bad_media", "`media` without a media object");
  int count = 0;
  auto payload = Member(*media, "payload", count);
  std::string_view text;
  if (count > 1) return Invalid(out, "bad_media", "`media` with two payloads");
  if (!payload || payload->get(text) != simdjson::SUCCESS) return Invalid(out, "bad_media", "`media` without a payload");
  auto track = Member(*media, "track", count);
  std::string_view track_name = "inbound";
  if (count > 1 || (track && track->get(track_name) != simdjson::SUCCESS)) {
    return Invalid(out, "bad_media", "`media` with a malformed track");
  }
  out.kind = Kind::kMedia;
  out.payload = text;
  out.inbound = track_name == "inbound";
}

}  // namespace

void ParseTwilioMessage(std::string_view text, TwilioMessage& out) {
  // One parser per thread (an event loop), reused at the size of the largest
  // message seen; simdjson reads past the end, so the text is padded.
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(text);
  out.payload = {};
  Element root;
  Object message;
  if (parser.parse(padded.data(), padded.size(), false).get(root) != simdjson::SUCCESS ||
      root.get(message) != simdjson::SUCCESS) {
    return Invalid(out, "bad_json", "not a JSON object");
  }
  int events = 0;
  auto event_value = Member(message, "event", events);
  std::string_view event;
  if (events > 1) return Invalid(out, "ambiguous", "two \"event\" members");
  if (!event_value || event_value->get(event) != simdjson::SUCCESS) return Invalid(out, "no_event", "no \"event\"");
  if (event == "media") return ParseMedia(message, out);
  if (event == "mark") {
    auto mark = ObjectMember(message, "mark");
    auto name = mark ? StringMember(*mark, "name") : std::nullopt;
    if (!name) return Invalid(out, "bad_mark", "mark without a name");
    out.mark.assign(*name);
    out.kind = Kind::kMark;
    return;
  }
  if (event == "start") return ParseStart(message, out);
  if (event == "connected") {
    out.kind = Kind::kConnected;
    return;
  }
  if (event == "dtmf") {
    auto dtmf = ObjectMember(message, "dtmf");
    auto digit = dtmf ? StringMember(*dtmf, "digit") : std::nullopt;
    constexpr std::string_view kDigits = "0123456789*#ABCD";
    if (!digit || digit->size() != 1 || kDigits.find((*digit)[0]) == std::string_view::npos) {
      return Invalid(out, "bad_dtmf", "dtmf without a key digit");
    }
    out.digit = (*digit)[0];
    out.kind = Kind::kDtmf;
    return;
  }
  if (event == "stop") {
    out.kind = Kind::kStop;
    return;
  }
  Invalid(out, "unknown_event", "unknown event '" + std::string(event.substr(0, 32)) + "'");
}

std::string QuoteStreamSid(std::string_view stream_sid) { return nlohmann::json(stream_sid).dump(); }

void AppendMediaMessage(std::string_view stream_sid_json, std::span<const uint8_t> mulaw, std::string& out) {
  out.reserve(out.size() + 64 + stream_sid_json.size() + base64::EncodedSize(mulaw.size()));
  out += R"({"event":"media","streamSid":)";
  out += stream_sid_json;
  out += R"(,"media":{"payload":")";
  base64::EncodeTo(mulaw, out);
  out += R"("}})";
}

void AppendMarkMessage(std::string_view stream_sid_json, std::string_view name, std::string& out) {
  out += R"({"event":"mark","streamSid":)";
  out += stream_sid_json;
  out += R"(,"mark":{"name":)";
  out += nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += "}}";
}

void AppendClearMessage(std::string_view stream_sid_json, std::string& out) {
  out += R"({"event":"clear","streamSid":)";
  out += stream_sid_json;
  out += "}";
}

}  // namespace voxpipe::twilio
