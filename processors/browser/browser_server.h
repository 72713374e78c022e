// BrowserServer: the browser voice chat. `server: {type: browser}` in a
// pipeline file.
//
// A CallServer (framework/transport/call_server.h) with the routes of
// Pipecat's browser client: GET / (the page, from `web_dir`; its other
// files at /NAME), GET /health, POST /start (answers {"wsUrl": ...}, and
// the token when one is set, for the client's startBotAndConnect), WS /ws
// (one BrowserSession and pipeline instance per connection).
//
// At the door: the Origin of a WebSocket must be in `allowed_origins`
// (comma-separated; empty: the page's own origin, i.e. the Host the request
// was sent to; `*`: any) else close 4001; with `token` set, `?token=` must
// match (4003) — /start then wants it too, as `Authorization: Bearer` or
// `?token=`, and hands it back; sessions beyond `max_calls` are closed with
// 1013; messages beyond `max_message_bytes` close with 1009, beyond
// `max_messages_per_second` with 4008; a session longer than `max_session`
// ends with 4009.
//
// Example config:
//   server:
//     type: browser
//     port: ${PORT:-8090}
//     allowed_origins: ""        # the page's own origin
//     token: ${BROWSER_TOKEN:-}
#pragma once

#include <map>
#include <string>
#include <vector>

#include "framework/transport/call_server.h"
#include "processors/browser/browser_session.h"

namespace voxpipe::browser {

struct BrowserServerOptions : CallServerOptions {
  BrowserServerOptions() {
    port = 8090;
    max_calls = 20;
    media_timeout = std::chrono::milliseconds(0);  // a muted microphone sends nothing
  }
  std::string web_dir;  // relative to the pipeline file; empty: installed or source web/
  std::string allowed_origins;
  std::string token;
  int max_messages_per_second = 200;
  std::chrono::milliseconds max_session{std::chrono::minutes(30)};

  static void Declare(Schema<BrowserServerOptions>& s);
};

class BrowserServer : public CallServer {
 public:
  using Options = BrowserServerOptions;
  static ServiceDoc Doc();
  static Status Validate(const Options& options, const PipelineTemplate& pipeline);

  BrowserServer(const Options& options, ServiceEnv env);

 protected:
  void AddRoutes(server::HttpServer& http) override;
  void OnListening() override;
  void DescribeCarrier(nlohmann::json& home) const override;

 private:
  struct WebFile {
    std::string content_type;
    std::string body;
  };
  void LoadWebDir();
  server::HttpResponse Start(const server::HttpRequest& request) const;
  void OpenSession(std::shared_ptr<server::WebSocketConnection> connection, const server::HttpRequest& request);
  bool OriginAllowed(const server::HttpRequest& request) const;
  bool TokenMatches(const server::HttpRequest& request) const;

  Options options_;
  std::string web_path_;
  std::vector<std::string> origins_;
  std::map<std::string, WebFile> files_;  // by path: "/" and "/NAME"
};

}  // namespace voxpipe::browser
