#include "processors/gemini/gemini_live_options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace voxpipe {
namespace {

// A prompt is a few pages; a file much larger was not meant.
constexpr size_t kMaxInstructionBytes = 256 * 1024;

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : std::move(fallback);
}

}  // namespace

void GeminiToolOptions::Declare(Schema<GeminiToolOptions>& s) {
  s.Field("name", &GeminiToolOptions::name, "Function name the model calls").Required();
  s.Field("description", &GeminiToolOptions::description, "What it does, for the model");
  s.Field("parameters", &GeminiToolOptions::parameters, "JSON schema of the arguments");
  s.Field("handler", &GeminiToolOptions::handler,
          "What runs it: end_call, transfer_call, http (POST to url), knowledge (look up `file`), take_message "
          "(append to `file`)")
      .OneOf({"end_call", "transfer_call", "http", "knowledge", "take_message"});
  s.Field("behavior", &GeminiToolOptions::behavior, "BLOCKING or NON_BLOCKING ('' = model default)")
      .OneOf({"BLOCKING", "NON_BLOCKING"});
  s.Field("url", &GeminiToolOptions::url, "http: URL the arguments are POSTed to as JSON");
  s.Field("headers", &GeminiToolOptions::headers, "http: extra request headers");
  s.Field("timeout", &GeminiToolOptions::timeout, "http: time allowed for the request");
  s.Field("max_response_bytes", &GeminiToolOptions::max_response_bytes, "http: largest accepted response")
      .Range(1, 16 * 1024 * 1024);
  s.Field("target", &GeminiToolOptions::target, "transfer_call: number or SIP URI to transfer to");
  s.Field("message", &GeminiToolOptions::message, "transfer_call: words for the transport to say first");
  s.Field("file", &GeminiToolOptions::file,
          "knowledge: the facts file, YAML (relative to the pipeline file); take_message: where messages are "
          "appended as JSON lines (relative to the working directory; per-call values such as {date} are filled "
          "in as each message is written)")
      .ExpandedByProcessor();
  s.Check([](const GeminiToolOptions& t) -> std::string {
    if (t.handler == "http" && t.url.empty()) return "tool '" + t.name + "': handler http needs a url";
    if ((t.handler == "knowledge" || t.handler == "take_message") && t.file.empty()) {
      return "tool '" + t.name + "': handler " + t.handler + " needs a file";
    }
    if (!t.parameters.is_null() && !t.parameters.is_object()) return "tool '" + t.name + "': parameters must be a mapping";
    return "";
  });
}

void GeminiActivityDetectionOptions::Declare(Schema<GeminiActivityDetectionOptions>& s) {
  s.Field("disabled", &GeminiActivityDetectionOptions::disabled, "Turn the server's voice activity detection off");
  s.Field("start_sensitivity", &GeminiActivityDetectionOptions::start_sensitivity, "Start-of-speech sensitivity")
      .OneOf({"START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"});
  s.Field("end_sensitivity", &GeminiActivityDetectionOptions::end_sensitivity, "End-of-speech sensitivity")
      .OneOf({"END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"});
  s.Field("prefix_padding", &GeminiActivityDetectionOptions::prefix_padding, "Speech needed before a start is committed");
  s.Field("silence_duration", &GeminiActivityDetectionOptions::silence_duration, "Silence that ends speech");
  s.Field("activity_handling", &GeminiActivityDetectionOptions::activity_handling, "Whether speech interrupts the model")
      .OneOf({"START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"});
  s.Field("turn_coverage", &GeminiActivityDetectionOptions::turn_coverage, "What input a turn includes")
      .OneOf({"TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT", "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"});
}

void GeminiCompressionOptions::Declare(Schema<GeminiCompressionOptions>& s) {
  s.Field("enabled", &GeminiCompressionOptions::enabled, "Sliding-window compression for sessions past 15 min");
  s.Field("trigger_tokens", &GeminiCompressionOptions::trigger_tokens, "Context size that triggers compression");
  s.Field("target_tokens", &GeminiCompressionOptions::target_tokens, "Context size compression aims at");
}

void GeminiLiveOptions::Declare(Schema<GeminiLiveOptions>& s) {
  s.Field("api_key", &GeminiLiveOptions::api_key, "API key, sent as x-goog-api-key (default: $GEMINI_API_KEY)");
  s.Field("url", &GeminiLiveOptions::url, "Live API endpoint (default: $GEMINI_LIVE_URL, else Google's wss:// endpoint)");
  s.Field("model", &GeminiLiveOptions::model,
          std::string("Model id, with or without models/ (default: $GEMINI_MODEL, else ") + kGeminiDefaultModel + ")");
  s.Field("voice", &GeminiLiveOptions::voice, "Prebuilt voice name, e.g. Kore, Charon ('' = server default)");
  s.Field("language", &GeminiLiveOptions::language, "speechConfig.languageCode, e.g. en-US");
  s.Field("system_instruction", &GeminiLiveOptions::system_instruction, "System instruction text");
  s.Field("system_instruction_file", &GeminiLiveOptions::system_instruction_file,
          "File holding the system instruction (relative to the pipeline file)");
  s.Field("temperature", &GeminiLiveOptions::temperature, "Sampling temperature").Range(0, 2);
  s.Field("thinking_budget", &GeminiLiveOptions::thinking_budget, "Thinking tokens (0 = off, fastest; 2.5 models)");
  s.Field("tools", &GeminiLiveOptions::tools, "Functions the model may call");
  s.Field("activity_detection", &GeminiLiveOptions::activity_detection, "Server-side voice activity detection");
  s.Field("input_transcription", &GeminiLiveOptions::input_transcription, "Transcribe the caller");
  s.Field("output_transcription", &GeminiLiveOptions::output_transcription, "Transcribe the model");
  s.Field("context_window_compression", &GeminiLiveOptions::context_window_compression, "Context window compression");
  s.Field("session_resumption", &GeminiLiveOptions::session_resumption, "Resume sessions across goAway and drops");
  s.Field("dtmf_text", &GeminiLiveOptions::dtmf_text,
          "Sent to the model as realtimeInput text when the caller presses a key ({digit} is the key; '' = not sent)");
  s.Field("start_prompt", &GeminiLiveOptions::start_prompt,
          "Sent to the model as text when the call starts, so that it speaks first (a greeting); '' = it waits "
          "for the caller");
  s.Field("setup_timeout", &GeminiLiveOptions::setup_timeout, "Time allowed from connect to setupComplete");
  s.Field("turn_complete_timeout", &GeminiLiveOptions::turn_complete_timeout,
          "A model turn with no audio for this long counts as ended");
  s.Field("max_buffered_audio", &GeminiLiveOptions::max_buffered_audio,
          "Caller audio kept while (re)connecting; older audio is dropped");
  s.Field("reconnect_attempts", &GeminiLiveOptions::reconnect_attempts, "Reconnects after 1006/1011 before giving up")
      .Range(0, 100);
  s.Field("reconnect_backoff", &GeminiLiveOptions::reconnect_backoff, "First reconnect delay (doubles each attempt)");
  s.Field("handover_budget", &GeminiLiveOptions::handover_budget,
          "goAway handovers allowed per handover_window; one more fails the session (the call's fallback)")
      .Range(1, 1000);
  s.Field("handover_window", &GeminiLiveOptions::handover_window, "The window handover_budget counts in")
      .Range(1000, 24 * 3600 * 1000.0);
  s.Field("handover_backoff", &GeminiLiveOptions::handover_backoff,
          "A handover within this of the last waits, doubling each time (at most 30 s)")
      .Range(0, 60000);
  s.Field("send_interval", &GeminiLiveOptions::send_interval,
          "Caller audio gathered per realtimeInput message: 20ms sends every Twilio frame at once; 40ms halves the "
          "messages (and CPU) for up to 20 ms more latency")
      .Range(10, 1000);
  s.Field("await_reply_on_end", &GeminiLiveOptions::await_reply_on_end,
          "On EndFrame, wait for the model's reply to the caller's last words (file pipelines)");
  s.Field("end_timeout", &GeminiLiveOptions::end_timeout, "Longest wait for a reply on EndFrame");
  s.Field("ca_file", &GeminiLiveOptions::ca_file, "Extra PEM CA bundle to trust");
  s.Check([](const GeminiLiveOptions& o) -> std::string {
    if (!o.system_instruction.empty() && !o.system_instruction_file.empty()) {
      return "give system_instruction or system_instruction_file, not both";
    }
    for (size_t i = 0; i < o.tools.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (o.tools[i].name == o.tools[j].name) return "tool '" + o.tools[i].name + "' is declared twice";
      }
    }
    return "";
  });
}

namespace {

// The arguments the built-in handlers take, when the YAML gives none.
nlohmann::json DefaultParameters(const std::string& handler) {
  using json = nlohmann::json;
  auto text = [](const char* description) { return json{{"type", "STRING"}, {"description", description}}; };
  if (handler == "knowledge") {
    return {{"type", "OBJECT"},
            {"properties", {{"query", text("What the caller asks about, in a few words (e.g. 'visiting hours')")}}},
            {"required", {"query"}}};
  }
  if (handler == "take_message") {
    return {{"type", "OBJECT"},
            {"properties",
             {{"name", text("The caller's name")},
              {"callback_number", text("The number to call back, digits as the caller said them")},
              {"reason", text("What the message is about, in the caller's words; no medical advice is given")}}},
            {"required", {"name", "callback_number", "reason"}}};
  }
  if (handler == "transfer_call") {
    return {{"type", "OBJECT"}, {"properties", {{"reason", text("Why the caller is transferred")}}}};
  }
  return nullptr;
}

}  // namespace

Result<GeminiLiveOptions> ResolveGeminiLiveOptions(GeminiLiveOptions options, const std::string& base_dir) {
  for (auto& tool : options.tools) {
    if (tool.parameters.is_null()) tool.parameters = DefaultParameters(tool.handler);
  }
  if (options.api_key.empty()) options.api_key = EnvOr("GEMINI_API_KEY", "");
  if (options.url.empty()) options.url = EnvOr("GEMINI_LIVE_URL", kGeminiLiveDefaultUrl);
  if (options.model.empty()) options.model = EnvOr("GEMINI_MODEL", kGeminiDefaultModel);
  if (!options.system_instruction_file.empty()) {
    std::filesystem::path path(options.system_instruction_file);
    if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
    std::ifstream in(path);
    if (!in) {
      return Status::Error(fmt::format("system_instruction_file: cannot read '{}' ({})", path.string(),
                                       std::strerror(errno)));
    }
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().size() > kMaxInstructionBytes) {
      return Status::Error(fmt::format("system_instruction_file: '{}' is larger than {} KiB", path.string(),
                                       kMaxInstructionBytes / 1024));
    }
    options.system_instruction = text.str();
  }
  return options;
}

std::string GeminiModelName(const std::string& model) {
  return model.rfind("models/", 0) == 0 ? model : "models/" + model;
}

nlohmann::json BuildGeminiSetup(const GeminiLiveOptions& o, const std::string& resumption_handle) {
  using json = nlohmann::json;
  json generation = {{"responseModalities", json::array({"AUDIO"})}};
  if (o.temperature) generation["temperature"] = *o.temperature;
  if (o.thinking_budget) generation["thinkingConfig"] = {{"thinkingBudget", *o.thinking_budget}};
  json speech = json::object();
  if (!o.voice.empty()) speech["voiceConfig"] = {{"prebuiltVoiceConfig", {{"voiceName", o.voice}}}};
  if (!o.language.empty()) speech["languageCode"] = o.language;
  if (!speech.empty()) generation["speechConfig"] = std::move(speech);

  json setup = {{"model", GeminiModelName(o.model)}, {"generationConfig", std::move(generation)}};
  if (!o.system_instruction.empty()) setup["systemInstruction"] = {{"parts", json::array({{{"text", o.system_instruction}}})}};
  if (!o.tools.empty()) {
    json declarations = json::array();
    for (const auto& tool : o.tools) {
      json declaration = {{"name", tool.name}};
      if (!tool.description.empty()) declaration["description"] = tool.description;
      if (tool.parameters.is_object()) declaration["parameters"] = tool.parameters;
      if (!tool.behavior.empty()) declaration["behavior"] = tool.behavior;
      declarations.push_back(std::move(declaration));
    }
    setup["tools"] = json::array({{{"functionDeclarations", std::move(declarations)}}});
  }

  const auto& vad = o.activity_detection;
  json detection = {{"disabled", vad.disabled}};
  if (!vad.start_sensitivity.empty()) detection["startOfSpeechSensitivity"] = vad.start_sensitivity;
  if (!vad.end_sensitivity.empty()) detection["endOfSpeechSensitivity"] = vad.end_sensitivity;
  if (vad.prefix_padding) detection["prefixPaddingMs"] = vad.prefix_padding->count();
  if (vad.silence_duration) detection["silenceDurationMs"] = vad.silence_duration->count();
  json realtime = {{"automaticActivityDetection", std::move(detection)}};
  if (!vad.activity_handling.empty()) realtime["activityHandling"] = vad.activity_handling;
  if (!vad.turn_coverage.empty()) realtime["turnCoverage"] = vad.turn_coverage;
  setup["realtimeInputConfig"] = std::move(realtime);

  // Siblings of generationConfig: inside it they close the session with 1007.
  if (o.input_transcription) setup["inputAudioTranscription"] = json::object();
  if (o.output_transcription) setup["outputAudioTranscription"] = json::object();
  if (o.context_window_compression.enabled) {
    json window = json::object();
    if (o.context_window_compression.target_tokens) {
      window["targetTokens"] = std::to_string(*o.context_window_compression.target_tokens);
    }
    json compression = {{"slidingWindow", std::move(window)}};
    if (o.context_window_compression.trigger_tokens) {
      compression["triggerTokens"] = std::to_string(*o.context_window_compression.trigger_tokens);
    }
    setup["contextWindowCompression"] = std::move(compression);
  }
  if (o.session_resumption) {
    setup["sessionResumption"] = resumption_handle.empty() ? json::object() : json{{"handle", resumption_handle}};
  }
  return {{"setup", std::move(setup)}};
}

}  // namespace voxpipe
