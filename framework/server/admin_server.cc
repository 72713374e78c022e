#include "framework/server/admin_server.h"

#include <charconv>
#include <cstdlib>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/version.h"

namespace voxpipe::server {
namespace {

bool IsLoopback(const std::string& address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

AdminServer::AdminServer(Runtime& runtime, AdminOptions options, std::shared_ptr<CallRegistry> registry,
                         std::vector<Service*> services)
    : runtime_(runtime), options_(std::move(options)), registry_(std::move(registry)), services_(std::move(services)) {}

AdminServer::~AdminServer() { Stop(); }

HttpResponse AdminServer::Authorized(const HttpRequest& request, const std::function<HttpResponse()>& respond) const {
  if (!options_.token.empty()) {
    std::string expected = "Bearer " + options_.token;
    const std::string& given = request.Header("authorization");
    if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0) {
      HttpResponse refusal = HttpResponse::Text(401, "admin endpoints need Authorization: Bearer ADMIN_TOKEN\n");
      refusal.headers.emplace_back("WWW-Authenticate", "Bearer");
      return refusal;
    }
  }
  return respond();
}

Status AdminServer::Start() {
  if (!IsLoopback(options_.address) && options_.token.empty()) {
    return Status::Error(fmt::format("admin listener on {}: not a loopback address, so it needs ADMIN_TOKEN (it "
                                     "shows callers and internals)",
                                     options_.address));
  }
  HttpServerOptions http;
  http.address = options_.address;
  http.port = options_.port;
  http.server_name = "voxpipe-admin";
  http.max_connections = 64;
  http_ = std::make_unique<HttpServer>(runtime_, http);
  auto route = [this](std::string path, std::function<HttpResponse()> respond) {
    http_->Handle("GET", std::move(path), [this, respond = std::move(respond)](const HttpRequest& r) {
      return Authorized(r, respond);
    });
  };
  route("/metrics", [] {
    HttpResponse response = HttpResponse::Text(200, Metrics::Global().RenderText());
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
  auto calls = [this] {
    // Numbers come from webhooks: any bytes at all, so invalid UTF-8 is replaced, not thrown on.
    return HttpResponse::Json(200, registry_->ToJson(options_.show_numbers)
                                           .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                       "\n");
  };
  route("/calls", calls);
  route("/twilio/calls", calls);
  route("/health/live", [] { return HttpResponse::Json(200, R"({"status":"live"})"); });
  route("/health/ready", [this] {
    for (const Service* s : services_) {
      if (!s->ready()) return HttpResponse::Json(503, R"({"status":"not ready"})");
    }
    return HttpResponse::Json(200, R"({"status":"ready"})");
  });
  route("/", [this] {
    nlohmann::json body = {{"name", "voxpipe"}, {"version", VOXPIPE_VERSION}, {"calls", registry_->active()}};
    body["servers"] = nlohmann::json::array();
    for (const Service* s : services_) body["servers"].push_back(s->Describe());
    return HttpResponse::Json(200, body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  });
  if (Status s = http_->Start(); !s.ok()) return Status::Error(fmt::format("admin listener: {}", s.message()));
  spdlog::info("admin listening on {}:{} (/metrics, /calls, /health/live, /health/ready){}", options_.address,
               http_->port(), options_.token.empty() ? "" : "; bearer token required");
  return OkStatus();
}

void AdminServer::Stop() {
  if (http_) http_->Stop();
}

Result<AdminOptions> AdminOptionsFromEnvironment() {
  AdminOptions options;
  if (std::string address = Env("ADMIN_ADDRESS"); !address.empty()) options.address = address;
  if (std::string port = Env("ADMIN_PORT"); !port.empty()) {
    int value = -1;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 0 || value > 65535) {
      return Status::Error(fmt::format("ADMIN_PORT must be a port number 0-65535 (got '{}')", port));
    }
    options.port = value;
  }
  options.token = Env("ADMIN_TOKEN");
  std::string show = Env("ADMIN_SHOW_NUMBERS");
  options.show_numbers = show == "1" || show == "true" || show == "yes";
  return options;
}

}  // namespace voxpipe::server
