// BrowserInput: the user's side of a browser voice chat (WS /ws, Pipecat's
// client protocol), as frames.
//
// The source of a pipeline served by `server: {type: browser}`: microphone
// audio arrives as 16 kHz mono PCM16 frames (stamped with their arrival
// time), `send-text` as TextFrame, and the session's id and address in the
// StartFrame. Errors coming upstream from the pipeline reach the browser as
// RTVI `error` messages (`fatal` as raised). `disconnect-bot` or a closed
// socket end the pipeline.
//
// Input:   none (place it first).
// Output:  PCM 16000 Hz mono.
// Options: none.
//
// Example config:
//   - type: BrowserInput
#pragma once

#include "framework/options.h"
#include "framework/registry.h"
#include "framework/stream_format.h"
#include "framework/transport/transport_input.h"

namespace voxpipe::browser {

class BrowserInput : public TransportInput {
 public:
  using Options = NoOptions;
  static constexpr const char* kServer = "browser";
  static constexpr int kSampleRate = 16000;  // what Pipecat's client records
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);

  explicit BrowserInput(const Options&) : TransportInput("browser") {}
  void Process(Frame frame, Direction direction) override;
};

}  // namespace voxpipe::browser
