#include "gain.h"

#include <algorithm>
#include <cmath>

namespace example {

using namespace voxpipe;

ProcessorDoc Gain::Doc() {
  return {
      .summary = "Changes the loudness of PCM audio (example plugin)",
      .description = "Multiplies every sample by 10^(db/20), saturating at the 16-bit limits.",
      .input = "PCM s16le, any rate",
      .output = "PCM s16le, same format",
      .example = "- type: Gain\n  db: -6",
  };
}

Result<StreamFormat> Gain::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kPcm16) return Status::Error("expects PCM s16le audio");
  return input;
}

Gain::Gain(const Options& options) : factor_(std::pow(10.0, options.db / 20.0)) {}

void Gain::Process(Frame frame, Direction direction) {
  auto* audio = frame.As<AudioFrame>();
  if (!audio || direction != Direction::kDownstream) return PushFrame(std::move(frame), direction);
  AudioFrame out{audio->sample_rate, audio->channels, std::vector<int16_t>(audio->samples.size())};
  std::transform(audio->samples.begin(), audio->samples.end(), out.samples.begin(), [this](int16_t s) {
    return static_cast<int16_t>(std::clamp(std::lround(s * factor_), -32768L, 32767L));
  });
  PushFrame(Frame::Derive(frame, std::move(out)), direction);
}

REGISTER_PROCESSOR(Gain);

}  // namespace example
