#include "processors/twilio/media_message.h"

#include <cctype>

#include "processors/common/base64.h"

namespace voxpipe::twilio {

std::optional<std::string_view> ScanMediaPayload(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  if (text.find('\\') != std::string_view::npos) return std::nullopt;
  constexpr std::string_view kEvent = "\"event\":\"media\"", kEventKey = "\"event\"";
  constexpr std::string_view kPayload = "\"payload\":\"", kPayloadKey = "\"payload\"";
  constexpr std::string_view kTrack = "\"track\":", kInbound = "\"track\":\"inbound\"";
  size_t event = text.find(kEvent);
  if (event == std::string_view::npos || text.find(kEventKey, event + 1) != std::string_view::npos) return std::nullopt;
  if (text.find(kEventKey) != event) return std::nullopt;
  size_t payload = text.find(kPayload);
  if (payload == std::string_view::npos || text.find(kPayloadKey, payload + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  if (size_t track = text.find(kTrack); track != std::string_view::npos && text.substr(track, kInbound.size()) != kInbound) {
    return std::nullopt;
  }
  size_t start = payload + kPayload.size();
  size_t end = text.find('"', start);
  if (end == std::string_view::npos) return std::nullopt;
  return text.substr(start, end - start);
}


void AppendMediaMessage(std::string_view stream_sid_json, std::span<const uint8_t> mulaw, std::string& out) {
  out.reserve(out.size() + 64 + stream_sid_json.size() + base64::EncodedSize(mulaw.size()));
  out += R"({"event":"media","streamSid":)";
  out += stream_sid_json;
  out += R"(,"media":{"payload":")";
  base64::EncodeTo(mulaw, out);
  out += R"("}})";
}

}  // namespace voxpipe::twilio
