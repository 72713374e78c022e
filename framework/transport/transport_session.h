// TransportSession: one client connection of a call server (a Twilio media
// stream, a browser's WebSocket) and the pipeline instance it carries.
//
// Everything of it runs on the connection's event loop, like everything of
// its call. A carrier subclass reads its wire format in OnMessage() and
// starts the pipeline once it knows the call (StartPipeline); the
// transport's processors — a TransportInput first in the pipeline, a
// TransportOutput last — find the session in the instance's context and
// turn what it parses into frames and frames into messages.
//
// The session keeps the rules every carrier needs: a call must start within
// `start_timeout` of the connection and then keep sending media (no media
// for `media_timeout` ends it); malformed messages are counted, the first
// few logged and reported as non-fatal errors, and after `max_bad_messages`
// the connection is closed; one registry entry per call. It is over once
// the pipeline has finished and the connection has closed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framework/early_resources.h"
#include "framework/pipeline.h"
#include "framework/server/websocket_connection.h"
#include "framework/transport/call_recording.h"
#include "framework/transport/call_registry.h"

namespace voxpipe {

class MetricCounter;
class TransportInput;
class TransportOutput;
class TransportSession;

// What the sessions of one server share.
struct TransportLine {
  std::string carrier;  // "twilio", "browser": logs, metric labels, which processors fit
  // The pipeline a call starting now gets (a reload replaces it).
  std::shared_ptr<const PipelineTemplate> pipeline() const {
    std::lock_guard lock(pipeline_mutex);
    return current_pipeline;
  }
  void set_pipeline(std::shared_ptr<const PipelineTemplate> pipeline) {
    std::lock_guard lock(pipeline_mutex);
    current_pipeline = std::move(pipeline);
  }
  std::shared_ptr<CallRegistry> registry;
  std::chrono::milliseconds start_timeout{std::chrono::seconds(5)};  // connection to StartPipeline
  std::chrono::milliseconds media_timeout{};  // 0: never
  int max_bad_messages = 100;
  // Where calls are recorded (call_recording.h), per-call values allowed; empty: not recorded.
  std::string recordings_dir;
  // When the pipeline is about to start: false refuses the call (the server
  // is full or draining); the session then closes with `refusal`.
  std::function<bool(TransportSession&)> on_begin;
  // Once the session is over; `begun` when on_begin had accepted it.
  std::function<void(TransportSession&, const Status&, bool begun)> on_end;
  std::function<std::vector<std::shared_ptr<PipelineObserver>>()> observers;

 private:
  mutable std::mutex pipeline_mutex;
  std::shared_ptr<const PipelineTemplate> current_pipeline;
};

class TransportSession : public std::enable_shared_from_this<TransportSession> {
 public:
  using Executor = server::WebSocketConnection::Executor;

  TransportSession(std::shared_ptr<server::WebSocketConnection> connection, std::shared_ptr<const TransportLine> line);
  virtual ~TransportSession();

  // Starts reading (on the connection's loop).
  void Start();
  // From any thread: ends the call's pipeline gracefully (what is queued plays).
  void End(std::string reason);
  // From any thread: stops the pipeline at once.
  void Cancel(std::string reason);

  // --- for the transport's processors, on the loop
  void Attach(TransportInput* input) { input_ = input; }
  void Attach(TransportOutput* output) { output_ = output; }
  void Detach(TransportInput* input);
  void Detach(TransportOutput* output);
  // Queues a message for the client; counted. False when the stream is
  // closed or its queue full.
  bool Send(std::string message, bool binary = false);
  // An empty string with spare capacity, for the next message.
  std::string TakeBuffer() { return connection_->TakeBuffer(); }
  // Drops what is queued and not yet on the wire (an interruption).
  size_t DropQueued() { return connection_->DropQueued(); }
  // Ends the connection from our side, after what is queued.
  void CloseStream(const std::string& reason, int code = 1000);
  bool stream_open() const { return connection_->is_open(); }
  // True once the client's side ended the call (a stop message, a close).
  bool ended_remotely() const { return ended_remotely_; }

  const std::string& carrier() const { return line_->carrier; }
  const std::string& call_id() const { return call_id_; }
  const std::string& remote() const { return connection_->remote(); }
  const Executor& executor() const { return connection_->executor(); }
  CallCounters& counters() { return *counters_; }
  bool started() const { return instance_ != nullptr || begun_; }
  // The line answered this call before it began draining (the carrier
  // says so): a drain still takes it.
  bool promised() const { return promised_; }
  // The call's record when recording is on, else null.
  CallRecording* recording() const { return recording_.get(); }

 protected:
  // One message from the client; the view lives during the call.
  virtual void OnMessage(std::string_view message, bool binary) = 0;
  // The connection is gone (the pipeline is told to end right after).
  virtual void OnConnectionClosed() {}
  // The pipeline has ended with `status`, just before the connection is
  // closed: a carrier whose protocol can say why (a browser's) does so here.
  virtual void OnPipelineEnded(const Status& status) {}

  // Starts the pipeline for the call `info` describes. False, with the
  // connection closing, when the call cannot be taken: the server refused it
  // (full, draining) or the registry has a live call with this id.
  // `early`: what the server opened for the call before it connected
  // (early_calls.h); the processors take theirs, the rest is closed.
  bool StartPipeline(StartFrame start, const CallInfo& info, std::shared_ptr<EarlyResources> early = nullptr);
  // Malformed or unusable input from the client.
  void BadMessage(std::string_view kind, std::string_view detail);
  void MarkPromised() { promised_ = true; }
  // Media arrived: the call is alive.
  void MediaArrived() { last_media_ = Clock::now(); }
  // The client ended the call (e.g. Twilio's `stop`).
  void EndedByClient(std::string reason);

  TransportInput* input() const { return input_; }
  TransportOutput* output() const { return output_; }
  Clock::time_point last_message() const { return last_message_; }
  const TransportLine& line() const { return *line_; }

 private:
  void OnClose(const std::string& reason);
  void OnInstanceDone(const Status& status);
  void ArmWatchdog(Clock::time_point at);
  void OnWatchdog();
  void MaybeFinish();

  std::shared_ptr<server::WebSocketConnection> connection_;
  std::shared_ptr<const TransportLine> line_;
  // This carrier's message counters, found once: finding them takes a lock.
  MetricCounter& messages_in_;
  MetricCounter& messages_out_;
  std::shared_ptr<PipelineInstance> instance_;
  std::shared_ptr<CallCounters> counters_ = std::make_shared<CallCounters>();
  std::shared_ptr<CallRecording> recording_;
  TransportInput* input_ = nullptr;
  TransportOutput* output_ = nullptr;
  std::string call_id_;
  boost::asio::steady_timer watchdog_;
  Status result_;
  Clock::time_point opened_ = Clock::now();
  Clock::time_point last_message_{};
  Clock::time_point last_media_{};
  int bad_messages_ = 0;
  bool begun_ = false;          // on_begin accepted the call
  bool promised_ = false;
  bool registered_ = false;     // the registry holds our entry
  bool instance_done_ = false;
  bool socket_closed_ = false;
  bool ended_remotely_ = false;
  bool finished_ = false;
};

}  // namespace voxpipe
