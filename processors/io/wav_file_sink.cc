#include "processors/io/wav_file_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace voxpipe {

void WavFileSink::Options::Declare(Schema<Options>& s) {
  s.Field("path", &Options::path, "WAV file to write (created or overwritten)").Required();
}

ProcessorDoc WavFileSink::Doc() {
  return {
      .summary = "Writes the audio it receives to a WAV file, in its format",
      .description = "PCM s16le is written as 16-bit PCM WAV, mu-law as G.711 mu-law WAV, at the rate of the "
                     "audio. The file is finalised when the pipeline closes. Put it in a `parallel` branch to "
                     "record beside the main path.",
      .input = "PCM s16le or mu-law, any rate",
      .output = "no audio (other frames pass through)",
      .example = "- type: WavFileSink\n  path: caller_heard.wav",
  };
}

Result<StreamFormat> WavFileSink::Negotiate(const Options&, const StreamFormat& input) {
  if (!input.is_audio()) return Status::Error("expects audio (PCM s16le or mu-law)");
  return StreamFormat::None();
}

Status WavFileSink::Open() {
  if (input_format().sample_rate > 0) return EnsureWriter(input_format());
  return OkStatus();
}

Status WavFileSink::EnsureWriter(const StreamFormat& format) {
  if (writer_) {
    if (writer_->format() == format) return OkStatus();
    return Status::Error(fmt::format("{}: got {} after {}; dropped", options_.path, format.ToString(),
                                     writer_->format().ToString()));
  }
  auto writer = wav::Writer::Open(options_.path, format);
  if (!writer.ok()) return writer.status();
  writer_ = std::move(writer).value();
  return OkStatus();
}

void WavFileSink::Process(Frame frame, Direction direction) {
  Status written;
  if (auto* audio = frame.As<AudioFrame>()) {
    written = EnsureWriter(StreamFormat::Pcm16(audio->sample_rate, audio->channels));
    if (written.ok()) written = writer_->Write(std::span<const int16_t>(audio->samples));
  } else if (auto* encoded = frame.As<EncodedAudioFrame>()) {
    written = EnsureWriter(StreamFormat::Mulaw(encoded->sample_rate, encoded->channels));
    if (written.ok()) written = writer_->Write(std::span<const uint8_t>(encoded->bytes));
  } else {
    return PushFrame(std::move(frame), direction);
  }
  if (!written.ok() && !reported_mismatch_) {
    reported_mismatch_ = true;  // once: a stream of identical errors helps nobody
    PushError(written.message());
  }
}

void WavFileSink::Close() {
  if (!writer_) return;
  const auto& f = writer_->format();
  double seconds = f.sample_rate > 0 ? double(writer_->samples_written()) / (f.sample_rate * f.channels) : 0;
  if (Status s = writer_->Close(); !s.ok()) {
    spdlog::error("{}", s.message());
  } else {
    spdlog::info("wrote {} ({:.2f} s of {})", options_.path, seconds, f.ToString());
  }
  writer_.reset();
}

REGISTER_PROCESSOR(WavFileSink);

}  // namespace voxpipe
