#include "processors/twilio/server/twilio_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/client/url.h"
#include "framework/logging.h"
#include "framework/metrics.h"
#include "processors/twilio/server/call_control.h"
#include "processors/twilio/server/call_outcomes.h"
#include "processors/twilio/server/stream_token.h"
#include "processors/twilio/server/twiml.h"
#include "processors/twilio/twilio_stream.h"

namespace voxpipe::twilio {

using server::HttpRequest;
using server::HttpResponse;

namespace {

constexpr std::string_view kStreamPath = "/twilio/stream";
constexpr std::string_view kAfterStreamPath = "/twilio/after-stream";

// The stream path below /twilio/stream: "/i/INSTANCE/TOKEN", "/TOKEN" or "".
struct StreamPath {
  std::string instance;
  std::string token;
  bool valid = true;
};

StreamPath ParseStreamPath(std::string_view path) {
  std::string_view rest = path.substr(kStreamPath.size());
  StreamPath out;
  if (rest.empty() || rest == "/") return out;
  rest.remove_prefix(1);
  if (rest.substr(0, 2) == "i/") {
    rest.remove_prefix(2);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return {.valid = false};
    out.instance = std::string(rest.substr(0, slash));
    rest.remove_prefix(slash + 1);
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) return {.valid = false};
  out.token = std::string(rest);
  return out;
}


bool IsInstanceName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// What a public_url may look like: scheme and host (and port), nothing else.
std::string CheckPublicUrl(const std::string& value) {
  if (value.empty()) return "";
  auto url = ParseUrl(value);
  // Twilio reaches a server over https only; plain http is for local tests.
  bool loopback = url.ok() && (url->host == "localhost" || url->host.starts_with("127.") || url->host == "::1" ||
                               url->host == "[::1]");
  if (!url.ok() || (url->scheme != "https" && !(url->scheme == "http" && loopback))) {
    return fmt::format("public_url must be the https:// address Twilio reaches this server at, e.g. "
                       "https://abc123.ngrok.app (got '{}'; http:// only for 127.0.0.1 or localhost)",
                       value);
  }
  if (url->target != "/" && !url->target.empty()) {
    return fmt::format("public_url is the server's base address without a path: use {}://{} (got the path '{}'; "
                       "the webhook itself goes in Twilio's console as {}://{}/twilio/voice)",
                       url->scheme, url->host_header(), url->target, url->scheme, url->host_header());
  }
  return "";
}

}  // namespace

void TwilioServerOptions::Declare(Schema<TwilioServerOptions>& s) {
  using O = TwilioServerOptions;
  DeclareCallServerOptions(s);
  s.Field("public_url", &O::public_url,
          "https://host as Twilio reaches this server; empty: from X-Forwarded-Proto/Host or Host");
  s.Field("auth_token", &O::auth_token, "Twilio auth token: when set, signatures are required (403 otherwise)");
  s.Field("account_sid", &O::account_sid, "Twilio account SID, for call control (hang up, transfer)");
  s.Field("api_base", &O::api_base, "Twilio REST API base URL");
  s.Field("greeting", &O::greeting, "Words <Say>d before the call connects; empty for none");
  s.Field("voice", &O::voice, "<Say> voice, e.g. Polly.Joanna");
  s.Field("language", &O::language, "<Say> language, e.g. en-GB");
  s.Field("parameters", &O::parameters, "Extra <Parameter>s for the stream (start.customParameters)");
  s.Field("busy_message", &O::busy_message, "Said to callers refused while full or draining");
  s.Field("instance", &O::instance,
          "This instance's name in stream URLs (/twilio/stream/i/NAME/…), so a balancer can route a call's stream "
          "to the instance that answered its webhook; empty for a single instance");
  s.Field("stream_token_ttl", &O::stream_token_ttl,
          "How long the stream URL a webhook returns stays valid (longer than the greeting)")
      .Range(1000, 3600 * 1000.0);
  s.Field("stream_secret", &O::stream_secret,
          "Secret that signs stream tokens, the same on every instance behind one balancer; empty: the auth "
          "token, else random per process");
  s.Field("fallback", &O::fallback,
          "When a call's pipeline fails (the model cannot be reached, fails, runs out of reconnects; shutdown "
          "under the call), the caller hears fallback_message and goes to fallback_transfer, through the "
          "<Connect action> Twilio requests when the stream closes; false: the call just ends");
  s.Field("fallback_message", &O::fallback_message, "Said to a caller whose call failed; empty for none");
  s.Field("fallback_transfer", &O::fallback_transfer,
          "Number or SIP URI a failed call is transferred to (the front desk); empty: hang up after the message");
  s.Field("prewarm", &O::prewarm,
          "Open the call's model session when the voice webhook arrives, so the caller does not wait for it "
          "once the stream starts");
  s.Field("prewarm_timeout", &O::prewarm_timeout, "How long an early session waits for its call's stream")
      .Range(100, 600 * 1000.0);
  s.Field("max_prewarmed", &O::max_prewarmed, "Early sessions open at a time, at most (more webhooks get none)")
      .Range(0, 100000);
  s.Check([](const O& o) -> std::string {
    if (std::string problem = CheckPublicUrl(o.public_url); !problem.empty()) return problem;
    if (!o.instance.empty() && !IsInstanceName(o.instance)) {
      return fmt::format("instance '{}' may hold only letters, digits, '-' and '_' (at most 64)", o.instance);
    }
    return "";
  });
}

ServiceDoc TwilioServer::Doc() {
  return {
      .summary = "Twilio phone line: voice webhook, media streams, call control",
      .description =
          "Answers Twilio's voice webhook with TwiML that connects the call to a bidirectional media stream whose "
          "URL carries a per-call token, and runs one pipeline instance per stream (TwilioInput first, "
          "TwilioOutput last). Endpoints: GET /, GET /health (and /health/live, /health/ready), POST "
          "/twilio/voice, POST /twilio/status, WS /twilio/stream/…; calls and metrics are on the admin "
          "listener, not here. With "
          "auth_token set, every webhook and stream upgrade needs a valid X-Twilio-Signature. With account_sid "
          "too, the pipeline can hang up and transfer calls.",
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

TwilioServer::TwilioServer(const Options& options, ServiceEnv env)
    : CallServer(options, std::move(env), "twilio"), options_(options) {
  if (!options_.account_sid.empty() && !options_.auth_token.empty()) {
    control_ = std::make_shared<CallControl>(
        CallControlConfig{options_.api_base, options_.account_sid, options_.auth_token});
  }
  std::string secret = !options_.stream_secret.empty() ? options_.stream_secret : options_.auth_token;
  tokens_ = std::make_shared<StreamTokens>(
      secret, std::chrono::duration_cast<std::chrono::seconds>(options_.stream_token_ttl));
  outcomes_ = std::make_shared<CallOutcomes>();
  if (options_.prewarm && options_.max_prewarmed > 0 && CallServer::env().runtime) {
    early_ = std::make_shared<EarlyCalls>(options_.max_prewarmed, options_.prewarm_timeout);
  }
}

TwilioServer::~TwilioServer() {
  if (early_) early_->CloseAll();
}

void TwilioServer::Drain(std::chrono::milliseconds grace, std::function<void()> done) {
  if (early_) early_->CloseAll();
  CallServer::Drain(grace, std::move(done));
}

int TwilioServer::prewarmed() const { return early_ ? early_->open() : 0; }

void TwilioServer::AddRoutes(server::HttpServer& http) {
  http.Handle("POST", "/twilio/voice", [this](const HttpRequest& r) { return Voice(r); });
  http.Handle("GET", "/twilio/voice", [this](const HttpRequest& r) { return Voice(r); });
  http.Handle("POST", "/twilio/status", [this](const HttpRequest& r) { return StatusCallback(r); });
  http.Handle("POST", AfterStreamPath(), [this](const HttpRequest& r) { return AfterStream(r); });
  http.HandleWebSocket(std::string(kStreamPath), {
      .admit = [this](const HttpRequest& r) { return AdmitStream(r); },
      // A prewarmed call's stream goes to the loop its model session is on.
      .place = [this](const HttpRequest& r) { return early_ ? early_->LoopOf(ParseStreamPath(r.path).token) : nullptr; },
      .open = [this](std::shared_ptr<server::WebSocketConnection> c, const HttpRequest& r) { OpenStream(std::move(c), r); },
      .prefix = true,
  });
}

void TwilioServer::OnListening() {
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
  spdlog::info("fallback when a call fails: {}", !options_.fallback ? "off"
               : options_.fallback_transfer.empty() ? "apologise and hang up"
                                                    : "apologise and transfer to " + MaskPhoneNumber(options_.fallback_transfer));
  spdlog::info("call control (hang up, transfer): {}",
               control_ ? "enabled via " + options_.api_base : "off (needs account_sid and auth_token)");
  if (!options_.instance.empty()) spdlog::info("instance '{}': streams at /twilio/stream/i/{}/…", options_.instance,
                                               options_.instance);
}

void TwilioServer::DescribeCarrier(nlohmann::json& home) const {
  if (!options_.instance.empty()) home["instance"] = options_.instance;
}

namespace {

MetricCounter& WebhookCounter(const std::string& result) {
  return Metrics::Global().Counter("voxpipe_twilio_webhooks_total", "Voice and status webhooks, by result",
                                   {{"result", result}});
}

MetricCounter& FallbackCounter(const std::string& reason) {
  return Metrics::Global().Counter("voxpipe_twilio_fallbacks_total",
                                   "Calls that got the fallback TwiML (apology, transfer or hang-up), by reason",
                                   {{"reason", reason}});
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
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "webhook_forbidden",
             "voice webhook from {}: missing or invalid X-Twilio-Signature (signed URL assumed: {}{})", request.remote,
             base, request.path);
    return HttpResponse::Text(403, "invalid signature\n");
  }
  SayOptions say{options_.voice, options_.language};
  std::string call_sid = Param(params, "CallSid");
  if (call_sid.empty() || call_sid.size() > 64) {
    WebhookCounter("bad_request").Increment();
    return HttpResponse::Text(400, "no CallSid\n");
  }
  if (RefuseIfUnavailable()) {
    WebhookCounter(draining() ? "draining" : "busy").Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "webhook_refused", "voice webhook: refusing call {} ({})",
             call_sid, draining() ? "draining" : "all lines busy");
    return HttpResponse::Xml(503, SayAndHangUpTwiml(options_.busy_message, say));
  }
  std::string from = Param(params, "From");
  std::string to = Param(params, "To");
  line().registry->Ringing({call_sid, "twilio", from, to, ""});
  std::vector<std::pair<std::string, std::string>> stream_params = {{"CallSid", call_sid}, {"From", from}, {"To", to}};
  for (const auto& kv : options_.parameters) stream_params.push_back(kv);
  std::string stream_url = ToWebSocketScheme(base) + std::string(kStreamPath) + "/";
  if (!options_.instance.empty()) stream_url += "i/" + options_.instance + "/";
  std::string token = tokens_->Issue(call_sid);
  stream_url += token;
  {
    // Bounded by the webhooks of one connect window: expired entries (a
    // stream that never came) go as new ones arrive.
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(promised_mutex_);
    std::erase_if(promised_, [now](const auto& entry) { return entry.second <= now; });
    if (promised_.size() < size_t(4 * common().max_calls) + 64) promised_.emplace(token, now + options_.prewarm_timeout);
  }
  if (early_ && line().pipeline()->can_prewarm()) {
    StartFrame start{call_sid, {{"call_sid", call_sid}, {"from", from}, {"to", to}}};
    CallValues values = CallValuesFor(start);
    values["carrier"] = "twilio";
    early_->Open(token, env().runtime->Place(), line().pipeline(), call_sid, std::move(values));
  }
  WebhookCounter("ok").Increment();
  spdlog::info("voice webhook: call {} from {} to {}", call_sid, MaskPhoneNumber(from), MaskPhoneNumber(to));
  return HttpResponse::Xml(200, ConnectStreamTwiml(options_.greeting, say, stream_url, stream_params,
                                                   options_.fallback ? base + AfterStreamPath() : ""));
}

std::string TwilioServer::AfterStreamPath() const {
  std::string path(kAfterStreamPath);
  if (!options_.instance.empty()) path += "/i/" + options_.instance;
  return path;
}

std::string TwilioServer::FallbackTwiml() const {
  SayOptions say{options_.voice, options_.language};
  if (options_.fallback_transfer.empty()) return SayAndHangUpTwiml(options_.fallback_message, say);
  return DialTwiml(options_.fallback_message, say, options_.fallback_transfer);
}

std::string TwilioServer::FallbackAction() const {
  if (!options_.fallback) return "none";
  return options_.fallback_transfer.empty() ? "hang up" : "transfer to " + MaskPhoneNumber(options_.fallback_transfer);
}

// Twilio asks what to do once a call's stream has closed. Answered even
// while draining: the calls it is about were taken before.
HttpResponse TwilioServer::AfterStream(const HttpRequest& request) {
  FormParams params = server::ParseForm(request.body);
  if (!SignatureValid(request, PublicBase(request) + request.target, params)) {
    WebhookCounter("forbidden").Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "after_stream_forbidden",
             "after-stream request from {}: missing or invalid X-Twilio-Signature", request.remote);
    return HttpResponse::Text(403, "invalid signature\n");
  }
  std::string call_sid = Param(params, "CallSid");
  if (call_sid.empty() || call_sid.size() > 64) {
    WebhookCounter("bad_request").Increment();
    return HttpResponse::Text(400, "no CallSid\n");
  }
  WebhookCounter("after_stream").Increment();
  std::optional<CallOutcome> outcome = outcomes_->Take(call_sid);
  if (outcome && !outcome->failed) return HttpResponse::Xml(200, HangUpTwiml());
  // No record: the stream never started here (the upgrade failed, the
  // instance that ran it is gone). The caller is still on the line.
  std::string reason = outcome ? "pipeline_failed" : "no_stream";
  FallbackCounter(reason).Increment();
  spdlog::warn("[{}] {}: the caller gets the fallback ({})", call_sid,
               outcome ? "the call failed: " + outcome->reason : "no stream ran for this call here", FallbackAction());
  if (!options_.fallback) return HttpResponse::Xml(200, HangUpTwiml());
  return HttpResponse::Xml(200, FallbackTwiml());
}

HttpResponse TwilioServer::StatusCallback(const HttpRequest& request) {
  FormParams params = server::ParseForm(request.body);
  if (!SignatureValid(request, PublicBase(request) + request.target, params)) {
    WebhookCounter("forbidden").Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "status_forbidden",
             "status callback from {}: missing or invalid X-Twilio-Signature", request.remote);
    return HttpResponse::Text(403, "invalid signature\n");
  }
  std::string call_sid = Param(params, "CallSid");
  std::string status = Param(params, "CallStatus");
  std::string stream_event = Param(params, "StreamEvent");
  if (status.empty() && (stream_event == "stream-stopped" || stream_event == "stream-error")) status = "completed";
  if (!call_sid.empty() && !status.empty()) line().registry->StatusUpdate(call_sid, status);
  WebhookCounter("status").Increment();
  return HttpResponse::Text(200, "");
}

std::optional<HttpResponse> TwilioServer::AdmitStream(const HttpRequest& request) {
  auto refuse = [&](int status, std::string_view result, std::string_view why) {
    WebhookCounter(std::string(result)).Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, result, "media stream from {}: {}", request.remote, why);
    return HttpResponse::Text(status, std::string(why) + "\n");
  };
  if (!options_.auth_token.empty()) {
    // Twilio signs the <Stream url> as we wrote it, with no parameters.
    std::string url = ToWebSocketScheme(PublicBase(request)) + request.target;
    if (!SignatureValid(request, url, {}) && !SignatureValid(request, url + "/", {})) {
      return refuse(403, "stream_forbidden", "missing or invalid X-Twilio-Signature");
    }
  }
  StreamPath path = ParseStreamPath(request.path);
  if (!path.valid) return refuse(404, "stream_bad_path", "no such stream path");
  if (!path.instance.empty() && path.instance != options_.instance) {
    return refuse(404, "stream_wrong_instance", "this stream belongs to instance '" + path.instance.substr(0, 64) + "'");
  }
  if (path.token.empty()) return refuse(403, "stream_no_token", "a stream URL needs the token the voice webhook gave");
  if (tokens_->Verify(path.token) != StreamTokens::Check::kOk) {
    return refuse(403, "stream_bad_token", "invalid or expired stream token");
  }
  bool promised = false;
  if (draining()) {
    std::lock_guard lock(promised_mutex_);
    promised = promised_.count(path.token) > 0;
  }
  if (auto refusal = RefuseIfUnavailable(promised)) {
    WebhookCounter(draining() ? "stream_draining" : "stream_busy").Increment();
    return refusal;
  }
  return std::nullopt;
}

int TwilioServer::promised_calls() const {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(promised_mutex_);
  std::erase_if(promised_, [now](const auto& entry) { return entry.second <= now; });
  return static_cast<int>(promised_.size());
}

void TwilioServer::OpenStream(std::shared_ptr<server::WebSocketConnection> connection, const HttpRequest& request) {
  std::string token = ParseStreamPath(request.path).token;
  std::shared_ptr<EarlyResources> early = early_ ? early_->Take(token) : nullptr;
  bool promised;
  {
    std::lock_guard lock(promised_mutex_);
    promised = promised_.erase(token) > 0;
  }
  TwilioStreamConfig config{control_, tokens_, token, outcomes_, FallbackAction(), std::move(early), promised};
  OpenSession(std::make_shared<TwilioStream>(std::move(connection), shared_line(), std::move(config)));
}

REGISTER_SERVICE(TwilioServer, "twilio");

}  // namespace voxpipe::twilio
