// CallServer: the skeleton of a server whose work is calls carried on
// WebSocket sessions — the Twilio phone line, the browser voice chat. A
// carrier's server adds its routes (webhooks, its stream endpoint, a page)
// and its session type; this class keeps the rest in one place:
//
//   - one HTTP port (http_server.h) with the common limits and timeouts;
//   - GET / (what is served), GET /health (503 while draining; the alias
//     of earlier versions), /health/live (the process serves) and
//     /health/ready (taking calls: not draining, below max_calls);
//   - max_calls, counted from the moment a call starts (not from a bare
//     connection), and refusal while full or draining;
//   - the drain: stop taking calls, let active ones finish for up to the
//     grace, cancel the rest, stop listening.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/options.h"
#include "framework/server/http_server.h"
#include "framework/service.h"
#include "framework/transport/transport_session.h"

namespace voxpipe {

// Options every call server has (`server:` keys); a server's own options
// struct derives from it and declares these with DeclareCallServerOptions.
struct CallServerOptions {
  std::string address = "0.0.0.0";
  int port = 0;
  int max_calls = 100;
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds start_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds media_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  int max_header_bytes = 8 * 1024;
  int max_body_bytes = 64 * 1024;
  int max_message_bytes = 64 * 1024;
  int max_bad_messages = 100;
  int max_connections = 0;
  int max_connections_per_address = 0;
  std::string recordings_dir;
};

template <typename O>
void DeclareCallServerOptions(Schema<O>& s) {
  using B = CallServerOptions;
  // The fields live in the base struct; Schema<O> takes them as O's.
  auto field = [&s](const char* name, auto B::*member, const char* help) -> Schema<O>& {
    using M = std::remove_reference_t<decltype(std::declval<B&>().*member)>;
    return s.Field(name, static_cast<M O::*>(member), help);
  };
  field("address", &B::address, "Address to listen on");
  field("port", &B::port, "TCP port (0 picks a free one)").Range(0, 65535);
  field("max_calls", &B::max_calls, "Concurrent calls; more are refused while full").Range(1, 100000);
  field("drain_timeout", &B::drain_timeout,
        "On SIGTERM, how long active calls may go on before they are ended (voxpipe run --drain-timeout overrides)")
      .Range(0, 24 * 3600 * 1000.0);
  field("start_timeout", &B::start_timeout, "A connection that has not started a call by then is closed")
      .Range(100, 600000);
  field("media_timeout", &B::media_timeout, "No media from the client for this long ends a call (0: never)")
      .Range(0, 24 * 3600 * 1000.0);
  field("request_timeout", &B::request_timeout, "HTTP request read timeout and keep-alive idle time")
      .Range(100, 600000);
  field("handshake_timeout", &B::handshake_timeout, "How long a WebSocket close may take").Range(100, 600000);
  field("idle_timeout", &B::idle_timeout, "WebSocket idle time: a ping after half, closed after all (0: never)")
      .Range(0, 24 * 3600 * 1000.0);
  field("max_header_bytes", &B::max_header_bytes, "Largest HTTP request header").Range(1024, 1 << 20);
  field("max_body_bytes", &B::max_body_bytes, "Largest HTTP request body").Range(1024, 16 << 20);
  field("max_message_bytes", &B::max_message_bytes, "Largest WebSocket message from a client").Range(1024, 16 << 20);
  field("max_bad_messages", &B::max_bad_messages, "Malformed stream messages before the stream is closed")
      .Range(1, 1000000);
  field("max_connections", &B::max_connections,
        "Open connections at most; 0: what the descriptor limit allows, keeping a reserve")
      .Range(0, 1000000);
  field("max_connections_per_address", &B::max_connections_per_address,
        "Open connections from one peer address at most (0: no limit; a balancer or Twilio's edge is one address)")
      .Range(0, 1000000);
  field("recordings_dir", &B::recordings_dir,
        "Record every call here (per-call values allowed): DATE/CALL.caller.wav, .heard.wav and .jsonl; empty: off");
}

class CallServer : public Service {
 public:
  ~CallServer() override;

  Status Start() final;
  void Drain(std::chrono::milliseconds grace, std::function<void()> done) override;
  std::chrono::milliseconds drain_timeout() const override { return common_.drain_timeout; }
  void Reload(std::shared_ptr<const PipelineTemplate> pipeline) override;
  bool ready() const override;
  nlohmann::json Describe() const override;

  int port() const { return http_ ? http_->port() : 0; }
  int active_calls() const { return active_; }
  // Calls the line has answered whose media has not connected yet: a drain
  // waits for them as for active calls.
  virtual int promised_calls() const { return 0; }
  bool draining() const { return draining_; }
  const CallRegistry& registry() const { return *line_->registry; }

 protected:
  CallServer(const CallServerOptions& options, ServiceEnv env, std::string carrier);

  // The carrier's routes, added before the port opens.
  virtual void AddRoutes(server::HttpServer& http) = 0;
  // Log lines about the carrier's setup, once listening.
  virtual void OnListening() {}
  // Carrier fields for GET / and the admin view.
  virtual void DescribeCarrier(nlohmann::json& home) const {}

  // For the carrier's routes: a 503 while draining or full, else nothing.
  // `promised`: the line answered this call (its webhook) before the drain
  // began, so it is still taken while draining.
  std::optional<server::HttpResponse> RefuseIfUnavailable(bool promised = false) const;
  // Takes a new session: tracked for the drain, then started.
  void OpenSession(std::shared_ptr<TransportSession> session);

  const ServiceEnv& env() const { return env_; }
  const CallServerOptions& common() const { return common_; }
  // Shared by the server's sessions; a carrier may adjust it before Start().
  TransportLine& line() { return *line_; }
  std::shared_ptr<const TransportLine> shared_line() const { return line_; }

 private:
  class Drainer;

  bool Begin(TransportSession& session);
  void OnSessionEnd(TransportSession& session, const Status& status, bool begun);
  server::HttpResponse Home() const;
  server::HttpResponse Ready() const;

  CallServerOptions common_;
  ServiceEnv env_;
  std::shared_ptr<TransportLine> line_;
  std::unique_ptr<server::HttpServer> http_;
  Clock::time_point started_ = Clock::now();
  std::atomic<int> active_{0};
  std::atomic<bool> draining_{false};
  std::mutex sessions_mutex_;
  std::map<TransportSession*, std::weak_ptr<TransportSession>> sessions_;
  std::shared_ptr<Drainer> drainer_;
};

}  // namespace voxpipe
