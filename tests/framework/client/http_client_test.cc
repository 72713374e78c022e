#include "framework/client/http_client.h"

#include <optional>

#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

#include "framework/client/url.h"
#include "tests/framework/client/client_test_util.h"
#include "tests/framework/client/test_http_server.h"

namespace voxpipe {
namespace {

using testing::RunUntil;
using testing::TestHttpServer;

std::optional<Result<HttpResponse>> Fetch(HttpRequest request) {
  boost::asio::io_context io;
  std::optional<Result<HttpResponse>> result;
  HttpFetch(boost::asio::make_strand(io), std::move(request), [&](Result<HttpResponse> r) { result = std::move(r); });
  RunUntil(io, [&] { return result.has_value(); });
  return result;
}

TEST(HttpClientTest, PostsABodyWithHeadersAndReadsTheResponse) {
  TestHttpServer server([](const TestHttpServer::Request& r) {
    return TestHttpServer::Reply{201, R"({"echo":)" + r.body + "}"};
  });
  auto result = Fetch({.method = "POST", .url = server.url("/hours?ward=3"),
                       .headers = {{"Content-Type", "application/json"}}, .body = R"({"a":1})"});
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->message();
  EXPECT_EQ((*result)->status, 201);
  EXPECT_EQ((*result)->body, R"({"echo":{"a":1}})");
  EXPECT_EQ((*result)->header("content-type"), "application/json");
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/hours?ward=3");
  EXPECT_EQ(seen[0].content_type, "application/json");
}

TEST(HttpClientTest, GivesUpAfterTheTimeout) {
  TestHttpServer server([](const TestHttpServer::Request&) {
    return TestHttpServer::Reply{200, "{}", std::chrono::milliseconds(800)};
  });
  auto started = std::chrono::steady_clock::now();
  auto result = Fetch({.url = server.url(), .timeout = std::chrono::milliseconds(100)});
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_NE(result->message().find("timed out"), std::string::npos) << result->message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(700));
}

TEST(HttpClientTest, RefusesAResponseLargerThanTheLimit) {
  TestHttpServer server([](const TestHttpServer::Request&) {
    return TestHttpServer::Reply{200, std::string(5000, 'x')};
  });
  auto result = Fetch({.url = server.url(), .max_body = 1000});
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_NE(result->message().find("larger than 1000 bytes"), std::string::npos) << result->message();
}

TEST(HttpClientTest, ReportsARefusedConnection) {
  unsigned short port;
  {
    TestHttpServer server([](const TestHttpServer::Request&) { return TestHttpServer::Reply{}; });
    port = server.port();
  }
  auto result = Fetch({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
}

TEST(UrlTest, ParsesWhatClientsNeed) {
  auto url = ParseUrl("wss://example.com/ws/x?key=abc");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, "443");
  EXPECT_EQ(url->target, "/ws/x?key=abc");
  EXPECT_EQ(url->host_header(), "example.com");
  auto local = ParseUrl("ws://127.0.0.1:9100");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->target, "/");
  EXPECT_EQ(local->host_header(), "127.0.0.1:9100");
  EXPECT_FALSE(ParseUrl("ftp://x/").ok());
  EXPECT_FALSE(ParseUrl("ws://:80/").ok());
  EXPECT_FALSE(ParseUrl("ws://host:99x/").ok());
  EXPECT_EQ(UrlForLog("wss://h/p?key=SECRET").find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace voxpipe
