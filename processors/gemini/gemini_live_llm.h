// GeminiLiveLLM: a conversation with Google's Gemini Live model
// (BidiGenerateContent over WebSocket) as a pipeline stage.
//
// Input:   PCM s16le mono at any rate (the rate goes in the MIME type; the
//          API resamples), typically 16 kHz from a Resampler. Caller audio
//          is consumed, sent every `send_interval`; a DtmfFrame or a
//          TextFrame from before the model is the caller's words; other
//          frames pass through.
// Output:  PCM s16le 24000 Hz mono (the model's voice, faster than real
//          time), TranscriptionFrame (caller and bot), TextFrame,
//          InterruptionFrame (both ways) when the caller barges in,
//          EndOfTurnFrame, ToolCallFrame/ToolResultFrame, MetricsFrame
//          (token usage; latency figures at the end), and for tools
//          EndFrame (end_call) or CallControlFrame{kTransfer} (transfer_call).
//
// The connection (gemini_live_session.h): `url` (default $GEMINI_LIVE_URL,
// else Google's wss:// endpoint; ws:// for local emulators), TLS with the
// system CA store, SNI and host name checks; the key goes in the
// x-goog-api-key header and is never logged. Caller audio arriving before
// setupComplete (or while reconnecting) is held up to `max_buffered_audio`.
// goAway hands over to a resumed session without losing caller audio;
// 1006/1011 closes reconnect; 1007/1008 (and HTTP 4xx on the upgrade) end
// the call with a fatal ErrorFrame carrying the server's reason. Tools:
// gemini_tool_runner.h.
//
// Options: see GeminiLiveOptions (gemini_live_options.h) or
// `voxpipe processors GeminiLiveLLM`.
//
// Example config:
//   - type: GeminiLiveLLM
//     api_key: ${GEMINI_API_KEY}
//     model: ${GEMINI_MODEL:-gemini-2.5-flash-native-audio-preview-12-2025}
//     voice: Kore
//     thinking_budget: 0
//     system_instruction: You answer calls for Sutherland General Hospital.
//     tools:
//       - name: end_call
//         description: Hang up once the caller has said goodbye.
//         handler: end_call
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/stream_format.h"
#include "processors/gemini/gemini_live_options.h"
#include "processors/gemini/gemini_live_session.h"
#include "processors/gemini/gemini_tool_runner.h"
#include "processors/gemini/latency_samples.h"

namespace voxpipe {

class GeminiLiveLLM : public Processor {
 public:
  using Options = GeminiLiveOptions;
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);
  // Applies environment defaults, reads the instruction file and checks the
  // URL when the pipeline is built, so `voxpipe check` finds what every
  // call would trip on.
  static Status Prepare(Options& options, const ConfigNode& stage);
  // Opens the call's model session before its pipeline exists (a server
  // that knows of the call early: Twilio's webhook); Open() adopts it.
  static std::shared_ptr<EarlyResource> Prewarm(std::shared_ptr<const Options> options,
                                                const PipelineContext::Executor& executor, const std::string& call_id);

  // The options are shared with the model session, which keeps them.
  explicit GeminiLiveLLM(std::shared_ptr<const Options> options);
  ~GeminiLiveLLM() override;

  Status Open() override;
  void Process(Frame frame, Direction direction) override;
  void Close() override;

 private:
  std::string log_id() const;
  GeminiSessionEvents SessionEvents();

  void OnCallerAudio(const Frame& frame, const AudioFrame& audio);
  void SendCallerAudio();
  void OnCallerKey(const DtmfFrame& key);
  void OnCallerText(const TextFrame& text);
  void SendToModel(std::string message);

  void OnModelMessage(gemini::ServerMessage& message, bool retiring, Clock::time_point received);
  void OnModelAudio(gemini::AudioChunk& chunk, Clock::time_point received);
  void OnSessionFailed(const std::string& message);
  void OnBadData(const std::string& problem);
  void ArmTurnTimer();
  void OnTurnTimer();
  void EndTurn(bool interrupted);
  void OnEndCall();

  void OnEnd(Frame frame);
  void OnEndTimeout();
  void ForwardEnd();
  void PushLatencyMetrics();
  void Shutdown();

  // The template's, or this call's copy with its values: shared, never copied.
  std::shared_ptr<const Options> shared_options_;
  const Options& options_;
  TlsContextPtr tls_;
  std::shared_ptr<GeminiLiveSession> session_;
  std::unique_ptr<GeminiToolRunner> tools_;

  // Caller audio gathered for the next realtimeInput (send_interval).
  std::vector<int16_t> input_;
  int input_rate_ = 0;
  Clock::time_point input_ingress_{};
  std::string encode_buffer_;

  bool turn_open_ = false;
  bool caller_spoke_since_turn_ = false;
  Clock::time_point turn_deadline_{};  // no model audio past this ends the turn
  bool turn_timer_armed_ = false;
  std::optional<Frame> pending_end_;
  std::unique_ptr<boost::asio::steady_timer> turn_timer_;
  std::unique_ptr<boost::asio::steady_timer> end_timer_;
  bool failed_ = false;  // a fatal error was raised
  bool ended_ = false;   // end_call ran: caller audio is ignored

  LatencySamples input_latency_;   // caller frame in → realtimeInput handed to the socket
  LatencySamples output_latency_;  // server message read → audio frame pushed
  int64_t bad_messages_ = 0;
};

}  // namespace voxpipe
