// A stand-in for api.twilio.com that records what it is asked: the server's
// REST requests (call updates for a hang-up or a transfer) go to its url()
// as `api_base`, and it answers each with `status` and `body`.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "framework/runtime.h"
#include "framework/server/http_server.h"

namespace voxpipe::testing {

class RestRecorder {
 public:
  RestRecorder(Runtime& runtime, const std::string& account_sid, const std::string& call_sid, int status = 200,
               std::string body = "{}")
      : server_(runtime, {.address = "127.0.0.1"}) {
    server_.Handle("POST", "/2010-04-01/Accounts/" + account_sid + "/Calls/" + call_sid + ".json",
                   [this, status, body](const server::HttpRequest& r) {
                     std::lock_guard lock(mutex_);
                     requests_.push_back(r);
                     return server::HttpResponse::Json(status, body);
                   });
    EXPECT_TRUE(server_.Start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<server::HttpRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  server::HttpServer server_;
  std::mutex mutex_;
  std::vector<server::HttpRequest> requests_;
};

}  // namespace voxpipe::testing
