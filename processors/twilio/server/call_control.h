// CallControl: hang up or redirect a live call through Twilio's REST API
// (POST {api_base}/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json,
// basic auth with the account SID and auth token).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "framework/status.h"

namespace voxpipe::twilio {

struct CallControlConfig {
  std::string api_base = "https://api.twilio.com";
  std::string account_sid;
  std::string auth_token;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

class CallControl {
 public:
  using Callback = std::function<void(const Status&)>;
  explicit CallControl(CallControlConfig config) : config_(std::move(config)) {}

  // Status=completed. A 404 with Twilio code 20404 (the call is already over)
  // counts as success. `done` runs on `executor`.
  void HangUp(boost::asio::any_io_executor executor, const std::string& call_sid, Callback done) const;
  // Replaces the call's TwiML (which ends its media stream), e.g. with <Dial>.
  void Redirect(boost::asio::any_io_executor executor, const std::string& call_sid, const std::string& twiml,
                Callback done) const;

 private:
  void Update(boost::asio::any_io_executor executor, const std::string& call_sid, std::string form,
              std::string what, Callback done) const;
  CallControlConfig config_;
};

}  // namespace voxpipe::twilio
