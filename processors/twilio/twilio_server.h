// TwilioServer: the phone line. `server: {type: twilio}` in a pipeline file.
//
// One HTTP port serves the endpoints of docs/twilio.md: GET / and /health,
// POST /twilio/voice (the number's webhook: TwiML that connects the call to
// our media stream), POST /twilio/status (status callbacks), WS
// /twilio/stream (Twilio Media Streams: one pipeline instance per call, on
// the socket's strand), GET /twilio/calls and GET /metrics. With an auth
// token every webhook and stream upgrade must carry a valid
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
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "framework/server/http_server.h"
#include "framework/service.h"
#include "processors/twilio/call_registry.h"
#include "processors/twilio/signature.h"
#include "processors/twilio/twilio_call.h"

namespace voxpipe::twilio {

struct TwilioServerOptions {
  std::string address = "0.0.0.0";
  int port = 8091;
  std::string public_url;
  std::string auth_token;
  std::string account_sid;
  std::string api_base = "https://api.twilio.com";
  std::string greeting;
  std::string voice;
  std::string language;
  std::map<std::string, std::string> parameters;
  int max_calls = 100;
  std::string busy_message = "Sorry, all our lines are busy. Please call again later.";
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds media_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  int max_header_bytes = 8 * 1024;
  int max_body_bytes = 64 * 1024;
  int max_message_bytes = 64 * 1024;
  int max_bad_messages = 100;

  static void Declare(Schema<TwilioServerOptions>& s);
};

class TwilioServer : public Service {
 public:
  using Options = TwilioServerOptions;
  static ServiceDoc Doc();
  static Status Validate(const Options& options, const PipelineTemplate& pipeline);

  TwilioServer(const Options& options, ServiceEnv env);
  ~TwilioServer() override;

  Status Start() override;
  void Drain(std::chrono::milliseconds grace, std::function<void()> done) override;
  std::chrono::milliseconds drain_timeout() const override { return options_.drain_timeout; }

  int port() const { return http_ ? http_->port() : 0; }
  int active_calls() const { return active_; }
  const CallRegistry& registry() const { return registry_; }

 private:
  class Drainer;

  void AddRoutes();
  server::HttpResponse Home(const server::HttpRequest& request) const;
  server::HttpResponse Voice(const server::HttpRequest& request);
  server::HttpResponse StatusCallback(const server::HttpRequest& request);
  std::optional<server::HttpResponse> AdmitStream(const server::HttpRequest& request);
  void OpenStream(std::shared_ptr<server::WebSocketConnection> connection);
  void OnCallEnd(TwilioCall& call, const Status& status);

  // "https://host" as Twilio sees us: public_url, else the forwarded headers or Host.
  std::string PublicBase(const server::HttpRequest& request) const;
  bool SignatureValid(const server::HttpRequest& request, const std::string& url, const FormParams& params) const;

  Options options_;
  ServiceEnv env_;
  std::unique_ptr<server::HttpServer> http_;
  std::shared_ptr<TwilioLine> line_;
  CallRegistry registry_;
  Clock::time_point started_ = Clock::now();
  std::atomic<int> active_{0};
  std::atomic<bool> draining_{false};
  std::mutex calls_mutex_;
  std::map<TwilioCall*, std::weak_ptr<TwilioCall>> calls_;
  std::shared_ptr<Drainer> drainer_;
};

}  // namespace voxpipe::twilio
