// TwilioInput: the caller's side of a Twilio Media Stream, as frames.
//
// The source of a phone pipeline served by `server: {type: twilio}`: the
// stream's `media` become mu-law audio frames (stamped with their arrival
// time, for latency figures), `dtmf` becomes DtmfFrame, and the call's
// metadata (CallSid, StreamSid, From, To and the <Parameter>s of the TwiML)
// arrives in the StartFrame. `stop` or a closed socket end the pipeline.
// Malformed messages are counted and reported as non-fatal errors; a stream
// that keeps sending them is closed.
//
// Input:   none (place it first).
// Output:  mu-law 8000 Hz mono.
// Options: none.
//
// Place it first in a pipeline file whose `server:` is `{type: twilio}`,
// with a TwilioOutput last (pipelines/twilio_echo.yaml is the smallest).
//
// Example config:
//   - type: TwilioInput
#pragma once

#include "framework/options.h"
#include "framework/registry.h"
#include "framework/stream_format.h"
#include "framework/transport/transport_input.h"

namespace voxpipe::twilio {

class TwilioInput : public TransportInput {
 public:
  using Options = NoOptions;
  static constexpr const char* kServer = "twilio";
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit TwilioInput(const Options&) : TransportInput("twilio") {}
};

}  // namespace voxpipe::twilio
