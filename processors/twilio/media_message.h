// The hot path of the media stream protocol: finding the payload of a
// `media` message without a full JSON parse, and writing one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace voxpipe::twilio {

// The base64 payload of `text` when it plainly has the shape of a Twilio
// media message: one object, no escapes (so every quote delimits a string),
// a single "event":"media", a single payload, no track or the inbound one.
// std::nullopt for anything else, which then deserves a full parse.
std::optional<std::string_view> ScanMediaPayload(std::string_view text);

// Appends {"event":"media","streamSid":SID,"media":{"payload":"..."}} to
// `out`; `stream_sid_json` is the stream SID already as a JSON string.
void AppendMediaMessage(std::string_view stream_sid_json, std::span<const uint8_t> mulaw, std::string& out);

}  // namespace voxpipe::twilio
