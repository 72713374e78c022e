#include "framework/transport/call_server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/version.h"

namespace voxpipe {

using server::HttpRequest;
using server::HttpResponse;

namespace {

struct CallMetrics {
  explicit CallMetrics(const std::string& carrier)
      : active(Metrics::Global().Gauge(fmt::format("voxpipe_{}_active_calls", carrier), "Calls in progress")),
        total(Metrics::Global().Counter(fmt::format("voxpipe_{}_calls_total", carrier), "Calls started")),
        failed(Metrics::Global().Counter(fmt::format("voxpipe_{}_calls_failed_total", carrier),
                                         "Calls whose pipeline ended with an error")),
        refused(Metrics::Global().Counter(fmt::format("voxpipe_{}_calls_refused_total", carrier),
                                          "Calls refused because the server was full or draining")) {}
  MetricGauge& active;
  MetricCounter& total;
  MetricCounter& failed;
  MetricCounter& refused;
};

CallMetrics& MetricsFor(const std::string& carrier) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<CallMetrics>> all;
  std::lock_guard lock(mutex);
  auto& entry = all[carrier];
  if (!entry) entry = std::make_unique<CallMetrics>(carrier);
  return *entry;
}

}  // namespace

// Waits on the main loop for the calls to end after a drain began; cancels
// them at the deadline.
class CallServer::Drainer : public std::enable_shared_from_this<Drainer> {
 public:
  Drainer(CallServer& server, std::chrono::milliseconds grace, std::function<void()> done)
      : server_(server), timer_(server.env_.runtime->main().executor()), deadline_(Clock::now() + grace),
        done_(std::move(done)) {}

  void Poll() {
    if (server_.active_ == 0 && server_.promised_calls() == 0) return Finish();
    auto now = Clock::now();
    if (!cancelled_ && now >= deadline_) {
      cancelled_ = true;
      spdlog::warn("drain: {} {} calls still active; cancelling them", server_.active_.load(), server_.line_->carrier);
      std::lock_guard lock(server_.sessions_mutex_);
      for (auto& [ptr, weak] : server_.sessions_) {
        if (auto session = weak.lock()) session->Cancel("server shutting down");
      }
      deadline_ = now + std::chrono::seconds(2);
    } else if (cancelled_ && now >= deadline_) {
      spdlog::error("drain: {} {} calls did not end; stopping anyway", server_.active_.load(), server_.line_->carrier);
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

  CallServer& server_;
  boost::asio::steady_timer timer_;
  Clock::time_point deadline_;
  std::function<void()> done_;
  bool cancelled_ = false;
};

CallServer::CallServer(const CallServerOptions& options, ServiceEnv env, std::string carrier)
    : common_(options), env_(std::move(env)), line_(std::make_shared<TransportLine>()) {
  if (!env_.registry) env_.registry = std::make_shared<CallRegistry>();
  line_->carrier = std::move(carrier);
  line_->set_pipeline(env_.pipeline);
  line_->registry = env_.registry;
  line_->start_timeout = common_.start_timeout;
  line_->media_timeout = common_.media_timeout;
  line_->max_bad_messages = common_.max_bad_messages;
  line_->recordings_dir = common_.recordings_dir;
  line_->on_begin = [this](TransportSession& session) { return Begin(session); };
  line_->on_end = [this](TransportSession& session, const Status& status, bool begun) {
    OnSessionEnd(session, status, begun);
  };
  line_->observers = [] {
    return std::vector<std::shared_ptr<PipelineObserver>>{std::make_shared<LogObserver>()};
  };
}

CallServer::~CallServer() {
  if (http_) http_->Stop();
}

Status CallServer::Start() {
  server::HttpServerOptions http;
  http.address = common_.address;
  http.port = common_.port;
  http.header_limit = common_.max_header_bytes;
  http.body_limit = common_.max_body_bytes;
  http.request_timeout = common_.request_timeout;
  http.handshake_timeout = common_.handshake_timeout;
  http.websocket_idle_timeout = common_.idle_timeout;
  http.websocket_message_limit = common_.max_message_bytes;
  http.max_connections = common_.max_connections;
  http.max_connections_per_address = common_.max_connections_per_address;
  http_ = std::make_unique<server::HttpServer>(*env_.runtime, http);

  http_->Handle("GET", "/", [this](const HttpRequest&) { return Home(); });
  http_->Handle("GET", "/health", [this](const HttpRequest&) {
    return draining_ ? HttpResponse::Json(503, R"({"status":"draining"})") : HttpResponse::Json(200, R"({"status":"ok"})");
  });
  http_->Handle("GET", "/health/live", [](const HttpRequest&) { return HttpResponse::Json(200, R"({"status":"live"})"); });
  http_->Handle("GET", "/health/ready", [this](const HttpRequest&) { return Ready(); });
  AddRoutes(*http_);

  const std::string& carrier = line_->carrier;
  if (Status s = http_->Start(); !s.ok()) return Status::Error(fmt::format("{} server: {}", carrier, s.message()));
  spdlog::info("{} server listening on {}:{} (pipeline '{}', up to {} calls, {} event loops)", carrier,
               common_.address, http_->port(), line_->pipeline()->name(), common_.max_calls, env_.runtime->size());
  OnListening();
  return OkStatus();
}

nlohmann::json CallServer::Describe() const {
  nlohmann::json body = {
      {"name", "voxpipe"},
      {"version", VOXPIPE_VERSION},
      {"pipeline", line_->pipeline()->name()},
      {"server", line_->carrier},
      {"port", port()},
      {"uptime_s", std::chrono::duration<double>(Clock::now() - started_).count()},
      {"active_calls", active_.load()},
      {"max_calls", common_.max_calls},
      {"draining", draining_.load()},
  };
  DescribeCarrier(body);
  return body;
}

HttpResponse CallServer::Home() const { return HttpResponse::Json(200, Describe().dump(2) + "\n"); }

bool CallServer::ready() const { return !draining_ && active_ < common_.max_calls; }

HttpResponse CallServer::Ready() const {
  if (draining_) return HttpResponse::Json(503, R"({"status":"draining"})");
  if (active_ >= common_.max_calls) {
    return HttpResponse::Json(503, fmt::format(R"({{"status":"full","active_calls":{}}})", active_.load()));
  }
  return HttpResponse::Json(200, fmt::format(R"({{"status":"ready","active_calls":{}}})", active_.load()));
}

void CallServer::Reload(std::shared_ptr<const PipelineTemplate> pipeline) {
  spdlog::info("{} server: new calls get pipeline '{}'; {} active calls finish on the one they have", line_->carrier,
               pipeline->name(), active_.load());
  line_->set_pipeline(std::move(pipeline));
}

std::optional<HttpResponse> CallServer::RefuseIfUnavailable(bool promised) const {
  if (draining_ && !promised) return HttpResponse::Text(503, "draining\n");
  if (active_ >= common_.max_calls) return HttpResponse::Text(503, "all lines busy\n");
  return std::nullopt;
}

void CallServer::OpenSession(std::shared_ptr<TransportSession> session) {
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_[session.get()] = session;
  }
  session->Start();
}

bool CallServer::Begin(TransportSession& session) {
  CallMetrics& metrics = MetricsFor(line_->carrier);
  // Counted here, when the call is known: a connection that never starts a
  // call holds no slot.
  int now = active_.fetch_add(1) + 1;
  bool refuse_draining = draining_ && !session.promised();
  if (refuse_draining || now > common_.max_calls) {
    active_.fetch_sub(1);
    metrics.refused.Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "call_refused", "[{}] refusing the {} call: {}",
             session.call_id(), line_->carrier, refuse_draining ? "draining" : "all lines busy");
    return false;
  }
  metrics.active.Add(1);
  metrics.total.Increment();
  return true;
}

void CallServer::OnSessionEnd(TransportSession& session, const Status& status, bool begun) {
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(&session);
  }
  if (!begun) return;
  CallMetrics& metrics = MetricsFor(line_->carrier);
  if (!status.ok()) metrics.failed.Increment();
  metrics.active.Add(-1);
  active_.fetch_sub(1);
}

void CallServer::Drain(std::chrono::milliseconds grace, std::function<void()> done) {
  draining_ = true;
  spdlog::info("{} server draining: refusing new calls, waiting up to {} ms for {} active and {} answered but "
               "not yet connected",
               line_->carrier, grace.count(), active_.load(), promised_calls());
  drainer_ = std::make_shared<Drainer>(*this, grace, std::move(done));
  // Posted, not run here: `done` must not run inside the caller's own call.
  boost::asio::post(env_.runtime->main().executor(), [d = drainer_] { d->Poll(); });
}

}  // namespace voxpipe
