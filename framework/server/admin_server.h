// AdminServer: what operators and monitors see, on a listener of its own
// (`voxpipe run` starts one per process: ADMIN_ADDRESS, default 127.0.0.1,
// and ADMIN_PORT, default 8099). It shows callers and internals, so it is
// never on the public port a tunnel or balancer exposes:
//
//   GET /metrics        Prometheus text, every server of the process
//   GET /calls          the call registry (also /twilio/calls); numbers masked
//                       unless show_numbers
//   GET /health/live    200 while the process serves
//   GET /health/ready   200 when every server takes calls, else 503
//   GET /               the servers, their pipelines and calls
//
// With a token (ADMIN_TOKEN), every request needs `Authorization: Bearer
// TOKEN` (401 otherwise); a listener on a non-loopback address needs one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "framework/runtime.h"
#include "framework/server/http_server.h"
#include "framework/service.h"
#include "framework/transport/call_registry.h"

namespace voxpipe::server {

struct AdminOptions {
  std::string address = "127.0.0.1";
  int port = 8099;
  std::string token;
  bool show_numbers = false;
};

class AdminServer {
 public:
  AdminServer(Runtime& runtime, AdminOptions options, std::shared_ptr<CallRegistry> registry,
              std::vector<Service*> services);
  ~AdminServer();

  // The error names the address and port, or why a token is needed.
  Status Start();
  void Stop();
  int port() const { return http_ ? http_->port() : 0; }

 private:
  HttpResponse Authorized(const HttpRequest& request, const std::function<HttpResponse()>& respond) const;

  Runtime& runtime_;
  AdminOptions options_;
  std::shared_ptr<CallRegistry> registry_;
  std::vector<Service*> services_;
  std::unique_ptr<HttpServer> http_;
};

// Admin options from ADMIN_ADDRESS, ADMIN_PORT, ADMIN_TOKEN and
// ADMIN_SHOW_NUMBERS; errors name the variable.
Result<AdminOptions> AdminOptionsFromEnvironment();

}  // namespace voxpipe::server
