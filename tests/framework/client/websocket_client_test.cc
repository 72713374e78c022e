#include "framework/client/websocket_client.h"

#include <optional>

#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/gemini_emulator/emulator.h"
#include "tests/framework/client/client_test_util.h"
#include "tests/framework/client/test_tls.h"

namespace voxpipe {
namespace {

using emulator::GeminiEmulator;
using emulator::Scenario;
using testing::RunUntil;

constexpr char kSetup[] = R"({"setup":{"model":"models/test"}})";

// A client with its handlers recording what happened.
struct Probe {
  boost::asio::io_context io;
  std::shared_ptr<WebSocketClient> ws;
  bool opened = false;
  std::vector<std::pair<std::string, bool>> messages;
  std::optional<WebSocketCloseInfo> closed;

  void Connect(WebSocketClientOptions options) {
    ws = WebSocketClient::Create(boost::asio::make_strand(io), std::move(options),
                                 {.on_open = [this] { opened = true; },
                                  .on_message = [this](std::string_view data, bool binary) {
                                    messages.emplace_back(std::string(data), binary);
                                  },
                                  .on_close = [this](const WebSocketCloseInfo& info) { closed = info; },
                                  .on_written = {}});
    ws->Connect();
  }
  bool WaitOpen() { return RunUntil(io, [this] { return opened || closed.has_value(); }) && opened; }
  bool WaitMessages(size_t n) { return RunUntil(io, [&] { return messages.size() >= n || closed.has_value(); }) && messages.size() >= n; }
  bool WaitClosed() { return RunUntil(io, [this] { return closed.has_value(); }); }
};

Scenario KeyedScenario() {
  Scenario scenario;
  scenario.api_key = "secret-key";
  return scenario;
}

TEST(WebSocketClientTest, SendsHeadersAndExchangesTextAndBinaryFrames) {
  GeminiEmulator server(KeyedScenario());
  ASSERT_TRUE(server.Start().ok());
  Probe probe;
  probe.Connect({.url = server.url(), .headers = {{"x-goog-api-key", "secret-key"}}});
  ASSERT_TRUE(probe.WaitOpen()) << (probe.closed ? probe.closed->error : "");
  EXPECT_TRUE(probe.ws->Send(kSetup));
  ASSERT_TRUE(probe.WaitMessages(1));
  EXPECT_EQ(nlohmann::json::parse(probe.messages[0].first), nlohmann::json::parse(R"({"setupComplete":{}})"));
  EXPECT_TRUE(probe.messages[0].second) << "the emulator answers in binary frames, as Google does";
  EXPECT_EQ(server.stats().text_frames, 1);
  probe.ws->Close(1000, "bye");
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_EQ(probe.closed->code, 1000);
  EXPECT_TRUE(probe.closed->opened);
}

TEST(WebSocketClientTest, ReportsTheHttpStatusOfARefusedUpgrade) {
  GeminiEmulator server(KeyedScenario());
  ASSERT_TRUE(server.Start().ok());
  Probe probe;
  probe.Connect({.url = server.url(), .headers = {{"x-goog-api-key", "wrong"}}});
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_FALSE(probe.opened);
  EXPECT_EQ(probe.closed->http_status, 403);
  EXPECT_EQ(probe.closed->error.find("wrong"), std::string::npos) << "header values stay out of errors";
}

TEST(WebSocketClientTest, SurfacesTheServersCloseCodeAndReason) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  Probe probe;
  probe.Connect({.url = server.url()});
  ASSERT_TRUE(probe.WaitOpen());
  probe.ws->Send(R"({"setup":{"model":"models/test","bogus":1}})");
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_EQ(probe.closed->code, 1007);
  EXPECT_NE(probe.closed->reason.find("Unknown name \"bogus\""), std::string::npos) << probe.closed->reason;
}

TEST(WebSocketClientTest, AnAbruptEndIs1006) {
  Scenario scenario;
  scenario.close = {.after = std::chrono::milliseconds(20), .code = 1006, .reason = "", .connections = 0};
  GeminiEmulator server(scenario);
  ASSERT_TRUE(server.Start().ok());
  Probe probe;
  probe.Connect({.url = server.url()});
  ASSERT_TRUE(probe.WaitOpen());
  probe.ws->Send(kSetup);
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_EQ(probe.closed->code, 1006);
  EXPECT_TRUE(probe.closed->opened);
}

TEST(WebSocketClientTest, TheWriteQueueIsBounded) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  Probe probe;
  probe.Connect({.url = server.url(), .max_queued_messages = 2});
  EXPECT_FALSE(probe.ws->Send(kSetup)) << "nothing is sent before the connection is open";
  ASSERT_TRUE(probe.WaitOpen());
  EXPECT_TRUE(probe.ws->Send(kSetup));
  EXPECT_TRUE(probe.ws->Send(R"({"realtimeInput":{"audioStreamEnd":true}})"));
  EXPECT_FALSE(probe.ws->Send(R"({"realtimeInput":{"audioStreamEnd":true}})")) << "third message while one is in flight";
  EXPECT_EQ(probe.ws->queued(), 2u);
}

TEST(WebSocketClientTest, RefusesUrlsItCannotServe) {
  Probe probe;
  probe.Connect({.url = "http://127.0.0.1:1/"});
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_NE(probe.closed->error.find("not a ws:// or wss:// URL"), std::string::npos) << probe.closed->error;
}

class WebSocketTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::MakeTestPki({"localhost"});
    ASSERT_FALSE(pki_.dir.empty());
    server_ = std::make_unique<GeminiEmulator>(Scenario{}, emulator::ServerOptions{.tls_cert = pki_.server_cert,
                                                                                   .tls_key = pki_.server_key});
    ASSERT_TRUE(server_->Start().ok());
  }
  TlsContextPtr TrustTestCa() {
    auto tls = MakeTlsClientContext({.ca_file = pki_.ca_cert});
    EXPECT_TRUE(tls.ok()) << tls.message();
    return tls.ok() ? *tls : nullptr;
  }

  testing::TestPki pki_;
  std::unique_ptr<GeminiEmulator> server_;
};

TEST_F(WebSocketTlsTest, ConnectsToAServerSignedByATrustedCa) {
  Probe probe;
  probe.Connect({.url = server_->url("localhost"), .tls = TrustTestCa()});
  ASSERT_TRUE(probe.WaitOpen()) << (probe.closed ? probe.closed->error : "");
  probe.ws->Send(kSetup);
  ASSERT_TRUE(probe.WaitMessages(1));
  EXPECT_NE(probe.messages[0].first.find("setupComplete"), std::string::npos);
}

TEST_F(WebSocketTlsTest, RefusesACertificateForAnotherName) {
  Probe probe;
  probe.Connect({.url = server_->url("127.0.0.1"), .tls = TrustTestCa()});
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_FALSE(probe.opened);
  EXPECT_NE(probe.closed->error.find("certificate verification failed"), std::string::npos) << probe.closed->error;
}

TEST_F(WebSocketTlsTest, RefusesAnUntrustedCa) {
  Probe probe;
  probe.Connect({.url = server_->url("localhost")});  // system store only
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_FALSE(probe.opened);
  EXPECT_NE(probe.closed->error.find("certificate verification failed"), std::string::npos) << probe.closed->error;
}

}  // namespace
}  // namespace voxpipe
