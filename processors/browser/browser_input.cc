#include "processors/browser/browser_input.h"

#include "processors/browser/browser_session.h"

namespace voxpipe::browser {

ProcessorDoc BrowserInput::Doc() {
  return {
      .summary = "Microphone audio and typed text from a browser (Pipecat's client protocol)",
      .description = "The first stage of a pipeline served by `server: {type: browser}`. Each binary "
                     "pipecat.Frame with audio becomes a 16 kHz mono PCM frame; RTVI `send-text` a TextFrame. "
                     "Errors travelling upstream reach the browser as RTVI `error` (fatal as raised). "
                     "`disconnect-bot` or a closed socket end the pipeline.",
      .input = "none (a source; place it first)",
      .output = "PCM 16000 Hz mono",
      .example = "- type: BrowserInput",
  };
}

Result<StreamFormat> BrowserInput::Negotiate(const Options&, const StreamFormat& input) {
  if (input.is_audio()) return Status::Error("BrowserInput is a source: place it first in the pipeline");
  return StreamFormat::Pcm16(kSampleRate, 1);
}

void BrowserInput::Process(Frame frame, Direction direction) {
  if (direction == Direction::kUpstream) {
    if (const auto* error = frame.As<ErrorFrame>()) {
      static_cast<BrowserSession&>(session()).SendError(error->message, error->fatal);
    }
  }
  PushFrame(std::move(frame), direction);
}

REGISTER_PROCESSOR(BrowserInput);

}  // namespace voxpipe::browser
