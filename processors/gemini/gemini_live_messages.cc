#include "processors/gemini/gemini_live_messages.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>

#include "framework/buffer_pool.h"
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

std::string EncodeTextInput(std::string_view text) {
  return json{{"realtimeInput", {{"text", text}}}}.dump();
}

std::string EncodeToolResponse(const std::string& id, const std::string& name, const json& response) {
  return json{{"toolResponse", {{"functionResponses", json::array({{{"id", id}, {"name", name}, {"response", response}}})}}}}
      .dump();
}

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text, bool* clamped) {
  if (clamped) *clamped = false;
  if (text.empty() || text.back() != 's') return std::nullopt;
  double seconds = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, seconds);
  // from_chars takes "inf" and "nan" too; out-of-range text is
  // result_out_of_range. Neither may reach the integer conversion below.
  if (ec == std::errc::result_out_of_range && !text.starts_with('-')) {
    seconds = std::numeric_limits<double>::infinity();
  } else if (ec != std::errc() || ptr != text.data() + text.size() - 1) {
    return std::nullopt;
  }
  if (std::isnan(seconds) || seconds < 0) return std::nullopt;
  if (seconds > static_cast<double>(kMaxDuration.count()) / 1000) {
    if (clamped) *clamped = true;
    return kMaxDuration;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string_view Excerpt(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back off continuation bytes (10xxxxxx) so a multi-byte character is
  // never split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

namespace {

// Server messages are parsed with simdjson: a 40 ms audio message is 2.6 KB,
// almost all of it one base64 string, and nlohmann's lexer spends 15 µs on
// it where simdjson spends 0.3 µs (benchmarks/gemini_live_bench.cc).
using Element = simdjson::dom::element;

std::optional<Element> Get(Element object, const char* key) {
  simdjson::dom::object fields;
  Element value;
  if (object.get(fields) != simdjson::SUCCESS || fields.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

bool IsTrue(Element object, const char* key) {
  bool flag = false;
  auto value = Get(object, key);
  return value && value->get(flag) == simdjson::SUCCESS && flag;
}

std::optional<std::string_view> StringAt(Element object, const char* key) {
  std::string_view text;
  auto value = Get(object, key);
  if (!value || value->get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

std::string_view StringOr(Element object, const char* key, std::string_view fallback = {}) {
  return StringAt(object, key).value_or(fallback);
}

// Calls `each` for every element when `node` is an array.
template <typename Each>
void ForEachIn(std::optional<Element> node, Each each) {
  simdjson::dom::array array;
  if (!node || node->get(array) != simdjson::SUCCESS) return;
  for (Element element : array) each(element);
}

std::optional<Transcript> ParseTranscript(std::optional<Element> node) {
  if (!node || !node->is_object()) return std::nullopt;
  return Transcript{std::string(StringOr(*node, "text")), IsTrue(*node, "finished")};
}

// At most kMaxProblems per message; the rest are summed up in one last line,
// so a message of a million bad parts costs one short list.
void AddProblem(ServerMessage& out, std::string problem) {
  if (out.problems.size() < kMaxProblems) {
    out.problems.push_back(std::move(problem));
  } else {
    ++out.problems_dropped;
  }
}

void ParseInlineData(Element data, ServerMessage& out) {
  std::string_view mime = StringOr(data, "mimeType");
  if (!mime.starts_with("audio/pcm")) {
    AddProblem(out, fmt::format("inlineData with unsupported MIME type '{}'", Excerpt(mime, 64)));
    return;
  }
  int rate = 24000;
  if (auto pos = mime.find("rate="); pos != std::string_view::npos) {
    auto [ptr, ec] = std::from_chars(mime.data() + pos + 5, mime.data() + mime.size(), rate);
    if (ec != std::errc() || rate < 1000 || rate > 192000) {
      AddProblem(out, fmt::format("audio with a bad rate in '{}'", Excerpt(mime, 64)));
      return;
    }
  }
  auto payload = StringAt(data, "data");
  thread_local std::vector<uint8_t> bytes;
  if (!payload || !base64::DecodeTo(*payload, bytes) || bytes.size() % 2 != 0) {
    AddProblem(out, "audio data that is not valid base64 PCM");
    return;
  }
  if (bytes.empty()) return;  // an empty audio part: nothing to play (and no memcpy from a null buffer)
  AudioChunk chunk{rate, BufferPool<int16_t>::Take(bytes.size() / 2)};
  chunk.samples.resize(bytes.size() / 2);
  std::memcpy(chunk.samples.data(), bytes.data(), bytes.size());
  out.audio.push_back(std::move(chunk));
}

void ParseServerContent(Element content, ServerMessage& out) {
  if (auto turn = Get(content, "modelTurn")) {
    ForEachIn(Get(*turn, "parts"), [&](Element part) {
      if (auto data = Get(part, "inlineData")) ParseInlineData(*data, out);
      if (auto text = StringAt(part, "text"); text && !IsTrue(part, "thought")) out.text.emplace_back(*text);
    });
  }
  out.input_transcription = ParseTranscript(Get(content, "inputTranscription"));
  out.output_transcription = ParseTranscript(Get(content, "outputTranscription"));
  out.interrupted = IsTrue(content, "interrupted");
  out.generation_complete = IsTrue(content, "generationComplete");
  out.turn_complete = IsTrue(content, "turnComplete");
}

void ParseToolCall(Element call, ServerMessage& out) {
  ForEachIn(Get(call, "functionCalls"), [&](Element fc) {
    FunctionCall parsed{std::string(StringOr(fc, "id")), std::string(StringOr(fc, "name")), json::object()};
    // Arguments go to tool handlers as nlohmann JSON; tool calls are rare, so
    // the round trip through text costs nothing that matters.
    if (auto args = Get(fc, "args"); args && args->is_object()) {
      parsed.args = json::parse(simdjson::minify(*args), nullptr, /*allow_exceptions=*/false);
      if (parsed.args.is_discarded()) return AddProblem(out, "toolCall with arguments that are not JSON");
    }
    if (parsed.name.empty()) return AddProblem(out, "toolCall without a function name");
    out.tool_calls.push_back(std::move(parsed));
  });
}

void ParseUsage(Element usage, ServerMessage& out) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"promptTokenCount", "prompt_tokens"},     {"responseTokenCount", "response_tokens"},
      {"totalTokenCount", "total_tokens"},       {"cachedContentTokenCount", "cached_tokens"},
      {"toolUsePromptTokenCount", "tool_tokens"}, {"thoughtsTokenCount", "thought_tokens"}};
  for (const auto& [wire, name] : kFields) {
    double number = 0;
    if (auto v = Get(usage, wire); v && v->get(number) == simdjson::SUCCESS) {
      out.usage[name] = number;
    }
  }
}

}  // namespace

Result<ServerMessage> ParseServerMessage(std::string_view text) {
  // One parser per thread, reused: it keeps its buffers at the size of the
  // largest message seen. simdjson reads up to SIMDJSON_PADDING bytes past
  // the end, so the text is copied into a padded buffer.
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(text);
  Element message;
  if (parser.parse(padded.data(), padded.size(), false).get(message) != simdjson::SUCCESS || !message.is_object()) {
    return Status::Error("server message is not a JSON object");
  }
  ServerMessage out;
  out.setup_complete = Get(message, "setupComplete").has_value();
  if (auto content = Get(message, "serverContent")) ParseServerContent(*content, out);
  if (auto call = Get(message, "toolCall")) ParseToolCall(*call, out);
  if (auto cancel = Get(message, "toolCallCancellation")) {
    ForEachIn(Get(*cancel, "ids"), [&](Element id) {
      std::string_view text;
      if (id.get(text) == simdjson::SUCCESS) out.cancelled_tool_calls.emplace_back(text);
    });
  }
  if (auto go_away = Get(message, "goAway")) {
    std::string_view time_left = StringOr(*go_away, "timeLeft");
    bool clamped = false;
    auto parsed = ParseDuration(std::string(time_left), &clamped);
    if (!parsed && !time_left.empty()) {
      AddProblem(out, fmt::format("goAway with a bad timeLeft '{}'", Excerpt(time_left, 64)));
    } else if (clamped) {
      AddProblem(out, fmt::format("goAway timeLeft '{}' out of range; taken as {} s", Excerpt(time_left, 64),
                                  kMaxDuration.count() / 1000));
    }
    out.go_away = parsed.value_or(std::chrono::milliseconds(0));
  }
  if (auto update = Get(message, "sessionResumptionUpdate")) {
    std::string_view handle = StringOr(*update, "newHandle");
    if (IsTrue(*update, "resumable") && !handle.empty()) out.new_handle = std::string(handle);
  }
  if (auto usage = Get(message, "usageMetadata")) ParseUsage(*usage, out);
  if (out.problems_dropped > 0) out.problems.push_back(fmt::format("and {} more problems", out.problems_dropped));
  return out;
}

}  // namespace voxpipe::gemini
