#include "processors/gemini/gemini_live_llm.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/client/url.h"
#include "framework/pipeline_context.h"
#include "processors/gemini/gemini_tools.h"

namespace voxpipe {

using json = nlohmann::json;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

// A session that stayed up this long resets the reconnect budget.
constexpr auto kStableSession = std::chrono::seconds(10);

bool IsDeterministicClose(int code, int http_status) {
  return code == 1007 || code == 1008 || http_status == 400 || http_status == 401 || http_status == 403 ||
         http_status == 404;
}

}  // namespace

struct GeminiLiveLLM::Connection {
  Connection(int id, Role role, const PipelineContext::Executor& executor) : id(id), role(role), setup_timer(executor) {}
  int id;
  Role role;
  std::shared_ptr<WebSocketClient> ws;
  boost::asio::steady_timer setup_timer;
  bool ready = false;
  bool setup_timed_out = false;
};

void GeminiLiveLLM::LatencySamples::Add(Clock::duration d) {
  process_wide_.Observe(d);
  double us = std::chrono::duration<double, std::micro>(d).count();
  size_t bucket = us < 1 ? 0 : 1 + static_cast<size_t>(std::log2(us) * kPerOctave);
  ++buckets_[std::min(bucket, buckets_.size() - 1)];
  ++count_;
}

double GeminiLiveLLM::LatencySamples::Percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100 * double(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<uint64_t>(rank, 1)) {
      // Bucket i (from 1) holds [2^((i-1)/k), 2^(i/k)) µs: report its geometric middle.
      return i == 0 ? 0.5 : std::exp2((double(i) - 0.5) / kPerOctave);
    }
  }
  return std::exp2(double(kOctaves));
}

ProcessorDoc GeminiLiveLLM::Doc() {
  return {
      .summary = "Talks to Google's Gemini Live model over its WebSocket API",
      .description =
          "Streams caller audio to Gemini Live (realtimeInput) and pushes the model's 24 kHz voice, transcripts, "
          "interruptions, end-of-turn and tool frames downstream. Handles setup, buffering while connecting, "
          "goAway handover with session resumption, reconnects after 1006/1011, and fatal 1007/1008 closes. "
          "Tools: end_call (EndFrame after the reply), transfer_call (CallControlFrame) and http (POST the "
          "arguments as JSON, return the response).",
      .input = "PCM s16le, any rate, mono",
      .output = "PCM s16le 24000 Hz mono",
      .example = "- type: GeminiLiveLLM\n  api_key: ${GEMINI_API_KEY}\n  voice: Kore\n  thinking_budget: 0\n"
                 "  system_instruction: You answer calls for Sutherland General Hospital.",
  };
}

Result<StreamFormat> GeminiLiveLLM::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kPcm16) return Status::Error("expects PCM s16le audio (decode mu-law first)");
  if (input.channels != 1) return Status::Error("expects mono audio");
  return StreamFormat::Pcm16(24000);
}

GeminiLiveLLM::GeminiLiveLLM(const Options& options)
    : raw_options_(options),
      input_latency_(Metrics::Global().Histogram(
          "voxpipe_gemini_input_latency_seconds",
          "GeminiLiveLLM: from the caller frame's arrival (e.g. Twilio media) to its realtimeInput handed to the socket")),
      output_latency_(Metrics::Global().Histogram(
          "voxpipe_gemini_output_latency_seconds",
          "GeminiLiveLLM: from a server message read to its audio frame pushed downstream")) {}

GeminiLiveLLM::~GeminiLiveLLM() { Shutdown(); }

template <typename F>
auto GeminiLiveLLM::Guarded(int id, F f) {
  return [this, alive = alive_, id, f = std::move(f)](auto&&... args) {
    auto keep = alive.lock();
    if (!keep || context().closed() || shutting_down_) return;
    if (Connection* conn = Find(id)) f(*conn, std::forward<decltype(args)>(args)...);
  };
}

Status GeminiLiveLLM::Open() {
  auto resolved = ResolveGeminiLiveOptions(raw_options_);
  if (!resolved.ok()) return resolved.status();
  options_ = std::move(resolved).value();
  auto url = ParseUrl(options_.url);
  if (!url.ok()) return Status::Error(fmt::format("url: {}", url.message()));
  if (url->scheme != "ws" && url->scheme != "wss") return Status::Error("url must be ws:// or wss://");
  if (options_.api_key.empty() && url->host == "generativelanguage.googleapis.com") {
    return Status::Error("no API key: set GEMINI_API_KEY or the api_key option");
  }
  if (!options_.ca_file.empty()) {
    auto tls = MakeTlsClientContext({.ca_file = options_.ca_file});
    if (!tls.ok()) return tls.status();
    tls_ = *tls;
  }
  alive_ = context().KeepAlive();
  const auto& executor = context().executor();
  turn_timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  action_timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  end_timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  reconnect_timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  spdlog::info("[{}] {}: connecting to {} (model {})", context().call_id(), name(), UrlForLog(options_.url),
               GeminiModelName(options_.model));
  StartConnection(Role::kActive);
  return OkStatus();
}

void GeminiLiveLLM::Close() { Shutdown(); }

void GeminiLiveLLM::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto* timer : {turn_timer_.get(), action_timer_.get(), end_timer_.get(), reconnect_timer_.get()}) {
    if (timer) timer->cancel();
  }
  for (auto& [id, conn] : connections_) {
    conn->setup_timer.cancel();
    conn->ws->Detach();
  }
  connections_.clear();
}

// ---- connections -----------------------------------------------------------

void GeminiLiveLLM::StartConnection(Role role) {
  int id = ++next_connection_id_;
  auto conn = std::make_unique<Connection>(id, role, context().executor());
  WebSocketClientOptions ws_options{.url = options_.url, .connect_timeout = options_.setup_timeout, .tls = tls_};
  if (!options_.api_key.empty()) ws_options.headers.emplace_back("x-goog-api-key", options_.api_key);
  WebSocketHandlers handlers{
      .on_open = Guarded(id, [this](Connection& c) { OnOpen(c); }),
      .on_message = Guarded(id, [this](Connection& c, std::string_view data, bool) { OnMessage(c, data); }),
      .on_close = Guarded(id, [this](Connection& c, const WebSocketCloseInfo& info) { OnClose(c, info); }),
  };
  conn->ws = WebSocketClient::Create(context().executor(), std::move(ws_options), std::move(handlers));
  conn->setup_timer.expires_after(options_.setup_timeout);
  conn->setup_timer.async_wait(Guarded(id, [](Connection& c, boost::system::error_code ec) {
    if (ec || c.ready) return;
    c.setup_timed_out = true;
    c.ws->Abort();
  }));
  (role == Role::kNext ? next_ : active_) = id;
  auto* ws = conn->ws.get();
  connections_[id] = std::move(conn);
  ws->Connect();
}

GeminiLiveLLM::Connection* GeminiLiveLLM::Find(int id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void GeminiLiveLLM::Remove(int id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  it->second->setup_timer.cancel();
  it->second->ws->Detach();
  connections_.erase(it);
  if (active_ == id) active_ = 0;
  if (next_ == id) next_ = 0;
}

void GeminiLiveLLM::OnOpen(Connection& conn) {
  std::string handle = options_.session_resumption ? handle_ : std::string();
  conn.ws->Send(BuildGeminiSetup(options_, handle).dump());
}

void GeminiLiveLLM::OnSetupComplete(Connection& conn) {
  if (conn.ready) return;
  conn.ready = true;
  conn.setup_timer.cancel();
  last_ready_ = Clock::now();
  spdlog::info("[{}] {}: session ready{}", context().call_id(), name(), handle_.empty() ? "" : " (resumed)");
  if (conn.role == Role::kNext) {
    // goAway handover: the new session takes over; the old one may finish its turn.
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

void GeminiLiveLLM::OnClose(Connection& conn, const WebSocketCloseInfo& info) {
  const int id = conn.id;
  const Role role = conn.role;
  std::string what = conn.setup_timed_out ? fmt::format("no setupComplete within {} ms", options_.setup_timeout.count())
                     : !info.reason.empty() ? info.reason
                     : !info.error.empty()  ? info.error
                                            : "connection closed";
  const int code = conn.setup_timed_out ? 1006 : info.code;
  spdlog::log(role == Role::kRetiring ? spdlog::level::debug : spdlog::level::warn, "[{}] {}: connection closed ({}): {}",
              context().call_id(), name(), code, what);
  Remove(id);
  if (role == Role::kRetiring) return;
  if (role == Role::kActive) {
    if (turn_open_) EndTurn(true);
    if (next_) return;  // the goAway successor takes over when ready
  }
  OnFailure(what, code, info.http_status);
}

void GeminiLiveLLM::OnFailure(const std::string& what, int code, int http_status) {
  if (failed_ || ended_ || shutting_down_) return;
  if (IsDeterministicClose(code, http_status)) {
    failed_ = true;
    std::string message = http_status ? fmt::format("Gemini Live refused the connection: {}", what)
                                      : fmt::format("Gemini Live closed the session ({}): {}", code, what);
    return PushError(std::move(message), true);
  }
  if (last_ready_ != Clock::time_point{} && Clock::now() - last_ready_ > kStableSession) attempts_ = 0;
  if (attempts_ >= options_.reconnect_attempts) {
    failed_ = true;
    return PushError(fmt::format("Gemini Live unreachable after {} reconnect attempts: {}", attempts_, what), true);
  }
  auto delay = options_.reconnect_backoff * (1 << std::min(attempts_, 10));
  ++attempts_;
  ++reconnects_;
  spdlog::info("[{}] {}: reconnecting in {} ms (attempt {} of {})", context().call_id(), name(), delay.count(), attempts_,
               options_.reconnect_attempts);
  reconnect_timer_->expires_after(delay);
  reconnect_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    auto keep = alive.lock();
    if (ec || !keep || context().closed() || shutting_down_ || failed_ || ended_) return;
    StartConnection(active_ || next_ ? Role::kNext : Role::kActive);
  });
}

void GeminiLiveLLM::OnGoAway(milliseconds time_left) {
  spdlog::info("[{}] {}: goAway ({} ms left); resuming on a new connection", context().call_id(), name(),
               time_left.count());
  if (next_ || failed_ || ended_) return;
  StartConnection(Role::kNext);
}

// ---- caller audio ----------------------------------------------------------

GeminiLiveLLM::Connection* GeminiLiveLLM::Sendable() {
  if (next_) return nullptr;  // held for the goAway successor
  Connection* conn = Find(active_);
  return conn && conn->ready ? conn : nullptr;
}

void GeminiLiveLLM::OnCallerAudio(const Frame& frame, const AudioFrame& audio) {
  if (failed_ || ended_ || audio.samples.empty() || audio.sample_rate <= 0) return;
  caller_audio_since_turn_ = true;
  gemini::EncodeAudioInput(audio.samples.data(), audio.samples.size(), audio.sample_rate, encode_buffer_);
  SendOrBuffer(std::move(encode_buffer_), audio.duration(), frame.ingress);
}

// The Live API has no keypad input: the key goes to the model as text, the
// way a caller's words would.
void GeminiLiveLLM::OnCallerKey(const DtmfFrame& key) {
  if (failed_ || ended_ || options_.dtmf_text.empty() || key.digit == 0) return;
  std::string text = options_.dtmf_text;
  if (auto at = text.find("{digit}"); at != std::string::npos) text.replace(at, 7, std::string(1, key.digit));
  SendOrBuffer(gemini::EncodeTextInput(text), std::chrono::microseconds(0), Clock::time_point{});
}

void GeminiLiveLLM::OnCallerText(const TextFrame& text) {
  if (failed_ || ended_ || text.text.empty()) return;
  caller_audio_since_turn_ = true;
  SendOrBuffer(gemini::EncodeTextInput(text.text), std::chrono::microseconds(0), Clock::time_point{});
}

void GeminiLiveLLM::SendOrBuffer(std::string message, microseconds duration, Clock::time_point ingress) {
  if (Connection* conn = Sendable(); conn && backlog_.empty()) {
    if (conn->ws->Send(std::move(message))) {
      if (ingress != Clock::time_point{}) input_latency_.Add(Clock::now() - ingress);
    } else {
      dropped_audio_us_ += duration.count();
    }
    return;
  }
  backlog_.emplace_back(std::move(message), duration);
  backlog_duration_ += duration;
  while (backlog_duration_ > options_.max_buffered_audio && backlog_.size() > 1) {
    if (dropped_audio_us_ == 0) {
      spdlog::warn("[{}] {}: not connected; dropping caller audio older than {} ms", context().call_id(), name(),
                   options_.max_buffered_audio.count());
    }
    backlog_duration_ -= backlog_.front().second;
    dropped_audio_us_ += backlog_.front().second.count();
    backlog_.pop_front();
  }
}

void GeminiLiveLLM::FlushBacklog(Connection& conn) {
  while (!backlog_.empty()) {
    if (!conn.ws->Send(std::move(backlog_.front().first))) dropped_audio_us_ += backlog_.front().second.count();
    backlog_.pop_front();
  }
  backlog_duration_ = {};
}

// ---- server messages -------------------------------------------------------

void GeminiLiveLLM::ReportBadData(const std::string& problem) {
  ++bad_messages_;
  spdlog::warn("[{}] {}: bad data from Gemini Live: {}", context().call_id(), name(), problem);
  PushError(fmt::format("bad data from Gemini Live: {}", problem), false);
}

void GeminiLiveLLM::OnMessage(Connection& conn, std::string_view data) {
  const auto received = Clock::now();
  auto parsed = gemini::ParseServerMessage(data);
  if (!parsed.ok()) return ReportBadData(parsed.message());
  gemini::ServerMessage& message = *parsed;
  const int id = conn.id;
  for (const auto& problem : message.problems) ReportBadData(problem);
  if (message.new_handle && conn.role != Role::kRetiring) handle_ = *message.new_handle;
  if (message.setup_complete) OnSetupComplete(conn);
  HandleContent(conn, message, received);
  // Handlers above may have pushed frames that ended the call or dropped the connection.
  if (shutting_down_ || !Find(id)) return;
  if (!message.cancelled_tool_calls.empty()) {
    for (const auto& tool_id : message.cancelled_tool_calls) cancelled_tools_.insert(tool_id);
    spdlog::info("[{}] {}: model cancelled {} tool call(s)", context().call_id(), name(),
                 message.cancelled_tool_calls.size());
  }
  if (!message.tool_calls.empty() && conn.role != Role::kRetiring) OnToolCalls(message.tool_calls);
  if (message.go_away && conn.role == Role::kActive) OnGoAway(*message.go_away);
  if (!message.usage.empty()) PushFrame(Frame::Make(MetricsFrame{name(), std::move(message.usage)}, received));
}

void GeminiLiveLLM::HandleContent(Connection& conn, gemini::ServerMessage& message, Clock::time_point received) {
  // Pushing a frame can end the call and close every connection: use `conn` only through its id.
  const int id = conn.id;
  if (message.input_transcription) {
    PushFrame(Frame::Make(TranscriptionFrame{TranscriptionFrame::Speaker::kUser, std::move(message.input_transcription->text),
                                             message.input_transcription->finished},
                          received));
  }
  for (auto& chunk : message.audio) {
    turn_open_ = true;
    if (action_) action_->armed = true;
    Frame frame = Frame::Make(AudioFrame{chunk.sample_rate, 1, std::move(chunk.samples)}, received);
    output_latency_.Add(Clock::now() - received);
    PushFrame(std::move(frame));
  }
  if (!message.audio.empty()) {
    turn_timer_->expires_after(options_.turn_complete_timeout);
    turn_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
      auto keep = alive.lock();
      if (ec || !keep || context().closed() || !turn_open_) return;
      spdlog::warn("[{}] {}: no turnComplete within {} ms of the last audio; ending the turn", context().call_id(),
                   name(), options_.turn_complete_timeout.count());
      EndTurn(false);
    });
  }
  for (auto& text : message.text) {
    turn_open_ = true;
    PushFrame(Frame::Make(TextFrame{std::move(text)}, received));
  }
  if (message.output_transcription) {
    PushFrame(Frame::Make(TranscriptionFrame{TranscriptionFrame::Speaker::kBot, std::move(message.output_transcription->text),
                                             message.output_transcription->finished},
                          received));
  }
  if (message.interrupted) {
    spdlog::debug("[{}] {}: interrupted", context().call_id(), name());
    BroadcastInterruption();
    EndTurn(true);
  }
  if (message.generation_complete || message.turn_complete) {
    EndTurn(false);
    if (Connection* still = Find(id); still && still->role == Role::kRetiring) Remove(id);
  }
}

void GeminiLiveLLM::EndTurn(bool interrupted) {
  if (turn_timer_) turn_timer_->cancel();
  if (turn_open_) {
    turn_open_ = false;
    caller_audio_since_turn_ = false;
    PushFrame(Frame::Make(EndOfTurnFrame{interrupted}, Clock::now()));
  }
  if (action_ && action_->armed) RunPendingAction();
  if (pending_end_ && !turn_open_) ForwardEnd();
}

// ---- tools -----------------------------------------------------------------

void GeminiLiveLLM::OnToolCalls(const std::vector<gemini::FunctionCall>& calls) {
  for (const auto& call : calls) {
    PushFrame(Frame::Make(ToolCallFrame{call.id, call.name, call.args}, Clock::now()));
    auto tool = std::find_if(options_.tools.begin(), options_.tools.end(),
                             [&](const GeminiToolOptions& t) { return t.name == call.name; });
    if (tool == options_.tools.end()) {
      spdlog::warn("[{}] {}: model called unknown function '{}'", context().call_id(), name(), call.name);
      RespondToTool(call, {{"error", fmt::format("unknown function '{}'", call.name)}});
      continue;
    }
    spdlog::info("[{}] {}: tool call {} ({})", context().call_id(), name(), call.name, tool->handler);
    if (tool->handler == "end_call" || tool->handler == "transfer_call") {
      PendingAction action{tool->handler == "end_call" ? CallControlFrame::Action::kHangup : CallControlFrame::Action::kTransfer,
                           tool->target, tool->message};
      if (action.kind == CallControlFrame::Action::kTransfer && action.target.empty()) {
        if (auto it = call.args.find("target"); it != call.args.end() && it->is_string()) action.target = *it;
        if (action.target.empty()) {
          RespondToTool(call, {{"error", "no transfer target configured or given"}});
          continue;
        }
      }
      action_ = action;
      // Runs after the model's goodbye; also when it says nothing at all.
      action_timer_->expires_after(options_.turn_complete_timeout);
      action_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
        auto keep = alive.lock();
        if (ec || !keep || context().closed() || !action_) return;
        action_->armed = true;
        if (!turn_open_) RunPendingAction();
      });
      RespondToTool(call, {{"output", {{"status", action.kind == CallControlFrame::Action::kHangup
                                                      ? "the call ends after your reply"
                                                      : "the caller is transferred after your reply"}}}});
      continue;
    }
    gemini::RunHttpTool(context().executor(), *tool, call.args, tls_, [this, alive = alive_, call](json response) {
      auto keep = alive.lock();
      if (!keep || context().closed() || shutting_down_) return;
      if (cancelled_tools_.erase(call.id)) {
        spdlog::info("[{}] {}: dropping the result of cancelled tool call {}", context().call_id(), name(), call.name);
        return;
      }
      RespondToTool(call, std::move(response));
    });
  }
}

void GeminiLiveLLM::RespondToTool(const gemini::FunctionCall& call, json response) {
  PushFrame(Frame::Make(ToolResultFrame{call.id, call.name, response}, Clock::now()));
  SendOrBuffer(gemini::EncodeToolResponse(call.id, call.name, response), {}, {});
}

void GeminiLiveLLM::RunPendingAction() {
  PendingAction action = std::move(*action_);
  action_.reset();
  action_timer_->cancel();
  if (action.kind == CallControlFrame::Action::kTransfer) {
    PushFrame(Frame::Make(CallControlFrame{CallControlFrame::Action::kTransfer, action.target, action.message}, Clock::now()));
    return;
  }
  ended_ = true;
  PushLatencyMetrics();
  PushFrame(Frame::Make(EndFrame{"end_call"}, Clock::now()));
}

// ---- end of stream ---------------------------------------------------------

void GeminiLiveLLM::OnEnd(Frame frame) {
  // Behind any caller audio still buffered for a connection being set up.
  if (!failed_ && !ended_) SendOrBuffer(gemini::EncodeAudioStreamEnd(), {}, {});
  bool wait = !ended_ && !failed_ && (turn_open_ || (options_.await_reply_on_end && caller_audio_since_turn_));
  pending_end_ = std::move(frame);
  if (!wait) return ForwardEnd();
  end_timer_->expires_after(options_.end_timeout);
  end_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    auto keep = alive.lock();
    if (ec || !keep || context().closed()) return;
    spdlog::warn("[{}] {}: no reply within {} ms of the end of input", context().call_id(), name(),
                 options_.end_timeout.count());
    ForwardEnd();
  });
}

void GeminiLiveLLM::ForwardEnd() {
  if (!pending_end_) return;
  end_timer_->cancel();
  Frame end = std::move(*pending_end_);
  pending_end_.reset();
  if (!ended_) PushLatencyMetrics();
  PushFrame(std::move(end));
}

void GeminiLiveLLM::PushLatencyMetrics() {
  MetricsFrame metrics{name(), {}};
  metrics.values["input_latency_p50_us"] = input_latency_.Percentile(50);
  metrics.values["input_latency_p99_us"] = input_latency_.Percentile(99);
  metrics.values["input_latency_samples"] = double(input_latency_.size());
  metrics.values["output_latency_p50_us"] = output_latency_.Percentile(50);
  metrics.values["output_latency_p99_us"] = output_latency_.Percentile(99);
  metrics.values["output_latency_samples"] = double(output_latency_.size());
  metrics.values["bad_messages"] = double(bad_messages_);
  metrics.values["dropped_audio_ms"] = double(dropped_audio_us_) / 1000;
  metrics.values["reconnects"] = double(reconnects_);
  PushFrame(Frame::Make(std::move(metrics), Clock::now()));
}

// ---- frames from the pipeline ---------------------------------------------

void GeminiLiveLLM::Process(Frame frame, Direction direction) {
  if (direction == Direction::kUpstream) return PushFrame(std::move(frame), direction);
  if (const auto* audio = frame.As<AudioFrame>()) return OnCallerAudio(frame, *audio);
  if (const auto* key = frame.As<DtmfFrame>()) OnCallerKey(*key);
  // Text from before the model is the caller's (a browser's send-text): the
  // model takes it as the caller's words.
  if (const auto* text = frame.As<TextFrame>()) return OnCallerText(*text);
  if (frame.Is<EndFrame>()) return OnEnd(std::move(frame));
  if (frame.Is<CancelFrame>()) {
    Shutdown();
    return PushFrame(std::move(frame));
  }
  PushFrame(std::move(frame), direction);
}

REGISTER_PROCESSOR(GeminiLiveLLM);

}  // namespace voxpipe
