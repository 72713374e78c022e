// Processor: one stage of a pipeline.
//
// Lifecycle. Every call of every method below happens on the pipeline
// instance's event loop, so the processors of one instance never run
// concurrently and need no locks; different instances (calls) run in
// parallel, each on its own event loop.
//   1. Construction, from options already parsed and validated. They
//      outlive the processor (the instance keeps them), so a processor may
//      keep a reference instead of a copy.
//   2. Open(): once, in chain order (head first), before any frame. Acquire
//      resources and start connections here. If it fails, the processors
//      already opened are closed in reverse order and the instance ends with
//      that error; no frame flows.
//   3. Process(frame, direction): once per frame that reaches this stage.
//      Forward what you don't consume with PushFrame(std::move(frame),
//      direction); the engine never forwards on your behalf. Never block:
//      start asynchronous work on context().executor() and push its result
//      from the completion handler.
//      A frame whose content you change is a new frame: push
//      Frame::Derive(input, new_body). Unchanged frames keep their id, which
//      is how a parallel stage's join recognises the copies of one frame.
//   4. Close(): once, after the instance ended (an EndFrame or CancelFrame
//      passed the whole chain, or a fatal error), in chain order. Cancel
//      timers and sockets; frames pushed from now on are dropped.
//
// Interruption. OnInterruption() runs just before Process() receives an
// InterruptionFrame travelling downstream: drop buffered data frames (the
// bot's audio and text on their way to the caller) and keep control frames
// (see frames.h). Forward the frame so the output can tell the transport to
// stop playing. An InterruptionFrame travelling upstream only informs the
// stages before the model; their buffers hold the caller's audio, which is
// never dropped.
//
// Errors. PushError() sends an ErrorFrame upstream. A fatal error reaching
// the head of the pipeline cancels the instance; a non-fatal one is logged
// and counted by the observer. Network data is untrusted: bad input becomes
// an error frame or a counter, never an exception or a crash.
#pragma once

#include <memory>
#include <string>

#include "framework/frames.h"
#include "framework/status.h"
#include "framework/stream_format.h"

namespace voxpipe {

class PipelineContext;
class PipelineInstance;

class Processor {
 public:
  virtual ~Processor() = default;
  Processor() = default;
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  virtual Status Open() { return OkStatus(); }
  virtual void Process(Frame frame, Direction direction) = 0;
  virtual void OnInterruption() {}
  virtual void Close() {}

  // Instance name from YAML (`name:`), else the type name with its position.
  const std::string& name() const { return name_; }
  // The audio format on the link into this stage, as checked when the
  // pipeline was built (sample_rate 0 when only known from the frames).
  const StreamFormat& input_format() const { return input_format_; }

  // Entry point used by the engine and the test harness: runs the
  // interruption hook, then Process().
  void Deliver(Frame frame, Direction direction);

 protected:
  void PushFrame(Frame frame, Direction direction = Direction::kDownstream);
  // Pushes an InterruptionFrame both ways, as a barge-in does.
  void BroadcastInterruption();
  void PushError(std::string message, bool fatal = false);
  PipelineContext& context() const { return *context_; }

 private:
  friend class PipelineInstance;
  friend class Junction;
  friend class ProcessorHarness;

  std::string name_;
  StreamFormat input_format_;
  PipelineContext* context_ = nullptr;
  Processor* downstream_ = nullptr;
  Processor* upstream_ = nullptr;
};

using ProcessorPtr = std::unique_ptr<Processor>;

}  // namespace voxpipe
