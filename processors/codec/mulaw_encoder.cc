#include "processors/codec/mulaw_encoder.h"

#include "framework/buffer_pool.h"
#include "processors/common/g711.h"

namespace voxpipe {

ProcessorDoc MulawEncoder::Doc() {
  return {
      .summary = "16-bit PCM to G.711 mu-law (bit-exact with ITU-T G.191)",
      .description = "Encodes linear PCM to mu-law at the same rate, as a phone network expects it. "
                     "Resample to 8000 Hz first for Twilio. Frames other than PCM audio pass through unchanged.",
      .input = "PCM s16le, any rate, mono",
      .output = "mu-law, the input's rate, mono",
      .example = "- type: MulawEncoder",
  };
}

Result<StreamFormat> MulawEncoder::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kPcm16) return Status::Error("expects PCM s16le audio");
  return StreamFormat::Mulaw(input.sample_rate, input.channels);
}

void MulawEncoder::Process(Frame frame, Direction direction) {
  auto* audio = frame.As<AudioFrame>();
  if (!audio || direction != Direction::kDownstream) return PushFrame(std::move(frame), direction);
  EncodedAudioFrame encoded{AudioEncoding::kMulaw, audio->sample_rate, audio->channels,
                            BufferPool<uint8_t>::Take(audio->samples.size())};
  encoded.bytes.resize(audio->samples.size());
  g711::MulawEncode(audio->samples, encoded.bytes);
  PushFrame(Frame::Derive(frame, std::move(encoded)), direction);
}

REGISTER_PROCESSOR(MulawEncoder);

}  // namespace voxpipe
