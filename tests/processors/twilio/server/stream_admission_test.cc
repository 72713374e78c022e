// Who gets a call slot: only streams for calls Twilio placed (a per-call,
// single-use token in the stream URL, bound to the CallSid of `start`), a
// slot counted from `start`, one registry entry per CallSid, and a stream
// kept alive only by media.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/processors/twilio/twilio_test_util.h"

namespace voxpipe::twilio {
namespace {

using testing::RawStream;
using testing::ServerRunner;
using testing::SimulatedCallOptions;

using namespace std::chrono_literals;

uint64_t StreamErrors(ServerRunner& runner, const std::string& kind) {
  return runner.Counter("voxpipe_twilio_stream_errors_total{kind=\"" + kind + "\"}");
}

bool WaitForActive(ServerRunner& runner, int n) {
  for (int i = 0; i < 300 && runner.server().active_calls() != n; ++i) std::this_thread::sleep_for(10ms);
  return runner.server().active_calls() == n;
}

TEST(StreamAdmissionTest, AStreamWithoutTheWebhooksTokenIsRefused) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  std::string base = "ws://127.0.0.1:" + std::to_string(runner.server().port());
  for (const char* path : {"/twilio/stream", "/twilio/stream/", "/twilio/stream/1.AAAA",
                                  "/twilio/stream/99999999999.AAAAAAAAAAAAAAAAAAAAAAAA", "/twilio/stream/a/b"}) {
    RawStream stream(runner, base + path);
    EXPECT_FALSE(stream.WaitOpen()) << path;
    EXPECT_NE(stream.close().http_status, 0) << path;
  }
}

TEST(StreamAdmissionTest, AReplayedStreamUrlGetsNoSecondCall) {
  ServerRunner runner("  max_calls: 3\n");
  ASSERT_TRUE(runner.status().ok());
  std::string url = runner.StreamUrl("CAreplay");
  RawStream first(runner, url);
  ASSERT_TRUE(first.WaitOpen());
  first.Start("CAreplay");
  first.Media();
  ASSERT_TRUE(WaitForActive(runner, 1));
  // The same URL again (a replayed upgrade): it opens, but `start` is refused.
  for (int i = 0; i < 3; ++i) {
    RawStream replay(runner, url);
    ASSERT_TRUE(replay.WaitOpen());
    replay.Start("CAreplay");
    EXPECT_TRUE(replay.WaitClosed()) << "the replay's `start` closes it";
  }
  EXPECT_EQ(runner.server().active_calls(), 1);
  EXPECT_GE(StreamErrors(runner, "replayed_token"), 3u);
  // Real webhooks still find a free line.
  auto webhook = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CAreal"});
  ASSERT_TRUE(webhook.ok());
  EXPECT_EQ(webhook->status, 200);
}

TEST(StreamAdmissionTest, ATokenStartsOnlyTheCallItWasIssuedFor) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  RawStream stream(runner, runner.StreamUrl("CAone"));
  ASSERT_TRUE(stream.WaitOpen());
  stream.Start("CAother");
  EXPECT_TRUE(stream.WaitClosed());
  EXPECT_EQ(runner.server().active_calls(), 0);
  EXPECT_GE(StreamErrors(runner, "wrong_call"), 1u);
}

TEST(StreamAdmissionTest, StreamsThatNeverStartHoldNoSlotAndAreClosed) {
  ServerRunner runner("  max_calls: 1\n  start_timeout: 300ms\n");
  ASSERT_TRUE(runner.status().ok());
  std::vector<std::unique_ptr<RawStream>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawStream>(runner, runner.StreamUrl("CAidle" + std::to_string(i))));
    ASSERT_TRUE(idle.back()->WaitOpen());
    idle.back()->Send(R"({"event":"connected","protocol":"Call","version":"1.0.0"})");
  }
  // With every idle stream open, a real call still gets the one line.
  SimulatedCallOptions options;
  options.audio.assign(1600, 0xFF);
  options.realtime = false;
  options.tail = 100ms;
  auto result = runner.Call(options);
  EXPECT_TRUE(result.status.ok()) << result.status.message();
  for (auto& stream : idle) EXPECT_TRUE(stream->WaitClosed(2s)) << "a stream with no `start` is closed";
  EXPECT_GE(StreamErrors(runner, "no_start"), 3u);
}

TEST(StreamAdmissionTest, OnlyMediaKeepsACallAlive) {
  ServerRunner runner("  media_timeout: 400ms\n");
  ASSERT_TRUE(runner.status().ok());
  RawStream stream(runner, runner.StreamUrl("CAquiet"));
  ASSERT_TRUE(stream.WaitOpen());
  stream.Start("CAquiet");
  ASSERT_TRUE(WaitForActive(runner, 1));
  // `connected` (or any other message) every 100 ms does not count.
  auto until = std::chrono::steady_clock::now() + 2s;
  while (!stream.WaitClosed(100ms) && std::chrono::steady_clock::now() < until) {
    stream.Send(R"({"event":"connected","protocol":"Call","version":"1.0.0"})");
  }
  EXPECT_TRUE(stream.WaitClosed(0ms)) << "no media for 400 ms ends the call";
  EXPECT_TRUE(WaitForActive(runner, 0));
}

TEST(StreamAdmissionTest, BinaryFramesAreRefusedAndCounted) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  RawStream stream(runner, runner.StreamUrl("CAbinary"));
  ASSERT_TRUE(stream.WaitOpen());
  // A binary `start` does not begin a call.
  stream.Send(R"({"event":"start","streamSid":"MZb","start":{"callSid":"CAbinary","streamSid":"MZb"}})", true);
  for (int i = 0; i < 50 && StreamErrors(runner, "binary_frame") == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(StreamErrors(runner, "binary_frame"), 1u);
  EXPECT_EQ(runner.server().active_calls(), 0);
}

TEST(StreamAdmissionTest, OneRegistryEntryPerCallSidAndTheyAgreeThroughout) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  auto listed = [&] { return nlohmann::json::parse(runner.Fetch({.method = "GET", .url = "/twilio/calls"})->body); };
  // Twilio retried the webhook: two valid tokens for one CallSid.
  std::string url_a = runner.StreamUrl("CAdup");
  std::string url_b = runner.StreamUrl("CAdup");
  RawStream a(runner, url_a);
  ASSERT_TRUE(a.WaitOpen());
  a.Start("CAdup", "MZa");
  a.Media("MZa");
  ASSERT_TRUE(WaitForActive(runner, 1));
  RawStream b(runner, url_b);
  ASSERT_TRUE(b.WaitOpen());
  b.Start("CAdup", "MZb");
  EXPECT_TRUE(b.WaitClosed()) << "a second stream for a live CallSid is refused";
  EXPECT_GE(StreamErrors(runner, "duplicate_call"), 1u);
  auto calls = listed();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["stream"], "MZa") << "the first stream keeps its entry";
  EXPECT_EQ(runner.server().active_calls(), 1);
  // A completed status callback ends the live call, and everything agrees again.
  auto status = runner.Fetch({.method = "POST", .url = "/twilio/status", .body = "CallSid=CAdup&CallStatus=completed"});
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(a.WaitClosed());
  EXPECT_TRUE(WaitForActive(runner, 0));
  EXPECT_TRUE(listed().empty());
}

}  // namespace
}  // namespace voxpipe::twilio
