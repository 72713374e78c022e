// Options of GeminiLiveLLM, and the `setup` message built from them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/options.h"

namespace voxpipe {

inline constexpr char kGeminiLiveDefaultUrl[] =
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
inline constexpr char kGeminiDefaultModel[] = "gemini-2.5-flash-native-audio-preview-12-2025";

class KnowledgeBase;

// A function the model may call, and what runs it.
struct GeminiToolOptions {
  std::string name;
  std::string description;
  nlohmann::json parameters;   // JSON schema (OpenAPI subset), written as YAML
  std::string handler = "http";  // end_call | transfer_call | http | knowledge | take_message
  std::string behavior;          // "" (model default), BLOCKING or NON_BLOCKING
  // http
  std::string url;
  std::map<std::string, std::string> headers;
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
  int64_t max_response_bytes = 64 * 1024;
  // transfer_call
  std::string target;   // phone number or SIP URI; the model may pass `target` instead
  std::string message;  // said by the transport before transferring, if it can
  // knowledge: the facts file (read when the pipeline is built);
  // take_message: the JSON-lines file messages are appended to
  std::string file;
  std::shared_ptr<const KnowledgeBase> knowledge;  // loaded from `file` by Prepare
  static void Declare(Schema<GeminiToolOptions>& s);
};

struct GeminiActivityDetectionOptions {
  bool disabled = false;
  std::string start_sensitivity;  // START_SENSITIVITY_HIGH | START_SENSITIVITY_LOW ("" = server default)
  std::string end_sensitivity;    // END_SENSITIVITY_HIGH | END_SENSITIVITY_LOW
  std::optional<std::chrono::milliseconds> prefix_padding;
  std::optional<std::chrono::milliseconds> silence_duration;
  std::string activity_handling;  // START_OF_ACTIVITY_INTERRUPTS | NO_INTERRUPTION
  std::string turn_coverage;      // TURN_INCLUDES_ONLY_ACTIVITY | TURN_INCLUDES_ALL_INPUT | ...
  static void Declare(Schema<GeminiActivityDetectionOptions>& s);
};

struct GeminiCompressionOptions {
  bool enabled = false;
  std::optional<int64_t> trigger_tokens;
  std::optional<int64_t> target_tokens;
  static void Declare(Schema<GeminiCompressionOptions>& s);
};

struct GeminiLiveOptions {
  std::string api_key;  // default: $GEMINI_API_KEY
  std::string url;      // default: $GEMINI_LIVE_URL, else Google's endpoint
  std::string model;    // default: $GEMINI_MODEL, else kGeminiDefaultModel
  std::string voice;
  std::string language;
  std::string system_instruction;
  std::string system_instruction_file;
  std::optional<double> temperature;
  std::optional<int> thinking_budget;
  std::vector<GeminiToolOptions> tools;
  GeminiActivityDetectionOptions activity_detection;
  bool input_transcription = true;
  bool output_transcription = true;
  GeminiCompressionOptions context_window_compression;
  bool session_resumption = true;
  std::string dtmf_text = "[The caller pressed {digit} on the phone keypad.]";
  std::string start_prompt;  // sent as text when the call starts, so the model speaks first
  std::chrono::milliseconds setup_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds turn_complete_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds max_buffered_audio{std::chrono::seconds(5)};
  int reconnect_attempts = 3;
  std::chrono::milliseconds reconnect_backoff{250};
  int handover_budget = 5;
  std::chrono::milliseconds handover_window{std::chrono::minutes(10)};
  std::chrono::milliseconds handover_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds send_interval{20};
  bool await_reply_on_end = false;
  std::chrono::milliseconds end_timeout{std::chrono::seconds(15)};
  std::string ca_file;  // extra CA bundle to trust (private endpoints, tests)
  static void Declare(Schema<GeminiLiveOptions>& s);
};

// Options with environment defaults applied and the instruction file read
// (a relative path from `base_dir`, the pipeline file's folder).
Result<GeminiLiveOptions> ResolveGeminiLiveOptions(GeminiLiveOptions options, const std::string& base_dir);

// "models/ID" from "ID" or "models/ID".
std::string GeminiModelName(const std::string& model);

// The `setup` message; `resumption_handle` resumes a session when not empty.
nlohmann::json BuildGeminiSetup(const GeminiLiveOptions& options, const std::string& resumption_handle);

}  // namespace voxpipe
