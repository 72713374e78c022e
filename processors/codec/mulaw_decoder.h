// MulawDecoder: G.711 mu-law to 16-bit PCM, bit-exact with ITU-T G.191.
//
// Input:   mu-law audio (EncodedAudioFrame), any rate, mono.
// Output:  PCM s16le at the same rate (AudioFrame). Other frames pass through.
// Options: none.
//
// Example config:
//   - type: MulawDecoder
#pragma once

#include "framework/options.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/stream_format.h"

namespace voxpipe {

class MulawDecoder : public Processor {
 public:
  using Options = NoOptions;
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit MulawDecoder(const Options&) {}
  void Process(Frame frame, Direction direction) override;
};

}  // namespace voxpipe
