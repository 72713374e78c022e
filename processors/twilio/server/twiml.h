// TwiML documents the Twilio server answers with, XML-escaped.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voxpipe::twilio {

std::string XmlEscape(std::string_view text);

struct SayOptions {
  std::string voice;     // e.g. "Polly.Joanna"; empty for Twilio's default
  std::string language;  // e.g. "en-GB"; empty for Twilio's default
};

// <Say> (when `greeting` is not empty), then <Connect><Stream url> with a
// <Parameter> per entry. Nothing follows </Connect>: when the stream closes,
// Twilio requests `action` (an absolute URL; empty: none, the call ends).
std::string ConnectStreamTwiml(std::string_view greeting, const SayOptions& say, std::string_view stream_url,
                               const std::vector<std::pair<std::string, std::string>>& parameters,
                               std::string_view action = {});

// <Say> then <Hangup/>: refusals such as "all lines busy".
std::string SayAndHangUpTwiml(std::string_view message, const SayOptions& say);

// <Hangup/> alone.
std::string HangUpTwiml();

// Optional <Say>, then <Dial> to `target` (a number, or a SIP URI).
std::string DialTwiml(std::string_view message, const SayOptions& say, std::string_view target,
                      std::string_view caller_id = {});

}  // namespace voxpipe::twilio
