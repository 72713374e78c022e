// TransportOutput: the last stage of a pipeline that a call server feeds,
// sending what the client hears on its connection: the base of TwilioOutput
// and BrowserOutput. It attaches to the call's TransportSession in Open();
// the session tells it when the connection has gone (OnStreamClosed), so
// that nothing waits for playback that can no longer be confirmed.
#pragma once

#include <memory>
#include <string>

#include "framework/processor.h"

namespace voxpipe {

class TransportSession;

class TransportOutput : public Processor {
 public:
  Status Open() override;
  void Close() override;

  // From the session, on the call's loop.
  virtual void OnStreamClosed() {}

 protected:
  explicit TransportOutput(std::string carrier) : carrier_(std::move(carrier)) {}
  TransportSession& session() const { return *session_; }
  // Subclasses open their own resources here; the session is attached.
  virtual Status OpenOutput() { return OkStatus(); }
  virtual void CloseOutput() {}

 private:
  std::string carrier_;
  std::shared_ptr<TransportSession> session_;
};

}  // namespace voxpipe
