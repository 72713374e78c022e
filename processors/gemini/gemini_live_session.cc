#include "processors/gemini/gemini_live_session.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/client/url.h"

namespace voxpipe {

using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

// A session that stayed up this long resets the reconnect budget.
constexpr auto kStableSession = std::chrono::seconds(10);
constexpr auto kMaxHandoverDelay = std::chrono::seconds(30);

bool IsDeterministicClose(int code, int http_status) {
  return code == 1007 || code == 1008 || http_status == 400 || http_status == 401 || http_status == 403 ||
         http_status == 404;
}

}  // namespace

struct GeminiLiveSession::Connection {
  Connection(int id, Role role, const Executor& executor) : id(id), role(role), setup_timer(executor) {}
  int id;
  Role role;
  std::shared_ptr<WebSocketClient> ws;
  boost::asio::steady_timer setup_timer;
  bool ready = false;
  bool setup_timed_out = false;
};

std::shared_ptr<GeminiLiveSession> GeminiLiveSession::Create(Executor executor,
                                                             std::shared_ptr<const GeminiLiveOptions> options,
                                                             TlsContextPtr tls, std::string log_id) {
  return std::shared_ptr<GeminiLiveSession>(
      new GeminiLiveSession(std::move(executor), std::move(options), std::move(tls), std::move(log_id)));
}

GeminiLiveSession::GeminiLiveSession(Executor executor, std::shared_ptr<const GeminiLiveOptions> options,
                                     TlsContextPtr tls, std::string log_id)
    : executor_(std::move(executor)), options_(std::move(options)), tls_(std::move(tls)), log_id_(std::move(log_id)),
      reconnect_timer_(executor_) {}

GeminiLiveSession::~GeminiLiveSession() { Close(); }

// A handler of connection `id` that runs while the session is open and the
// connection still belongs to it.
template <typename F>
auto GeminiLiveSession::ForConnection(int id, F handler) {
  return [weak = weak_from_this(), id, handler = std::move(handler)](auto&&... args) mutable {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (Connection* conn = self->Find(id)) handler(*self, *conn, std::forward<decltype(args)>(args)...);
  };
}

void GeminiLiveSession::Connect() {
  spdlog::info("{}: connecting to {} (model {})", log_id_, UrlForLog(options_->url), GeminiModelName(options_->model));
  StartConnection(Role::kActive);
}

void GeminiLiveSession::Close() {
  if (closed_) return;
  closed_ = true;
  events_ = {};
  reconnect_timer_.cancel();
  for (auto& [id, conn] : connections_) {
    conn->setup_timer.cancel();
    conn->ws->Detach();
  }
  connections_.clear();
  backlog_.clear();
}

bool GeminiLiveSession::ready() const {
  auto it = connections_.find(active_);
  return it != connections_.end() && it->second->ready;
}

// ---- connections -----------------------------------------------------------

void GeminiLiveSession::StartConnection(Role role) {
  int id = ++next_connection_id_;
  auto conn = std::make_unique<Connection>(id, role, executor_);
  WebSocketClientOptions ws_options{.url = options_->url, .connect_timeout = options_->setup_timeout, .tls = tls_};
  if (!options_->api_key.empty()) ws_options.headers.emplace_back("x-goog-api-key", options_->api_key);
  WebSocketHandlers handlers{
      .on_open = ForConnection(id, [](GeminiLiveSession& s, Connection& c) { s.OnOpen(c); }),
      .on_message = ForConnection(id, [](GeminiLiveSession& s, Connection& c, std::string_view data, bool) {
        s.OnMessage(c, data);
      }),
      .on_close = ForConnection(id, [](GeminiLiveSession& s, Connection& c, const WebSocketCloseInfo& info) {
        s.OnClose(c, info);
      }),
  };
  conn->ws = WebSocketClient::Create(executor_, std::move(ws_options), std::move(handlers));
  conn->setup_timer.expires_after(options_->setup_timeout);
  conn->setup_timer.async_wait(ForConnection(id, [](GeminiLiveSession& s, Connection& c, boost::system::error_code ec) {
    if (!ec) s.OnSetupTimeout(c);
  }));
  (role == Role::kNext ? next_ : active_) = id;
  auto* ws = conn->ws.get();
  connections_[id] = std::move(conn);
  ws->Connect();
}

GeminiLiveSession::Connection* GeminiLiveSession::Find(int id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void GeminiLiveSession::Remove(int id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  it->second->setup_timer.cancel();
  it->second->ws->Detach();
  connections_.erase(it);
  if (active_ == id) active_ = 0;
  if (next_ == id) next_ = 0;
}

void GeminiLiveSession::OnOpen(Connection& conn) {
  std::string handle = options_->session_resumption ? handle_ : std::string();
  conn.ws->Send(BuildGeminiSetup(*options_, handle).dump());
}

void GeminiLiveSession::OnSetupTimeout(Connection& conn) {
  if (conn.ready) return;
  conn.setup_timed_out = true;
  conn.ws->Abort();
}

void GeminiLiveSession::OnSetupComplete(Connection& conn) {
  if (conn.ready) return;
  conn.ready = true;
  conn.setup_timer.cancel();
  last_ready_ = Clock::now();
  spdlog::info("{}: session ready{}", log_id_, handle_.empty() ? "" : " (resumed)");
  if (conn.role == Role::kNext) {
    // goAway handover: the new connection takes over; the old one may finish its turn.
    if (Connection* old = Find(active_)) {
      if (turn_open_) {
        old->role = Role::kRetiring;
      } else {
        Remove(old->id);
      }
    }
    conn.role = Role::kActive;
    active_ = conn.id;
    next_ = 0;
  }
  if (conn.id == active_) FlushBacklog(conn);
}

void GeminiLiveSession::OnMessage(Connection& conn, std::string_view data) {
  const auto received = Clock::now();
  auto parsed = gemini::ParseServerMessage(data);
  if (!parsed.ok()) {
    if (events_.on_bad_data) events_.on_bad_data(parsed.message());
    return;
  }
  gemini::ServerMessage& message = *parsed;
  const int id = conn.id;
  const bool retiring = conn.role == Role::kRetiring;
  if (events_.on_bad_data) {
    for (const auto& problem : message.problems) events_.on_bad_data(problem);
  }
  if (message.new_handle && !retiring) handle_ = *message.new_handle;
  if (message.setup_complete) OnSetupComplete(conn);
  // The new connection has the conversation: a retiring one's calls are not for us.
  if (retiring) message.tool_calls.clear();
  auto go_away = message.go_away;
  bool turn_ends = message.generation_complete || message.turn_complete;
  if (events_.on_message) events_.on_message(message, retiring, received);
  // The handler may have ended the call, which closes the session.
  if (closed_ || !Find(id)) return;
  if (retiring && turn_ends) return Remove(id);
  if (go_away && conn.role == Role::kActive) OnGoAway(*go_away);
}

void GeminiLiveSession::OnClose(Connection& conn, const WebSocketCloseInfo& info) {
  const int id = conn.id;
  const Role role = conn.role;
  std::string what = conn.setup_timed_out ? fmt::format("no setupComplete within {} ms", options_->setup_timeout.count())
                     : !info.reason.empty() ? info.reason
                     : !info.error.empty()  ? info.error
                                            : "connection closed";
  const int code = conn.setup_timed_out ? 1006 : info.code;
  spdlog::log(role == Role::kRetiring ? spdlog::level::debug : spdlog::level::warn,
              "{}: connection closed ({}): {}", log_id_, code, what);
  Remove(id);
  if (role == Role::kRetiring) return;
  if (role == Role::kActive) {
    if (turn_open_ && events_.on_turn_lost) events_.on_turn_lost();
    if (closed_) return;
    if (next_ || handover_pending_) return;  // the goAway successor takes over when ready
  }
  OnFailure(what, code, info.http_status);
}

void GeminiLiveSession::Fail(std::string message) {
  failed_ = true;
  backlog_.clear();
  if (auto on_failed = events_.on_failed) on_failed(message);
}

void GeminiLiveSession::OnFailure(const std::string& what, int code, int http_status) {
  if (failed_ || closed_) return;
  if (IsDeterministicClose(code, http_status)) {
    return Fail(http_status ? fmt::format("Gemini Live refused the connection: {}", what)
                            : fmt::format("Gemini Live closed the session ({}): {}", code, what));
  }
  if (last_ready_ != Clock::time_point{} && Clock::now() - last_ready_ > kStableSession) attempts_ = 0;
  if (attempts_ >= options_->reconnect_attempts) {
    return Fail(fmt::format("Gemini Live unreachable after {} reconnect attempts: {}", attempts_, what));
  }
  auto delay = options_->reconnect_backoff * (1 << std::min(attempts_, 10));
  ++attempts_;
  ++stats_.reconnects;
  spdlog::info("{}: reconnecting in {} ms (attempt {} of {})", log_id_, delay.count(), attempts_,
               options_->reconnect_attempts);
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && !self->closed_) self->OnReconnectTimer();
  });
}

void GeminiLiveSession::OnReconnectTimer() {
  handover_pending_ = false;
  if (failed_) return;
  StartConnection(active_ || next_ ? Role::kNext : Role::kActive);
}

void GeminiLiveSession::OnGoAway(milliseconds time_left) {
  if (next_ || handover_pending_ || failed_) return;
  auto now = Clock::now();
  while (!handover_times_.empty() && now - handover_times_.front() > options_->handover_window) {
    handover_times_.pop_front();
  }
  if (static_cast<int>(handover_times_.size()) >= options_->handover_budget) {
    return Fail(fmt::format("Gemini Live asked for {} new connections within {} s; giving up on this session",
                            handover_times_.size() + 1,
                            std::chrono::duration_cast<std::chrono::seconds>(options_->handover_window).count()));
  }
  // A goAway soon after the session became ready is a server bouncing us.
  bool quick = now - last_ready_ < options_->handover_backoff;
  quick_handovers_ = quick ? quick_handovers_ + 1 : 0;
  handover_times_.push_back(now);
  ++stats_.handovers;
  milliseconds delay{0};
  if (quick_handovers_ > 0) {
    delay = std::min<milliseconds>(options_->handover_backoff * (1 << std::min(quick_handovers_ - 1, 10)),
                                   std::chrono::duration_cast<milliseconds>(kMaxHandoverDelay));
  }
  spdlog::info("{}: goAway ({} ms left); resuming on a new connection{}", log_id_, time_left.count(),
               delay.count() ? fmt::format(" in {} ms (handovers come quickly)", delay.count()) : "");
  if (delay.count() == 0) return StartConnection(Role::kNext);
  handover_pending_ = true;
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && !self->closed_) self->OnReconnectTimer();
  });
}

// ---- client messages -------------------------------------------------------

GeminiLiveSession::Connection* GeminiLiveSession::Sendable() {
  if (next_ || handover_pending_) return nullptr;  // held for the goAway successor
  Connection* conn = Find(active_);
  return conn && conn->ready ? conn : nullptr;
}

GeminiLiveSession::Sent GeminiLiveSession::Send(std::string message, microseconds audio) {
  if (failed_ || closed_) return Sent::kDropped;
  if (Connection* conn = Sendable(); conn && backlog_.empty()) {
    if (conn->ws->Send(std::move(message))) return Sent::kNow;
    stats_.dropped_audio_us += audio.count();
    return Sent::kDropped;
  }
  backlog_.emplace_back(std::move(message), audio);
  backlog_audio_ += audio;
  // The oldest audio goes first; text and tool responses (no audio) are kept.
  while (backlog_audio_ > options_->max_buffered_audio) {
    auto oldest = std::find_if(backlog_.begin(), backlog_.end(), [](const auto& m) { return m.second.count() > 0; });
    if (oldest == backlog_.end() || std::next(oldest) == backlog_.end()) break;
    if (stats_.dropped_audio_us == 0) {
      spdlog::warn("{}: not connected; dropping caller audio older than {} ms", log_id_,
                   options_->max_buffered_audio.count());
    }
    backlog_audio_ -= oldest->second;
    stats_.dropped_audio_us += oldest->second.count();
    backlog_.erase(oldest);
  }
  return Sent::kHeld;
}

std::string GeminiLiveSession::TakeBuffer() {
  Connection* conn = Find(active_);
  return conn ? conn->ws->TakeBuffer() : std::string();
}

void GeminiLiveSession::FlushBacklog(Connection& conn) {
  while (!backlog_.empty()) {
    if (!conn.ws->Send(std::move(backlog_.front().first))) stats_.dropped_audio_us += backlog_.front().second.count();
    backlog_.pop_front();
  }
  backlog_audio_ = {};
}

}  // namespace voxpipe
