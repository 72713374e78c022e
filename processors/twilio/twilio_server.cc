#include "processors/twilio/twilio_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/version.h"
#include "processors/twilio/call_control.h"
#include "processors/twilio/twiml.h"

namespace voxpipe::twilio {

using server::HttpRequest;
using server::HttpResponse;

void TwilioServerOptions::Declare(Schema<TwilioServerOptions>& s) {
  using O = TwilioServerOptions;
  s.Field("address", &O::address, "Address to listen on");
  s.Field("port", &O::port, "TCP port (0 picks a free one)").Range(0, 65535);
  s.Field("public_url", &O::public_url,
          "https://host as Twilio reaches this server; empty: from X-Forwarded-Proto/Host or Host");
  s.Field("auth_token", &O::auth_token, "Twilio auth token: when set, signatures are required (403 otherwise)");
  s.Field("account_sid", &O::account_sid, "Twilio account SID, for call control (hang up, transfer)");
  s.Field("api_base", &O::api_base, "Twilio REST API base URL");
  s.Field("greeting", &O::greeting, "Words <Say>d before the call connects; empty for none");
  s.Field("voice", &O::voice, "<Say> voice, e.g. Polly.Joanna");
  s.Field("language", &O::language, "<Say> language, e.g. en-GB");
  s.Field("parameters", &O::parameters, "Extra <Parameter>s for the stream (start.customParameters)");
  s.Field("max_calls", &O::max_calls, "Concurrent calls; more are refused with busy_message").Range(1, 100000);
  s.Field("busy_message", &O::busy_message, "Said to callers refused while full or draining");
  s.Field("drain_timeout", &O::drain_timeout,
          "On SIGTERM, how long active calls may go on before they are ended (voxpipe run --drain-timeout overrides)");
  s.Field("media_timeout", &O::media_timeout, "No message from Twilio for this long ends a call (0: never)");
  s.Field("request_timeout", &O::request_timeout, "HTTP request read timeout and keep-alive idle time");
  s.Field("handshake_timeout", &O::handshake_timeout, "WebSocket handshake and close timeout");
  s.Field("idle_timeout", &O::idle_timeout, "WebSocket idle time before a ping goes unanswered");
  s.Field("max_header_bytes", &O::max_header_bytes, "Largest HTTP request header").Range(1024, 1 << 20);
  s.Field("max_body_bytes", &O::max_body_bytes, "Largest HTTP request body").Range(1024, 16 << 20);
  s.Field("max_message_bytes", &O::max_message_bytes, "Largest WebSocket message from Twilio").Range(1024, 16 << 20);
  s.Field("max_bad_messages", &O::max_bad_messages, "Malformed stream messages before the stream is closed")
      .Range(1, 1000000);
  s.Check([](const O& o) -> std::string {
    if (!o.public_url.empty() && o.public_url.rfind("https://", 0) != 0 && o.public_url.rfind("http://", 0) != 0) {
      return "public_url must start with https:// (or http:// for local tests)";
    }
    return "";
  });
}

ServiceDoc TwilioServer::Doc() {
  return {
      .summary = "Twilio phone line: voice webhook, media streams, call control",
      .description =
          "Answers Twilio's voice webhook with TwiML that connects the call to a bidirectional media stream, "
          "and runs one pipeline instance per stream (TwilioInput first, TwilioOutput last). Endpoints: GET /, "
          "GET /health, POST /twilio/voice, POST /twilio/status, WS /twilio/stream, GET /twilio/calls, "
          "GET /metrics. With auth_token set, every webhook and stream upgrade needs a valid "
          "X-Twilio-Signature. With account_sid too, the pipeline can hang up and transfer calls.",
      .example = "server:\n"
                 "  type: twilio\n"
                 "  port: ${PORT:-8091}\n"
                 "  public_url: ${PUBLIC_URL:-}\n"
                 "  auth_token: ${TWILIO_AUTH_TOKEN:-}\n"
                 "  account_sid: ${TWILIO_ACCOUNT_SID:-}\n"
                 "  api_base: ${TWILIO_API_BASE:-https://api.twilio.com}\n"
                 "  greeting: Connecting you now.",
  };
}

Status TwilioServer::Validate(const Options&, const PipelineTemplate& pipeline) {
  const auto& stages = pipeline.stages();
  if (stages.empty() || stages.front().is_parallel() || stages.front().type->name != "TwilioInput") {
    return Status::Error("a pipeline served by `type: twilio` starts with `- type: TwilioInput`");
  }
  bool has_output = false;
  for (const Stage* stage : pipeline.Flatten()) has_output = has_output || stage->type->name == "TwilioOutput";
  if (!has_output) {
    return Status::Error("a pipeline served by `type: twilio` needs a `- type: TwilioOutput` (what the caller hears)");
  }
  return OkStatus();
}

// Waits for the calls to end after a drain began, cancels them at the deadline.
class TwilioServer::Drainer : public std::enable_shared_from_this<Drainer> {
 public:
  Drainer(TwilioServer& server, std::chrono::milliseconds grace, std::function<void()> done)
      : server_(server), timer_(server.env_.runtime->main().executor()),
        deadline_(Clock::now() + grace), done_(std::move(done)) {}

  void Poll() {
    if (server_.active_ == 0) return Finish();
    auto now = Clock::now();
    if (!cancelled_ && now >= deadline_) {
      cancelled_ = true;
      spdlog::warn("drain: {} calls still active; cancelling them", server_.active_.load());
      std::lock_guard lock(server_.calls_mutex_);
      for (auto& [ptr, weak] : server_.calls_) {
        if (auto call = weak.lock()) call->Cancel("server shutting down");
      }
      deadline_ = now + std::chrono::seconds(2);
    } else if (cancelled_ && now >= deadline_) {
      spdlog::error("drain: {} calls did not end; stopping anyway", server_.active_.load());
      return Finish();
    }
    timer_.expires_after(std::chrono::milliseconds(50));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Poll();
    });
  }

 private:
  void Finish() {
    server_.http_->Stop();
    if (auto done = std::move(done_)) done();
  }

  TwilioServer& server_;
  boost::asio::steady_timer timer_;
  Clock::time_point deadline_;
  std::function<void()> done_;
  bool cancelled_ = false;
};

TwilioServer::TwilioServer(const Options& options, ServiceEnv env) : options_(options), env_(std::move(env)) {
  auto line = std::make_shared<TwilioLine>();
  line->pipeline = env_.pipeline;
  line->registry = &registry_;
  line->media_timeout = options_.media_timeout;
  line->max_bad_messages = options_.max_bad_messages;
  if (!options_.account_sid.empty() && !options_.auth_token.empty()) {
    line->control = std::make_shared<CallControl>(
        CallControlConfig{options_.api_base, options_.account_sid, options_.auth_token});
  }
  line->on_call_end = [this](TwilioCall& call, const Status& status) { OnCallEnd(call, status); };
  line->observers = [] {
    return std::vector<std::shared_ptr<PipelineObserver>>{std::make_shared<LogObserver>()};
  };
  line_ = std::move(line);
}

TwilioServer::~TwilioServer() {
  if (http_) http_->Stop();
}

Status TwilioServer::Start() {
  server::HttpServerOptions http;
  http.address = options_.address;
  http.port = options_.port;
  http.header_limit = options_.max_header_bytes;
  http.body_limit = options_.max_body_bytes;
  http.request_timeout = options_.request_timeout;
  http.handshake_timeout = options_.handshake_timeout;
  http.websocket_idle_timeout = options_.idle_timeout;
  http.websocket_message_limit = options_.max_message_bytes;
  http_ = std::make_unique<server::HttpServer>(*env_.runtime, http);
  AddRoutes();
  if (Status s = http_->Start(); !s.ok()) return Status::Error(fmt::format("twilio server: {}", s.message()));

  spdlog::info("twilio server listening on {}:{} (pipeline '{}', up to {} calls)", options_.address, http_->port(),
               env_.pipeline->name(), options_.max_calls);
  if (options_.public_url.empty()) {
    spdlog::info("webhook: https://<PUBLIC_URL>/twilio/voice (public URL taken from each request's "
                 "X-Forwarded-Proto/Host or Host; set PUBLIC_URL to pin it)");
  } else {
    spdlog::info("webhook: {}/twilio/voice", options_.public_url);
  }
  if (options_.auth_token.empty()) {
    spdlog::warn("*** TWILIO_AUTH_TOKEN is not set: webhooks and media streams are NOT authenticated. Anyone who "
                 "can reach this port can place calls into the pipeline. Set auth_token for production. ***");
  } else {
    spdlog::info("signatures: required (auth token {})", Redact(options_.auth_token));
  }
  spdlog::info("call control (hang up, transfer): {}",
               line_->control ? "enabled via " + options_.api_base : "off (needs account_sid and auth_token)");
  return OkStatus();
}

void TwilioServer::AddRoutes() {
  http_->Handle("GET", "/", [this](const HttpRequest& r) { return Home(r); });
  http_->Handle("GET", "/health", [this](const HttpRequest&) {
    if (draining_) return HttpResponse::Json(503, R"({"status":"draining"})");
    return HttpResponse::Json(200, R"({"status":"ok"})");
  });
  http_->Handle("POST", "/twilio/voice", [this](const HttpRequest& r) { return Voice(r); });
  http_->Handle("GET", "/twilio/voice", [this](const HttpRequest& r) { return Voice(r); });
  http_->Handle("POST", "/twilio/status", [this](const HttpRequest& r) { return StatusCallback(r); });
  http_->Handle("GET", "/twilio/calls", [this](const HttpRequest&) {
    // Numbers come from webhooks: any bytes at all, so invalid UTF-8 is replaced, not thrown on.
    return HttpResponse::Json(200, registry_.ToJson().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  });
  http_->Handle("GET", "/metrics", [this](const HttpRequest&) {
    HttpResponse response = HttpResponse::Text(200, Metrics::Global().RenderText());
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
  http_->HandleWebSocket("/twilio/stream", {
      .admit = [this](const HttpRequest& r) { return AdmitStream(r); },
      .open = [this](std::shared_ptr<server::WebSocketConnection> c, const HttpRequest&) { OpenStream(std::move(c)); },
  });
}

HttpResponse TwilioServer::Home(const HttpRequest&) const {
  nlohmann::json body = {
      {"name", "voxpipe"},
      {"version", VOXPIPE_VERSION},
      {"pipeline", env_.pipeline->name()},
      {"server", "twilio"},
      {"uptime_s", std::chrono::duration<double>(Clock::now() - started_).count()},
      {"active_calls", active_.load()},
      {"draining", draining_.load()},
  };
  return HttpResponse::Json(200, body.dump(2) + "\n");
}

namespace {

MetricCounter& WebhookCounter(const std::string& result) {
  return Metrics::Global().Counter("voxpipe_twilio_webhooks_total", "Voice and status webhooks, by result",
                                   {{"result", result}});
}

std::string FirstValue(const std::string& header) {
  std::string value = header.substr(0, header.find(','));
  auto begin = value.find_first_not_of(" \t");
  auto end = value.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : value.substr(begin, end - begin + 1);
}

std::string Param(const FormParams& params, const std::string& name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return "";
}

std::string ToWebSocketScheme(const std::string& base) {
  if (base.rfind("https://", 0) == 0) return "wss://" + base.substr(8);
  if (base.rfind("http://", 0) == 0) return "ws://" + base.substr(7);
  return base;
}

}  // namespace

std::string TwilioServer::PublicBase(const HttpRequest& request) const {
  if (!options_.public_url.empty()) {
    std::string base = options_.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
  }
  std::string proto = FirstValue(request.Header("x-forwarded-proto"));
  std::string host = FirstValue(request.Header("x-forwarded-host"));
  if (host.empty()) host = request.Header("host");
  if (host.empty()) host = "localhost";
  if (proto != "https" && proto != "http") proto = "http";
  return proto + "://" + host;
}

bool TwilioServer::SignatureValid(const HttpRequest& request, const std::string& url, const FormParams& params) const {
  if (options_.auth_token.empty()) return true;
  const std::string& signature = request.Header("x-twilio-signature");
  if (signature.empty()) return false;
  return ValidateSignature(options_.auth_token, signature, url, params);
}

HttpResponse TwilioServer::Voice(const HttpRequest& request) {
  FormParams params = server::ParseForm(request.method == "POST" ? request.body : request.query);
  std::string base = PublicBase(request);
  if (!SignatureValid(request, base + request.target, request.method == "POST" ? params : FormParams{})) {
    WebhookCounter("forbidden").Increment();
    spdlog::warn("voice webhook from {}: missing or invalid X-Twilio-Signature (signed URL assumed: {}{})",
                 request.remote, base, request.path);
    return HttpResponse::Text(403, "invalid signature\n");
  }
  SayOptions say{options_.voice, options_.language};
  if (draining_ || active_ >= options_.max_calls) {
    WebhookCounter(draining_ ? "draining" : "busy").Increment();
    spdlog::warn("voice webhook: refusing call {} ({})", Param(params, "CallSid"),
                 draining_ ? "draining" : "all lines busy");
    return HttpResponse::Xml(503, SayAndHangUpTwiml(options_.busy_message, say));
  }
  std::string call_sid = Param(params, "CallSid");
  std::string from = Param(params, "From");
  std::string to = Param(params, "To");
  if (!call_sid.empty()) registry_.Ringing(call_sid, from, to);
  std::vector<std::pair<std::string, std::string>> stream_params = {{"CallSid", call_sid}, {"From", from}, {"To", to}};
  for (const auto& kv : options_.parameters) stream_params.push_back(kv);
  WebhookCounter("ok").Increment();
  spdlog::info("voice webhook: call {} from {} to {}", call_sid, from, to);
  return HttpResponse::Xml(200, ConnectStreamTwiml(options_.greeting, say,
                                                   ToWebSocketScheme(base) + "/twilio/stream", stream_params));
}

HttpResponse TwilioServer::StatusCallback(const HttpRequest& request) {
  FormParams params = server::ParseForm(request.body);
  if (!SignatureValid(request, PublicBase(request) + request.target, params)) {
    WebhookCounter("forbidden").Increment();
    spdlog::warn("status callback from {}: missing or invalid X-Twilio-Signature", request.remote);
    return HttpResponse::Text(403, "invalid signature\n");
  }
  std::string call_sid = Param(params, "CallSid");
  std::string status = Param(params, "CallStatus");
  std::string stream_event = Param(params, "StreamEvent");
  if (status.empty() && (stream_event == "stream-stopped" || stream_event == "stream-error")) status = "completed";
  if (!call_sid.empty() && !status.empty()) registry_.StatusUpdate(call_sid, status);
  WebhookCounter("status").Increment();
  return HttpResponse::Text(200, "");
}

std::optional<HttpResponse> TwilioServer::AdmitStream(const HttpRequest& request) {
  if (!options_.auth_token.empty()) {
    // Twilio signs the <Stream url> as we wrote it (wss://host/twilio/stream), with no parameters.
    std::string url = ToWebSocketScheme(PublicBase(request)) + request.target;
    if (!SignatureValid(request, url, {}) && !SignatureValid(request, url + "/", {})) {
      WebhookCounter("stream_forbidden").Increment();
      spdlog::warn("media stream from {}: missing or invalid X-Twilio-Signature (signed URL assumed: {})",
                   request.remote, url);
      return HttpResponse::Text(403, "invalid signature\n");
    }
  }
  if (draining_) return HttpResponse::Text(503, "draining\n");
  if (active_ >= options_.max_calls) {
    WebhookCounter("stream_busy").Increment();
    return HttpResponse::Text(503, "all lines busy\n");
  }
  return std::nullopt;
}

void TwilioServer::OpenStream(std::shared_ptr<server::WebSocketConnection> connection) {
  static auto& active = Metrics::Global().Gauge("voxpipe_twilio_active_calls", "Media streams in progress");
  static auto& total = Metrics::Global().Counter("voxpipe_twilio_calls_total", "Media streams accepted");
  auto call = std::make_shared<TwilioCall>(std::move(connection), line_);
  ++active_;
  active.Add(1);
  total.Increment();
  {
    std::lock_guard lock(calls_mutex_);
    calls_[call.get()] = call;
  }
  call->Start();
}

void TwilioServer::OnCallEnd(TwilioCall& call, const Status& status) {
  static auto& active = Metrics::Global().Gauge("voxpipe_twilio_active_calls", "Media streams in progress");
  static auto& failed = Metrics::Global().Counter("voxpipe_twilio_calls_failed_total",
                                                  "Calls whose pipeline ended with an error");
  if (!status.ok()) failed.Increment();
  {
    std::lock_guard lock(calls_mutex_);
    calls_.erase(&call);
  }
  --active_;
  active.Add(-1);
}

void TwilioServer::Drain(std::chrono::milliseconds grace, std::function<void()> done) {
  draining_ = true;
  spdlog::info("twilio server draining: refusing new calls, waiting up to {} ms for {} active", grace.count(),
               active_.load());
  drainer_ = std::make_shared<Drainer>(*this, grace, std::move(done));
  boost::asio::dispatch(env_.runtime->main().executor(), [d = drainer_] { d->Poll(); });
}

REGISTER_SERVICE(TwilioServer, "twilio");

}  // namespace voxpipe::twilio
