// TwilioServer: the phone line. `server: {type: twilio}` in a pipeline file.
//
// A CallServer (framework/transport/call_server.h) with Twilio's routes:
// POST /twilio/voice (the number's webhook: TwiML that connects the call to
// a media stream whose URL carries a per-call token, see stream_token.h),
// POST /twilio/status (status callbacks), WS /twilio/stream/… (Twilio Media
// Streams: one TwilioStream and pipeline instance per call), POST
// /twilio/after-stream (the <Connect action>: hang up, or the fallback when
// the call's pipeline failed), and
// nothing else: the calls and metrics are on the admin listener
// (framework/server/admin_server.h), never on the port Twilio reaches. With
// an auth token every webhook and stream upgrade must carry a valid
// X-Twilio-Signature, else 403.
//
// Example config:
//   server:
//     type: twilio
//     port: ${PORT:-8091}
//     public_url: ${PUBLIC_URL:-}
//     auth_token: ${TWILIO_AUTH_TOKEN:-}
//     account_sid: ${TWILIO_ACCOUNT_SID:-}
//     api_base: ${TWILIO_API_BASE:-https://api.twilio.com}
//     greeting: Connecting you now.
//     max_calls: 100
//     fallback_transfer: ${TRANSFER_NUMBER:-}   # who takes a call when the model fails
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "framework/transport/call_server.h"
#include "framework/transport/early_calls.h"
#include "processors/twilio/server/signature.h"

namespace voxpipe::twilio {

class CallControl;
class CallOutcomes;
class StreamTokens;

struct TwilioServerOptions : CallServerOptions {
  TwilioServerOptions() { port = 8091; }
  std::string public_url;
  std::string auth_token;
  std::string account_sid;
  std::string api_base = "https://api.twilio.com";
  std::string greeting;
  std::string voice;
  std::string language;
  std::map<std::string, std::string> parameters;
  std::string busy_message = "Sorry, all our lines are busy. Please call again later.";
  std::string instance;  // names this instance in stream URLs, for a balancer
  std::chrono::milliseconds stream_token_ttl{std::chrono::minutes(2)};
  std::string stream_secret;  // signs stream tokens; empty: the auth token, else random per process
  // When a call's stream ends in failure (call_outcomes.h).
  bool fallback = true;
  std::string fallback_message = "I'm sorry, our assistant isn't available right now.";
  std::string fallback_transfer;  // a number or SIP URI; empty: hang up after the message
  // Open the call's model session when the webhook arrives (early_calls.h).
  bool prewarm = true;
  std::chrono::milliseconds prewarm_timeout{std::chrono::seconds(15)};
  int max_prewarmed = 50;

  static void Declare(Schema<TwilioServerOptions>& s);
};

class TwilioServer : public CallServer {
 public:
  using Options = TwilioServerOptions;
  static ServiceDoc Doc();
  static Status Validate(const Options& options, const PipelineTemplate& pipeline);

  TwilioServer(const Options& options, ServiceEnv env);
  ~TwilioServer() override;

  void Drain(std::chrono::milliseconds grace, std::function<void()> done) override;
  int prewarmed() const;
  int promised_calls() const override;

 private:
  void AddRoutes(server::HttpServer& http) override;
  void OnListening() override;
  void DescribeCarrier(nlohmann::json& home) const override;

  server::HttpResponse Voice(const server::HttpRequest& request);
  server::HttpResponse StatusCallback(const server::HttpRequest& request);
  server::HttpResponse AfterStream(const server::HttpRequest& request);
  std::string AfterStreamPath() const;
  std::string FallbackTwiml() const;
  std::string FallbackAction() const;  // for logs: "transfer to +1******0123"
  std::optional<server::HttpResponse> AdmitStream(const server::HttpRequest& request);
  void OpenStream(std::shared_ptr<server::WebSocketConnection> connection, const server::HttpRequest& request);

  // "https://host" as Twilio sees us: public_url, else the forwarded headers or Host.
  std::string PublicBase(const server::HttpRequest& request) const;
  bool SignatureValid(const server::HttpRequest& request, const std::string& url, const FormParams& params) const;

  Options options_;
  std::shared_ptr<CallControl> control_;
  std::shared_ptr<StreamTokens> tokens_;
  std::shared_ptr<CallOutcomes> outcomes_;
  std::shared_ptr<EarlyCalls> early_;  // null when prewarm is off
  // Streams this instance's webhook answered that have not connected yet
  // (token -> when to stop waiting): a drain admits and waits for them.
  mutable std::mutex promised_mutex_;
  mutable std::map<std::string, std::chrono::steady_clock::time_point> promised_;
};

}  // namespace voxpipe::twilio
