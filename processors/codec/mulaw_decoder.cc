#include "processors/codec/mulaw_decoder.h"

#include "framework/buffer_pool.h"
#include "processors/common/g711.h"

namespace voxpipe {

ProcessorDoc MulawDecoder::Doc() {
  return {
      .summary = "G.711 mu-law to 16-bit PCM (bit-exact with ITU-T G.191)",
      .description = "Decodes mu-law audio, as a phone network sends it, to linear PCM at the same rate. "
                     "Frames other than mu-law audio pass through unchanged.",
      .input = "mu-law, any rate, mono",
      .output = "PCM s16le, the input's rate, mono",
      .example = "- type: MulawDecoder",
  };
}

Result<StreamFormat> MulawDecoder::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kMulaw) return Status::Error("expects mu-law audio");
  return StreamFormat::Pcm16(input.sample_rate, input.channels);
}

void MulawDecoder::Process(Frame frame, Direction direction) {
  auto* encoded = frame.As<EncodedAudioFrame>();
  if (!encoded || direction != Direction::kDownstream) return PushFrame(std::move(frame), direction);
  AudioFrame audio{encoded->sample_rate, encoded->channels, BufferPool<int16_t>::Take(encoded->bytes.size())};
  audio.samples.resize(encoded->bytes.size());
  g711::MulawDecode(encoded->bytes, audio.samples);
  PushFrame(Frame::Derive(frame, std::move(audio)), direction);
}

REGISTER_PROCESSOR(MulawDecoder);

}  // namespace voxpipe
