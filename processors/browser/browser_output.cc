#include "processors/browser/browser_output.h"

#include <algorithm>
#include <span>

#include <fmt/format.h>

#include "framework/metrics.h"
#include "framework/pipeline_context.h"
#include "processors/browser/browser_session.h"
#include "processors/browser/pipecat_frames.h"

namespace voxpipe::browser {
namespace {

MetricCounter& AudioBytesOut() {
  static MetricCounter& counter = Metrics::Global().Counter(
      "voxpipe_browser_audio_bytes_total", "PCM16 audio bytes on browser sessions", {{"direction", "out"}});
  return counter;
}

std::chrono::microseconds SamplesToTime(int64_t samples) {
  return std::chrono::microseconds(samples * 1'000'000 / BrowserOutput::kSampleRate);
}

}  // namespace

ProcessorDoc BrowserOutput::Doc() {
  return {
      .summary = "Bot audio and RTVI events to a browser (Pipecat's client protocol), paced in real time",
      .description = "The last stage of a pipeline served by `server: {type: browser}`. 24 kHz audio leaves in "
                     "messages of at most `chunk`, `lead` ahead of real time (the client plays what it has "
                     "and cannot flush it). InterruptionFrame drops unsent audio and sends user-started-speaking, "
                     "bot-interrupted, bot-stopped-speaking. Turns send bot-started/stopped-speaking; "
                     "transcripts user-transcription, bot-transcription and bot-output; model text bot-llm-text.",
      .input = "PCM 24000 Hz mono",
      .output = "none (a sink; place it last)",
      .example = "- type: BrowserOutput\n  lead: 50ms",
  };
}

Result<StreamFormat> BrowserOutput::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kPcm16 || input.sample_rate != kSampleRate || input.channels != 1) {
    return Status::Error("expects PCM 24000 Hz mono, what Pipecat's client plays (add a Resampler with rate: 24000)");
  }
  return StreamFormat::None();
}

BrowserOutput::BrowserOutput(const Options& options)
    : TransportOutput("browser"), options_(options),
      chunk_samples_(std::max<size_t>(1, size_t(options.chunk.count()) * kSampleRate / 1000)) {}

BrowserOutput::~BrowserOutput() = default;

Status BrowserOutput::OpenOutput() {
  session_ = dynamic_cast<BrowserSession*>(&session());
  if (!session_) return Status::Error("BrowserOutput needs a browser session");
  timer_ = std::make_unique<boost::asio::steady_timer>(context().executor());
  return OkStatus();
}

void BrowserOutput::CloseOutput() {
  if (timer_) timer_->cancel();
}

void BrowserOutput::Process(Frame frame, Direction direction) {
  if (direction == Direction::kUpstream) return PushFrame(std::move(frame), direction);
  if (const auto* audio = frame.As<AudioFrame>()) return OnAudio(*audio);
  if (const auto* transcription = frame.As<TranscriptionFrame>()) {
    OnTranscription(*transcription);
    return PushFrame(std::move(frame), direction);
  }
  if (const auto* text = frame.As<TextFrame>()) {
    session_->SendRtvi("bot-llm-text", {{"text", text->text}});
    return PushFrame(std::move(frame), direction);
  }
  if (frame.Is<EndOfTurnFrame>()) {
    turn_ended_ = true;
    Pump();
    return PushFrame(std::move(frame), direction);
  }
  if (frame.Is<InterruptionFrame>()) return PushFrame(std::move(frame), direction);  // OnInterruption did the work
  if (frame.Is<EndFrame>()) {
    end_ = std::move(frame);
    return Pump();
  }
  PushFrame(std::move(frame), direction);
}

void BrowserOutput::OnAudio(const AudioFrame& audio) {
  if (!session_->stream_open() || audio.samples.empty()) return;
  if (read_ == pending_.size()) {
    pending_.clear();
    read_ = 0;
  }
  pending_.insert(pending_.end(), audio.samples.begin(), audio.samples.end());
  turn_ended_ = false;
  Pump();
}

// The listener's clock: a stretch of audio starts playing when its first
// message is sent (plus the network, the same for every message); a gap
// longer than what was sent ends it and the next audio starts a new one.
void BrowserOutput::Pump() {
  auto now = Clock::now();
  if (pending_samples() > 0) {
    if (!bot_speaking_ || now > played_out()) {
      play_start_ = now;
      sent_samples_ = 0;
    }
    if (!bot_speaking_) {
      bot_speaking_ = true;
      UserStopped();
      session_->SendRtvi("bot-started-speaking");
    }
    std::string message;
    while (pending_samples() > 0 && play_start_ + SamplesToTime(sent_samples_) <= now + options_.lead) {
      size_t n = std::min(chunk_samples_, pending_samples());
      message = session_->TakeBuffer();
      EncodePipecatAudio(message, std::span<const int16_t>(pending_).subspan(read_, n), kSampleRate, 1);
      if (!session_->Send(std::move(message), /*binary=*/true)) {
        // Closed, or the client stopped reading: what is left cannot be heard in time.
        pending_.clear();
        read_ = 0;
        break;
      }
      AudioBytesOut().Increment(n * 2);
      read_ += n;
      sent_samples_ += int64_t(n);
    }
    if (pending_samples() > 0) return ArmTimer(play_start_ + SamplesToTime(sent_samples_) - options_.lead);
  }
  // Everything is sent.
  if (end_) {
    Frame end = std::move(*end_);
    end_.reset();
    BotStopped();
    return PushFrame(std::move(end), Direction::kDownstream);
  }
  if (bot_speaking_ && turn_ended_) {
    if (now >= played_out()) return BotStopped();
    ArmTimer(played_out());
  }
}

Clock::time_point BrowserOutput::played_out() const { return play_start_ + SamplesToTime(sent_samples_); }

void BrowserOutput::ArmTimer(Clock::time_point at) {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_->expires_at(at);
  timer_->async_wait(context().OnTimer([this] { OnTimer(); }));
}

void BrowserOutput::OnTimer() {
  timer_armed_ = false;
  Pump();
}

void BrowserOutput::OnInterruption() {
  size_t dropped = pending_samples();
  pending_.clear();
  read_ = 0;
  // What is already queued on the socket is at most `lead` of audio (and
  // events the page still wants); it goes before bot-interrupted.
  if (timer_armed_) {
    timer_armed_ = false;
    timer_->cancel();
  }
  UserStarted();
  session_->SendRtvi("bot-interrupted", {{"dropped_ms", SamplesToTime(int64_t(dropped)).count() / 1000}});
  BotStopped();
  turn_ended_ = false;
}

void BrowserOutput::OnStreamClosed() {
  pending_.clear();
  read_ = 0;
  if (end_) Pump();
}

void BrowserOutput::OnTranscription(const TranscriptionFrame& t) {
  if (t.speaker == TranscriptionFrame::Speaker::kUser) {
    UserStarted();
    session_->SendRtvi("user-transcription", {{"text", t.text}, {"final", t.final}, {"user_id", "user"},
                                              {"timestamp", fmt::format("{}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                                  std::chrono::system_clock::now().time_since_epoch())
                                                                                  .count())}});
    if (t.final) UserStopped();
    return;
  }
  session_->SendRtvi("bot-transcription", {{"text", t.text}});
  session_->SendRtvi("bot-output", {{"text", t.text}, {"spoken", true}, {"aggregated_by", "word"}});
}

void BrowserOutput::UserStarted() {
  if (user_speaking_) return;
  user_speaking_ = true;
  session_->SendRtvi("user-started-speaking");
}

void BrowserOutput::UserStopped() {
  if (!user_speaking_) return;
  user_speaking_ = false;
  session_->SendRtvi("user-stopped-speaking");
}

void BrowserOutput::BotStopped() {
  if (!bot_speaking_) return;
  bot_speaking_ = false;
  session_->SendRtvi("bot-stopped-speaking");
}

REGISTER_PROCESSOR(BrowserOutput);

}  // namespace voxpipe::browser
