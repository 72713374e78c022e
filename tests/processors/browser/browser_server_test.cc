// The browser voice chat end to end: a BrowserServer with the in-process
// Gemini Live emulator behind it, and a client speaking Pipecat's protocol
// (binary protobuf frames, RTVI JSON inside) as @pipecat-ai/client-js does.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/processors/browser/browser_test_util.h"
#include "tests/processors/gemini/gemini_test_util.h"

namespace voxpipe::browser::testing {
namespace {

using voxpipe::testing::Concat;
using voxpipe::testing::GeminiStage;
using voxpipe::testing::Silence;
using voxpipe::testing::Speech;
using voxpipe::testing::StartEmulator;

constexpr char kToneScenario[] = R"(
api_key: ""
reply: {tone_duration: 1000ms, speed: 8, transcript: "Visiting hours are nine to eight."}
input_transcript: "What are the visiting hours?"
)";

// A reply in real time, long enough to barge into.
constexpr char kLongScenario[] = R"(
api_key: ""
reply: {tone_duration: 4000ms, speed: 1, transcript: "A long answer."}
turn: {interrupt_after: 60ms}
input_transcript: "Tell me everything."
)";

std::string WebDir() {
  static std::string dir = [] {
    auto path = std::filesystem::temp_directory_path() / ("voxpipe_browser_web_" + std::to_string(getpid()));
    std::filesystem::create_directories(path);
    std::ofstream(path / "index.html") << "<!doctype html><title>voice chat</title>";
    std::ofstream(path / "app.js") << "console.log('hi');";
    return path.string();
  }();
  return dir;
}

std::string Line(const std::string& model_url, const std::string& server_extra = "") {
  return "  web_dir: " + WebDir() + "\n" + server_extra + "pipeline:\n- type: BrowserInput\n" + GeminiStage(model_url) +
         "- type: BrowserOutput\n";
}

std::vector<int16_t> Utterance() {
  auto samples = Concat(Speech(600));
  auto silence = Concat(Silence(700));
  samples.insert(samples.end(), silence.begin(), silence.end());
  return samples;
}

size_t AudioSamples(const std::vector<Received>& all) {
  size_t n = 0;
  for (const auto& r : all) n += r.is_audio ? r.audio.size() : 0;
  return n;
}

int IndexOf(const std::vector<Received>& all, const std::string& type) {
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].is_audio && all[i].rtvi.value("type", "") == type) return int(i);
  }
  return -1;
}

TEST(BrowserServer, ServesThePageHealthAndStart) {
  auto emulator = StartEmulator(kToneScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url()));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();

  auto page = runner.Fetch({.url = "/"});
  ASSERT_TRUE(page.ok()) << page.message();
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, "<!doctype html><title>voice chat</title>");
  EXPECT_NE(page->header("content-type").find("text/html"), std::string::npos);
  auto script = runner.Fetch({.url = "/app.js"});
  ASSERT_TRUE(script.ok());
  EXPECT_EQ(script->status, 200);
  EXPECT_NE(script->header("content-type").find("javascript"), std::string::npos);
  auto missing = runner.Fetch({.url = "/../../etc/passwd"});
  ASSERT_TRUE(missing.ok());
  EXPECT_NE(missing->status, 200);

  auto health = runner.Fetch({.url = "/health"});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);

  // Pipecat's startBot sends a JSON content type and no body.
  auto start = runner.Fetch({.method = "POST", .url = "/start", .headers = {{"Content-Type", "application/json"}}});
  ASSERT_TRUE(start.ok()) << start.message();
  EXPECT_EQ(start->status, 200) << start->body;
  auto reply = nlohmann::json::parse(start->body);
  EXPECT_EQ(reply, nlohmann::json({{"wsUrl", runner.ws_url()}}));
}

TEST(BrowserServer, ConversationWithTheModel) {
  auto emulator = StartEmulator(kToneScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url()));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();

  PipecatTestClient client(runner, runner.ws_url(), {{"Origin", "http://127.0.0.1:" + std::to_string(runner.server().port())}});
  ASSERT_TRUE(client.WaitOpen());
  client.ClientReady("a1b2c3d4");
  auto ready = client.WaitRtvi("bot-ready");
  ASSERT_FALSE(ready.is_null());
  EXPECT_EQ(ready["id"], "a1b2c3d4");
  EXPECT_EQ(ready["data"]["version"], "2.1.0");

  auto spoken = Utterance();
  client.SendAudio(spoken);
  auto& reply_audio = emulator->reply_audio(1);
  ASSERT_TRUE(client.WaitFor([&](const auto& all) {
    return AudioSamples(all) >= reply_audio.size() && IndexOf(all, "bot-stopped-speaking") >= 0;
  })) << AudioSamples(client.received()) << " of " << reply_audio.size();

  // The microphone reached the model bit-exact (16 kHz in and out).
  auto stats = emulator->stats();
  ASSERT_EQ(stats.caller_audio.size(), 1u);
  ASSERT_GE(stats.caller_audio[0].size(), spoken.size());
  EXPECT_TRUE(std::equal(spoken.begin(), spoken.end(), stats.caller_audio[0].begin()));
  EXPECT_EQ(stats.caller_rates[0], 16000);

  auto all = client.received();
  EXPECT_EQ(client.bad_frames(), 0);
  // The bot's audio, whole, as 24 kHz messages of at most 40 ms.
  std::vector<int16_t> heard;
  Clock::time_point first{}, last{};
  for (const auto& r : all) {
    if (!r.is_audio) continue;
    EXPECT_EQ(r.sample_rate, 24000u);
    EXPECT_LE(r.audio.size(), 960u);
    if (heard.empty()) first = r.at;
    last = r.at;
    heard.insert(heard.end(), r.audio.begin(), r.audio.end());
  }
  EXPECT_EQ(heard, reply_audio);
  // Paced: the model sent 1 s of audio in 125 ms; the page got it over about
  // a second (at most the 50 ms lead and one chunk early).
  auto span = std::chrono::duration_cast<std::chrono::milliseconds>(last - first);
  EXPECT_GE(span.count(), 1000 - 50 - 40 - 20) << "audio was not paced";

  // Events around the audio, and both transcripts.
  int started = IndexOf(all, "bot-started-speaking");
  int stopped = IndexOf(all, "bot-stopped-speaking");
  ASSERT_GE(started, 0);
  int first_audio = -1, last_audio = -1;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].is_audio) continue;
    if (first_audio < 0) first_audio = int(i);
    last_audio = int(i);
  }
  EXPECT_LT(started, first_audio);
  EXPECT_GT(stopped, last_audio);
  ASSERT_TRUE(client.WaitFor([](const auto& all) {
    return IndexOf(all, "user-transcription") >= 0 && IndexOf(all, "bot-transcription") >= 0;
  }));
  all = client.received();
  std::string user, bot, output;
  for (const auto& r : all) {
    if (r.is_audio) continue;
    std::string type = r.rtvi.value("type", "");
    if (type == "user-transcription") {
      user += r.rtvi["data"].value("text", "");
      EXPECT_TRUE(r.rtvi["data"].contains("final"));
      EXPECT_TRUE(r.rtvi["data"].contains("user_id"));
      EXPECT_TRUE(r.rtvi["data"].contains("timestamp"));
    }
    if (type == "bot-transcription") bot += r.rtvi["data"].value("text", "");
    if (type == "bot-output") output += r.rtvi["data"].value("text", "");
  }
  EXPECT_NE(user.find("visiting hours"), std::string::npos) << user;
  EXPECT_NE(bot.find("nine to eight"), std::string::npos) << bot;
  EXPECT_EQ(output, bot);
  EXPECT_GE(IndexOf(all, "user-started-speaking"), 0);
  EXPECT_GE(IndexOf(all, "user-stopped-speaking"), 0);
}

TEST(BrowserServer, InterruptionStopsTheAudio) {
  auto emulator = StartEmulator(kLongScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url()));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  PipecatTestClient client(runner, runner.ws_url());
  ASSERT_TRUE(client.WaitOpen());
  client.ClientReady();
  client.SendAudio(Utterance());
  ASSERT_TRUE(client.WaitFor([](const auto& all) { return AudioSamples(all) >= 24000 / 2; }));
  client.SendAudio(Concat(Speech(300)));
  ASSERT_FALSE(client.WaitRtvi("bot-interrupted").is_null());
  // Nothing more of that reply comes, however long we wait.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto all = client.received();
  int interrupted = IndexOf(all, "bot-interrupted");
  for (size_t i = interrupted; i < all.size(); ++i) EXPECT_FALSE(all[i].is_audio) << "audio after bot-interrupted";
  EXPECT_LT(AudioSamples(all), size_t(24000 * 4));
  EXPECT_GE(IndexOf(all, "user-started-speaking"), 0);
  EXPECT_GT(IndexOf(all, "bot-stopped-speaking"), IndexOf(all, "bot-started-speaking"));
  EXPECT_EQ(emulator->stats().interruptions, 1);
}

TEST(BrowserServer, TextClientMessagesAndUnsupportedTypes) {
  auto emulator = StartEmulator(kToneScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url()));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  PipecatTestClient client(runner, runner.ws_url());
  ASSERT_TRUE(client.WaitOpen());
  client.ClientReady();
  ASSERT_FALSE(client.WaitRtvi("bot-ready").is_null());

  client.SendRtvi("client-message", {{"t", "ping"}, {"d", {{"n", 1}}}}, "m1");
  auto echo = client.WaitRtvi("server-response");
  ASSERT_FALSE(echo.is_null());
  EXPECT_EQ(echo["id"], "m1");
  EXPECT_EQ(echo["data"], nlohmann::json({{"t", "ping"}, {"d", {{"n", 1}}}}));

  client.SendRtvi("ui-event", nlohmann::json::object(), "u1");
  auto unsupported = client.WaitRtvi("error-response");
  ASSERT_FALSE(unsupported.is_null());
  EXPECT_EQ(unsupported["id"], "u1");

  client.SendRtvi("send-text", {{"content", "Where do I park?"}, {"options", {{"run_immediately", true}}}}, "t1");
  bool reached = false;
  for (int i = 0; i < 200 && !reached; ++i) {
    for (const auto& text : emulator->stats().texts) reached = reached || text.find("Where do I park?") != std::string::npos;
    if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(reached) << "send-text did not reach the model";
}

TEST(BrowserServer, DisconnectBotEndsTheCall) {
  auto emulator = StartEmulator(kToneScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url()));
  ASSERT_TRUE(runner.status().ok());
  PipecatTestClient client(runner, runner.ws_url());
  ASSERT_TRUE(client.WaitOpen());
  client.ClientReady();
  ASSERT_FALSE(client.WaitRtvi("bot-ready").is_null());
  client.SendRtvi("disconnect-bot", nlohmann::json::object(), "d1");
  ASSERT_TRUE(client.WaitClosed());
  EXPECT_EQ(client.close().code, 1000);
}

TEST(BrowserServer, RefusesOtherOriginsAndBadTokens) {
  auto emulator = StartEmulator(kToneScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url(), "  token: s3cret\n"));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  {
    PipecatTestClient client(runner, runner.ws_url("?token=s3cret"), {{"Origin", "https://evil.example"}});
    ASSERT_TRUE(client.WaitOpen());
    ASSERT_TRUE(client.WaitClosed());
    EXPECT_EQ(client.close().code, 4001);
    EXPECT_EQ(client.close().reason, "origin not allowed");
  }
  {
    PipecatTestClient client(runner, runner.ws_url("?token=wrong"));
    ASSERT_TRUE(client.WaitOpen());
    ASSERT_TRUE(client.WaitClosed());
    EXPECT_EQ(client.close().code, 4003);
  }
  {
    PipecatTestClient client(runner, runner.ws_url("?token=s3cret"));
    ASSERT_TRUE(client.WaitOpen());
    client.ClientReady();
    EXPECT_FALSE(client.WaitRtvi("bot-ready").is_null());
  }
  auto start = runner.Fetch({.method = "POST", .url = "/start"});
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->status, 401);
  auto start_ok = runner.Fetch({.method = "POST", .url = "/start?token=s3cret"});
  ASSERT_TRUE(start_ok.ok());
  EXPECT_EQ(start_ok->status, 200);
  EXPECT_EQ(nlohmann::json::parse(start_ok->body)["token"], "s3cret");
}

TEST(BrowserServer, LimitsSessionsSizeRateAndTime) {
  auto emulator = StartEmulator(kToneScenario);
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url(), "  max_calls: 1\n  max_messages_per_second: 20\n  max_session: 800ms\n"
                                             "  max_message_bytes: 4096\n"));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  PipecatTestClient first(runner, runner.ws_url());
  ASSERT_TRUE(first.WaitOpen());
  first.ClientReady();
  ASSERT_FALSE(first.WaitRtvi("bot-ready").is_null());
  {
    PipecatTestClient second(runner, runner.ws_url());
    ASSERT_TRUE(second.WaitOpen());
    second.ClientReady();
    ASSERT_TRUE(second.WaitClosed());
    EXPECT_EQ(second.close().code, 1013);
  }
  // The first session reaches its time limit: a fatal error, then 4009.
  auto error = first.WaitRtvi("error");
  ASSERT_FALSE(error.is_null());
  EXPECT_EQ(error["data"]["fatal"], true);
  ASSERT_TRUE(first.WaitClosed());
  EXPECT_EQ(first.close().code, 4009);

  {
    PipecatTestClient big(runner, runner.ws_url());
    ASSERT_TRUE(big.WaitOpen());
    big.SendAudio(std::vector<int16_t>(4000), 4000);  // 8 kB in one message
    ASSERT_TRUE(big.WaitClosed());
    EXPECT_EQ(big.close().code, 1009);
  }
  {
    PipecatTestClient chatty(runner, runner.ws_url());
    ASSERT_TRUE(chatty.WaitOpen());
    for (int i = 0; i < 40; ++i) chatty.SendRaw("x", /*binary=*/false);  // 40 messages at once
    ASSERT_TRUE(chatty.WaitClosed());
    EXPECT_EQ(chatty.close().code, 4008);
  }
}

TEST(BrowserServer, ModelFailureIsAFatalError) {
  auto emulator = StartEmulator(R"(
api_key: ""
setup: {close_code: 1008, close_reason: "models/gemini-test-model is not found"}
)");
  ASSERT_TRUE(emulator);
  BrowserRunner runner(Line(emulator->url()));
  ASSERT_TRUE(runner.status().ok());
  PipecatTestClient client(runner, runner.ws_url());
  ASSERT_TRUE(client.WaitOpen());
  client.ClientReady();
  auto error = client.WaitRtvi("error");
  ASSERT_FALSE(error.is_null());
  EXPECT_EQ(error["data"]["fatal"], true);
  EXPECT_FALSE(error["data"].value("error", "").empty());
  ASSERT_TRUE(client.WaitClosed());
}

}  // namespace
}  // namespace voxpipe::browser::testing
