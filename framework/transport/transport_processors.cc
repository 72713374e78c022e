#include <fmt/format.h>

#include "framework/pipeline_context.h"
#include "framework/transport/transport_input.h"
#include "framework/transport/transport_output.h"
#include "framework/transport/transport_session.h"

namespace voxpipe {

Result<std::shared_ptr<TransportSession>> FindSession(const PipelineContext& context, const std::string& processor,
                                                      const std::string& carrier) {
  auto session = context.Find<TransportSession>();
  if (!session) {
    return Status::Error(fmt::format("{} needs `server: {{type: {}}}` in the pipeline file (no {} call here)",
                                     processor, carrier, carrier));
  }
  if (session->carrier() != carrier) {
    return Status::Error(fmt::format("{} serves {} calls, but this is a {} call", processor, carrier,
                                     session->carrier()));
  }
  return session;
}

Status TransportInput::Open() {
  auto session = FindSession(context(), name(), carrier_);
  if (!session.ok()) return session.status();
  session_ = std::move(session).value();
  session_->Attach(this);
  return OkStatus();
}

void TransportInput::Emit(Frame frame) {
  if (CallRecording* recording = session_->recording()) recording->CallerAudio(frame);
  PushFrame(std::move(frame));
}

void TransportInput::Close() {
  if (session_) session_->Detach(this);
}

Status TransportOutput::Open() {
  auto session = FindSession(context(), name(), carrier_);
  if (!session.ok()) return session.status();
  session_ = std::move(session).value();
  session_->Attach(this);
  return OpenOutput();
}

void TransportOutput::Close() {
  CloseOutput();
  if (session_) session_->Detach(this);
}

}  // namespace voxpipe
