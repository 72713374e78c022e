// TransportInput: the first stage of a pipeline that a call server feeds
// from a client connection (Twilio's media stream, a browser): the base of
// TwilioInput and BrowserInput. In Open() it attaches to the call's
// TransportSession; from then on the session pushes what it parses through
// it (Emit) and reports bad input as non-fatal errors (EmitError).
//
// Subclasses name the carrier they serve and declare their output format;
// the registry's `server` field makes `voxpipe check` refuse them in a
// pipeline file whose server is another (or missing).
#pragma once

#include <memory>
#include <string>

#include "framework/processor.h"

namespace voxpipe {

class TransportSession;

class TransportInput : public Processor {
 public:
  Status Open() override;
  void Close() override;
  void Process(Frame frame, Direction direction) override { PushFrame(std::move(frame), direction); }

  // From the session, on the call's loop (audio goes to the call's record too).
  void Emit(Frame frame);
  void EmitError(std::string message, bool fatal = false) { PushError(std::move(message), fatal); }

 protected:
  explicit TransportInput(std::string carrier) : carrier_(std::move(carrier)) {}
  TransportSession& session() const { return *session_; }

 private:
  std::string carrier_;
  std::shared_ptr<TransportSession> session_;
};

// Shared by TransportInput and TransportOutput: the call's session for a
// processor of `carrier`, or an error that says which server it needs.
Result<std::shared_ptr<TransportSession>> FindSession(const PipelineContext& context, const std::string& processor,
                                                      const std::string& carrier);

}  // namespace voxpipe
