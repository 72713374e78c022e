// The fallback: a caller whose model fails is apologised to and handed to a
// person through the <Connect action> Twilio requests when the stream closes.
#include <gtest/gtest.h>

#include "processors/twilio/server/call_outcomes.h"
#include "tests/processors/twilio/twilio_test_util.h"

namespace voxpipe::twilio {
namespace {

using testing::ServerRunner;
using testing::SimulatedCallOptions;

// A model line whose model is never reachable (nothing listens on port 1).
constexpr const char* kDeadModelPipeline = R"(
pipeline:
  - type: TwilioInput
  - type: MulawDecoder
  - type: Resampler
    rate: 16000
  - type: GeminiLiveLLM
    url: ws://127.0.0.1:1/ws
    api_key: test-key
    reconnect_attempts: 0
  - type: Resampler
    rate: 8000
  - type: MulawEncoder
  - type: TwilioOutput
)";

voxpipe::HttpRequest AfterStream(const std::string& call_sid) {
  return {.method = "POST",
          .url = "/twilio/after-stream",
          .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
          .body = "CallSid=" + call_sid + "&CallStatus=in-progress"};
}

TEST(FallbackTest, TheAnswerAsksTwilioBackWhenTheStreamCloses) {
  ServerRunner runner("  public_url: https://line.example.com\n");
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  auto response = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CA1"});
  ASSERT_TRUE(response.ok());
  EXPECT_NE(response->body.find("<Connect action=\"https://line.example.com/twilio/after-stream\">"),
            std::string::npos)
      << response->body;
}

TEST(FallbackTest, OffMeansNoActionAndTheCallJustEnds) {
  ServerRunner runner("  fallback: false\n");
  ASSERT_TRUE(runner.status().ok());
  auto response = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CA1"});
  ASSERT_TRUE(response.ok());
  EXPECT_NE(response->body.find("<Connect>"), std::string::npos) << response->body;
  EXPECT_EQ(response->body.find("action="), std::string::npos);
}

TEST(FallbackTest, AFailedModelGetsTheApologyAndTheTransfer) {
  ServerRunner runner("  fallback_message: Sorry, let me find someone for you.\n  fallback_transfer: \"+15550100\"\n",
                      kDeadModelPipeline);
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  const std::string pipeline_failed = "voxpipe_twilio_fallbacks_total{reason=\"pipeline_failed\"}";
  const uint64_t before = runner.Counter(pipeline_failed);
  SimulatedCallOptions call;
  call.call_sid = "CAfailed";
  call.audio.assign(8000, 0xFF);
  call.send_stop = false;  // the caller stays on the line
  auto result = runner.Call(call);
  EXPECT_TRUE(result.closed_by_server);

  auto twiml = runner.Fetch(AfterStream("CAfailed"));
  ASSERT_TRUE(twiml.ok());
  EXPECT_EQ(twiml->status, 200);
  EXPECT_NE(twiml->body.find("<Say>Sorry, let me find someone for you.</Say>\n  <Dial>+15550100</Dial>"),
            std::string::npos)
      << twiml->body;
  EXPECT_EQ(runner.Counter(pipeline_failed), before + 1);
}

TEST(FallbackTest, WithoutATransferNumberTheApologyEndsTheCall) {
  ServerRunner runner("  fallback_message: We are sorry.\n", kDeadModelPipeline);
  ASSERT_TRUE(runner.status().ok());
  SimulatedCallOptions call;
  call.call_sid = "CAfailed";
  call.audio.assign(8000, 0xFF);
  call.send_stop = false;
  runner.Call(call);
  auto twiml = runner.Fetch(AfterStream("CAfailed"));
  ASSERT_TRUE(twiml.ok());
  EXPECT_NE(twiml->body.find("<Say>We are sorry.</Say>\n  <Hangup/>"), std::string::npos) << twiml->body;
}

// A call whose stream never ran here (the upgrade failed; the instance that
// ran it died) has a caller waiting too.
TEST(FallbackTest, ACallWithNoStreamHereGetsTheFallbackToo) {
  ServerRunner runner("  fallback_transfer: sip:desk@example.com\n");
  ASSERT_TRUE(runner.status().ok());
  const std::string no_stream = "voxpipe_twilio_fallbacks_total{reason=\"no_stream\"}";
  const uint64_t before = runner.Counter(no_stream);
  auto twiml = runner.Fetch(AfterStream("CAunknown"));
  ASSERT_TRUE(twiml.ok());
  EXPECT_NE(twiml->body.find("<Dial><Sip>sip:desk@example.com</Sip></Dial>"), std::string::npos) << twiml->body;
  EXPECT_EQ(runner.Counter(no_stream), before + 1);
}

TEST(FallbackTest, TheActionIsSignedLikeEveryWebhook) {
  ServerRunner runner("  auth_token: secret-token\n");
  ASSERT_TRUE(runner.status().ok());
  auto unsigned_request = runner.Fetch(AfterStream("CA1"));
  ASSERT_TRUE(unsigned_request.ok());
  EXPECT_EQ(unsigned_request->status, 403);
  auto request = AfterStream("CA1");
  request.headers.emplace_back("X-Twilio-Signature",
                               ComputeSignature("secret-token", runner.base_url() + "/twilio/after-stream",
                                                {{"CallSid", "CA1"}, {"CallStatus", "in-progress"}}));
  auto signed_request = runner.Fetch(request);
  ASSERT_TRUE(signed_request.ok());
  EXPECT_EQ(signed_request->status, 200);
}

TEST(CallOutcomesTest, EachOutcomeIsTakenOnceAndOldOnesExpire) {
  CallOutcomes outcomes;
  auto start = CallOutcomes::Clock::now();
  outcomes.Record("CAok", {}, start);
  outcomes.Record("CAfail", {true, "model unreachable"}, start);
  auto ok = outcomes.Take("CAok");
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->failed);
  EXPECT_FALSE(outcomes.Take("CAok")) << "answered once";
  outcomes.Record("CAlater", {}, start + CallOutcomes::kKeepFor + std::chrono::seconds(1));
  EXPECT_FALSE(outcomes.Take("CAfail")) << "expired when the next call was recorded";
  EXPECT_TRUE(outcomes.Take("CAlater"));
}

}  // namespace
}  // namespace voxpipe::twilio
