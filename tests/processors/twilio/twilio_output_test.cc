// TwilioOutput's marks, clears and call control, through a real server and
// the call simulator. A scripted stage (registered only in this test) stands
// in for a model: it ends turns, bursts audio, interrupts and hangs up on cue.
#include "processors/twilio/twilio_output.h"

#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "framework/client/websocket_client.h"
#include "framework/metrics.h"
#include "framework/server/http_server.h"
#include "framework/testing/processor_harness.h"
#include "tests/common/rest_recorder.h"
#include "tests/processors/twilio/twilio_test_util.h"

namespace voxpipe::twilio {
namespace {

using voxpipe::testing::RestRecorder;
using testing::ServerRunner;
using testing::SimulatedCallOptions;

constexpr uint8_t kBurstA = 0x10, kBurstB = 0x90;  // a loud square wave, easy to find

// What the script saw come back upstream, for the assertions.
struct ScriptLog {
  std::mutex mutex;
  std::vector<MarkFrame> marks;
  std::string digits;
  std::map<std::string, std::string> start;
  void Clear() {
    std::lock_guard lock(mutex);
    marks.clear();
    digits.clear();
    start.clear();
  }
  std::vector<MarkFrame> Marks() {
    std::lock_guard lock(mutex);
    return marks;
  }
};
ScriptLog& Log() {
  static ScriptLog log;
  return log;
}

class TwilioTestScript : public Processor {
 public:
  struct Options {
    int turn_after = 0;       // frames, 0 = never
    int burst_after = 0;      // then one second of square wave
    int interrupt_after = 0;
    int hangup_after = 0;
    int transfer_after = 0;
    std::string transfer_to;
    static void Declare(Schema<Options>& s) {
      s.Field("turn_after", &Options::turn_after, "");
      s.Field("burst_after", &Options::burst_after, "");
      s.Field("interrupt_after", &Options::interrupt_after, "");
      s.Field("hangup_after", &Options::hangup_after, "");
      s.Field("transfer_after", &Options::transfer_after, "");
      s.Field("transfer_to", &Options::transfer_to, "");
    }
  };
  static ProcessorDoc Doc() { return {.summary = "test script"}; }
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input) { return input; }
  explicit TwilioTestScript(const Options& options) : options_(options) {}

  void Process(Frame frame, Direction direction) override {
    if (auto* mark = frame.As<MarkFrame>(); mark && direction == Direction::kUpstream) {
      std::lock_guard lock(Log().mutex);
      Log().marks.push_back(*mark);
    }
    if (auto* dtmf = frame.As<DtmfFrame>()) {
      std::lock_guard lock(Log().mutex);
      Log().digits += dtmf->digit;
    }
    if (auto* start = frame.As<StartFrame>()) {
      std::lock_guard lock(Log().mutex);
      Log().start = start->metadata;
    }
    bool audio = frame.Is<EncodedAudioFrame>() && direction == Direction::kDownstream;
    PushFrame(std::move(frame), direction);
    if (!audio) return;
    ++frames_;
    if (frames_ == options_.burst_after) {
      EncodedAudioFrame burst;
      for (int i = 0; i < 8000; ++i) burst.bytes.push_back(i % 2 ? kBurstA : kBurstB);
      PushFrame(Frame::Make(std::move(burst)));
    }
    if (frames_ == options_.turn_after) PushFrame(Frame::Make(EndOfTurnFrame{}));
    if (frames_ == options_.interrupt_after) PushFrame(Frame::Make(InterruptionFrame{}));
    if (frames_ == options_.hangup_after) PushFrame(Frame::Make(CallControlFrame{}));
    if (frames_ == options_.transfer_after) {
      PushFrame(Frame::Make(CallControlFrame{CallControlFrame::Action::kTransfer, options_.transfer_to,
                                             "Transferring you now."}));
    }
  }

 private:
  Options options_;
  int frames_ = 0;
};

REGISTER_PROCESSOR(TwilioTestScript);

std::string ScriptedPipeline(const std::string& script_options) {
  return "pipeline:\n  - type: TwilioInput\n  - type: TwilioTestScript\n" + script_options +
         "  - type: TwilioOutput\n";
}

size_t CountBurst(const std::vector<uint8_t>& audio) {
  size_t n = 0;
  for (size_t i = 1; i < audio.size(); ++i) n += audio[i - 1] == kBurstB && audio[i] == kBurstA;
  return n;
}

std::vector<uint8_t> Quiet(size_t frames) { return std::vector<uint8_t>(frames * 160, 0xFF); }

TEST(TwilioOutputTest, MarkAfterEachTurnComesBackUpstreamWhenPlayed) {
  Log().Clear();
  ServerRunner runner("", ScriptedPipeline("    turn_after: 5\n"));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  SimulatedCallOptions options;
  options.audio = Quiet(20);
  options.tail = std::chrono::milliseconds(200);
  auto result = runner.Call(options);  // real time: the mark plays after the audio before it
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_GE(result.marks, 1u);
  auto marks = Log().Marks();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].name, "turn-1");
  EXPECT_FALSE(marks[0].cleared);
}

TEST(TwilioOutputTest, InterruptionClearsBufferedAudioAndReportsTheMarkCleared) {
  Log().Clear();
  ServerRunner runner("", ScriptedPipeline("    burst_after: 5\n    turn_after: 5\n    interrupt_after: 15\n"));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  SimulatedCallOptions options;
  options.audio = Quiet(40);
  options.tail = std::chrono::milliseconds(200);
  auto result = runner.Call(options);
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_EQ(result.clears, 1u);
  EXPECT_EQ(CountBurst(result.received), 4000u) << "the whole burst went out before the interruption";
  // About ten 20 ms frames of it played before the clear; the rest never did.
  EXPECT_GT(CountBurst(result.heard), 0u);
  EXPECT_LT(CountBurst(result.heard), 4000u / 2);
  auto marks = Log().Marks();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].name, "turn-1");
  EXPECT_TRUE(marks[0].cleared) << "the turn was cut off, so its mark reports cleared";
}

std::string ControlServerYaml(const std::string& api_base) {
  return "  auth_token: tok\n  account_sid: ACtest\n  api_base: " + api_base + "\n";
}

TEST(TwilioOutputTest, HangUpGoesThroughTheRestApi) {
  Runtime rest_runtime(1);
  RestRecorder rest(rest_runtime, "ACtest", "CAhangup");
  rest_runtime.Start();
  {
    ServerRunner runner(ControlServerYaml(rest.url()), ScriptedPipeline("    hangup_after: 3\n"));
    ASSERT_TRUE(runner.status().ok()) << runner.status().message();
    SimulatedCallOptions options;
    options.call_sid = "CAhangup";
    options.auth_token = "tok";
    options.audio = Quiet(10);
    options.realtime = false;
    options.tail = std::chrono::milliseconds(300);
    auto result = runner.Call(options);
    ASSERT_TRUE(result.status.ok()) << result.status.message();
  }
  auto requests = rest.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body, "Status=completed");
  EXPECT_EQ(requests[0].Header("authorization"), "Basic QUN0ZXN0OnRvaw==");  // ACtest:tok
  EXPECT_EQ(requests[0].Header("content-type"), "application/x-www-form-urlencoded");
  rest_runtime.Abort();
  rest_runtime.Join();
}

TEST(TwilioOutputTest, TransferRedirectsTheCallWithDialTwiml) {
  Runtime rest_runtime(1);
  RestRecorder rest(rest_runtime, "ACtest", "CAtransfer");
  rest_runtime.Start();
  {
    ServerRunner runner(ControlServerYaml(rest.url()),
                        ScriptedPipeline("    transfer_after: 3\n    transfer_to: '+15550001111'\n"));
    ASSERT_TRUE(runner.status().ok()) << runner.status().message();
    SimulatedCallOptions options;
    options.call_sid = "CAtransfer";
    options.auth_token = "tok";
    options.audio = Quiet(10);
    options.realtime = false;
    options.tail = std::chrono::milliseconds(300);
    ASSERT_TRUE(runner.Call(options).status.ok());
  }
  auto requests = rest.requests();
  ASSERT_EQ(requests.size(), 1u);
  auto form = server::ParseForm(requests[0].body);
  ASSERT_EQ(form.size(), 1u);
  EXPECT_EQ(form[0].first, "Twiml");
  EXPECT_NE(form[0].second.find("<Dial>+15550001111</Dial>"), std::string::npos) << form[0].second;
  EXPECT_NE(form[0].second.find("<Say>Transferring you now.</Say>"), std::string::npos) << form[0].second;
  rest_runtime.Abort();
  rest_runtime.Join();
}

TEST(TwilioOutputTest, HangingUpACallThatAlreadyEndedIsNotAnError) {
  auto& already = Metrics::Global().Counter("voxpipe_twilio_rest_requests_total",
                                            "Call control requests to Twilio's REST API", {{"result", "already_ended"}});
  uint64_t before = already.value();
  Runtime rest_runtime(1);
  RestRecorder rest(rest_runtime, "ACtest", "CAgone", 404, R"({"code":20404,"message":"not found"})");
  rest_runtime.Start();
  {
    ServerRunner runner(ControlServerYaml(rest.url()), ScriptedPipeline("    hangup_after: 3\n"));
    SimulatedCallOptions options;
    options.call_sid = "CAgone";
    options.auth_token = "tok";
    options.audio = Quiet(10);
    options.realtime = false;
    options.tail = std::chrono::milliseconds(300);
    ASSERT_TRUE(runner.Call(options).status.ok());
  }
  EXPECT_EQ(rest.requests().size(), 1u);
  EXPECT_EQ(already.value(), before + 1);
  rest_runtime.Abort();
  rest_runtime.Join();
}

TEST(TwilioInputTest, StartMetadataAndDtmfBecomeFrames) {
  Log().Clear();
  ServerRunner runner("", ScriptedPipeline("    turn_after: 0\n"));
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  auto loop = runner.io().get_executor();
  auto closed = std::make_shared<std::promise<void>>();
  std::shared_ptr<WebSocketClient> ws;
  std::string url = runner.StreamUrl("CAd");
  boost::asio::post(loop, [&, closed] {
    ws = WebSocketClient::Create(
        loop, {.url = url},
        {.on_open =
             [&] {
               ws->Send(R"({"event":"connected","protocol":"Call","version":"1.0.0"})");
               ws->Send(R"({"event":"start","sequenceNumber":"1","streamSid":"MZd","start":{"accountSid":"ACx",)"
                        R"("streamSid":"MZd","callSid":"CAd","tracks":["inbound"],)"
                        R"("customParameters":{"From":"+15550000001","To":"+15550000002","tenant":"acme"},)"
                        R"("mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}})");
               for (char d : std::string("12#")) {
                 ws->Send(fmt::format(R"({{"event":"dtmf","streamSid":"MZd","sequenceNumber":"2",)"
                                      R"("dtmf":{{"track":"inbound_track","digit":"{}"}}}})", d));
               }
               ws->Send(R"({"event":"stop","sequenceNumber":"5","streamSid":"MZd","stop":{"callSid":"CAd"}})");
             },
         .on_message = {},
         .on_close = [closed](const WebSocketCloseInfo&) { closed->set_value(); }});
    ws->Connect();
  });
  ASSERT_EQ(closed->get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the server closes the stream once the pipeline ended after `stop`";
  std::lock_guard lock(Log().mutex);
  EXPECT_EQ(Log().digits, "12#");
  EXPECT_EQ(Log().start["call_sid"], "CAd");
  EXPECT_EQ(Log().start["stream_sid"], "MZd");
  EXPECT_EQ(Log().start["from"], "+15550000001");
  EXPECT_EQ(Log().start["to"], "+15550000002");
  EXPECT_EQ(Log().start["param.tenant"], "acme");
}

TEST(TwilioOutputTest, RefusesAudioItCannotSend) {
  ProcessorHarness h("- type: TwilioOutput", StreamFormat::Pcm16(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("expects mu-law 8000 Hz mono"), std::string::npos) << h.status().message();
}

TEST(TwilioOutputTest, NeedsTheTwilioServer) {
  ProcessorHarness h("- type: TwilioOutput", StreamFormat::Mulaw(8000));
  ASSERT_TRUE(h.status().ok());
  h.Start();
  EXPECT_TRUE(h.finished());
  EXPECT_NE(h.result().message().find("TwilioOutput needs `server: {type: twilio}`"), std::string::npos)
      << h.result().message();
}

}  // namespace
}  // namespace voxpipe::twilio
