// The generic HTTP/WebSocket server: routing, limits, WebSocket hand-off.
// Real sockets on 127.0.0.1, port 0.
#include "framework/server/http_server.h"

#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "framework/client/http_client.h"
#include "framework/client/websocket_client.h"
#include "framework/runtime.h"

namespace voxpipe::server {
namespace {

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
