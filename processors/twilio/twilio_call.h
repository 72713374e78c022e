// TwilioCall: one call's Twilio Media Stream, the session TwilioInput and
// TwilioOutput share. The Twilio server creates it for every accepted stream
// WebSocket and, when the stream's `start` arrives, a pipeline instance on the
// same strand with this object provided:
//
//   instance->context().Provide(call);   // TwilioInput/Output Find() it in Open()
//
// Incoming messages become frames through the attached TwilioInput; marks
// Twilio echoes go to the attached TwilioOutput. Outgoing, only `media`,
// `mark` and `clear` are ever sent (Twilio drops the stream otherwise).
// Every method runs on the call's strand.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framework/pipeline.h"
#include "framework/server/websocket_connection.h"
#include "processors/twilio/call_registry.h"

namespace voxpipe::twilio {

class TwilioInput;
class TwilioOutput;
class CallControl;
class TwilioCall;

// What the call needs from the server that accepted it; shared by all calls.
struct TwilioLine {
  std::shared_ptr<const PipelineTemplate> pipeline;
  CallRegistry* registry = nullptr;
  std::shared_ptr<CallControl> control;       // null when REST credentials are not configured
  std::chrono::milliseconds media_timeout{};  // no message for this long ends the call; 0 = never
  int max_bad_messages = 100;                 // then the stream is closed
  // Runs on the call's strand when the call ends (pipeline finished and socket closed).
  std::function<void(TwilioCall& call, const Status&)> on_call_end;
  std::function<std::vector<std::shared_ptr<PipelineObserver>>()> observers;
};

class TwilioCall : public std::enable_shared_from_this<TwilioCall> {
 public:
  TwilioCall(std::shared_ptr<server::WebSocketConnection> connection, std::shared_ptr<const TwilioLine> line);
  ~TwilioCall();

  // Starts reading the stream.
  void Start();
  // From any thread: ends the call's pipeline gracefully (drain, status callback).
  void End(std::string reason);
  // From any thread: stops the pipeline at once.
  void Cancel(std::string reason);

  // --- for TwilioInput / TwilioOutput (on the strand)
  void Attach(TwilioInput* input) { input_ = input; }
  void Attach(TwilioOutput* output) { output_ = output; }
  void Detach(TwilioInput*) { input_ = nullptr; }
  void Detach(TwilioOutput*) { output_ = nullptr; }

  bool SendMedia(std::span<const uint8_t> mulaw);
  bool SendMark(std::string_view name);
  // Drops media still queued for the socket, then sends `clear`.
  bool SendClear();
  // Ends the stream from our side: Twilio continues after </Connect>, where
  // there is nothing, so the call ends.
  void CloseStream(const std::string& reason);
  bool stream_open() const;

  // Hang up / transfer through the REST API. False when not configured.
  bool HangUp();
  bool Transfer(const std::string& target, const std::string& message);
  bool call_control_available() const { return line_->control != nullptr; }

  const std::string& call_sid() const { return call_sid_; }
  const std::string& stream_sid() const { return stream_sid_; }
  // True once the caller's side ended the stream (`stop`, socket closed).
  bool ended_remotely() const { return ended_remotely_; }
  CallCounters& counters() { return *counters_; }
  const PipelineContext::Executor& executor() const { return connection_->executor(); }

 private:
  void OnMessage(std::string_view text, bool binary);
  void OnClose(const std::string& reason);
  void OnStart(const nlohmann::json& message);
  void OnMedia(const nlohmann::json& message);
  void OnMediaPayload(std::string_view payload);
  void OnInstanceDone(const Status& status);
  void BadMessage(std::string_view kind, std::string_view detail);
  void ArmWatchdog();
  void MaybeFinish();

  std::shared_ptr<server::WebSocketConnection> connection_;
  std::shared_ptr<const TwilioLine> line_;
  std::shared_ptr<PipelineInstance> instance_;
  std::shared_ptr<CallCounters> counters_ = std::make_shared<CallCounters>();
  TwilioInput* input_ = nullptr;
  TwilioOutput* output_ = nullptr;
  std::string call_sid_;
  std::string stream_sid_;
  std::string stream_sid_json_;  // the sid JSON-escaped, spliced into every outgoing message
  std::vector<uint8_t> decode_buffer_;
  std::unique_ptr<struct Watchdog> watchdog_;
  Status result_;
  Clock::time_point last_message_{};
  int bad_messages_ = 0;
  bool started_ = false;
  bool instance_done_ = false;
  bool socket_closed_ = false;
  bool ended_remotely_ = false;
  bool finished_ = false;
};

}  // namespace voxpipe::twilio
