// The values of one call that options may use: `path: recordings/{date}/{call_sid}.wav`
// gives each call a file of its own. Known names, from the call's StartFrame:
// {call_id}, {call_sid}, {stream_sid}, {from}, {to}, {account_sid},
// {param.NAME} (Twilio <Parameter>s), and {date} (YYYY-MM-DD) and {time}
// (HHMMSS), local time at the call's start. Anything else in braces is left
// as written ("{digit}" of dtmf_text, JSON in a schema).
//
// A value is an identifier, not text: characters other than letters,
// digits and "+@._-" become "_", ".." becomes "_", and it is cut to 64
// characters, so a caller-controlled value cannot climb out of a folder.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace voxpipe {

struct StartFrame;

using CallValues = std::map<std::string, std::string>;

// The values of a call starting now with `start`'s identity and metadata.
CallValues CallValuesFor(const StartFrame& start,
                         std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Replaces the known {names} in `text`; returns how many it replaced.
int ExpandCallValues(std::string& text, const CallValues& values);

}  // namespace voxpipe
