// MulawEncoder: 16-bit PCM to G.711 mu-law, bit-exact with ITU-T G.191.
//
// Input:   PCM s16le (AudioFrame), any rate, mono.
// Output:  mu-law at the same rate (EncodedAudioFrame). Other frames pass through.
// Options: none.
//
// Example config:
//   - type: MulawEncoder
#pragma once

#include "framework/options.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/stream_format.h"

namespace voxpipe {

class MulawEncoder : public Processor {
 public:
  using Options = NoOptions;
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit MulawEncoder(const Options&) {}
  void Process(Frame frame, Direction direction) override;
};

}  // namespace voxpipe
