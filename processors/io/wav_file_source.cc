#include "processors/io/wav_file_source.h"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "framework/pipeline_context.h"

namespace voxpipe {

void WavFileSource::Options::Declare(Schema<Options>& s) {
  s.Field("path", &Options::path, "WAV file to play (16-bit PCM or mu-law)").Required();
  s.Field("realtime", &Options::realtime, "Pace frames at the audio's own speed");
  s.Field("frame", &Options::frame, "Duration of each frame").Range(1, 1000);
  s.Field("pad_end", &Options::pad_end, "Silence appended after the file").Range(0, 600'000);
  s.Field("end", &Options::end, "Send an EndFrame after the file");
}

ProcessorDoc WavFileSource::Doc() {
  return {
      .summary = "Plays a WAV file (16-bit PCM or mu-law) into the pipeline",
      .description = "Reads the whole file when the pipeline opens, then on the StartFrame sends it in frames of "
                     "`frame` duration, paced in real time or as fast as the pipeline takes them, optionally "
                     "followed by silence, and ends the pipeline with an EndFrame.",
      .input = "nothing (a source)",
      .output = "the file's format: PCM s16le or mu-law, the file's rate",
      .example = "- type: WavFileSource\n  path: tests/data/audio/caller_visiting_hours_8k_mulaw.wav\n  realtime: true",
  };
}

Result<StreamFormat> WavFileSource::Negotiate(const Options& options, const StreamFormat& input) {
  if (input.is_audio()) return Status::Error("is a source and takes no audio input; put it first");
  auto format = wav::Probe(options.path);
  if (!format.ok()) return format.status();
  return *format;
}

Status WavFileSource::Open() {
  auto audio = wav::Read(options_.path);
  if (!audio.ok()) return audio.status();
  audio_ = std::move(audio).value();
  const auto& f = audio_.format;
  frame_samples_ = std::max<size_t>(1, size_t(f.sample_rate) * f.channels * options_.frame.count() / 1000);
  padding_samples_ = size_t(f.sample_rate) * f.channels * options_.pad_end.count() / 1000;
  timer_.emplace(context().executor());
  return OkStatus();
}

void WavFileSource::Close() {
  running_ = false;
  if (timer_) timer_->cancel();
}

void WavFileSource::Process(Frame frame, Direction direction) {
  bool start = frame.Is<StartFrame>() && direction == Direction::kDownstream;
  PushFrame(std::move(frame), direction);
  if (start && !running_) {
    running_ = true;
    started_ = Clock::now();
    ScheduleNext();
  }
}

size_t WavFileSource::total_samples() const { return audio_.samples() + padding_samples_; }

void WavFileSource::ScheduleNext() {
  if (!running_) return;
  auto keep = context().KeepAlive();
  if (!options_.realtime) {
    // Yield to other work on the strand (e.g. a model connection) between frames.
    boost::asio::post(context().executor(), [this, keep] {
      if (!context().closed()) PushNext();
    });
    return;
  }
  timer_->expires_at(started_ + frames_sent_ * options_.frame);
  timer_->async_wait([this, keep](const boost::system::error_code& ec) {
    if (ec || context().closed()) return;
    PushNext();
  });
}

void WavFileSource::PushNext() {
  if (!running_) return;
  if (position_ >= total_samples()) {
    running_ = false;
    if (options_.end) PushFrame(Frame::Make(EndFrame{"end of " + options_.path}));
    return;
  }
  size_t count = std::min(frame_samples_, total_samples() - position_);
  size_t from_file = position_ < audio_.samples() ? std::min(count, audio_.samples() - position_) : 0;
  const auto& f = audio_.format;
  auto now = Clock::now();
  if (f.kind == StreamFormat::Kind::kMulaw) {
    EncodedAudioFrame out{AudioEncoding::kMulaw, f.sample_rate, f.channels, std::vector<uint8_t>(count, 0xFF)};
    std::copy_n(audio_.mulaw.begin() + position_, from_file, out.bytes.begin());
    PushFrame(Frame::Make(std::move(out), now));
  } else {
    AudioFrame out{f.sample_rate, f.channels, std::vector<int16_t>(count, 0)};
    std::copy_n(audio_.pcm.begin() + position_, from_file, out.samples.begin());
    PushFrame(Frame::Make(std::move(out), now));
  }
  position_ += count;
  ++frames_sent_;
  ScheduleNext();
}

REGISTER_PROCESSOR(WavFileSource);

}  // namespace voxpipe
