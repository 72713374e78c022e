// The Twilio Media Streams wire format (docs/twilio.md), as pure functions:
// messages from Twilio parsed into one struct, and the three messages a
// bidirectional stream may send Twilio — `media`, `mark` and `clear` —
// written into a reused buffer. No sockets here: TwilioStream (the
// session) and TwilioOutput use it; tests and a fuzz target run it alone.
//
// Every message is parsed in full (simdjson), so there is one reading of a
// message, however it is spaced or ordered: a payload counts only inside
// "media", an `event` given twice is refused, and numbers where strings
// belong are errors, not surprises.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voxpipe::twilio {

struct TwilioStart {
  std::string call_sid;
  std::string stream_sid;
  std::string account_sid;
  std::vector<std::pair<std::string, std::string>> custom_parameters;  // string values only
  std::string encoding;  // mediaFormat.encoding, "" when absent
  double sample_rate = 0;  // mediaFormat.sampleRate, 0 when absent
  double channels = 0;     // mediaFormat.channels, 0 when absent
};

struct TwilioMessage {
  enum class Kind { kConnected, kStart, kMedia, kMark, kDtmf, kStop, kInvalid };
  Kind kind = Kind::kInvalid;
  // kMedia: the base64 payload, valid until the next Parse on this thread.
  std::string_view payload;
  bool inbound = true;  // kMedia: the caller's track (no track counts as inbound)
  TwilioStart start;    // kStart
  std::string mark;     // kMark: its name
  char digit = 0;       // kDtmf
  // kInvalid: a metric label ("bad_json", "unknown_event", ...) and a detail for logs.
  std::string_view error_kind;
  std::string error;
};

// Parses one text message from Twilio into `out` (whose buffers are reused).
void ParseTwilioMessage(std::string_view text, TwilioMessage& out);

// The stream SID as a JSON string, spliced into every outgoing message.
std::string QuoteStreamSid(std::string_view stream_sid);

// {"event":"media","streamSid":SID,"media":{"payload":"..."}}, appended to `out`.
void AppendMediaMessage(std::string_view stream_sid_json, std::span<const uint8_t> mulaw, std::string& out);
// {"event":"mark","streamSid":SID,"mark":{"name":"..."}}
void AppendMarkMessage(std::string_view stream_sid_json, std::string_view name, std::string& out);
// {"event":"clear","streamSid":SID}
void AppendClearMessage(std::string_view stream_sid_json, std::string& out);

}  // namespace voxpipe::twilio
