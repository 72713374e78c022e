// PipelineObserver: the hook through which logs, metrics and tests watch a
// pipeline instance without being part of it (like GStreamer's bus).
// Callbacks run on the instance's strand; keep them short.
#pragma once

#include "framework/frames.h"
#include "framework/status.h"

namespace voxpipe {

class PipelineContext;
class Processor;

class PipelineObserver {
 public:
  virtual ~PipelineObserver() = default;
  virtual void OnStarted(const PipelineContext&) {}
  // Every ErrorFrame that reaches the head of the pipeline.
  virtual void OnError(const PipelineContext&, const ErrorFrame&) {}
  // Every MetricsFrame that reaches either end of the pipeline.
  virtual void OnMetrics(const PipelineContext&, const MetricsFrame&) {}
  virtual void OnFinished(const PipelineContext&, const Status&) {}
  // Every frame a processor pushes, when wants_frames() is true. Costs a
  // virtual call per frame, so only debugging and tests turn it on.
  virtual bool wants_frames() const { return false; }
  virtual void OnFramePushed(const PipelineContext&, const Processor&, const Frame&, Direction) {}
};

}  // namespace voxpipe
