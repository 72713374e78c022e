// BrowserSession: one browser's conversation on WS /ws — the
// TransportSession of the voice chat, speaking Pipecat's client protocol
// (pipecat_frames.h for the framing, rtvi.h for the JSON inside).
//
// The call starts with the client's first message (Pipecat's client sends
// `client-ready` first; audio captured before it follows); `client-ready`
// is answered with `bot-ready` carrying its id. Microphone audio (16 kHz
// mono PCM16) goes through the attached BrowserInput, `send-text` as a
// TextFrame (the model answers it as the user's words), `disconnect-bot`
// ends the call, `client-message {t, d}` is echoed as `server-response
// {t, d}` (there are no server-side requests; without `t` it is an
// `error-response`), anything else gets `error-response` "Unsupported
// type", as Pipecat does. Messages beyond `max_messages_per_second`
// (averaged over a second, bursts up to that many) close the connection with
// 4008; a call lasting `max_session` gets a fatal `error` and 4009.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/steady_timer.hpp>

#include "framework/transport/transport_session.h"
#include "processors/browser/pipecat_frames.h"

namespace voxpipe::browser {

// Close codes the voice chat uses beyond RFC 6455's (reasons say the same).
inline constexpr int kCloseOriginNotAllowed = 4001;
inline constexpr int kCloseBadToken = 4003;
inline constexpr int kCloseRateLimit = 4008;
inline constexpr int kCloseSessionLimit = 4009;

struct BrowserSessionConfig {
  int max_messages_per_second = 200;  // the client sends ~62 audio messages a second
  std::chrono::milliseconds max_session{std::chrono::minutes(30)};
  std::string user_agent;
};

class BrowserSession : public TransportSession {
 public:
  BrowserSession(std::shared_ptr<server::WebSocketConnection> connection, std::shared_ptr<const TransportLine> line,
                 BrowserSessionConfig config);

  // Closes at once with `code` (a refused connection: origin, token).
  void Refuse(int code, const std::string& reason);
  // An RTVI message to the client; false when the stream would not take it.
  bool SendRtvi(std::string_view type, const nlohmann::json& data = nullptr, std::string_view id = {});
  // An RTVI `error`; fatal ones make Pipecat's client disconnect.
  void SendError(const std::string& message, bool fatal);

 protected:
  void OnMessage(std::string_view message, bool binary) override;
  void OnConnectionClosed() override;
  void OnPipelineEnded(const Status& status) override;

 private:
  bool BeginCall();
  void OnAudio(const PipecatFrame& frame);
  void OnRtvi(std::string_view json);
  bool WithinRate();
  void OnSessionLimit();

  BrowserSessionConfig config_;
  PipecatFrame frame_;  // reused for every message
  std::string error_;
  boost::asio::steady_timer session_timer_;
  Clock::time_point window_start_{};
  int window_messages_ = 0;
  bool refused_ = false;
};

}  // namespace voxpipe::browser
