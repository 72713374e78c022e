// The phone line end to end: a TwilioServer on 127.0.0.1 (port 0) and calls
// placed by the simulator, as Twilio would place them.
#include "processors/twilio/server/twilio_server.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "apps/simulator/playback_buffer.h"
#include "framework/client/websocket_client.h"
#include "processors/twilio/server/signature.h"
#include "tests/processors/twilio/twilio_test_util.h"

namespace voxpipe::twilio {
namespace {

using testing::CallerAudio;
using testing::CorrelateEcho;
using testing::ServerRunner;
using testing::PlaceSimulatedCall;
using testing::SimulatedCallOptions;
using testing::SimulatedCallResult;

SimulatedCallOptions FastCall(std::vector<uint8_t> audio) {
  SimulatedCallOptions options;
  options.audio = std::move(audio);
  options.realtime = false;
  options.tail = std::chrono::milliseconds(300);
  return options;
}

TEST(TwilioServerTest, CallerHearsTheirOwnVoiceOnTheEchoLine) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  auto sent = CallerAudio();
  ASSERT_GT(sent.size(), 8000u);

  auto result = runner.Call(FastCall(sent));

  ASSERT_TRUE(result.status.ok()) << result.status.message();
  // The caller's words, then the silence an open line streams until hang-up.
  EXPECT_GE(result.media_sent, (sent.size() + 159) / 160);
  auto match = CorrelateEcho(sent, result.heard);
  EXPECT_GT(match.correlation, 0.99) << "lag " << match.lag;
  ASSERT_GE(result.heard.size(), sent.size());
  EXPECT_TRUE(std::equal(sent.begin(), sent.end(), result.heard.begin())) << "heard back bit-exact";
  EXPECT_TRUE(std::all_of(result.heard.begin() + sent.size(), result.heard.end(),
                          [](uint8_t b) { return b == simulator::kMulawSilence; }))
      << "then only the line's silence";
}

TEST(TwilioServerTest, EchoThroughResamplersStaysRecognisable) {
  ServerRunner runner("", R"(
pipeline:
  - type: TwilioInput
  - type: MulawDecoder
  - type: Resampler
    rate: 16000
  - type: Resampler
    rate: 8000
  - type: MulawEncoder
  - type: TwilioOutput
)");
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  auto sent = CallerAudio();
  auto result = runner.Call(FastCall(sent));
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  auto match = CorrelateEcho(sent, result.heard);
  EXPECT_GT(match.correlation, 0.9) << "lag " << match.lag;
}

TEST(TwilioServerTest, SilenceIsNotMistakenForAnEcho) {
  // The correlation check itself must be able to fail.
  auto sent = CallerAudio();
  std::vector<uint8_t> silence(sent.size(), 0xFF);
  EXPECT_LT(CorrelateEcho(sent, silence).correlation, 0.1);
  std::vector<uint8_t> other(sent.rbegin(), sent.rend());
  EXPECT_LT(CorrelateEcho(sent, other).correlation, 0.5);
}

TEST(TwilioServerTest, WebhookAnswersTwimlWithStreamAndParameters) {
  ServerRunner runner("  public_url: https://line.example.com\n  greeting: Hello & welcome\n"
                      "  parameters:\n    tenant: sutherland\n");
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  voxpipe::HttpRequest request;
  request.method = "POST";
  request.url = "/twilio/voice";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = "CallSid=CA123&From=%2B15551234567&To=%2B15557654321";
  auto response = runner.Fetch(request);
  ASSERT_TRUE(response.ok()) << response.message();
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->header("content-type").find("xml"), std::string::npos);
  const std::string& xml = response->body;
  EXPECT_NE(xml.find("<Say>Hello &amp; welcome</Say>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Stream url=\"wss://line.example.com/twilio/stream/"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Parameter name=\"From\" value=\"+15551234567\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Parameter name=\"CallSid\" value=\"CA123\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Parameter name=\"tenant\" value=\"sutherland\"/>"), std::string::npos) << xml;
}

TEST(TwilioServerTest, PublicUrlFollowsForwardedHeadersWhenNotConfigured) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  voxpipe::HttpRequest request;
  request.method = "POST";
  request.url = "/twilio/voice";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"X-Forwarded-Proto", "https"},
                     {"X-Forwarded-Host", "abc123.ngrok.app, proxy.internal"}};
  request.body = "CallSid=CA1";
  auto response = runner.Fetch(request);
  ASSERT_TRUE(response.ok());
  EXPECT_NE(response->body.find("wss://abc123.ngrok.app/twilio/stream"), std::string::npos) << response->body;
}

// ------------------------------------------------------------ signatures

constexpr const char* kToken = "12345";

voxpipe::HttpRequest SignedWebhook(const std::string& public_url, const std::string& token) {
  // The reference vector's parameters, posted to our webhook.
  FormParams params = {{"CallSid", "CA1234567890ABCDE"},
                       {"Caller", "+12349013030"},
                       {"Digits", "1234"},
                       {"From", "+12349013030"},
                       {"To", "+18005551212"}};
  voxpipe::HttpRequest request;
  request.method = "POST";
  request.url = "/twilio/voice";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"X-Twilio-Signature", ComputeSignature(token, public_url + "/twilio/voice", params)}};
  request.body = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
  return request;
}

TEST(TwilioServerTest, SignedWebhookPassesUnsignedAndTamperedAreForbidden) {
  ServerRunner runner("  auth_token: '12345'\n  public_url: https://mycompany.com\n");
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();

  auto signed_ok = runner.Fetch(SignedWebhook("https://mycompany.com", kToken));
  ASSERT_TRUE(signed_ok.ok());
  EXPECT_EQ(signed_ok->status, 200) << signed_ok->body;

  auto default_port = runner.Fetch(SignedWebhook("https://mycompany.com:443", kToken));
  ASSERT_TRUE(default_port.ok());
  EXPECT_EQ(default_port->status, 200) << "Twilio may sign the URL with the default port";

  auto unsigned_request = SignedWebhook("https://mycompany.com", kToken);
  unsigned_request.headers.pop_back();
  auto unsigned_response = runner.Fetch(unsigned_request);
  ASSERT_TRUE(unsigned_response.ok());
  EXPECT_EQ(unsigned_response->status, 403);

  auto tampered = SignedWebhook("https://mycompany.com", kToken);
  tampered.body.replace(tampered.body.find("Digits=1234"), 11, "Digits=9999");
  auto tampered_response = runner.Fetch(tampered);
  ASSERT_TRUE(tampered_response.ok());
  EXPECT_EQ(tampered_response->status, 403);

  auto wrong_token = runner.Fetch(SignedWebhook("https://mycompany.com", "54321"));
  ASSERT_TRUE(wrong_token.ok());
  EXPECT_EQ(wrong_token->status, 403);
  EXPECT_EQ(wrong_token->body.find("12345"), std::string::npos) << "the token never appears in a response";

  auto other_host = runner.Fetch(SignedWebhook("https://evil.example.com", kToken));
  ASSERT_TRUE(other_host.ok());
  EXPECT_EQ(other_host->status, 403);
}

// Opens a media stream WebSocket with `headers`; returns the HTTP status of a
// refused upgrade, or 101 when it opened.
int TryStreamUpgrade(ServerRunner& runner, std::vector<std::pair<std::string, std::string>> headers,
                     const std::string& url) {
  struct Probe {
    std::promise<int> status;
    std::shared_ptr<WebSocketClient> ws;
  };
  auto probe = std::make_shared<Probe>();
  auto loop = runner.io().get_executor();
  boost::asio::post(loop, [=] {
    probe->ws = WebSocketClient::Create(
        loop, {.url = url, .headers = headers},
        {.on_open = [probe] { probe->status.set_value(101); },
         .on_message = {},
         .on_close = [probe](const WebSocketCloseInfo& info) {
           if (!info.opened) probe->status.set_value(info.http_status);
         }});
    probe->ws->Connect();
  });
  int status = probe->status.get_future().get();
  boost::asio::post(loop, [probe] { probe->ws->Detach(); });
  return status;
}

TEST(TwilioServerTest, StreamUpgradeNeedsAValidSignature) {
  ServerRunner runner("  auth_token: '12345'\n  public_url: http://127.0.0.1\n");
  ASSERT_TRUE(runner.status().ok()) << runner.status().message();
  // The stream URL as our TwiML writes it (ws:// for an http:// public URL), signed with no parameters.
  std::string url = runner.StreamUrl("CAsigned", kToken, "http://127.0.0.1");
  ASSERT_EQ(url.rfind("ws://127.0.0.1/twilio/stream/", 0), 0u) << url;
  std::string local = runner.LocalStreamUrl(url);
  std::string with_port = "ws://127.0.0.1:80" + url.substr(std::string("ws://127.0.0.1").size());
  EXPECT_EQ(TryStreamUpgrade(runner, {{"X-Twilio-Signature", ComputeSignature(kToken, url, {})}}, local), 101);
  EXPECT_EQ(TryStreamUpgrade(runner, {{"X-Twilio-Signature", ComputeSignature(kToken, with_port, {})}}, local), 101);
  EXPECT_EQ(TryStreamUpgrade(runner, {}, local), 403);
  EXPECT_EQ(TryStreamUpgrade(runner, {{"X-Twilio-Signature", ComputeSignature("54321", url, {})}}, local), 403);
  EXPECT_EQ(TryStreamUpgrade(runner, {{"X-Twilio-Signature", ComputeSignature(kToken, url + "?x=1", {})}}, local), 403);
}

TEST(TwilioServerTest, SignedCallWorksEndToEndAndWrongTokenIsRefused) {
  ServerRunner runner("  auth_token: '12345'\n");
  ASSERT_TRUE(runner.status().ok());
  auto sent = CallerAudio();
  sent.resize(8000);
  auto options = FastCall(sent);
  options.auth_token = kToken;
  auto ok = runner.Call(options);
  ASSERT_TRUE(ok.status.ok()) << ok.status.message();
  EXPECT_GT(CorrelateEcho(sent, ok.heard).correlation, 0.99);

  options.auth_token = "not-the-token";
  auto refused = runner.Call(options);
  EXPECT_FALSE(refused.status.ok());
  EXPECT_EQ(refused.http_status, 403);
}

// ------------------------------------------------------------ robustness

TEST(TwilioServerTest, FloodOfMalformedMessagesHarmsNeitherServerNorParallelCall) {
  ServerRunner runner("  max_bad_messages: 500\n");
  ASSERT_TRUE(runner.status().ok());
  auto loop = runner.io().get_executor();
  std::promise<WebSocketCloseInfo> flood_closed;
  std::shared_ptr<WebSocketClient> flood;
  std::string url = runner.StreamUrl("CAflood");
  boost::asio::post(loop, [&] {
    flood = WebSocketClient::Create(
        loop, {.url = url, .max_queued_messages = 100000},
        {.on_open =
             [&] {
               const std::string garbage[] = {
                   "not json at all",
                   "{\"event\":\"media\",\"media\":{\"payload\":\"AAAA\"}}",  // media before start
                   R"({"event":"start","start":{"callSid":"CAflood"}})",     // start without streamSid
                   "[1,2,3]",
                   R"({"event":42})",
                   R"({"event":"surprise"})",
                   R"({"event":"mark","mark":"nope"})",
                   R"({"event":"dtmf","dtmf":{"digit":["1"]}})",
                   std::string(2000, '{'),
                   "\xff\xfe\x00garbage",
               };
               flood->Send(R"({"event":"connected","protocol":"Call","version":"1.0.0"})");
               for (int i = 0; i < 300; ++i) flood->Send(garbage[i % std::size(garbage)]);
               flood->Send(R"({"event":"start","streamSid":"MZflood","start":{"callSid":"CAflood","streamSid":"MZflood",)"
                           R"("mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":"eight thousand"}}})");
               for (int i = 0; i < 300; ++i) {
                 flood->Send(R"({"event":"media","streamSid":"MZflood","media":{"payload":"!!not base64!!"}})");
                 flood->Send(garbage[i % std::size(garbage)]);
               }
             },
         .on_message = {},
         .on_close = [&](const WebSocketCloseInfo& info) { flood_closed.set_value(info); }});
    flood->Connect();
  });

  // A well-behaved call at the same time.
  auto sent = CallerAudio();
  auto result = runner.Call(FastCall(sent));
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_GT(CorrelateEcho(sent, result.heard).correlation, 0.99);

  auto closed = flood_closed.get_future();
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "the flooding stream stays open";
  EXPECT_TRUE(closed.get().opened);

  auto health = runner.Fetch({.method = "GET", .url = "/health"});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  auto metrics = runner.Fetch({.method = "GET", .url = "/metrics"});
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("voxpipe_twilio_stream_errors_total{kind=\"bad_json\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("voxpipe_twilio_stream_errors_total{kind=\"media_before_start\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("voxpipe_twilio_stream_errors_total{kind=\"bad_start\"}"), std::string::npos);

  // And the next call is fine too.
  auto after = runner.Call(FastCall(std::vector<uint8_t>(sent.begin(), sent.begin() + 4000)));
  EXPECT_TRUE(after.status.ok()) << after.status.message();
}

TEST(TwilioServerTest, OversizedStreamMessageClosesOnlyThatStream) {
  ServerRunner runner("  max_message_bytes: 4096\n");
  ASSERT_TRUE(runner.status().ok());
  auto loop = runner.io().get_executor();
  std::promise<WebSocketCloseInfo> closed;
  std::shared_ptr<WebSocketClient> ws;
  std::string url = runner.StreamUrl("CAbig");
  boost::asio::post(loop, [&] {
    ws = WebSocketClient::Create(
        loop, {.url = url},
        {.on_open = [&] { ws->Send(std::string(8192, 'x')); },
         .on_message = {},
         .on_close = [&](const WebSocketCloseInfo& info) { closed.set_value(info); }});
    ws->Connect();
  });
  auto info = closed.get_future();
  ASSERT_EQ(info.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(info.get().opened);
  auto health = runner.Fetch({.method = "GET", .url = "/health"});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
}

// ------------------------------------------------------------ endpoints, limits, drain

TEST(TwilioServerTest, EndpointsAnswerAndNeverShowTheToken) {
  ServerRunner runner("  auth_token: 'sekret-token-value'\n");
  ASSERT_TRUE(runner.status().ok());
  for (const char* path : {"/", "/health", "/twilio/calls", "/metrics"}) {
    auto response = runner.Fetch({.method = "GET", .url = path});
    ASSERT_TRUE(response.ok()) << path;
    EXPECT_EQ(response->status, 200) << path;
    EXPECT_EQ(response->body.find("sekret"), std::string::npos) << path;
  }
  auto home = runner.Fetch({.method = "GET", .url = "/"});
  auto json = nlohmann::json::parse(home->body);
  EXPECT_EQ(json["name"], "voxpipe");
  EXPECT_EQ(json["pipeline"], "test_line");
  EXPECT_TRUE(json.contains("uptime_s"));
  EXPECT_EQ(runner.Fetch({.method = "GET", .url = "/nowhere"})->status, 404);
  EXPECT_EQ(runner.Fetch({.method = "DELETE", .url = "/health"})->status, 405);
}

TEST(TwilioServerTest, OversizedWebhookBodyIsRefused) {
  ServerRunner runner("  max_body_bytes: 2048\n");
  ASSERT_TRUE(runner.status().ok());
  auto response = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = std::string(10000, 'a')});
  // Either a 413 or the connection closed on us; never a 200.
  if (response.ok()) {
    EXPECT_EQ(response->status, 413);
  }
}

TEST(TwilioServerTest, FullLineAnswersBusyTwiml) {
  ServerRunner runner("  max_calls: 1\n  busy_message: All lines are busy\n");
  ASSERT_TRUE(runner.status().ok());
  // Hold one call open with a slow real-time stream.
  auto first = runner.StartCall({});
  ASSERT_EQ(runner.server().active_calls(), 1);
  auto busy = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CA2"});
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->status, 503);
  EXPECT_NE(busy->body.find("<Say>All lines are busy</Say>"), std::string::npos) << busy->body;
  EXPECT_NE(busy->body.find("<Hangup/>"), std::string::npos);
  EXPECT_TRUE(first.get().status.ok());
}

TEST(TwilioServerTest, DrainTurnsHealthAndRefusesNewCalls) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  std::promise<void> drained;
  runner.service().Drain(std::chrono::seconds(5), [&] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "with no calls, a drain ends at once";
  // The listener is closed now: new connections are refused.
  auto health = runner.Fetch({.method = "GET", .url = "/health"});
  EXPECT_FALSE(health.ok() && health->status == 200);
}

TEST(TwilioServerTest, DrainWaitsForActiveCalls) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  auto call = runner.StartCall({}, 1);  // one second, real time
  ASSERT_EQ(runner.server().active_calls(), 1);
  std::promise<void> drained;
  runner.service().Drain(std::chrono::seconds(10), [&] { drained.set_value(); });
  auto health = runner.Fetch({.method = "GET", .url = "/health"});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 503);
  auto refused = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CA9"});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 503);
  auto done = drained.get_future();
  EXPECT_EQ(done.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout) << "a call is still active";
  EXPECT_TRUE(call.get().status.ok());
  EXPECT_EQ(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

// Twilio connects a call's stream a few hundred ms after its webhook: a
// call answered just before a restart began still has its stream taken, and
// the drain waits for it instead of exiting under it.
TEST(TwilioServerTest, ADrainTakesTheStreamOfACallAnsweredBeforeIt) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  SimulatedCallOptions options;
  options.url = runner.base_url();
  options.audio.assign(8000, 0xFF);
  options.tail = std::chrono::milliseconds(0);
  options.stream_delay = std::chrono::milliseconds(700);
  auto result = std::make_shared<std::promise<SimulatedCallResult>>();
  PlaceSimulatedCall(runner.io().get_executor(), options, [result](SimulatedCallResult r) { result->set_value(std::move(r)); });
  for (int i = 0; i < 100 && runner.server().promised_calls() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(runner.server().promised_calls(), 1) << "the webhook was answered";
  std::promise<void> drained;
  runner.service().Drain(std::chrono::seconds(10), [&] { drained.set_value(); });
  auto done = drained.get_future();
  EXPECT_EQ(done.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the answered call has not connected yet";
  auto call = result->get_future().get();
  EXPECT_TRUE(call.status.ok()) << call.status.message();
  EXPECT_GE(call.first_audio_ms, 0) << "the call ran";
  EXPECT_EQ(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace voxpipe::twilio

namespace voxpipe::twilio {
namespace {

TEST(TwilioServerStatusTest, CallsAreListedAndATerminalStatusCallbackEndsTheCall) {
  ServerRunner runner("");
  ASSERT_TRUE(runner.status().ok());
  auto call = runner.StartCall({.call_sid = "CAstatus", .from = "+15551112222"}, 5);  // five seconds, real time
  ASSERT_EQ(runner.server().active_calls(), 1);

  // The stream's `start` follows the upgrade closely; wait for it.
  nlohmann::json list;
  std::string body;
  for (int i = 0; i < 200; ++i) {
    auto calls = runner.Fetch({.method = "GET", .url = "/twilio/calls"});
    ASSERT_TRUE(calls.ok());
    body = calls->body;
    list = nlohmann::json::parse(body);
    if (list.size() == 1 && list[0]["state"] == "in-progress") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(list.size(), 1u) << body;
  EXPECT_EQ(list[0]["id"], "CAstatus");
  EXPECT_EQ(list[0]["from"], "+1******2222") << "numbers are masked in the listing";
  EXPECT_EQ(list[0]["state"], "in-progress");

  // A webhook from anyone (unsigned line) with a From that is not UTF-8 must not break the listing.
  auto odd = runner.Fetch({.method = "POST", .url = "/twilio/voice", .body = "CallSid=CAodd&From=%FF%FE%C3"});
  ASSERT_TRUE(odd.ok());
  auto listing = runner.Fetch({.method = "GET", .url = "/twilio/calls"});
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->status, 200);
  EXPECT_NE(listing->body.find("CAodd"), std::string::npos);

  auto status = runner.Fetch({.method = "POST",
                              .url = "/twilio/status",
                              .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                              .body = "CallSid=CAstatus&CallStatus=completed"});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status, 200);
  ASSERT_EQ(call.wait_for(std::chrono::seconds(3)), std::future_status::ready)
      << "the call should end well before its five seconds of audio";
  auto result = call.get();
  EXPECT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_TRUE(result.closed_by_server);
  for (int i = 0; i < 100 && runner.server().active_calls() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto after = nlohmann::json::parse(runner.Fetch({.method = "GET", .url = "/twilio/calls"})->body);
  ASSERT_EQ(after.size(), 1u) << "only the ringing CAodd is left";
  EXPECT_EQ(after[0]["id"], "CAodd");
}

}  // namespace
}  // namespace voxpipe::twilio
