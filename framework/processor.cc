#include "framework/processor.h"

#include "framework/pipeline_context.h"

namespace voxpipe {

void Processor::Deliver(Frame frame, Direction direction) {
  if (direction == Direction::kDownstream && frame.Is<InterruptionFrame>()) OnInterruption();
  Process(std::move(frame), direction);
}

void Processor::PushFrame(Frame frame, Direction direction) {
  if (context_) {
    if (context_->closed()) return;
    context_->NotifyPush(*this, frame, direction);
  }
  Processor* next = direction == Direction::kDownstream ? downstream_ : upstream_;
  if (next) next->Deliver(std::move(frame), direction);
}

void Processor::BroadcastInterruption() {
  PushFrame(Frame::Make(InterruptionFrame{}), Direction::kUpstream);
  PushFrame(Frame::Make(InterruptionFrame{}), Direction::kDownstream);
}

void Processor::PushError(std::string message, bool fatal) {
  PushFrame(Frame::Make(ErrorFrame{std::move(message), fatal, name_}), Direction::kUpstream);
}

}  // namespace voxpipe
