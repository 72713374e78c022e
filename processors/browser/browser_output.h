// BrowserOutput: what the browser hears and reads, on the session's socket.
//
// Bot audio (24 kHz mono PCM16, the rate Pipecat's client plays whatever a
// frame says) leaves in messages of at most `chunk`, paced in real time
// with `lead` of audio ahead of the listener: the client has no jitter
// buffer and does not flush on interruption, so on barge-in the lead is all
// that still plays. InterruptionFrame drops what is unsent and sends
// `user-started-speaking`, `bot-interrupted` and `bot-stopped-speaking`;
// nothing more of that turn is sent. The first audio of a turn sends
// `bot-started-speaking`, its end (EndOfTurnFrame, once played out)
// `bot-stopped-speaking`. Transcripts become `user-transcription` (and
// `user-started-speaking`/`user-stopped-speaking` around the user's turn)
// and `bot-transcription` + `bot-output`; model text `bot-llm-text`.
//
// Input:   PCM 24000 Hz mono.
// Output:  none (a sink; place it last).
// Options: chunk, lead.
//
// Example config:
//   - type: BrowserOutput
//     lead: 50ms
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framework/options.h"
#include "framework/registry.h"
#include "framework/stream_format.h"
#include "framework/transport/transport_output.h"

namespace voxpipe::browser {

class BrowserSession;

struct BrowserOutputOptions {
  std::chrono::milliseconds chunk{40};
  std::chrono::milliseconds lead{50};

  static void Declare(Schema<BrowserOutputOptions>& s) {
    s.Field("chunk", &BrowserOutputOptions::chunk, "Most audio in one message (Pipecat sends 40 ms)").Range(10, 200);
    s.Field("lead", &BrowserOutputOptions::lead,
            "Audio sent ahead of real time: what still plays after a barge-in, and the cover for network jitter")
        .Range(0, 1000);
  }
};

class BrowserOutput : public TransportOutput {
 public:
  using Options = BrowserOutputOptions;
  static constexpr const char* kServer = "browser";
  static constexpr int kSampleRate = 24000;
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit BrowserOutput(const Options& options);
  ~BrowserOutput() override;
  void Process(Frame frame, Direction direction) override;
  void OnInterruption() override;
  void OnStreamClosed() override;

  // Audio waiting for its time (tests).
  size_t pending_samples() const { return pending_.size() - read_; }

 private:
  Status OpenOutput() override;
  void CloseOutput() override;
  void OnAudio(const AudioFrame& audio);
  void OnTranscription(const TranscriptionFrame& transcription);
  // Sends what is due now; arms the timer for the rest.
  void Pump();
  void ArmTimer(Clock::time_point at);
  void OnTimer();
  void UserStarted();
  void UserStopped();
  void BotStopped();
  Clock::time_point played_out() const;

  Options options_;
  size_t chunk_samples_;
  BrowserSession* session_ = nullptr;
  std::vector<int16_t> pending_;
  size_t read_ = 0;
  Clock::time_point play_start_{};  // when the first sample of this stretch of audio plays
  int64_t sent_samples_ = 0;        // of this stretch
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool timer_armed_ = false;
  bool bot_speaking_ = false;
  bool user_speaking_ = false;
  bool turn_ended_ = false;  // EndOfTurnFrame seen: bot-stopped-speaking once played out
  std::optional<Frame> end_;  // an EndFrame waiting for the audio before it to be sent
};

}  // namespace voxpipe::browser
