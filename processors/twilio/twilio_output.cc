#include "processors/twilio/twilio_output.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/metrics.h"
#include "framework/pipeline_context.h"
#include "processors/twilio/twilio_serializer.h"
#include "processors/twilio/twilio_stream.h"

namespace voxpipe::twilio {

namespace {
constexpr size_t kBytesPerMs = 8;  // mu-law, 8000 Hz, mono
// A message carries at most this much audio, so one huge frame does not
// become a message near the WebSocket size limits.
constexpr size_t kMaxMessageBytes = 8000;  // 1 s

struct OutputMetrics {
  MetricCounter& audio_out = Metrics::Global().Counter("voxpipe_twilio_audio_bytes_total",
                                                       "Mu-law audio bytes on media streams", {{"direction", "out"}});
  MetricCounter& clears = Metrics::Global().Counter("voxpipe_twilio_clears_total", "`clear` messages sent");
  MetricHistogram& latency = Metrics::Global().Histogram(
      "voxpipe_twilio_output_latency_seconds",
      "From the input a media message derives from (Twilio media or model audio) to the media message queued for "
      "Twilio");
};

OutputMetrics& Stats() {
  static OutputMetrics stats;
  return stats;
}

}  // namespace

ProcessorDoc TwilioOutput::Doc() {
  return {
      .summary = "Sends audio, marks and clears on the call's Twilio Media Stream",
      .description = "The last stage of a pipeline served by `server: {type: twilio}`. Audio leaves as `media` "
                     "messages of at least `chunk`; a `mark` follows each bot turn (EndOfTurnFrame) and each "
                     "MarkFrame, and its echo goes upstream as MarkFrame (cleared=true when an interruption "
                     "discarded the audio). InterruptionFrame drops unsent audio and sends `clear`. "
                     "CallControlFrame hangs up or transfers (<Dial>) via the REST API after the audio before it "
                     "has played. EndFrame waits for playback (up to end_timeout), hangs up, closes the stream.",
      .input = "mu-law 8000 Hz mono",
      .output = "none (a sink; place it last)",
      .example = "- type: TwilioOutput\n  chunk: 10ms",
  };
}

Result<StreamFormat> TwilioOutput::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kMulaw || input.sample_rate != 8000 || input.channels != 1) {
    return Status::Error("expects mu-law 8000 Hz mono (add a Resampler with rate: 8000 and a MulawEncoder before it)");
  }
  return StreamFormat::None();
}

TwilioOutput::TwilioOutput(const Options& options)
    : TransportOutput("twilio"), options_(options), chunk_bytes_(std::max<size_t>(1, options.chunk.count() * kBytesPerMs)) {
  pending_.reserve(chunk_bytes_ * 2);
}

TwilioOutput::~TwilioOutput() = default;

Status TwilioOutput::OpenOutput() {
  stream_ = dynamic_cast<TwilioStream*>(&session());
  if (!stream_) return Status::Error("TwilioOutput needs a Twilio media stream");
  timer_ = std::make_unique<boost::asio::steady_timer>(context().executor());
  flush_timer_ = std::make_unique<boost::asio::steady_timer>(context().executor());
  latency_ = &Stats().latency;
  return OkStatus();
}

void TwilioOutput::CloseOutput() {
  if (timer_) timer_->cancel();
  if (flush_timer_) flush_timer_->cancel();
  pending_action_ = nullptr;
}

void TwilioOutput::Process(Frame frame, Direction direction) {
  if (direction == Direction::kUpstream) return PushFrame(std::move(frame), direction);
  if (auto* audio = frame.As<EncodedAudioFrame>()) return SendAudio(frame, *audio);
  if (auto* mark = frame.As<MarkFrame>()) {
    Flush();
    return SendMark(mark->name, false);
  }
  if (frame.Is<EndOfTurnFrame>()) {
    Flush();
    SendMark(fmt::format("turn-{}", ++turn_), false);
    return PushFrame(std::move(frame), direction);
  }
  if (frame.Is<InterruptionFrame>()) return Interrupt(std::move(frame));
  if (auto* control = frame.As<CallControlFrame>()) return Control(*control);
  if (frame.Is<EndFrame>()) {
    if (ending_) return;  // a second end (e.g. the caller hung up meanwhile) joins the first
    ending_ = true;
    Flush();
    auto finish = [this, frame = std::move(frame)]() mutable {
      if (options_.hang_up_on_end && !stream_->ended_remotely()) stream_->HangUp();
      stream_->CloseStream("pipeline ended");
      PushFrame(std::move(frame), Direction::kDownstream);
    };
    // Nobody is listening once the caller hung up: nothing to wait for.
    if (stream_->ended_remotely() || !stream_->stream_open()) return finish();
    return AfterPlayback(std::move(finish));
  }
  PushFrame(std::move(frame), direction);
}

void TwilioOutput::SendAudio(const Frame& frame, const EncodedAudioFrame& audio) {
  if (!stream_->stream_open() || audio.bytes.empty()) return;
  std::span<const uint8_t> bytes(audio.bytes);
  if (pending_.empty() && bytes.size() >= chunk_bytes_) {
    // The common case: a whole frame is a message; no copy.
    while (!bytes.empty()) {
      size_t n = std::min(bytes.size(), kMaxMessageBytes);
      SendMedia(bytes.first(n));
      bytes = bytes.subspan(n);
    }
    return Observe(frame.ingress);
  }
  if (pending_.empty()) pending_ingress_ = frame.ingress;
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  if (pending_.size() >= chunk_bytes_) return Flush();
  // A short tail must not wait for audio that may never come.
  if (!flush_armed_) {
    flush_armed_ = true;
    flush_timer_->expires_after(options_.chunk);
    flush_timer_->async_wait(context().OnTimer([this] {
      flush_armed_ = false;
      Flush();
    }));
  }
}

void TwilioOutput::Flush() {
  if (flush_armed_) {
    flush_armed_ = false;
    flush_timer_->cancel();
  }
  if (pending_.empty()) return;
  std::span<const uint8_t> bytes(pending_);
  while (!bytes.empty()) {
    size_t n = std::min(bytes.size(), kMaxMessageBytes);
    SendMedia(bytes.first(n));
    bytes = bytes.subspan(n);
  }
  pending_.clear();
  Observe(pending_ingress_);
}

void TwilioOutput::Observe(Clock::time_point ingress) {
  if (ingress != Clock::time_point{}) latency_->Observe(Clock::now() - ingress);
}

void TwilioOutput::SendMedia(std::span<const uint8_t> mulaw) {
  std::string message = stream_->TakeBuffer();
  AppendMediaMessage(stream_->stream_sid_json(), mulaw, message);
  if (!stream_->Send(std::move(message))) return;
  stream_->counters().frames_out.Add();
  stream_->counters().bytes_out.Add(mulaw.size());
  Stats().audio_out.Increment(mulaw.size());
  if (CallRecording* recording = stream_->recording()) recording->Sent(StreamFormat::Mulaw(8000), mulaw);
  sent_samples_ += static_cast<int64_t>(mulaw.size());
  int64_t every = options_.progress_marks.count() * static_cast<int64_t>(kBytesPerMs);
  if (every > 0 && sent_samples_ - last_progress_ >= every) {
    last_progress_ = sent_samples_;
    SendMark(fmt::format("heard-{}", ++progress_marks_), true);
  }
}

void TwilioOutput::SendMark(std::string name, bool internal) {
  if (!stream_->stream_open()) return;
  std::string message = stream_->TakeBuffer();
  AppendMarkMessage(stream_->stream_sid_json(), name, message);
  if (!stream_->Send(std::move(message))) return;
  outstanding_.push_back({std::move(name), internal, false, sent_samples_});
}

bool TwilioOutput::SendClear() {
  if (!stream_->stream_open()) return false;
  size_t dropped = stream_->DropQueued();
  if (dropped > 0) spdlog::debug("[{}] interruption: {} queued messages dropped", context().call_id(), dropped);
  std::string message = stream_->TakeBuffer();
  AppendClearMessage(stream_->stream_sid_json(), message);
  Stats().clears.Increment();
  if (CallRecording* recording = stream_->recording()) recording->Cleared();
  return stream_->Send(std::move(message));
}

void TwilioOutput::OnInterruption() { pending_.clear(); }

void TwilioOutput::Interrupt(Frame frame) {
  SendClear();
  for (auto& mark : outstanding_) mark.cleared = true;
  PushFrame(std::move(frame), Direction::kDownstream);
}

void TwilioOutput::OnMarkEchoed(const std::string& name) {
  auto it = std::find_if(outstanding_.begin(), outstanding_.end(), [&](const SentMark& m) { return m.name == name; });
  if (it == outstanding_.end()) {
    spdlog::debug("[{}] Twilio echoed a mark we did not send: '{}'", context().call_id(), name);
    return;
  }
  // Twilio plays in order, so the marks before this one are done too.
  std::vector<SentMark> done(std::make_move_iterator(outstanding_.begin()), std::make_move_iterator(it + 1));
  outstanding_.erase(outstanding_.begin(), it + 1);
  CallRecording* recording = stream_->recording();
  for (auto& mark : done) {
    if (recording && !mark.cleared) recording->HeardThrough(mark.position);
    if (!mark.internal) PushFrame(Frame::Make(MarkFrame{std::move(mark.name), mark.cleared}), Direction::kUpstream);
  }
  if (outstanding_.empty()) RunPendingAction();
}

void TwilioOutput::OnStreamClosed() { RunPendingAction(); }

void TwilioOutput::AfterPlayback(std::function<void()> action) {
  if (pending_action_) {
    // E.g. an EndFrame right behind a hang-up: both run, in order.
    action = [first = std::move(pending_action_), then = std::move(action)] {
      first();
      then();
    };
  }
  pending_action_ = std::move(action);
  if (stream_->stream_open()) SendMark(fmt::format("played-{}", ++drain_marks_), true);
  if (outstanding_.empty() || !stream_->stream_open()) return RunPendingAction();
  timer_->expires_after(options_.end_timeout);
  timer_->async_wait(context().OnTimer([this] { OnPlaybackTimeout(); }));
}

void TwilioOutput::OnPlaybackTimeout() {
  spdlog::debug("[{}] playback not confirmed within {} ms; going on", context().call_id(),
                options_.end_timeout.count());
  RunPendingAction();
}

void TwilioOutput::RunPendingAction() {
  if (!pending_action_) return;
  timer_->cancel();
  auto action = std::move(pending_action_);
  pending_action_ = nullptr;
  action();
}

void TwilioOutput::Control(const CallControlFrame& control) {
  Flush();
  AfterPlayback([this, control] {
    if (control.action == CallControlFrame::Action::kTransfer) {
      if (!stream_->Transfer(control.target, control.message)) {
        PushError("cannot transfer the call: Twilio REST credentials (account_sid, auth_token) are not configured");
      }
      return;
    }
    // Without REST credentials, closing the stream ends the call: nothing follows </Connect>.
    if (!stream_->HangUp()) stream_->CloseStream("hang up");
  });
}

REGISTER_PROCESSOR(TwilioOutput);

}  // namespace voxpipe::twilio
