#include "processors/gemini/gemini_live_messages.h"

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "processors/common/base64.h"

namespace voxpipe::gemini {

using json = nlohmann::json;

void EncodeAudioInput(const int16_t* samples, size_t count, int sample_rate, std::string& out) {
  out.clear();
  out.reserve(96 + base64::EncodedSize(count * 2));
  out += R"({"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=)";
  char rate[16];
  auto [end, ec] = std::to_chars(rate, rate + sizeof(rate), sample_rate);
  out.append(rate, end);
  out += R"(","data":")";
  base64::EncodeTo(std::span(reinterpret_cast<const uint8_t*>(samples), count * 2), out);
  out += R"("}}})";
}

std::string EncodeAudioStreamEnd() { return R"({"realtimeInput":{"audioStreamEnd":true}})"; }

std::string EncodeToolResponse(const std::string& id, const std::string& name, const json& response) {
  return json{{"toolResponse", {{"functionResponses", json::array({{{"id", id}, {"name", name}, {"response", response}}})}}}}
      .dump();
}

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  if (text.empty() || text.back() != 's') return std::nullopt;
  double seconds = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, seconds);
  if (ec != std::errc() || ptr != text.data() + text.size() - 1 || seconds < 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

namespace {

const json* Get(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool IsTrue(const json& object, const char* key) {
  const json* value = Get(object, key);
  return value && value->is_boolean() && value->get<bool>();
}

std::string StringOr(const json& object, const char* key, std::string fallback = {}) {
  const json* value = Get(object, key);
  return value && value->is_string() ? value->get<std::string>() : std::move(fallback);
}

std::optional<Transcript> ParseTranscript(const json* node) {
  if (!node || !node->is_object()) return std::nullopt;
  return Transcript{StringOr(*node, "text"), IsTrue(*node, "finished")};
}

void ParseInlineData(const json& data, ServerMessage& out) {
  std::string mime = StringOr(data, "mimeType");
  if (mime.rfind("audio/pcm", 0) != 0) {
    out.problems.push_back(fmt::format("inlineData with unsupported MIME type '{}'", mime.substr(0, 64)));
    return;
  }
  int rate = 24000;
  if (auto pos = mime.find("rate="); pos != std::string::npos) {
    auto [ptr, ec] = std::from_chars(mime.data() + pos + 5, mime.data() + mime.size(), rate);
    if (ec != std::errc() || rate < 1000 || rate > 192000) {
      out.problems.push_back(fmt::format("audio with a bad rate in '{}'", mime.substr(0, 64)));
      return;
    }
  }
  const json* payload = Get(data, "data");
  std::vector<uint8_t> bytes;
  if (!payload || !payload->is_string() || !base64::DecodeTo(payload->get_ref<const std::string&>(), bytes) ||
      bytes.size() % 2 != 0) {
    out.problems.push_back("audio data that is not valid base64 PCM");
    return;
  }
  AudioChunk chunk{rate, std::vector<int16_t>(bytes.size() / 2)};
  std::memcpy(chunk.samples.data(), bytes.data(), bytes.size());
  out.audio.push_back(std::move(chunk));
}

void ParseServerContent(const json& content, ServerMessage& out) {
  if (const json* turn = Get(content, "modelTurn")) {
    if (const json* parts = Get(*turn, "parts"); parts && parts->is_array()) {
      for (const auto& part : *parts) {
        if (const json* data = Get(part, "inlineData")) ParseInlineData(*data, out);
        if (const json* text = Get(part, "text"); text && text->is_string() && !IsTrue(part, "thought")) {
          out.text.push_back(text->get<std::string>());
        }
      }
    }
  }
  out.input_transcription = ParseTranscript(Get(content, "inputTranscription"));
  out.output_transcription = ParseTranscript(Get(content, "outputTranscription"));
  out.interrupted = IsTrue(content, "interrupted");
  out.generation_complete = IsTrue(content, "generationComplete");
  out.turn_complete = IsTrue(content, "turnComplete");
}

void ParseToolCall(const json& call, ServerMessage& out) {
  const json* calls = Get(call, "functionCalls");
  if (!calls || !calls->is_array()) return;
  for (const auto& fc : *calls) {
    FunctionCall parsed{StringOr(fc, "id"), StringOr(fc, "name"), json::object()};
    if (const json* args = Get(fc, "args"); args && args->is_object()) parsed.args = *args;
    if (parsed.name.empty()) {
      out.problems.push_back("toolCall without a function name");
      continue;
    }
    out.tool_calls.push_back(std::move(parsed));
  }
}

void ParseUsage(const json& usage, ServerMessage& out) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"promptTokenCount", "prompt_tokens"},     {"responseTokenCount", "response_tokens"},
      {"totalTokenCount", "total_tokens"},       {"cachedContentTokenCount", "cached_tokens"},
      {"toolUsePromptTokenCount", "tool_tokens"}, {"thoughtsTokenCount", "thought_tokens"}};
  for (const auto& [wire, name] : kFields) {
    if (const json* v = Get(usage, wire); v && v->is_number()) out.usage[name] = v->get<double>();
  }
}

}  // namespace

Result<ServerMessage> ParseServerMessage(std::string_view text) {
  json message = json::parse(text, nullptr, false);
  if (message.is_discarded() || !message.is_object()) return Status::Error("server message is not a JSON object");
  ServerMessage out;
  out.setup_complete = Get(message, "setupComplete") != nullptr;
  if (const json* content = Get(message, "serverContent")) ParseServerContent(*content, out);
  if (const json* call = Get(message, "toolCall")) ParseToolCall(*call, out);
  if (const json* cancel = Get(message, "toolCallCancellation")) {
    if (const json* ids = Get(*cancel, "ids"); ids && ids->is_array()) {
      for (const auto& id : *ids) {
        if (id.is_string()) out.cancelled_tool_calls.push_back(id.get<std::string>());
      }
    }
  }
  if (const json* go_away = Get(message, "goAway")) {
    out.go_away = ParseDuration(StringOr(*go_away, "timeLeft")).value_or(std::chrono::milliseconds(0));
  }
  if (const json* update = Get(message, "sessionResumptionUpdate")) {
    std::string handle = StringOr(*update, "newHandle");
    if (IsTrue(*update, "resumable") && !handle.empty()) out.new_handle = std::move(handle);
  }
  if (const json* usage = Get(message, "usageMetadata")) ParseUsage(*usage, out);
  return out;
}

}  // namespace voxpipe::gemini
