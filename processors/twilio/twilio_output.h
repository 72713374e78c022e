// TwilioOutput: what the caller hears, sent on the call's Twilio Media Stream.
//
// Mu-law audio leaves as `media` messages of at least `chunk` (smaller frames
// are batched; a turn's tail is flushed at its end). After each bot turn
// (EndOfTurnFrame) and for each MarkFrame it sends a `mark`; when Twilio
// echoes it, a MarkFrame goes upstream (with `cleared` set when the audio was
// discarded by an interruption rather than played), so the pipeline knows
// what the caller actually heard. InterruptionFrame drops everything not yet
// on the wire and sends `clear`. CallControlFrame hangs up or transfers
// (<Dial>) through Twilio's REST API once the audio before it has played. An
// EndFrame waits (up to `end_timeout`) for the audio to play, hangs up
// (`hang_up_on_end`, when REST credentials are configured), then closes the
// stream.
//
// Input:   mu-law 8000 Hz mono.
// Output:  none (a sink; place it last).
// Options: chunk, end_timeout, hang_up_on_end.
//
// Example config:
//   - type: TwilioOutput
//     chunk: 10ms
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framework/options.h"
#include "framework/registry.h"
#include "framework/stream_format.h"
#include "framework/transport/transport_output.h"

namespace voxpipe {
class MetricHistogram;
}

namespace voxpipe::twilio {

class TwilioStream;

struct TwilioOutputOptions {
  std::chrono::milliseconds chunk{10};
  std::chrono::milliseconds end_timeout{std::chrono::seconds(5)};
  bool hang_up_on_end = true;
  std::chrono::milliseconds progress_marks{std::chrono::seconds(1)};

  static void Declare(Schema<TwilioOutputOptions>& s) {
    s.Field("chunk", &TwilioOutputOptions::chunk, "Smallest media message; shorter frames are batched")
        .Range(0, 1000);
    s.Field("end_timeout", &TwilioOutputOptions::end_timeout,
            "How long an EndFrame or hang-up waits for queued audio to play");
    s.Field("hang_up_on_end", &TwilioOutputOptions::hang_up_on_end,
            "Hang up through the REST API when the pipeline ends the call (needs account_sid and auth_token)");
    s.Field("progress_marks", &TwilioOutputOptions::progress_marks,
            "A mark every this much audio sent, so that Twilio's echoes tell how far the caller heard (recordings "
            "cut an interrupted turn there); 0: only at the end of turns")
        .Range(0, 60000);
  }
};

class TwilioOutput : public TransportOutput {
 public:
  using Options = TwilioOutputOptions;
  static constexpr const char* kServer = "twilio";
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit TwilioOutput(const Options& options);
  ~TwilioOutput() override;
  void Process(Frame frame, Direction direction) override;
  void OnInterruption() override;

  // From the call's stream (on its loop).
  void OnMarkEchoed(const std::string& name);
  void OnStreamClosed() override;

  // Marks sent and not yet echoed (tests, metrics).
  size_t outstanding_marks() const { return outstanding_.size(); }

 private:
  struct SentMark {
    std::string name;
    bool internal = false;  // ours (end of playback, progress), not reported upstream
    bool cleared = false;
    int64_t position = 0;   // audio sent before it, in samples
  };

  Status OpenOutput() override;
  void CloseOutput() override;
  void SendAudio(const Frame& frame, const EncodedAudioFrame& audio);
  void SendMedia(std::span<const uint8_t> mulaw);
  bool SendClear();
  void Flush();
  void SendMark(std::string name, bool internal);
  void Interrupt(Frame frame);
  // Runs `action` once the audio sent so far has played, the stream closed,
  // or end_timeout passed.
  void AfterPlayback(std::function<void()> action);
  void RunPendingAction();
  void OnPlaybackTimeout();
  void Control(const CallControlFrame& control);
  void Observe(Clock::time_point ingress);

  Options options_;
  size_t chunk_bytes_;
  TwilioStream* stream_ = nullptr;
  std::vector<uint8_t> pending_;
  Clock::time_point pending_ingress_{};
  std::deque<SentMark> outstanding_;
  std::function<void()> pending_action_;
  std::unique_ptr<boost::asio::steady_timer> timer_;        // playback wait
  std::unique_ptr<boost::asio::steady_timer> flush_timer_;  // a batch's deadline
  bool flush_armed_ = false;
  MetricHistogram* latency_ = nullptr;
  int turn_ = 0;
  int drain_marks_ = 0;
  int progress_marks_ = 0;
  int64_t sent_samples_ = 0;
  int64_t last_progress_ = 0;  // sent_samples_ at the last progress mark
  bool ending_ = false;
};

}  // namespace voxpipe::twilio
