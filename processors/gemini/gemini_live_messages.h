// The Live API's wire messages: client messages encoded for the hot path,
// server messages decoded into one struct holding every field they carry
// (Gemini 3.x bundles audio, transcripts and turnComplete in one message).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/status.h"

namespace voxpipe::gemini {

// {"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=N","data":"..."}}},
// written into `out` (its capacity is reused).
void EncodeAudioInput(const int16_t* samples, size_t count, int sample_rate, std::string& out);

std::string EncodeAudioStreamEnd();

// {"realtimeInput":{"text":"..."}}: words the model takes as the caller's
// (e.g. a key the caller pressed).
std::string EncodeTextInput(std::string_view text);

// {"toolResponse":{"functionResponses":[{"id","name","response"}]}}
std::string EncodeToolResponse(const std::string& id, const std::string& name, const nlohmann::json& response);

struct AudioChunk {
  int sample_rate = 24000;
  std::vector<int16_t> samples;
};

struct Transcript {
  std::string text;
  bool finished = false;
};

struct FunctionCall {
  std::string id;
  std::string name;
  nlohmann::json args;
};

struct ServerMessage {
  bool setup_complete = false;
  std::vector<AudioChunk> audio;
  std::vector<std::string> text;  // text parts of the model's turn (thoughts excluded)
  std::optional<Transcript> input_transcription;
  std::optional<Transcript> output_transcription;
  bool interrupted = false;
  bool generation_complete = false;
  bool turn_complete = false;
  std::vector<FunctionCall> tool_calls;
  std::vector<std::string> cancelled_tool_calls;
  std::optional<std::chrono::milliseconds> go_away;  // timeLeft
  std::optional<std::string> new_handle;            // only resumable handles
  std::map<std::string, double> usage;
  // Parts that could not be used (bad base64, unknown MIME type); the rest
  // of the message is still good.
  // At most kMaxProblems of them, then one line counting the rest.
  std::vector<std::string> problems;
  size_t problems_dropped = 0;
};

inline constexpr size_t kMaxProblems = 8;

// Durations beyond this (a day) are clamped to it.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24);

// Fails only when the message is not a JSON object.
Result<ServerMessage> ParseServerMessage(std::string_view text);

// Proto Duration text ("50s", "9.5s") to milliseconds; negative, NaN or
// malformed text is nullopt, more than kMaxDuration is kMaxDuration (and
// *clamped, when given, says so).
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text, bool* clamped = nullptr);

// At most max_bytes of text, cut before a UTF-8 character, not inside one.
std::string_view Excerpt(std::string_view text, size_t max_bytes);

}  // namespace voxpipe::gemini
