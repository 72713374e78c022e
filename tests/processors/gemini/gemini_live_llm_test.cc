#include "processors/gemini/gemini_live_llm.h"

#include <gtest/gtest.h>

#include "tests/framework/client/test_http_server.h"
#include "tests/framework/client/test_tls.h"
#include "tests/processors/gemini/gemini_test_util.h"

namespace voxpipe {
namespace {

using namespace std::chrono_literals;
using testing::Concat;
using testing::GeminiStage;
using testing::PushAll;
using testing::Silence;
using testing::Speech;
using testing::StartEmulator;

constexpr char kReplyScenario[] = R"(
api_key: test-key-0123456789
reply: {tone_duration: 300ms, speed: 0, transcript: "Visiting hours are nine to eight."}
input_transcript: "what are the visiting hours"
)";

// Speech then enough silence for the emulator to take its turn.
void SayOneTurn(ProcessorHarness& h) {
  PushAll(h, Speech(200));
  PushAll(h, Silence(600));
}

size_t Count(const std::vector<Frame>& frames, auto pred) { return std::count_if(frames.begin(), frames.end(), pred); }

// What the model said: its transcript comes in pieces with the audio, as
// Gemini sends it; joined here.
std::string BotText(const std::vector<TranscriptionFrame>& transcripts, size_t* pieces = nullptr) {
  std::string text;
  size_t n = 0;
  for (const auto& t : transcripts) {
    if (t.speaker != TranscriptionFrame::Speaker::kBot) continue;
    text += t.text;
    ++n;
  }
  if (pieces) *pieces = n;
  return text;
}

TEST(GeminiLiveLLMTest, RepliesWithAudioTranscriptsEndOfTurnAndUsage) {
  auto emulator = StartEmulator(kReplyScenario);
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "voice: Kore\nthinking_budget: 0"), StreamFormat::Pcm16(16000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return emulator->stats().setups.size() == 1; }));
  auto turn = Concat(Speech(200));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }));
  h.RunFor(50ms);

  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio());
  for (const auto& audio : h.Downstream<AudioFrame>()) EXPECT_EQ(audio.sample_rate, 24000);
  auto transcripts = h.Downstream<TranscriptionFrame>();
  ASSERT_GE(transcripts.size(), 2u);
  EXPECT_EQ(transcripts[0].speaker, TranscriptionFrame::Speaker::kUser);
  EXPECT_EQ(transcripts[0].text, "what are the visiting hours");
  EXPECT_TRUE(transcripts[0].final);
  size_t pieces = 0;
  EXPECT_EQ(BotText(transcripts, &pieces), "Visiting hours are nine to eight.");
  EXPECT_GT(pieces, 1u) << "word by word with the audio";
  auto turns = h.Downstream<EndOfTurnFrame>();
  ASSERT_EQ(turns.size(), 1u) << "generationComplete and turnComplete end one turn";
  EXPECT_FALSE(turns[0].interrupted);
  auto metrics = h.Downstream<MetricsFrame>();
  ASSERT_FALSE(metrics.empty());
  EXPECT_EQ(metrics.back().values.at("total_tokens"), 125);

  auto stats = emulator->stats();
  ASSERT_EQ(stats.setups.size(), 1u);
  const auto& setup = stats.setups[0];
  EXPECT_EQ(setup["model"], "models/gemini-test-model");
  EXPECT_EQ(setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"], "Kore");
  EXPECT_EQ(setup["generationConfig"]["thinkingConfig"]["thinkingBudget"], 0);
  EXPECT_TRUE(setup.contains("inputAudioTranscription"));
  EXPECT_EQ(stats.caller_rates[0], 16000);
  auto sent = Concat(Speech(200));
  auto silence = Concat(Silence(600));
  sent.insert(sent.end(), silence.begin(), silence.end());
  EXPECT_EQ(stats.caller_audio[0], sent) << "caller audio goes out unchanged, in order";
  EXPECT_EQ(stats.text_frames, static_cast<int>(1 + 40)) << "setup and one message per frame, as text frames";
}

TEST(GeminiLiveLLMTest, HandlesEveryFieldOfABundledMessage) {
  auto emulator = StartEmulator(std::string(kReplyScenario) + "bundle: true\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }));
  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio());
  auto transcripts = h.Downstream<TranscriptionFrame>();
  EXPECT_EQ(std::count_if(transcripts.begin(), transcripts.end(),
                          [](const auto& t) { return t.speaker == TranscriptionFrame::Speaker::kUser; }),
            1);
  EXPECT_EQ(BotText(transcripts), "Visiting hours are nine to eight.");
  EXPECT_FALSE(h.Downstream<MetricsFrame>().empty());
}

TEST(GeminiLiveLLMTest, BuffersCallerAudioUntilSetupComplete) {
  auto emulator = StartEmulator("setup: {delay: 300ms}\nturn: {threshold_dbfs: -1}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(8000));
  auto early = Speech(400, 8000);
  PushAll(h, early);  // before the socket is even open
  ASSERT_TRUE(h.RunUntil([&] {
    auto s = emulator->stats();
    return !s.caller_audio.empty() && s.caller_audio[0].size() >= Concat(early).size();
  }));
  auto stats = emulator->stats();
  EXPECT_EQ(stats.caller_audio[0], Concat(early));
  EXPECT_EQ(stats.caller_rates[0], 8000) << "the frame's own rate goes in the MIME type";
}

TEST(GeminiLiveLLMTest, KeysTheCallerPressesReachTheModelAsText) {
  auto emulator = StartEmulator("setup: {delay: 200ms}\nturn: {threshold_dbfs: -1}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Push(DtmfFrame{'5'});  // before setupComplete: kept in order with the audio
  PushAll(h, Speech(40));
  h.Push(DtmfFrame{'#'});
  ASSERT_TRUE(h.RunUntil([&] { return emulator->stats().texts.size() == 2; }));
  EXPECT_EQ(emulator->stats().texts, (std::vector<std::string>{"[The caller pressed 5 on the phone keypad.]",
                                                                "[The caller pressed # on the phone keypad.]"}));
  EXPECT_EQ(h.Downstream<DtmfFrame>().size(), 2u) << "the key still goes on downstream";

  auto quiet = StartEmulator("turn: {threshold_dbfs: -1}\n");
  ASSERT_TRUE(quiet);
  ProcessorHarness off(GeminiStage(quiet->url(), "dtmf_text: ''"), StreamFormat::Pcm16(16000));
  off.Push(DtmfFrame{'1'});
  PushAll(off, Speech(200));
  ASSERT_TRUE(off.RunUntil([&] {
    auto s = quiet->stats();
    return !s.caller_audio.empty() && s.caller_audio[0].size() >= Concat(Speech(200)).size();
  }));
  EXPECT_TRUE(quiet->stats().texts.empty());
}

TEST(GeminiLiveLLMTest, StartPromptMakesTheModelSpeakFirstThenEachTurnGetsItsReply) {
  auto emulator = StartEmulator(R"(
setup: {delay: 100ms}
replies:
  - {tone_hz: 300, tone_duration: 200ms, speed: 0, transcript: "Sutherland General, how can I help?"}
  - {tone_hz: 500, tone_duration: 300ms, speed: 0, transcript: "Visiting hours are nine to eight."}
)");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "start_prompt: '[The call has started. Greet the caller.]'"),
                     StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.Downstream<EndOfTurnFrame>().size() == 1; }));
  EXPECT_EQ(emulator->stats().texts, std::vector<std::string>{"[The call has started. Greet the caller.]"})
      << "sent once, held until setupComplete";
  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio(1));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return h.Downstream<EndOfTurnFrame>().size() == 2; }));
  auto greeting = emulator->reply_audio(1);
  auto answer = emulator->reply_audio(2);
  EXPECT_NE(greeting, answer);
  greeting.insert(greeting.end(), answer.begin(), answer.end());
  EXPECT_EQ(h.DownstreamSamples(), greeting);
  EXPECT_EQ(BotText(h.Downstream<TranscriptionFrame>()),
            "Sutherland General, how can I help?Visiting hours are nine to eight.");
}

TEST(GeminiLiveLLMTest, BufferIsBoundedKeepingTheNewestAudio) {
  auto emulator = StartEmulator("setup: {delay: 300ms}\nturn: {threshold_dbfs: -1}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "max_buffered_audio: 100ms"), StreamFormat::Pcm16(16000));
  auto early = Speech(400);
  PushAll(h, early);
  std::vector<AudioFrame> newest(early.end() - 5, early.end());
  ASSERT_TRUE(h.RunUntil([&] {
    auto s = emulator->stats();
    return !s.caller_audio.empty() && s.caller_audio[0].size() >= Concat(newest).size();
  }));
  h.RunFor(50ms);
  EXPECT_EQ(emulator->stats().caller_audio[0], Concat(newest));
}

TEST(GeminiLiveLLMTest, CallerSpeechDuringAReplyInterruptsIt) {
  auto emulator = StartEmulator("reply: {tone_duration: 3s, speed: 1}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<AudioFrame>().empty(); }));
  PushAll(h, Speech(200));
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }));
  EXPECT_EQ(h.Downstream<InterruptionFrame>().size(), 1u);
  EXPECT_EQ(h.Upstream<InterruptionFrame>().size(), 1u) << "broadcast both ways";
  auto turns = h.Downstream<EndOfTurnFrame>();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_TRUE(turns[0].interrupted);
  EXPECT_LT(h.DownstreamSamples().size(), emulator->reply_audio().size());
  // The interruption frame comes after the audio it cuts.
  auto frames = h.TakeDownstream();
  auto interruption = std::find_if(frames.begin(), frames.end(), [](const Frame& f) { return f.Is<InterruptionFrame>(); });
  EXPECT_EQ(std::find_if(interruption, frames.end(), [](const Frame& f) { return f.Is<AudioFrame>(); }), frames.end());
}

TEST(GeminiLiveLLMTest, AMissingTurnCompleteEndsTheTurnAfterTheTimeout) {
  auto emulator = StartEmulator("reply: {tone_duration: 100ms, speed: 0, end_turn: false}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "turn_complete_timeout: 200ms"), StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<AudioFrame>().empty(); }));
  auto audio_at = Clock::now();
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }, 2s));
  EXPECT_GE(Clock::now() - audio_at, 150ms);
}

TEST(GeminiLiveLLMTest, MalformedServerDataIsReportedAndSkipped) {
  auto emulator = StartEmulator(R"(
after_setup:
  - "this is not json"
  - '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"@@@"}}]}}}'
  - '{"serverContent":{"modelTurn":{"parts":[{"text":"hello"},{"text":"thinking","thought":true}]},"outputTranscription":{"text":"still fine"}},"voiceActivity":{"type":"ACTIVITY_START"}}'
  - '{"toolCallCancellation":{"ids":["x"]}}'
  - '{"sessionResumptionUpdate":{"newHandle":"","resumable":false}}'
)");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<TranscriptionFrame>().empty(); }));
  h.RunFor(50ms);
  auto errors = h.Upstream<ErrorFrame>();
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) EXPECT_FALSE(e.fatal);
  EXPECT_NE(errors[1].message.find("base64"), std::string::npos) << errors[1].message;
  auto texts = h.Downstream<TextFrame>();
  ASSERT_EQ(texts.size(), 1u) << "thoughts are not spoken text";
  EXPECT_EQ(texts[0].text, "hello");
  EXPECT_EQ(h.Downstream<TranscriptionFrame>()[0].text, "still fine");
  EXPECT_FALSE(h.finished());
}

// ---- tools ------------------------------------------------------------------


std::string ToolScenario(const std::string& name, const std::string& args = "{}", const std::string& extra = "") {
  return fmt::format("reply: {{tone_duration: 200ms, speed: 0}}\ntool_calls: [{{name: {}, args: {}{}}}]\n", name, args,
                     extra);
}

TEST(GeminiLiveLLMTest, HttpToolPostsArgumentsAndAnswersWithTheSameId) {
  testing::TestHttpServer service([](const testing::TestHttpServer::Request&) {
    return testing::TestHttpServer::Reply{200, R"({"hours":"9am-8pm"})"};
  });
  auto emulator = StartEmulator(ToolScenario("visiting_hours", "{ward: cardiology}"));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), fmt::format(R"(tools:
  - name: visiting_hours
    description: Visiting hours of a ward
    parameters: {{type: OBJECT, properties: {{ward: {{type: STRING}}}}, required: [ward]}}
    handler: http
    url: {})", service.url("/hours"))),
                     StreamFormat::Pcm16(16000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }));

  auto calls = h.Downstream<ToolCallFrame>();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "visiting_hours");
  EXPECT_EQ(calls[0].arguments["ward"], "cardiology");
  auto results = h.Downstream<ToolResultFrame>();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result["output"]["hours"], "9am-8pm");
  auto requests = service.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(requests[0].body), nlohmann::json::parse(R"({"ward":"cardiology"})"));
  auto stats = emulator->stats();
  ASSERT_EQ(stats.tool_responses.size(), 1u);
  EXPECT_EQ(stats.tool_responses[0]["id"], calls[0].id);
  EXPECT_EQ(stats.tool_responses[0]["response"]["output"]["hours"], "9am-8pm");
  EXPECT_EQ(stats.setups[0]["tools"][0]["functionDeclarations"][0]["parameters"]["required"][0], "ward");
  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio()) << "the model replies once the tool answered";
}

TEST(GeminiLiveLLMTest, HttpToolFailuresGoBackToTheModelAsErrors) {
  testing::TestHttpServer service([](const testing::TestHttpServer::Request&) {
    return testing::TestHttpServer::Reply{503, R"({"oops":1})"};
  });
  auto emulator = StartEmulator(ToolScenario("lookup"));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), fmt::format("tools: [{{name: lookup, handler: http, url: '{}'}}]",
                                                              service.url())),
                     StreamFormat::Pcm16(16000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !emulator->stats().tool_responses.empty(); }));
  auto response = emulator->stats().tool_responses[0]["response"];
  ASSERT_TRUE(response.contains("error")) << response.dump();
  EXPECT_NE(response["error"].get<std::string>().find("503"), std::string::npos);
}

TEST(GeminiLiveLLMTest, UnknownFunctionsAreAnsweredWithAnError) {
  auto emulator = StartEmulator(ToolScenario("launch_rocket"));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }));
  auto stats = emulator->stats();
  ASSERT_EQ(stats.tool_responses.size(), 1u);
  EXPECT_NE(stats.tool_responses[0]["response"]["error"].get<std::string>().find("unknown function"), std::string::npos);
}

TEST(GeminiLiveLLMTest, CancelledToolCallsAreNotAnswered) {
  testing::TestHttpServer service([](const testing::TestHttpServer::Request&) {
    return testing::TestHttpServer::Reply{200, "{}", 100ms};
  });
  auto emulator = StartEmulator(ToolScenario("lookup", "{}", ", cancel: true"));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), fmt::format("tools: [{{name: lookup, handler: http, url: '{}'}}]",
                                                              service.url())),
                     StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return service.requests().size() == 1; }));
  h.RunFor(300ms);
  EXPECT_TRUE(emulator->stats().tool_responses.empty());
  EXPECT_TRUE(h.Downstream<ToolResultFrame>().empty());
}

TEST(GeminiLiveLLMTest, EndCallEndsThePipelineAfterTheReply) {
  auto emulator = StartEmulator(ToolScenario("end_call"));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "tools: [{name: end_call, description: Hang up, handler: end_call}]"),
                     StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_TRUE(h.result().ok()) << h.result().message();
  auto frames = h.TakeDownstream();
  auto end = std::find_if(frames.begin(), frames.end(), [](const Frame& f) { return f.Is<EndFrame>(); });
  ASSERT_NE(end, frames.end());
  EXPECT_EQ(end->As<EndFrame>()->reason, "end_call");
  auto audio = Count(frames, [](const Frame& f) { return f.Is<AudioFrame>(); });
  EXPECT_GT(audio, 0);
  EXPECT_EQ(std::find_if(end, frames.end(), [](const Frame& f) { return f.Is<AudioFrame>(); }), frames.end())
      << "the goodbye is played before the call ends";
}

TEST(GeminiLiveLLMTest, TransferCallAsksTheTransportToTransferAfterTheReply) {
  auto emulator = StartEmulator(ToolScenario("transfer_to_human", "{target: '+15550100'}"));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(),
                                 "tools: [{name: transfer_to_human, handler: transfer_call, message: Connecting you}]"),
                     StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<CallControlFrame>().empty(); }));
  auto control = h.Downstream<CallControlFrame>();
  EXPECT_EQ(control[0].action, CallControlFrame::Action::kTransfer);
  EXPECT_EQ(control[0].target, "+15550100");
  EXPECT_EQ(control[0].message, "Connecting you");
  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio());
  EXPECT_FALSE(h.finished());
}

// ---- long calls -------------------------------------------------------------

// Frames whose samples tell where they were in the call.
std::vector<AudioFrame> NumberedQuietFrames(int count) {
  std::vector<AudioFrame> frames;
  for (int f = 0; f < count; ++f) frames.push_back(AudioFrame{16000, 1, std::vector<int16_t>(320, int16_t(f + 1))});
  return frames;
}

TEST(GeminiLiveLLMTest, GoAwayHandsOverToAResumedSessionWithoutLosingCallerAudio) {
  auto emulator = StartEmulator("turn: {threshold_dbfs: -1}\ngo_away: {after: 200ms, time_left: 2s, connections: 1}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return emulator->stats().setups.size() == 1; }));
  auto frames = NumberedQuietFrames(40);
  for (const auto& f : frames) {
    h.Push(f);
    h.RunFor(20ms);  // 800 ms of a call, the goAway in the middle
  }
  auto sent = Concat(frames);
  auto received = [&] {
    auto s = emulator->stats();
    std::vector<int16_t> all;
    for (const auto& a : s.caller_audio) all.insert(all.end(), a.begin(), a.end());
    return all;
  };
  ASSERT_TRUE(h.RunUntil([&] { return received().size() >= sent.size(); }));
  auto stats = emulator->stats();
  EXPECT_EQ(stats.connections, 2);
  EXPECT_EQ(received(), sent) << "every caller frame arrives once, in order, across the handover";
  ASSERT_EQ(stats.resumed_handles.size(), 1u);
  EXPECT_EQ(stats.setups[1]["sessionResumption"]["handle"], stats.resumed_handles[0]);
  EXPECT_FALSE(stats.caller_audio[1].empty()) << "the new session took over";
  EXPECT_TRUE(h.Upstream<ErrorFrame>().empty());
}

class ReconnectTest : public ::testing::TestWithParam<int> {};

TEST_P(ReconnectTest, AnAbruptCloseReconnectsWithTheLatestHandle) {
  auto emulator = StartEmulator(fmt::format(
      "turn: {{threshold_dbfs: -1}}\nclose: {{after: 150ms, code: {}, connections: 1}}\n", GetParam()));
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  auto frames = NumberedQuietFrames(30);
  for (const auto& f : frames) {
    h.Push(f);
    h.RunFor(20ms);
  }
  ASSERT_TRUE(h.RunUntil([&] {
    auto s = emulator->stats();
    return s.caller_audio.size() == 2 && s.caller_audio[1].size() > 0 && s.caller_audio[1].back() == 30;
  }));
  auto stats = emulator->stats();
  EXPECT_EQ(stats.connections, 2);
  ASSERT_EQ(stats.resumed_handles.size(), 1u);
  EXPECT_EQ(stats.resumed_handles[0], "handle-0-1");
  for (const auto& e : h.Upstream<ErrorFrame>()) EXPECT_FALSE(e.fatal) << e.message;
  EXPECT_FALSE(h.finished());
}

INSTANTIATE_TEST_SUITE_P(Codes, ReconnectTest, ::testing::Values(1011, 1006));

TEST(GeminiLiveLLMTest, InvalidArgumentCloseEndsTheCallWithTheReasonAndNoRetry) {
  auto emulator = StartEmulator("setup: {close_code: 1007, close_reason: 'Request contains an invalid argument.'}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_FALSE(h.result().ok());
  EXPECT_NE(h.result().message().find("(1007): Request contains an invalid argument."), std::string::npos)
      << h.result().message();
  auto errors = h.Upstream<ErrorFrame>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].fatal);
  h.RunFor(200ms);
  EXPECT_EQ(emulator->stats().connections, 1) << "a deterministic close is not retried";
}

TEST(GeminiLiveLLMTest, AnUnknownModelIsFatal) {
  auto emulator = StartEmulator("models: [gemini-good]\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_NE(h.result().message().find("(1008): models/gemini-test-model is not found"), std::string::npos)
      << h.result().message();
  EXPECT_EQ(emulator->stats().connections, 1);
}

TEST(GeminiLiveLLMTest, AWrongKeyIsFatalAndNeverShown) {
  auto emulator = StartEmulator("api_key: another-key\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_NE(h.result().message().find("HTTP 403"), std::string::npos) << h.result().message();
  EXPECT_EQ(h.result().message().find(testing::kTestKey), std::string::npos);
  EXPECT_EQ(emulator->stats().rejected, 1);
}

TEST(GeminiLiveLLMTest, GivesUpOnAnUnreachableServerAfterTheAttempts) {
  unsigned short port;
  {
    auto emulator = StartEmulator("");
    port = emulator->port();
  }
  ProcessorHarness h(GeminiStage(fmt::format("ws://127.0.0.1:{}/ws", port), "reconnect_attempts: 2"),
                     StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_NE(h.result().message().find("unreachable after 2 reconnect attempts"), std::string::npos)
      << h.result().message();
}

TEST(GeminiLiveLLMTest, ASlowSetupTimesOut) {
  auto emulator = StartEmulator("setup: {delay: 3s}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "setup_timeout: 200ms\nreconnect_attempts: 0"),
                     StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_NE(h.result().message().find("no setupComplete within 200 ms"), std::string::npos) << h.result().message();
}

TEST(GeminiLiveLLMTest, SpeaksWssWithCertificateChecks) {
  auto pki = testing::MakeTestPki({"localhost"});
  ASSERT_FALSE(pki.dir.empty());
  auto emulator = StartEmulator(kReplyScenario, {.tls_cert = pki.server_cert, .tls_key = pki.server_key});
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url("localhost"), "ca_file: " + pki.ca_cert), StreamFormat::Pcm16(16000));
  SayOneTurn(h);
  ASSERT_TRUE(h.RunUntil([&] { return !h.Downstream<EndOfTurnFrame>().empty(); }));
  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio());

  ProcessorHarness wrong_name(GeminiStage(emulator->url("127.0.0.1"), "ca_file: " + pki.ca_cert + "\nreconnect_attempts: 0"),
                              StreamFormat::Pcm16(16000));
  wrong_name.Start();
  ASSERT_TRUE(wrong_name.RunUntil([&] { return wrong_name.finished(); }));
  EXPECT_NE(wrong_name.result().message().find("certificate verification failed"), std::string::npos)
      << wrong_name.result().message();
}

TEST(GeminiLiveLLMTest, WaitsForTheReplyBeforeEndingWhenAsked) {
  auto emulator = StartEmulator(kReplyScenario);
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "await_reply_on_end: true"), StreamFormat::Pcm16(16000));
  PushAll(h, Speech(200));
  PushAll(h, Silence(100));
  h.End();  // the end of input: audioStreamEnd ends the caller's turn
  ASSERT_TRUE(h.finished());
  EXPECT_TRUE(h.result().ok()) << h.result().message();
  EXPECT_EQ(h.DownstreamSamples(), emulator->reply_audio());
  EXPECT_EQ(emulator->stats().audio_stream_ends, 1);
  auto metrics = h.Downstream<MetricsFrame>();
  ASSERT_FALSE(metrics.empty());
  EXPECT_TRUE(metrics.back().values.count("input_latency_p99_us")) << "latency figures go out before the EndFrame";
}

// Prints the latency the processor adds (its own recorder); not a timing assertion.
TEST(GeminiLiveLLMTest, ReportsTheLatencyItAdds) {
  auto emulator = StartEmulator("turn: {threshold_dbfs: -1, after_audio: 200ms}\nreply: {tone_duration: 200ms, chunk: 40ms, speed: 0}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url()), StreamFormat::Pcm16(16000));
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return emulator->stats().setups.size() == 1; }));
  h.RunFor(20ms);
  AudioFrame frame{16000, 1, std::vector<int16_t>(320)};
  for (int i = 0; i < 1000; ++i) {
    h.Push(frame);
    h.RunFor(1ms);
  }
  ASSERT_TRUE(h.RunUntil([&] { return emulator->stats().replies_completed >= 90; }));
  h.RunFor(100ms);
  h.End();
  auto metrics = h.Downstream<MetricsFrame>();
  ASSERT_FALSE(metrics.empty());
  const auto& v = metrics.back().values;
  ASSERT_GT(v.at("input_latency_samples"), 900);
  ASSERT_GT(v.at("output_latency_samples"), 400);
  std::printf("GeminiLiveLLM added latency: caller frame -> realtimeInput on the socket p50 %.1f us, p99 %.1f us (%g "
              "frames); server message -> audio frame out p50 %.1f us, p99 %.1f us (%g frames)\n",
              v.at("input_latency_p50_us"), v.at("input_latency_p99_us"), v.at("input_latency_samples"),
              v.at("output_latency_p50_us"), v.at("output_latency_p99_us"), v.at("output_latency_samples"));
}

TEST(GeminiLiveLLMTest, RefusesMulawInputWhenBuilt) {
  ProcessorHarness h(GeminiStage("ws://127.0.0.1:1/ws"), StreamFormat::Mulaw(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("expects PCM"), std::string::npos) << h.status().message();
}

TEST(GeminiLiveLLMTest, RefusesBadToolDeclarationsWhenBuilt) {
  ProcessorHarness h(GeminiStage("ws://127.0.0.1:1/ws", "tools: [{name: x, handler: http}]"), StreamFormat::Pcm16(16000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("needs a url"), std::string::npos) << h.status().message();
}

}  // namespace
}  // namespace voxpipe

namespace voxpipe {
namespace {

using namespace std::chrono_literals;
using testing::GeminiStage;
using testing::StartEmulator;

TEST(GeminiLiveLLMTest, GoAwayAfterEverySetupIsBudgetedAndBackedOff) {
  // A server that asks for a new connection right after every setup.
  auto emulator = StartEmulator("go_away: {after: 10ms, time_left: 5s, connections: 0}\n");
  ASSERT_TRUE(emulator);
  ProcessorHarness h(GeminiStage(emulator->url(), "handover_budget: 3\nhandover_backoff: 100ms\nhandover_window: 1m"),
                     StreamFormat::Pcm16(16000));
  h.Start();
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }, 10s));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(h.result().ok());
  EXPECT_NE(h.result().message().find("asked for 4 new connections"), std::string::npos) << h.result().message();
  auto errors = h.Upstream<ErrorFrame>();
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(errors.back().fatal) << "the call takes its fallback path";
  EXPECT_EQ(emulator->stats().connections, 4) << "the first connection and three handovers, then no more";
  // Each goAway came right after its session was ready, so the handovers
  // waited 100, 200 and 400 ms.
  EXPECT_GE(took, 700ms);
}

TEST(GeminiLiveLLMTest, SendIntervalGathersCallerAudioIntoFewerMessages) {
  for (auto [interval, expected] : {std::pair{20, 20}, std::pair{40, 10}, std::pair{100, 4}}) {
    auto emulator = StartEmulator("turn: {threshold_dbfs: -1}\n");
    ASSERT_TRUE(emulator);
    ProcessorHarness h(GeminiStage(emulator->url(), fmt::format("send_interval: {}ms", interval)),
                       StreamFormat::Pcm16(16000));
    h.Start();
    ASSERT_TRUE(h.RunUntil([&] { return emulator->stats().setups.size() == 1; }));
    auto frames = testing::Speech(400);  // 20 frames of 20 ms
    for (const auto& f : frames) h.Push(f);
    auto all = testing::Concat(frames);
    ASSERT_TRUE(h.RunUntil([&] {
      auto s = emulator->stats();
      return s.caller_audio.size() == 1 && s.caller_audio[0].size() >= all.size();
    }));
    auto received = emulator->stats();
    ASSERT_EQ(received.caller_audio.size(), 1u);
    EXPECT_EQ(received.caller_audio[0], all) << interval << " ms: every sample arrives, in order";
    EXPECT_EQ(received.audio_messages, expected) << interval << " ms";
  }
}

TEST(GeminiLiveLLMTest, AMissingInstructionFileFailsTheBuildWithItsLine) {
  ProcessorHarness h(GeminiStage("ws://127.0.0.1:1/ws", "system_instruction_file: no-such-prompt.md"),
                     StreamFormat::Pcm16(16000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find(":6: system_instruction_file: cannot read"), std::string::npos)
      << h.status().message();
  EXPECT_NE(h.status().message().find("no-such-prompt.md"), std::string::npos) << h.status().message();
}

TEST(GeminiLiveLLMTest, ABadUrlFailsTheBuild) {
  for (const char* url : {"http://example.com/ws", "not a url"}) {
    ProcessorHarness h(GeminiStage(url), StreamFormat::Pcm16(16000));
    ASSERT_FALSE(h.status().ok()) << url;
    EXPECT_NE(h.status().message().find(":2: url"), std::string::npos) << h.status().message();
  }
}

}  // namespace
}  // namespace voxpipe
