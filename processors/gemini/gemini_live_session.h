// GeminiLiveSession: the WebSocket side of one conversation with Gemini Live
// (BidiGenerateContent), apart from the pipeline: GeminiLiveLLM owns one per
// call, and a server can open one before the call's pipeline exists (an
// early session) for the processor to adopt.
//
// It connects, sends `setup`, and passes every server message on. It keeps
// the latest resumption handle; on goAway it opens a second connection that
// resumes the session while the first finishes its turn, holding caller
// input for the new one, so nothing is lost. An abrupt close (1006, 1011)
// reconnects with backoff and the handle; 1007/1008 and HTTP 4xx on the
// upgrade are fatal. Handovers and reconnects are budgeted: a server that
// asks for a new connection after every setup gets `handover_budget`
// handovers per `handover_window`, each later one delayed by a growing
// backoff, and then the session fails (the call takes its fallback path).
//
// Everything runs on the executor it was created with (the call's loop).
// It owns its connections and keeps itself alive while they run; Close()
// lets go of everything, and no event follows.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "framework/client/tls_context.h"
#include "framework/client/websocket_client.h"
#include "framework/pipeline_context.h"
#include "processors/gemini/gemini_live_messages.h"
#include "processors/gemini/gemini_live_options.h"

namespace voxpipe {

struct GeminiSessionEvents {
  // A message from the model; `retiring` when it comes from a connection
  // that is finishing its turn after a handover (its tool calls are not
  // acted on: the new connection has the conversation).
  std::function<void(gemini::ServerMessage& message, bool retiring, Clock::time_point received)> on_message;
  // The active connection went away while a model turn was open.
  std::function<void()> on_turn_lost;
  // The session cannot go on; no connection follows.
  std::function<void(const std::string& message)> on_failed;
  // Data from the model that could not be used.
  std::function<void(const std::string& problem)> on_bad_data;
};

struct GeminiSessionStats {
  int64_t reconnects = 0;
  int64_t handovers = 0;
  int64_t dropped_audio_us = 0;
};

class GeminiLiveSession : public std::enable_shared_from_this<GeminiLiveSession> {
 public:
  using Executor = PipelineContext::Executor;
  enum class Sent { kNow, kHeld, kDropped };

  // `options` resolved (ResolveGeminiLiveOptions); `log_id` prefixes log lines.
  static std::shared_ptr<GeminiLiveSession> Create(Executor executor, std::shared_ptr<const GeminiLiveOptions> options,
                                                   TlsContextPtr tls, std::string log_id);
  ~GeminiLiveSession();

  // Who hears the session's events; set before Connect() or when adopting
  // an early session (what arrived before is not replayed: an early session
  // only connects and sets up).
  void SetEvents(GeminiSessionEvents events) { events_ = std::move(events); }
  void Connect();
  // Sends a client message now when a ready connection can take it, else
  // holds it for the next one (caller audio up to max_buffered_audio, the
  // oldest dropped first). `audio` is how much caller audio it carries.
  Sent Send(std::string message, std::chrono::microseconds audio);
  // Storage of a message already sent, for the next one (none while held).
  std::string TakeBuffer();
  // Whether a model turn is in progress, which a handover must not cut.
  void SetTurnOpen(bool open) { turn_open_ = open; }
  void Close();

  bool ready() const;
  bool failed() const { return failed_; }
  const GeminiSessionStats& stats() const { return stats_; }
  const Executor& executor() const { return executor_; }

 private:
  enum class Role { kActive, kNext, kRetiring };
  struct Connection;

  GeminiLiveSession(Executor executor, std::shared_ptr<const GeminiLiveOptions> options, TlsContextPtr tls,
                    std::string log_id);
  template <typename F>
  auto ForConnection(int id, F handler);

  void StartConnection(Role role);
  Connection* Find(int id);
  void Remove(int id);
  void OnOpen(Connection& conn);
  void OnMessage(Connection& conn, std::string_view data);
  void OnSetupComplete(Connection& conn);
  void OnClose(Connection& conn, const WebSocketCloseInfo& info);
  void OnSetupTimeout(Connection& conn);
  void OnFailure(const std::string& what, int code, int http_status);
  void OnGoAway(std::chrono::milliseconds time_left);
  void OnReconnectTimer();
  void Fail(std::string message);
  Connection* Sendable();
  void FlushBacklog(Connection& conn);

  Executor executor_;
  std::shared_ptr<const GeminiLiveOptions> options_;
  TlsContextPtr tls_;
  std::string log_id_;
  GeminiSessionEvents events_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  int next_connection_id_ = 0;
  int active_ = 0;  // connection ids; 0 = none
  int next_ = 0;
  std::string handle_;  // latest resumable session handle
  int attempts_ = 0;    // reconnects since the last stable session
  Clock::time_point last_ready_{};
  std::deque<Clock::time_point> handover_times_;  // within handover_window
  int quick_handovers_ = 0;  // in a row, each within handover_backoff of its session being ready
  bool handover_pending_ = false;
  boost::asio::steady_timer reconnect_timer_;
  std::deque<std::pair<std::string, std::chrono::microseconds>> backlog_;
  std::chrono::microseconds backlog_audio_{0};
  GeminiSessionStats stats_;
  bool turn_open_ = false;
  bool failed_ = false;
  bool closed_ = false;
};

}  // namespace voxpipe
