// The generic HTTP/WebSocket server: routing, limits, WebSocket hand-off.
// Real sockets on 127.0.0.1, port 0.
#include "framework/server/http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "framework/client/http_client.h"
#include "framework/client/websocket_client.h"
#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/runtime.h"

namespace voxpipe::server {
namespace {


uint64_t Rejected(const std::string& reason) {
  return Metrics::Global()
      .Counter("voxpipe_http_rejected_total", "HTTP requests and connections refused or cut", {{"reason", reason}})
      .value();
}

// A raw TCP client: what an attacker sends, byte for byte. -1 when connect fails.
int RawConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes or `timeout` passes; what arrived.
std::string ReadUntilClosed(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string RawExchange(int port, const std::string& request) {
  int fd = RawConnect(port);
  if (fd < 0) return "";
  (void)!write(fd, request.data(), request.size());
  std::string reply = ReadUntilClosed(fd);
  close(fd);
  return reply;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.address = "127.0.0.1";
    server_ = std::make_unique<HttpServer>(runtime_, options);
    server_->Handle("GET", "/hello", [](const HttpRequest& r) {
      return HttpResponse::Text(200, "hello " + r.query + " from " + r.remote);
    });
    server_->Handle("POST", "/echo", [](const HttpRequest& r) {
      HttpResponse response = HttpResponse::Text(200, r.body);
      response.headers.emplace_back("X-Seen-Header", r.Header("x-test"));
      return response;
    });
    server_->HandleWebSocket("/ws", {
        .admit = [](const HttpRequest& r) -> std::optional<HttpResponse> {
          if (r.Header("x-key") != "open sesame") return HttpResponse::Text(403, "no\n");
          return std::nullopt;
        },
        .open = [](std::shared_ptr<WebSocketConnection> c, const HttpRequest&) {
          // Echoes every message back, upper-cased. The connection keeps
          // itself alive while it reads; the callbacks hold it weakly, or
          // it and they would keep each other alive past the io_context.
          std::weak_ptr<WebSocketConnection> weak = c;
          c->Start({.on_message = [weak](std::string_view text, bool) {
                      if (auto c = weak.lock()) {
                        std::string reply(text);
                        for (auto& ch : reply) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                        c->Send(std::move(reply));
                      }
                    },
                    .on_close = [](const std::string&) {}});
        },
    });
    ASSERT_TRUE(server_->Start().ok());
    runtime_.Start();
  }

  void TearDown() override {
    if (server_) server_->Stop();
    runtime_.Stop();
    runtime_.Abort();
    runtime_.Join();
  }

  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_->port()) + path; }

  Result<voxpipe::HttpResponse> Fetch(voxpipe::HttpRequest request) {
    request.url = Url(request.url);
    std::promise<Result<voxpipe::HttpResponse>> result;
    HttpFetch(runtime_.loop(1).executor(), std::move(request),
              [&](Result<voxpipe::HttpResponse> r) { result.set_value(std::move(r)); });
    return result.get_future().get();
  }

  struct WsOutcome {
    std::vector<std::string> messages;
    WebSocketCloseInfo close;
  };
  // Connects, sends `messages`, waits for `expect_replies` replies (or the close).
  WsOutcome TalkWebSocket(std::vector<std::pair<std::string, std::string>> headers, std::vector<std::string> messages,
                          size_t expect_replies) {
    struct State {
      std::promise<void> done;
      std::promise<void> closed;
      bool finished = false;
      WsOutcome outcome;
      std::shared_ptr<WebSocketClient> ws;
    };
    auto state = std::make_shared<State>();
    auto strand = runtime_.loop(1).executor();
    auto finish = [state] {
      if (state->finished) return;
      state->finished = true;
      state->done.set_value();
    };
    boost::asio::post(strand, [=, this] {
      state->ws = WebSocketClient::Create(
          strand, {.url = "ws" + Url("/ws").substr(4), .headers = headers},
          {.on_open = [=] { for (const auto& m : messages) state->ws->Send(m); },
           .on_message = [=](std::string_view data, bool) {
             state->outcome.messages.emplace_back(data);
             if (state->outcome.messages.size() == expect_replies) finish();
           },
           .on_close = [=](const WebSocketCloseInfo& info) {
             if (!state->finished) state->outcome.close = info;
             finish();
             state->closed.set_value();
           }});
      state->ws->Connect();
    });
    state->done.get_future().wait_for(std::chrono::seconds(10));
    // Close and wait for the closing handshake, so that no operation is in
    // flight when the test stops the io_context.
    auto closed = state->closed.get_future();
    boost::asio::post(strand, [state] { state->ws->Close(1000, "done"); });
    closed.wait_for(std::chrono::seconds(5));
    boost::asio::post(strand, [state] { state->ws->Detach(); });
    return state->outcome;
  }

  Runtime runtime_{2};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, RoutesByMethodAndPath) {
  Start();
  auto hello = Fetch({.method = "GET", .url = "/hello?x=1"});
  ASSERT_TRUE(hello.ok()) << hello.message();
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hello x=1 from 127.0.0.1");
  auto echo = Fetch({.method = "POST", .url = "/echo", .headers = {{"X-Test", "yes"}}, .body = "payload"});
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->body, "payload");
  EXPECT_EQ(echo->header("x-seen-header"), "yes");
  EXPECT_EQ(Fetch({.method = "GET", .url = "/nope"})->status, 404);
  EXPECT_EQ(Fetch({.method = "POST", .url = "/hello"})->status, 405);
  EXPECT_EQ(Fetch({.method = "GET", .url = "/ws"})->status, 426);
}

TEST_F(HttpServerTest, RefusesOversizedBodiesAndHeaders) {
  HttpServerOptions options;
  options.body_limit = 1024;
  options.header_limit = 1024;
  Start(options);
  auto big_body = Fetch({.method = "POST", .url = "/echo", .body = std::string(4096, 'x')});
  if (big_body.ok()) {
    EXPECT_EQ(big_body->status, 413);
  }
  auto big_header = Fetch({.method = "POST", .url = "/echo", .headers = {{"X-Test", std::string(4096, 'h')}}});
  if (big_header.ok()) {
    EXPECT_EQ(big_header->status, 431);
  }
  auto fine = Fetch({.method = "POST", .url = "/echo", .body = std::string(1000, 'x')});
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpServerTest, HandsAdmittedWebSocketsToTheRoute) {
  Start();
  auto outcome = TalkWebSocket({{"X-Key", "open sesame"}}, {"one", "two"}, 2);
  EXPECT_EQ(outcome.messages, (std::vector<std::string>{"ONE", "TWO"}));
}

TEST_F(HttpServerTest, RefusedUpgradeGetsTheRoutesResponse) {
  Start();
  auto outcome = TalkWebSocket({}, {"hi"}, 1);
  EXPECT_TRUE(outcome.messages.empty());
  EXPECT_FALSE(outcome.close.opened);
  EXPECT_EQ(outcome.close.http_status, 403);
}

TEST_F(HttpServerTest, OversizedWebSocketMessageClosesTheConnection) {
  HttpServerOptions options;
  options.websocket_message_limit = 1024;
  Start(options);
  auto outcome = TalkWebSocket({{"X-Key", "open sesame"}}, {"small", std::string(2048, 'x'), "after"}, 3);
  EXPECT_EQ(outcome.messages, (std::vector<std::string>{"SMALL"}));
  EXPECT_TRUE(outcome.close.opened);
  // The server is still there for others.
  EXPECT_EQ(Fetch({.method = "GET", .url = "/hello"})->status, 200);
}

TEST_F(HttpServerTest, ReportsWhenItCannotListen) {
  Start();
  HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = server_->port();
  HttpServer second(runtime_, options);
  // SO_REUSEADDR does not allow two listeners on one port.
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(std::to_string(server_->port())), std::string::npos) << s.message();
}


// Request smuggling: with a last coding other than chunked the body has no
// defined length, and what follows it must not become a second request.
TEST_F(HttpServerTest, ATransferEncodingNotEndingInChunkedIsRefused) {
  Start();
  uint64_t before = Rejected("bad_transfer_encoding");
  std::string reply = RawExchange(server_->port(),
                                  "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                                  "GET /hello?smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_EQ(reply.find("smuggled"), std::string::npos) << reply;
  EXPECT_EQ(Rejected("bad_transfer_encoding"), before + 1);
  reply = RawExchange(server_->port(),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  reply = RawExchange(server_->port(),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                      "2\r\nok\r\n0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_NE(reply.find("\r\n\r\nok"), std::string::npos) << reply;
}

TEST_F(HttpServerTest, IdleConnectionsAndUpgradesToNoRouteAreCounted) {
  HttpServerOptions options;
  options.request_timeout = std::chrono::milliseconds(300);
  Start(options);
  uint64_t idle = Rejected("idle_timeout");
  uint64_t slow = Rejected("request_timeout");
  int quiet = RawConnect(server_->port());
  int slowloris = RawConnect(server_->port());
  ASSERT_GE(quiet, 0);
  ASSERT_GE(slowloris, 0);
  (void)!write(slowloris, "GET /hel", 8);
  ReadUntilClosed(quiet);
  ReadUntilClosed(slowloris);
  close(quiet);
  close(slowloris);
  // Counted as the server closes: give a loaded machine a moment to catch up.
  for (int i = 0; i < 200 && (Rejected("idle_timeout") < idle + 1 || Rejected("request_timeout") < slow + 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Rejected("idle_timeout"), idle + 1);
  EXPECT_EQ(Rejected("request_timeout"), slow + 1);
  uint64_t no_route = Rejected("websocket_no_route");
  std::string reply = RawExchange(server_->port(),
                                  "GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 404")) << reply;
  for (int i = 0; i < 200 && Rejected("websocket_no_route") < no_route + 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Rejected("websocket_no_route"), no_route + 1);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapsAreRefusedAtOnce) {
  HttpServerOptions options;
  options.max_connections = 4;
  Start(options);
  uint64_t before = Rejected("connection_limit");
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(RawConnect(server_->port()));
  // Wait until the server has taken all four.
  for (int i = 0; i < 200 && server_->open_connections() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(server_->open_connections(), 4);
  int extra = RawConnect(server_->port());
  ASSERT_GE(extra, 0);
  EXPECT_EQ(ReadUntilClosed(extra, std::chrono::seconds(3)), "") << "refused without an answer";
  close(extra);
  EXPECT_EQ(Rejected("connection_limit"), before + 1);
  for (int fd : held) close(fd);
  for (int i = 0; i < 200 && server_->open_connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(Fetch({.method = "GET", .url = "/hello"})->status, 200);
}

TEST_F(HttpServerTest, ConnectionsPerAddressAreCapped) {
  HttpServerOptions options;
  options.max_connections_per_address = 2;
  Start(options);
  uint64_t before = Rejected("address_limit");
  int a = RawConnect(server_->port());
  int b = RawConnect(server_->port());
  for (int i = 0; i < 200 && server_->open_connections() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int c = RawConnect(server_->port());
  EXPECT_EQ(ReadUntilClosed(c, std::chrono::seconds(3)), "");
  EXPECT_EQ(Rejected("address_limit"), before + 1);
  for (int fd : {a, b, c}) close(fd);
}

// Finding 1 of issue 12: out of descriptors, accept spun (280,000 log lines a
// second) and /health stopped answering. Now accepting pauses with a backoff
// and resumes when descriptors are free again.
TEST_F(HttpServerTest, OutOfDescriptorsAcceptBacksOffAndRecovers) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  HttpServerOptions options;
  options.max_connections = 10000;  // the descriptor limit, not the cap, is what runs out
  Start(options);
  ASSERT_EQ(Fetch({.method = "GET", .url = "/hello"})->status, 200);
  // Room for only a few more descriptors in this process.
  int probe = dup(0);
  ASSERT_GE(probe, 0);
  close(probe);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(probe + 24);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  uint64_t failed = Rejected("accept_failed");
  std::vector<int> clients;
  // Each connection costs two descriptors here (client and server side):
  // the clients run out too, so stop at the first failure.
  for (int i = 0; i < 40; ++i) {
    int fd = RawConnect(server_->port());
    if (fd < 0) break;
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  uint64_t failures = Rejected("accept_failed") - failed;
  EXPECT_GE(failures, 1u) << "the descriptor limit was never reached";
  // A backoff from 10 ms doubling to 1 s: a handful of attempts in 1.5 s,
  // where a spinning accept makes hundreds of thousands.
  EXPECT_LE(failures, 50u);
  for (int fd : clients) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  Result<voxpipe::HttpResponse> hello = Status::Error("not yet");
  for (int i = 0; i < 50; ++i) {
    hello = Fetch({.method = "GET", .url = "/hello", .timeout = std::chrono::seconds(2)});
    if (hello.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(hello.ok()) << hello.message();
  EXPECT_EQ(hello->status, 200);
}

// What a peer can repeat at will is logged at most once an interval per kind,
// the rest counted: 280,000 accept errors a second made 117 MB of log.
TEST(LogEveryTest, OnceAnIntervalPerKindWithTheRestCounted) {
  uint64_t suppressed = 99;
  EXPECT_TRUE(ShouldLog("test_kind_a", std::chrono::hours(1), suppressed));
  EXPECT_EQ(suppressed, 0u);
  int logged = 0;
  for (int i = 0; i < 100000; ++i) logged += ShouldLog("test_kind_a", std::chrono::hours(1), suppressed);
  EXPECT_EQ(logged, 0);
  EXPECT_TRUE(ShouldLog("test_kind_b", std::chrono::hours(1), suppressed)) << "each kind has its own budget";
  EXPECT_TRUE(ShouldLog("test_kind_c", std::chrono::milliseconds(1), suppressed));
  for (int i = 0; i < 10; ++i) ShouldLog("test_kind_c", std::chrono::hours(1), suppressed);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(ShouldLog("test_kind_c", std::chrono::milliseconds(1), suppressed));
  EXPECT_EQ(suppressed, 10u);
}

TEST(HttpMessageTest, ParsesFormsAndKeepsMalformedEscapesAsText) {
  auto form = ParseForm("a=1&b=%2B1%20555&c=x+y&&d&e=%zz%4");
  ASSERT_EQ(form.size(), 5u);
  EXPECT_EQ(form[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(form[1].second, "+1 555");
  EXPECT_EQ(form[2].second, "x y");
  EXPECT_EQ(form[3], (std::pair<std::string, std::string>{"d", ""}));
  EXPECT_EQ(form[4].second, "%zz%4");
  EXPECT_EQ(UrlEncode("<Dial>+1 555</Dial>"), "%3CDial%3E%2B1%20555%3C%2FDial%3E");
  EXPECT_EQ(UrlDecode(UrlEncode("é & ü")), "é & ü");
}

}  // namespace
}  // namespace voxpipe::server
