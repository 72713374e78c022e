#include "processors/twilio/twilio_input.h"

namespace voxpipe::twilio {

ProcessorDoc TwilioInput::Doc() {
  return {
      .summary = "Caller audio, DTMF and call metadata from a Twilio Media Stream",
      .description = "The first stage of a pipeline served by `server: {type: twilio}`. Each 20 ms `media` "
                     "message becomes a mu-law frame; `dtmf` a DtmfFrame; the StartFrame carries call_sid, "
                     "stream_sid, from, to and the TwiML <Parameter>s. `stop` or a closed socket end the "
                     "pipeline. Malformed messages are counted, logged and reported as non-fatal errors.",
      .input = "none (a source; place it first)",
      .output = "mu-law 8000 Hz mono",
      .example = "- type: TwilioInput",
  };
}

Result<StreamFormat> TwilioInput::Negotiate(const Options&, const StreamFormat& input) {
  if (input.is_audio()) return Status::Error("TwilioInput is a source: place it first in the pipeline");
  return StreamFormat::Mulaw(8000);
}

REGISTER_PROCESSOR(TwilioInput);

}  // namespace voxpipe::twilio
