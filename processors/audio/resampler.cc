#include "processors/audio/resampler.h"

#include <soxr.h>

#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/buffer_pool.h"

namespace voxpipe {

struct Resampler::Soxr {
  soxr_t handle = nullptr;
  ~Soxr() {
    if (handle) soxr_delete(handle);
  }
};

namespace {

unsigned long RecipeOf(const std::string& quality) {
  if (quality == "quick") return SOXR_QQ;
  if (quality == "low") return SOXR_LQ;
  if (quality == "medium") return SOXR_MQ;
  if (quality == "very_high") return SOXR_VHQ;
  return SOXR_HQ;
}

unsigned long PhaseOf(const std::string& phase) {
  if (phase == "minimum") return SOXR_MINIMUM_PHASE;
  if (phase == "intermediate") return SOXR_INTERMEDIATE_PHASE;
  return SOXR_LINEAR_PHASE;
}

}  // namespace

void Resampler::Options::Declare(Schema<Options>& s) {
  s.Field("rate", &Options::rate, "Output sample rate in Hz").Required().Range(1000, 384000);
  s.Field("engine", &Options::engine, "fir: low delay (default); soxr: libsoxr, higher precision, more delay")
      .OneOf({"fir", "soxr"});
  s.Field("quality", &Options::quality, "libsoxr quality recipe (engine soxr)")
      .OneOf({"quick", "low", "medium", "high", "very_high"});
  s.Field("phase", &Options::phase, "libsoxr filter phase response (engine soxr)")
      .OneOf({"linear", "intermediate", "minimum"});
  s.Field("on_interruption", &Options::on_interruption,
          "reset: drop what the filter holds of interrupted audio; keep: carry on")
      .OneOf({"reset", "keep"});
}

ProcessorDoc Resampler::Doc() {
  return {
      .summary = "Changes the sample rate of PCM audio, streaming (a low-delay FIR; libsoxr on request)",
      .description = "Keeps the filter state across frames, flushes the filter's tail at the end of the stream, "
                     "and on an interruption (the bot's audio cut off) drops the held samples unless "
                     "on_interruption is keep. Typical phone use: 8000 -> 16000 for the caller's audio into "
                     "the model, 24000 -> 8000 for the model's voice out to the caller.\n"
                     "engine fir (default): polyphase FIR, ~3.5 ms delay at phone rates, in-band within 0.1 dB, "
                     "aliases and images below -60 dB. engine soxr: libsoxr streaming, 40-120 ms delay.",
      .input = "PCM s16le, any rate",
      .output = "PCM s16le at `rate`",
      .example = "- type: Resampler\n  rate: 16000",
  };
}

Result<StreamFormat> Resampler::Negotiate(const Options& options, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kPcm16) {
    return Status::Error(input.kind == StreamFormat::Kind::kMulaw
                             ? "expects PCM s16le audio; put a MulawDecoder before it"
                             : "expects PCM s16le audio");
  }
  return StreamFormat::Pcm16(options.rate, input.channels);
}

Resampler::Resampler(const Options& options) : options_(options) {}
Resampler::~Resampler() = default;

double Resampler::delay() const {
  if (fir_) return fir_->delay();
  return soxr_ && soxr_->handle ? soxr_delay(soxr_->handle) : 0.0;
}

Status Resampler::Configure(int input_rate, int channels) {
  soxr_.reset();
  fir_.reset();
  input_rate_ = input_rate;
  channels_ = channels;
  if (input_rate == options_.rate) return OkStatus();
  if (options_.engine == "fir") {
    fir_ = PolyphaseResampler::Create(input_rate, options_.rate, channels);
    if (fir_) return OkStatus();
    spdlog::info("{}: {} -> {} Hz needs too long a filter for engine fir; using libsoxr", name(), input_rate,
                 options_.rate);
  }
  soxr_error_t error = nullptr;
  soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
  io.flags |= SOXR_NO_DITHER;  // deterministic output; the input is already 16-bit
  soxr_quality_spec_t quality = soxr_quality_spec(RecipeOf(options_.quality), PhaseOf(options_.phase));
  auto soxr = std::make_unique<Soxr>();
  soxr_runtime_spec_t runtime = soxr_runtime_spec(1);  // never OpenMP threads: one strand, one core
  soxr->handle = soxr_create(input_rate, options_.rate, static_cast<unsigned>(channels), &error, &io, &quality, &runtime);
  if (error) return Status::Error(fmt::format("libsoxr: {}", error));
  soxr_ = std::move(soxr);
  return OkStatus();
}

void Resampler::Process(Frame frame, Direction direction) {
  if (direction == Direction::kDownstream) {
    if (auto* audio = frame.As<AudioFrame>()) {
      if (audio->sample_rate <= 0 || audio->channels <= 0) return PushError("audio frame without a sample rate");
      if (audio->sample_rate != input_rate_ || audio->channels != channels_) {
        if (input_rate_ != 0) Flush(frame);
        if (Status s = Configure(audio->sample_rate, audio->channels); !s.ok()) return PushError(s.message(), true);
      }
      if (!active()) return PushFrame(std::move(frame), direction);  // already at the output rate
      return Resample(frame, *audio);
    }
    if (frame.Is<EndFrame>()) Flush(frame);
  }
  PushFrame(std::move(frame), direction);
}

void Resampler::Resample(const Frame& input, const AudioFrame& audio) {
  if (fir_) {
    AudioFrame out{options_.rate, channels_,
                   BufferPool<int16_t>::Take(size_t(double(audio.samples.size()) * options_.rate / input_rate_) +
                                             2 * channels_)};
    fir_->Process(audio.samples, out.samples);
    if (!out.samples.empty()) PushFrame(Frame::Derive(input, std::move(out)));
    return;
  }
  size_t in_frames = audio.samples.size() / channels_;
  // Output for this input plus what the filter may release from before.
  size_t capacity = size_t(std::ceil(double(in_frames) * options_.rate / input_rate_)) + 64;
  scratch_.resize(capacity * channels_);
  size_t done_in = 0;
  size_t done_out = 0;
  soxr_error_t error = soxr_process(soxr_->handle, audio.samples.data(), in_frames, &done_in, scratch_.data(),
                                    capacity, &done_out);
  if (error) return PushError(fmt::format("libsoxr: {}", error));
  if (done_out == 0) return;  // the filter is still filling; nothing to pass on yet
  AudioFrame out{options_.rate, channels_, BufferPool<int16_t>::Take(done_out * channels_)};
  out.samples.assign(scratch_.begin(), scratch_.begin() + done_out * channels_);
  PushFrame(Frame::Derive(input, std::move(out)));
}

void Resampler::Flush(const Frame& cause) {
  AudioFrame out{options_.rate, channels_, {}};
  if (fir_) {
    fir_->Flush(out.samples);
    if (!out.samples.empty()) PushFrame(Frame::Derive(cause, std::move(out)));
    return;
  }
  if (!soxr_) return;
  scratch_.resize(1024 * channels_);
  for (;;) {
    size_t done_out = 0;
    soxr_process(soxr_->handle, nullptr, 0, nullptr, scratch_.data(), 1024, &done_out);
    if (done_out == 0) break;
    out.samples.insert(out.samples.end(), scratch_.begin(), scratch_.begin() + done_out * channels_);
  }
  if (!out.samples.empty()) PushFrame(Frame::Derive(cause, std::move(out)));
  // A flushed stream cannot take more input; start afresh for what follows.
  soxr_clear(soxr_->handle);
}

void Resampler::OnInterruption() {
  if (options_.on_interruption != "reset") return;
  if (fir_) fir_->Reset();
  if (soxr_) soxr_clear(soxr_->handle);
}

void Resampler::Close() {
  soxr_.reset();
  fir_.reset();
}

REGISTER_PROCESSOR(Resampler);

}  // namespace voxpipe
