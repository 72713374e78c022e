#include "processors/twilio/server/call_control.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framework/client/http_client.h"
#include "framework/metrics.h"
#include "framework/server/http_message.h"
#include "processors/common/base64.h"

namespace voxpipe::twilio {

namespace {

MetricCounter& RestCounter(const std::string& result) {
  return Metrics::Global().Counter("voxpipe_twilio_rest_requests_total", "Call control requests to Twilio's REST API",
                                   {{"result", result}});
}

}  // namespace

void CallControl::HangUp(boost::asio::any_io_executor executor, const std::string& call_sid, Callback done) const {
  Update(std::move(executor), call_sid, "Status=completed", "hang up", std::move(done));
}

void CallControl::Redirect(boost::asio::any_io_executor executor, const std::string& call_sid,
                           const std::string& twiml, Callback done) const {
  Update(std::move(executor), call_sid, "Twiml=" + server::UrlEncode(twiml), "redirect", std::move(done));
}

void CallControl::Update(boost::asio::any_io_executor executor, const std::string& call_sid, std::string form,
                         std::string what, Callback done) const {
  std::string base = config_.api_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  HttpRequest request;
  request.method = "POST";
  request.url = fmt::format("{}/2010-04-01/Accounts/{}/Calls/{}.json", base, server::UrlEncode(config_.account_sid),
                            server::UrlEncode(call_sid));
  std::string credentials = config_.account_sid + ":" + config_.auth_token;
  request.headers = {
      {"Authorization", "Basic " + base64::Encode({reinterpret_cast<const uint8_t*>(credentials.data()),
                                                   credentials.size()})},
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Accept", "application/json"},
  };
  request.body = std::move(form);
  request.timeout = config_.timeout;
  HttpFetch(executor, std::move(request),
            [call_sid, what = std::move(what), done = std::move(done)](Result<HttpResponse> response) {
              if (!response.ok()) {
                RestCounter("error").Increment();
                return done(Status::Error(fmt::format("{} {}: {}", what, call_sid, response.message())));
              }
              int status = response->status;
              if (status >= 200 && status < 300) {
                RestCounter("ok").Increment();
                return done(OkStatus());
              }
              auto body = nlohmann::json::parse(response->body, nullptr, false);
              int code = body.is_object() && body.contains("code") && body["code"].is_number_integer()
                             ? body["code"].get<int>()
                             : 0;
              if (status == 404 && code == 20404) {
                RestCounter("already_ended").Increment();
                return done(OkStatus());
              }
              RestCounter("error").Increment();
              std::string message = body.is_object() && body.contains("message") && body["message"].is_string()
                                        ? body["message"].get<std::string>()
                                        : "";
              done(Status::Error(fmt::format("{} {}: Twilio answered {} (code {}) {}", what, call_sid, status, code,
                                             message)));
            });
}

}  // namespace voxpipe::twilio
