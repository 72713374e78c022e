// TwilioStream: one call's Twilio Media Stream — the TransportSession of
// the phone line. The Twilio server creates one for every accepted stream
// WebSocket; when the stream's `start` arrives (with the CallSid the
// stream's token was issued for), it starts the call's pipeline on the same
// loop. `media` becomes audio through the attached TwilioInput, `dtmf` key
// presses, and the marks Twilio echoes go to the attached TwilioOutput.
// Outgoing, only `media`, `mark` and `clear` are ever sent (Twilio drops the
// stream otherwise); the output writes them with twilio_serializer.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "framework/transport/transport_session.h"
#include "processors/twilio/twilio_serializer.h"

namespace voxpipe::twilio {

class CallControl;
class CallOutcomes;
class StreamTokens;

// What a stream needs from the server that accepted it, beyond the line.
struct TwilioStreamConfig {
  std::shared_ptr<CallControl> control;   // null when REST credentials are not configured
  std::shared_ptr<StreamTokens> tokens;   // checks `token` against the CallSid of `start`
  std::string token;                      // from the stream's URL
  std::shared_ptr<CallOutcomes> outcomes;  // where the call's ending is left for the after-stream action
  std::string fallback_action;            // what a failed call gets, for logs and the recording
  std::shared_ptr<EarlyResources> early;  // opened at the webhook (the model session); may be null
  bool promised = false;                  // this instance answered the call's webhook (taken while draining)
};

class TwilioStream : public TransportSession {
 public:
  TwilioStream(std::shared_ptr<server::WebSocketConnection> connection, std::shared_ptr<const TransportLine> line,
               TwilioStreamConfig config);

  const std::string& stream_sid() const { return stream_sid_; }
  // The SID as a JSON string, for the messages the output writes.
  const std::string& stream_sid_json() const { return stream_sid_json_; }

  // Hang up / transfer through the REST API. False when not configured.
  bool HangUp();
  bool Transfer(const std::string& target, const std::string& message);
  bool call_control_available() const { return config_.control != nullptr; }

 protected:
  void OnMessage(std::string_view text, bool binary) override;
  void OnConnectionClosed() override;
  void OnPipelineEnded(const Status& status) override;

 private:
  void OnStart(const TwilioStart& start);
  void OnMedia(std::string_view payload);

  TwilioStreamConfig config_;
  TwilioMessage message_;  // reused for every message
  std::string stream_sid_;
  std::string stream_sid_json_;
};

}  // namespace voxpipe::twilio
