// Pipelines: a template built once from YAML, instantiated per call.
//
// PipelineTemplate holds the stages with their parsed options and the audio
// format on every link, checked when it is built. PipelineInstance owns one
// set of processors (one call), linked in a chain, with parallel branches
// joined by junctions: a frame entering a parallel stage is copied into every
// branch, and the copies that come out are merged back into one (an EndFrame
// passes on once every branch has passed it).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/call_values.h"
#include "framework/config.h"
#include "framework/early_resources.h"
#include "framework/pipeline_context.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/stream_format.h"

namespace voxpipe {

struct Stage {
  const ProcessorType* type = nullptr;  // null for a parallel stage
  std::shared_ptr<const void> options;
  std::string name;
  ConfigNode node;  // where the stage was declared
  StreamFormat input;
  StreamFormat output;
  std::vector<std::vector<Stage>> branches;

  bool is_parallel() const { return type == nullptr; }
};

class PipelineTemplate {
 public:
  // Builds from the `pipeline:` sequence: resolves processor types, parses
  // their options and checks the format of every link. `input` is the format
  // fed to the first stage (none for a pipeline that starts with a source).
  static Result<std::shared_ptr<const PipelineTemplate>> Build(const ConfigNode& stages, std::string name,
                                                               StreamFormat input = StreamFormat::None());

  const std::string& name() const { return name_; }
  const std::vector<Stage>& stages() const { return stages_; }
  StreamFormat output() const { return stages_.empty() ? StreamFormat::None() : stages_.back().output; }
  // Every processor stage, depth first, in chain order.
  std::vector<const Stage*> Flatten() const;
  // The graph in Graphviz DOT, with the format on each link.
  std::string ToDot() const;
  // Opens the early resources of every stage that has them, for the call
  // `call_id` on `executor` (its loop), with the call's values in their
  // options; call it on that loop.
  std::shared_ptr<EarlyResources> Prewarm(const PipelineContext::Executor& executor, const std::string& call_id,
                                          const CallValues& values) const;
  bool can_prewarm() const;

 private:
  std::string name_;
  std::vector<Stage> stages_;
};

class PipelineInstance : public std::enable_shared_from_this<PipelineInstance> {
 public:
  using DoneHandler = std::function<void(const Status&)>;

  // `values` fill the {call_sid}-style placeholders of the stages' options
  // (framework/call_values.h); without them, options are used as written.
  static std::shared_ptr<PipelineInstance> Create(std::shared_ptr<const PipelineTemplate> pipeline,
                                                  PipelineContext::Executor executor, std::string call_id,
                                                  const CallValues* values = nullptr);
  ~PipelineInstance();

  PipelineContext& context() { return context_; }
  const PipelineTemplate& pipeline() const { return *template_; }

  // Opens the processors and sends `start` down the chain. `done` runs once,
  // on the strand, after the instance has ended and every processor closed:
  // with ok when an EndFrame passed the whole chain, else with the reason.
  // These four may be called from any thread.
  void Start(StartFrame start, DoneHandler done);
  // Graceful end: an EndFrame from the head; queued output is finished first.
  void End(std::string reason);
  // Immediate end: a CancelFrame from the head; the instance fails with `reason`
  // unless it is empty.
  void Cancel(std::string reason);
  // Sends a frame into the head of the chain (tests, transports).
  void Push(Frame frame);

  // Receives every frame that leaves the pipeline: downstream past the last
  // stage, upstream past the first. Set before Start(); runs on the strand.
  using OutputTap = std::function<void(const Frame&, Direction)>;
  void SetOutputTap(OutputTap tap) { tap_ = std::move(tap); }

  bool finished() const { return finished_; }
  // Processors in chain order (junctions excluded), e.g. for tests.
  std::vector<Processor*> processors() const;
  Processor* Find(const std::string& name) const;

 private:
  class Head;
  class Tail;
  friend class Head;
  friend class Tail;

  PipelineInstance(std::shared_ptr<const PipelineTemplate> pipeline, PipelineContext::Executor executor,
                   std::string call_id);
  void Link(const CallValues* values);
  void DoStart(StartFrame start);
  void OnHeadFrame(Frame frame);
  void OnTailFrame(Frame frame);
  void Finish(Status status);

  std::shared_ptr<const PipelineTemplate> template_;
  PipelineContext context_;
  std::unique_ptr<Head> head_;
  std::unique_ptr<Tail> tail_;
  // Options with this call's values; before nodes_, so that they outlive
  // the processors, which may keep references to their options.
  std::vector<std::shared_ptr<const void>> bound_options_;
  std::vector<ProcessorPtr> nodes_;  // processors and junctions
  std::vector<Processor*> processors_;
  DoneHandler done_;
  OutputTap tap_;
  Status failure_;
  std::shared_ptr<PipelineInstance> self_;  // keeps the instance alive while it runs
  size_t opened_ = 0;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace voxpipe
