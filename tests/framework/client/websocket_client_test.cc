#include "framework/client/websocket_client.h"

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/gemini_emulator/emulator.h"
#include "framework/runtime.h"
#include "framework/server/websocket_frame.h"
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

  // On a strand by default; `on_loop` runs it on the io_context's own
  // executor, as a call's loop does (the client takes another path then).
  void Connect(WebSocketClientOptions options, bool on_loop = false) {
    auto executor = on_loop ? boost::asio::any_io_executor(io.get_executor())
                            : boost::asio::any_io_executor(boost::asio::make_strand(io));
    ws = WebSocketClient::Create(executor, std::move(options),
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

// A server for one connection that follows a script on its own thread,
// with a blocking socket: for what the emulator never does.
class ScriptedServer {
 public:
  using tcp = boost::asio::ip::tcp;
  using Script = std::function<void(ScriptedServer&)>;

  explicit ScriptedServer(Script script) : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, script = std::move(script)] {
      boost::system::error_code ec;
      acceptor_.accept(socket_, ec);
      if (!ec) script(*this);
    });
  }
  ~ScriptedServer() {
    done_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    thread_.join();
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/ws"; }

  // Reads the upgrade request; returns its Sec-WebSocket-Key.
  std::string ReadRequest() {
    std::string request;
    char c;
    boost::system::error_code ec;
    while (request.find("\r\n\r\n") == std::string::npos && boost::asio::read(socket_, boost::asio::buffer(&c, 1), ec)) {
      request += c;
    }
    request_ = request;
    auto at = request.find("Sec-WebSocket-Key: ");
    if (at == std::string::npos) return {};
    at += 19;
    return request.substr(at, request.find("\r\n", at) - at);
  }
  std::string Accept(const std::string& key) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " + server::WebSocketAcceptKey(key) + "\r\n\r\n";
  }
  static std::string Frame(server::WebSocketOpcode opcode, std::string_view payload) {
    uint8_t header[server::kMaxFrameHeader];
    size_t n = server::WriteFrameHeader(opcode, payload.size(), header);
    return std::string(reinterpret_cast<char*>(header), n) + std::string(payload);
  }
  void Write(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
  }
  // The next frame from the client, unmasked by a server-side reader.
  server::WebSocketReader::Event ReadFrame() {
    for (;;) {
      auto event = reader_.Next();
      if (event.kind != server::WebSocketReader::Event::kNone || reader_.failed()) return event;
      size_t available = 0;
      uint8_t* space = reader_.Prepare(4096, available);
      boost::system::error_code ec;
      size_t n = socket_.read_some(boost::asio::buffer(space, available), ec);
      if (ec) return {};
      reader_.Commit(n);
    }
  }
  void WaitUntilDone() {
    while (!done_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::string& request() const { return request_; }

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket socket_{io_};
  server::WebSocketReader reader_{1 << 20};
  std::string request_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// On a call's loop the socket waits in the loop's ReadyQueue: messages still
// flow, and an abort still reports the end.
TEST(WebSocketClientTest, OnAnEventLoopItReadsThroughTheReadyQueueAndReportsAnAbort) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  Runtime runtime(1);
  runtime.Start();
  struct State {
    std::shared_ptr<WebSocketClient> ws;
    std::promise<std::string> message;
    std::promise<WebSocketCloseInfo> closed;
    bool watched = false;
  };
  auto state = std::make_shared<State>();
  auto loop = runtime.loop(0).executor();
  boost::asio::post(loop, [state, loop, url = server.url()] {
    state->ws = WebSocketClient::Create(
        loop, {.url = url},
        {.on_open = [state] { state->ws->Send(kSetup); },
         .on_message =
             [state](std::string_view data, bool) {
               state->watched = EventLoop::Current()->ready_queue().watching() > 0;
               state->message.set_value(std::string(data));
               state->ws->Abort();
             },
         .on_close = [state](const WebSocketCloseInfo& info) { state->closed.set_value(info); },
         .on_written = {}});
    state->ws->Connect();
  });
  auto message = state->message.get_future();
  ASSERT_EQ(message.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(message.get().find("setupComplete"), std::string::npos);
  auto closed = state->closed.get_future();
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "an abort is reported";
  auto info = closed.get();
  EXPECT_EQ(info.code, 1006);
  EXPECT_TRUE(info.opened);
  EXPECT_TRUE(state->watched) << "the socket waited in the loop's ReadyQueue";
  boost::asio::post(loop, [state] { state->ws.reset(); });
  runtime.Stop();
  runtime.Join();
}

TEST(WebSocketClientTest, TheWriteQueueIsBounded) {
  // The server takes the upgrade, then reads nothing more: the socket fills.
  ScriptedServer server([](ScriptedServer& s) {
    s.Write(s.Accept(s.ReadRequest()));
    s.WaitUntilDone();
  });
  Probe probe;
  probe.Connect({.url = server.url(), .max_queued_messages = 2}, /*on_loop=*/true);
  EXPECT_FALSE(probe.ws->Send(kSetup)) << "nothing is sent before the connection is open";
  ASSERT_TRUE(probe.WaitOpen()) << (probe.closed ? probe.closed->error : "");
  const std::string big(1 << 20, 'x');
  int accepted = 0;
  while (accepted < 256 && probe.ws->Send(big)) ++accepted;
  EXPECT_LT(accepted, 256) << "Send() must refuse once the socket is full and two messages wait";
  EXPECT_EQ(probe.ws->queued(), 2u);
}

TEST(WebSocketClientTest, MasksItsFramesAndAnswersPings) {
  std::mutex mutex;  // `received` is written by the server's thread
  std::vector<std::pair<server::WebSocketReader::Event::Kind, std::string>> received;
  ScriptedServer server([&](ScriptedServer& s) {
    s.Write(s.Accept(s.ReadRequest()) + ScriptedServer::Frame(server::WebSocketOpcode::kPing, "are you there"));
    for (int i = 0; i < 2; ++i) {
      auto event = s.ReadFrame();  // fails unless the frame is masked
      std::lock_guard lock(mutex);
      received.emplace_back(event.kind, std::string(event.data));
    }
    s.Write(ScriptedServer::Frame(server::WebSocketOpcode::kText, "done"));
    s.WaitUntilDone();
  });
  Probe probe;
  probe.Connect({.url = server.url(), .headers = {{"x-goog-api-key", "k"}}}, /*on_loop=*/true);
  ASSERT_TRUE(probe.WaitOpen()) << (probe.closed ? probe.closed->error : "");
  EXPECT_TRUE(probe.ws->Send(std::string(70000, 'a')));  // a 64-bit length
  ASSERT_TRUE(probe.WaitMessages(1));
  EXPECT_EQ(probe.messages[0].first, "done");
  std::lock_guard lock(mutex);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].first, server::WebSocketReader::Event::kPong);
  EXPECT_EQ(received[0].second, "are you there");
  EXPECT_EQ(received[1].first, server::WebSocketReader::Event::kText);
  EXPECT_EQ(received[1].second, std::string(70000, 'a'));
  EXPECT_NE(server.request().find("x-goog-api-key: k\r\n"), std::string::npos);
  EXPECT_NE(server.request().find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST(WebSocketClientTest, ReadsFramesThatArriveWithTheUpgradeResponse) {
  ScriptedServer server([](ScriptedServer& s) {
    s.Write(s.Accept(s.ReadRequest()) + ScriptedServer::Frame(server::WebSocketOpcode::kBinary, "first") +
            ScriptedServer::Frame(server::WebSocketOpcode::kText, "second"));
    s.WaitUntilDone();
  });
  Probe probe;
  probe.Connect({.url = server.url()});
  ASSERT_TRUE(probe.WaitMessages(2));
  EXPECT_EQ(probe.messages[0], std::make_pair(std::string("first"), true));
  EXPECT_EQ(probe.messages[1], std::make_pair(std::string("second"), false));
}

TEST(WebSocketClientTest, RefusesAnUpgradeWithTheWrongAcceptKey) {
  ScriptedServer server([](ScriptedServer& s) {
    s.ReadRequest();
    s.Write(s.Accept("not the key it sent"));
    s.WaitUntilDone();
  });
  Probe probe;
  probe.Connect({.url = server.url()});
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_FALSE(probe.opened);
  EXPECT_EQ(probe.closed->code, 1006);
  EXPECT_NE(probe.closed->error.find("Sec-WebSocket-Accept"), std::string::npos) << probe.closed->error;
}

TEST(WebSocketClientTest, AMaskedFrameFromTheServerEndsTheConnection) {
  ScriptedServer server([](ScriptedServer& s) {
    std::string frame = ScriptedServer::Frame(server::WebSocketOpcode::kText, "hi");
    frame[1] = static_cast<char>(frame[1] | 0x80);
    s.Write(s.Accept(s.ReadRequest()) + frame.substr(0, 2) + std::string(4, '\0') + frame.substr(2));
    s.WaitUntilDone();
  });
  Probe probe;
  probe.Connect({.url = server.url()}, /*on_loop=*/true);
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_TRUE(probe.closed->opened);
  EXPECT_TRUE(probe.messages.empty());
  EXPECT_NE(probe.closed->error.find("protocol error"), std::string::npos) << probe.closed->error;
}

TEST(WebSocketClientTest, RefusesAHeaderValueWithALineBreak) {
  Probe probe;
  probe.Connect({.url = "ws://127.0.0.1:1/", .headers = {{"x-goog-api-key", "secret\r\nX-Injected: 1"}}});
  ASSERT_TRUE(probe.WaitClosed());
  EXPECT_NE(probe.closed->error.find("line break"), std::string::npos) << probe.closed->error;
  EXPECT_EQ(probe.closed->error.find("secret"), std::string::npos) << "header values stay out of errors";
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
