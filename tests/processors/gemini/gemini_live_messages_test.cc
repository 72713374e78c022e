#include "processors/gemini/gemini_live_messages.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "processors/common/base64.h"
#include "processors/gemini/gemini_live_options.h"

namespace voxpipe::gemini {
namespace {

using json = nlohmann::json;

TEST(GeminiLiveMessagesTest, EncodesAudioWithItsRate) {
  std::vector<int16_t> samples = {1, -2, 300};
  std::string out;
  EncodeAudioInput(samples.data(), samples.size(), 8000, out);
  auto message = json::parse(out);
  EXPECT_EQ(message["realtimeInput"]["audio"]["mimeType"], "audio/pcm;rate=8000");
  auto bytes = base64::Decode(message["realtimeInput"]["audio"]["data"].get<std::string>());
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 6u);
  EXPECT_EQ(std::memcmp(bytes->data(), samples.data(), 6), 0);
}

TEST(GeminiLiveMessagesTest, ParsesEveryFieldOfOneMessage) {
  std::vector<int16_t> pcm = {5, 6};
  std::string data = base64::Encode(std::span(reinterpret_cast<const uint8_t*>(pcm.data()), 4));
  json message = {
      {"serverContent",
       {{"modelTurn", {{"parts", json::array({{{"inlineData", {{"mimeType", "audio/pcm;rate=16000"}, {"data", data}}}}})}}},
        {"inputTranscription", {{"text", "hi"}, {"finished", true}}},
        {"outputTranscription", {{"text", "hello"}}},
        {"generationComplete", true},
        {"turnComplete", true}}},
      {"usageMetadata", {{"promptTokenCount", 3}, {"totalTokenCount", 7}}},
      {"toolCall", {{"functionCalls", json::array({{{"id", "c1"}, {"name", "f"}, {"args", {{"x", 1}}}}})}}},
      {"toolCallCancellation", {{"ids", json::array({"c0"})}}},
      {"goAway", {{"timeLeft", "9.5s"}}},
      {"sessionResumptionUpdate", {{"newHandle", "h1"}, {"resumable", true}}},
      {"setupComplete", json::object()}};
  auto parsed = ParseServerMessage(message.dump());
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->setup_complete);
  ASSERT_EQ(parsed->audio.size(), 1u);
  EXPECT_EQ(parsed->audio[0].sample_rate, 16000);
  EXPECT_EQ(parsed->audio[0].samples, pcm);
  EXPECT_EQ(parsed->input_transcription->text, "hi");
  EXPECT_TRUE(parsed->input_transcription->finished);
  EXPECT_EQ(parsed->output_transcription->text, "hello");
  EXPECT_TRUE(parsed->generation_complete);
  EXPECT_TRUE(parsed->turn_complete);
  EXPECT_EQ(parsed->usage.at("prompt_tokens"), 3);
  ASSERT_EQ(parsed->tool_calls.size(), 1u);
  EXPECT_EQ(parsed->tool_calls[0].args["x"], 1);
  EXPECT_EQ(parsed->cancelled_tool_calls, std::vector<std::string>{"c0"});
  EXPECT_EQ(parsed->go_away, std::chrono::milliseconds(9500));
  EXPECT_EQ(parsed->new_handle, "h1");
  EXPECT_TRUE(parsed->problems.empty());
}

// As Google formats them: spaces after separators, a role, escapes in text,
// nested tool arguments, and several serverContent fields in one message.
TEST(GeminiLiveMessagesTest, ParsesMessagesAsTheServerFormatsThem) {
  std::vector<int16_t> pcm(960);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(i * 37 - 12000);
  std::string data = base64::Encode(std::span(reinterpret_cast<const uint8_t*>(pcm.data()), pcm.size() * 2));
  auto parsed = ParseServerMessage(R"({"serverContent": {"modelTurn": {"role": "model", "parts": [
      {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": ")" + data + R"("}},
      {"text": "thinking", "thought": true}, {"text": "Say \"hi\"\n\u00e9"}]},
      "outputTranscription": {"text": "Your order"}, "turnComplete": true},
    "usageMetadata": {"promptTokenCount": 812, "responseTokenCount": 96.0, "totalTokenCount": 908,
                      "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 96}]},
    "toolCall": {"functionCalls": [{"id": "call-123", "name": "lookup_order",
                                    "args": {"id": "A17", "items": [1, 2.5, {"deep": null}], "rush": false}}]}})");
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  ASSERT_EQ(parsed->audio.size(), 1u);
  EXPECT_EQ(parsed->audio[0].sample_rate, 24000);
  EXPECT_EQ(parsed->audio[0].samples, pcm);
  EXPECT_EQ(parsed->text, std::vector<std::string>{"Say \"hi\"\n\u00e9"}) << "thoughts are not the model's words";
  EXPECT_EQ(parsed->output_transcription->text, "Your order");
  EXPECT_TRUE(parsed->turn_complete);
  EXPECT_EQ(parsed->usage.at("prompt_tokens"), 812);
  EXPECT_EQ(parsed->usage.at("response_tokens"), 96);
  ASSERT_EQ(parsed->tool_calls.size(), 1u);
  EXPECT_EQ(parsed->tool_calls[0].id, "call-123");
  EXPECT_EQ(parsed->tool_calls[0].args,
            json::parse(R"({"id": "A17", "items": [1, 2.5, {"deep": null}], "rush": false})"));
  EXPECT_TRUE(parsed->problems.empty());
}

TEST(GeminiLiveMessagesTest, InvalidUtf8OrTrailingGarbageIsNotAMessage) {
  EXPECT_FALSE(ParseServerMessage("{\"serverContent\": {\"outputTranscription\": {\"text\": \"\xff\"}}}").ok());
  EXPECT_FALSE(ParseServerMessage(R"({"setupComplete": {}} {)").ok());
  EXPECT_FALSE(ParseServerMessage("").ok());
  EXPECT_TRUE(ParseServerMessage(R"( {"setupComplete": {}} )")->setup_complete);
}

TEST(GeminiLiveMessagesTest, UntrustedDataBecomesProblemsNotCrashes) {
  EXPECT_FALSE(ParseServerMessage("{").ok());
  EXPECT_FALSE(ParseServerMessage("[1,2]").ok());
  auto parsed = ParseServerMessage(
      R"({"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAA"}},
          {"inlineData":{"mimeType":"audio/pcm;rate=abc","data":"AAAA"}}, {"inlineData":{"mimeType":"image/png","data":""}},
          "junk", {"text": 5}]}, "interrupted": "yes"},
          "sessionResumptionUpdate":{"newHandle":"h","resumable":false}, "goAway": 3, "toolCall": {"functionCalls":[{}]}})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->audio.empty());
  EXPECT_EQ(parsed->problems.size(), 4u);
  EXPECT_FALSE(parsed->interrupted);
  EXPECT_FALSE(parsed->new_handle) << "non-resumable handles are not kept";
  EXPECT_TRUE(parsed->tool_calls.empty());
}

// Finding 4 of issue 12: an empty audio part reached memcpy(nullptr, ..., 0),
// which the sanitizer build aborts on.
TEST(GeminiLiveMessagesTest, AnEmptyAudioPartIsSkipped) {
  auto parsed = ParseServerMessage(
      R"({"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":""}}]}}})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->audio.empty());
  EXPECT_TRUE(parsed->problems.empty());
}

// Finding 5 of issue 12: "1e300s" overflowed the float-to-integer conversion.
TEST(GeminiLiveMessagesTest, DurationsOutOfRangeAreClampedAndReported) {
  using std::chrono::milliseconds;
  for (const char* text : {"1e300s", "1e400s", "infs", "9223372036854775808s"}) {
    bool clamped = false;
    EXPECT_EQ(ParseDuration(text, &clamped), kMaxDuration) << text;
    EXPECT_TRUE(clamped) << text;
  }
  for (const char* text : {"nans", "-1s", "-1e400s", "s", "5", "5ms", "1e3"}) EXPECT_FALSE(ParseDuration(text)) << text;
  EXPECT_EQ(ParseDuration("9.5s"), milliseconds(9500));
  EXPECT_EQ(ParseDuration("86400s"), kMaxDuration);
  auto parsed = ParseServerMessage(R"({"goAway":{"timeLeft":"1e300s"}})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->go_away, kMaxDuration);
  ASSERT_EQ(parsed->problems.size(), 1u);
  EXPECT_NE(parsed->problems[0].find("out of range"), std::string::npos);
  parsed = ParseServerMessage(R"({"goAway":{"timeLeft":"soon"}})");
  EXPECT_EQ(parsed->go_away, milliseconds(0));
  EXPECT_EQ(parsed->problems.size(), 1u);
}

TEST(GeminiLiveMessagesTest, ProblemsPerMessageAreBounded) {
  std::string parts;
  for (int i = 0; i < 1000; ++i) parts += std::string(i ? "," : "") + R"({"inlineData":{"mimeType":"video/x","data":""}})";
  auto parsed = ParseServerMessage(R"({"serverContent":{"modelTurn":{"parts":[)" + parts + "]}}}");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->problems.size(), kMaxProblems + 1);
  EXPECT_EQ(parsed->problems.back(), fmt::format("and {} more problems", 1000 - kMaxProblems));
}

TEST(GeminiLiveMessagesTest, ExcerptsEndOnACharacterBoundary) {
  std::string mime = std::string(63, 'a') + "\u00e9\u00e9";  // é is two bytes: byte 64 is inside the first
  auto parsed = ParseServerMessage(R"({"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":")" + mime +
                                   R"(","data":""}}]}}})");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->problems.size(), 1u);
  EXPECT_EQ(parsed->problems[0], "inlineData with unsupported MIME type '" + std::string(63, 'a') + "'");
  EXPECT_EQ(Excerpt("\xe2\x82\xac\xe2\x82\xac", 4), "\xe2\x82\xac");  // two euro signs, cut after the first
  EXPECT_EQ(Excerpt("abc", 64), "abc");
}

TEST(GeminiLiveSetupTest, PlacesEveryOptionWhereTheApiWantsIt) {
  GeminiLiveOptions o;
  o.model = "models/gemini-x";
  o.language = "en-US";
  o.temperature = 0.5;
  o.system_instruction = "Be brief.";
  o.activity_detection.disabled = true;
  o.activity_detection.silence_duration = std::chrono::milliseconds(700);
  o.context_window_compression.enabled = true;
  o.context_window_compression.trigger_tokens = 25600;
  GeminiToolOptions tool;
  tool.name = "end_call";
  tool.handler = "end_call";
  o.tools.push_back(tool);
  auto setup = BuildGeminiSetup(o, "h7")["setup"];
  EXPECT_EQ(setup["model"], "models/gemini-x");
  EXPECT_EQ(setup["generationConfig"]["responseModalities"], json::array({"AUDIO"}));
  EXPECT_EQ(setup["generationConfig"]["speechConfig"]["languageCode"], "en-US");
  EXPECT_FALSE(setup["generationConfig"].contains("inputAudioTranscription"));
  EXPECT_TRUE(setup.contains("inputAudioTranscription"));
  EXPECT_TRUE(setup.contains("outputAudioTranscription"));
  EXPECT_EQ(setup["systemInstruction"]["parts"][0]["text"], "Be brief.");
  EXPECT_EQ(setup["realtimeInputConfig"]["automaticActivityDetection"]["disabled"], true);
  EXPECT_EQ(setup["realtimeInputConfig"]["automaticActivityDetection"]["silenceDurationMs"], 700);
  EXPECT_EQ(setup["contextWindowCompression"]["triggerTokens"], "25600");
  EXPECT_EQ(setup["sessionResumption"]["handle"], "h7");
  EXPECT_EQ(setup["tools"][0]["functionDeclarations"][0]["name"], "end_call");
  EXPECT_EQ(GeminiModelName("gemini-y"), "models/gemini-y");
}

}  // namespace
}  // namespace voxpipe::gemini
