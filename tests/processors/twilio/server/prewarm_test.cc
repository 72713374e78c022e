// Faster first words: the model session opens when the voice webhook
// arrives, and the call's stream, placed on the same loop, adopts it.
#include <thread>

#include <gtest/gtest.h>

#include "tests/processors/gemini/gemini_test_util.h"
#include "tests/processors/twilio/twilio_test_util.h"

namespace voxpipe::twilio {
namespace {

using testing::ServerRunner;
using testing::SimulatedCallOptions;

std::string ModelPipeline(const std::string& url) {
  return fmt::format(R"(
pipeline:
  - type: TwilioInput
  - type: MulawDecoder
  - type: Resampler
    rate: 16000
  - type: GeminiLiveLLM
    url: {}
    api_key: {}
    start_prompt: Greet the caller.
  - type: Resampler
    rate: 8000
  - type: MulawEncoder
  - type: TwilioOutput
)",
                     url, voxpipe::testing::kTestKey);
}

constexpr char kGreetingScenario[] = R"(
api_key: test-key-0123456789
reply: {tone_duration: 200ms, speed: 0, transcript: "Hello."}
)";

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 300; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

TEST(PrewarmTest, TheWebhookOpensTheSessionAndTheCallUsesIt) {
  auto emulator = voxpipe::testing::StartEmulator(kGreetingScenario);
  ASSERT_TRUE(emulator);
  ServerRunner runner("", ModelPipeline(emulator->url()));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  auto webhook = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CAearly"});
  ASSERT_TRUE(webhook.ok());
  ASSERT_TRUE(WaitFor([&] { return emulator->stats().setups.size() == 1; }))
      << "the session opens before any stream connects";
  EXPECT_EQ(runner.server().prewarmed(), 1);

  SimulatedCallOptions call;
  call.call_sid = "CAearly";
  call.audio.assign(8000, 0xFF);
  call.tail = std::chrono::milliseconds(500);
  auto result = runner.Call(call);
  EXPECT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_GT(result.media_received, 0u) << "the greeting came through the adopted session";
  // The simulated call sent a webhook of its own: its stream adopted the
  // session that webhook opened, and no third connection was needed.
  EXPECT_EQ(emulator->stats().connections, 2);
  EXPECT_EQ(runner.server().prewarmed(), 1) << "the first webhook's session still waits for its stream";
  auto metrics = runner.Fetch({.method = "GET", .url = "/metrics"});
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("voxpipe_gemini_early_sessions_total{result=\"adopted\"} 1"), std::string::npos)
      << metrics->body;
}

TEST(PrewarmTest, ASessionNoStreamCameForIsClosed) {
  auto emulator = voxpipe::testing::StartEmulator(kGreetingScenario);
  ASSERT_TRUE(emulator);
  ServerRunner runner("  prewarm_timeout: 200ms\n", ModelPipeline(emulator->url()));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  ASSERT_TRUE(runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CAlonely"}).ok());
  ASSERT_TRUE(WaitFor([&] { return emulator->stats().setups.size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return runner.server().prewarmed() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return emulator->stats().client_close_codes.size() == 1; }))
      << "the expired session's connection is closed";
}

TEST(PrewarmTest, AtMostMaxPrewarmedAreOpenAndOffOpensNone) {
  auto emulator = voxpipe::testing::StartEmulator(kGreetingScenario);
  ASSERT_TRUE(emulator);
  {
    ServerRunner runner("  max_prewarmed: 2\n", ModelPipeline(emulator->url()));
    ASSERT_TRUE(runner.status().ok());
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = fmt::format("CallSid=CA{}", i)}).ok());
    }
    EXPECT_EQ(runner.server().prewarmed(), 2);
    ASSERT_TRUE(WaitFor([&] { return emulator->stats().setups.size() == 2; }));
  }
  ServerRunner off("  prewarm: false\n", ModelPipeline(emulator->url()));
  ASSERT_TRUE(off.status().ok());
  ASSERT_TRUE(off.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CAoff"}).ok());
  EXPECT_EQ(off.server().prewarmed(), 0);
}

}  // namespace
}  // namespace voxpipe::twilio
