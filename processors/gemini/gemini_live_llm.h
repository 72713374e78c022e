// GeminiLiveLLM: a conversation with Google's Gemini Live model
// (BidiGenerateContent over WebSocket) as a pipeline stage.
//
// Input:   PCM s16le mono at any rate (the rate goes in the MIME type; the
//          API resamples), typically 16 kHz from a Resampler. Caller audio
//          is consumed; other frames pass through.
// Output:  PCM s16le 24000 Hz mono (the model's voice, faster than real
//          time), TranscriptionFrame (caller and bot), TextFrame,
//          InterruptionFrame (both ways) when the caller barges in,
//          EndOfTurnFrame, ToolCallFrame/ToolResultFrame, MetricsFrame
//          (token usage; latency figures at the end), and for tools
//          EndFrame (end_call) or CallControlFrame{kTransfer} (transfer_call).
//
// Connection: `url` (default $GEMINI_LIVE_URL, else Google's wss:// endpoint;
// ws:// for local emulators), TLS with the system CA store, SNI and host
// name checks; the key goes in the x-goog-api-key header and is never
// logged. Caller audio arriving before setupComplete (or while reconnecting)
// is buffered up to `max_buffered_audio` and sent after.
//
// Long calls: resumption handles are kept; on goAway a second connection
// resumes the session while the first finishes its turn, and caller audio is
// held for the new one, so none is lost. 1006/1011 closes reconnect with
// backoff and the handle; 1007/1008 (and HTTP 4xx on the upgrade) end the
// call with a fatal ErrorFrame carrying the server's reason.
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
//       - name: lookup_visiting_hours
//         description: Visiting hours for a ward.
//         parameters: {type: OBJECT, properties: {ward: {type: STRING}}, required: [ward]}
//         handler: http
//         url: https://hospital.example/api/visiting-hours
#pragma once

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framework/client/websocket_client.h"
#include "framework/metrics.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/stream_format.h"
#include "processors/gemini/gemini_live_messages.h"
#include "processors/gemini/gemini_live_options.h"

namespace voxpipe {

class GeminiLiveLLM : public Processor {
 public:
  using Options = GeminiLiveOptions;
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit GeminiLiveLLM(const Options& options);
  ~GeminiLiveLLM() override;

  Status Open() override;
  void Process(Frame frame, Direction direction) override;
  void Close() override;

 private:
  enum class Role { kActive, kNext, kRetiring };
  struct Connection;
  struct PendingAction {
    CallControlFrame::Action kind;
    std::string target;
    std::string message;
    bool armed = false;  // the model has spoken since the tool answered
  };
  // Latencies in log-spaced buckets, 16 per octave from 1 µs to about 2 s:
  // the same few kilobytes however long the call, percentiles within 4.4%.
  // Each one is also observed by a process-wide histogram for /metrics.
  class LatencySamples {
   public:
    explicit LatencySamples(MetricHistogram& process_wide) : process_wide_(process_wide) {}
    void Add(Clock::duration d);
    double Percentile(double p) const;  // µs
    size_t size() const { return count_; }

   private:
    static constexpr int kPerOctave = 16;
    static constexpr int kOctaves = 21;
    std::array<uint32_t, kPerOctave * kOctaves + 1> buckets_{};  // [0] is under 1 µs
    size_t count_ = 0;
    MetricHistogram& process_wide_;
  };

  void StartConnection(Role role);
  Connection* Find(int id);
  void OnOpen(Connection& conn);
  void OnMessage(Connection& conn, std::string_view data);
  void OnClose(Connection& conn, const WebSocketCloseInfo& info);
  void OnSetupComplete(Connection& conn);
  void OnFailure(const std::string& what, int code, int http_status);
  void OnGoAway(std::chrono::milliseconds time_left);
  void Remove(int id);

  void OnCallerAudio(const Frame& frame, const AudioFrame& audio);
  void OnCallerKey(const DtmfFrame& key);
  void OnCallerText(const TextFrame& text);
  void SendOrBuffer(std::string message, std::chrono::microseconds duration, Clock::time_point ingress);
  void FlushBacklog(Connection& conn);
  Connection* Sendable();

  void HandleContent(Connection& conn, gemini::ServerMessage& message, Clock::time_point received);
  void EndTurn(bool interrupted);
  void OnToolCalls(const std::vector<gemini::FunctionCall>& calls);
  void RespondToTool(const gemini::FunctionCall& call, nlohmann::json response);
  void RunPendingAction();

  void OnEnd(Frame frame);
  void ForwardEnd();
  void PushLatencyMetrics();
  void Shutdown();
  void ReportBadData(const std::string& problem);

  template <typename F>
  auto Guarded(int id, F f);

  const Options raw_options_;
  Options options_;
  TlsContextPtr tls_;
  std::weak_ptr<void> alive_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  int next_connection_id_ = 0;
  int active_ = 0;  // connection ids; 0 = none
  int next_ = 0;
  std::string handle_;  // latest resumable session handle
  int attempts_ = 0;    // reconnects since the last stable session
  Clock::time_point last_ready_{};

  std::deque<std::pair<std::string, std::chrono::microseconds>> backlog_;
  std::chrono::microseconds backlog_duration_{0};
  std::string encode_buffer_;

  bool turn_open_ = false;
  bool caller_audio_since_turn_ = false;
  std::optional<PendingAction> action_;
  std::optional<Frame> pending_end_;
  std::set<std::string> cancelled_tools_;
  std::unique_ptr<boost::asio::steady_timer> turn_timer_;
  std::unique_ptr<boost::asio::steady_timer> action_timer_;
  std::unique_ptr<boost::asio::steady_timer> end_timer_;
  std::unique_ptr<boost::asio::steady_timer> reconnect_timer_;
  bool failed_ = false;     // a fatal error was raised: no more connections
  bool ended_ = false;      // end_call ran: caller audio is ignored
  bool shutting_down_ = false;

  LatencySamples input_latency_;   // caller frame in → realtimeInput handed to the socket
  LatencySamples output_latency_;  // server message read → audio frame pushed
  int64_t bad_messages_ = 0;
  int64_t dropped_audio_us_ = 0;
  int64_t reconnects_ = 0;
};

}  // namespace voxpipe
