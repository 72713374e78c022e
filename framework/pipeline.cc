#include "framework/pipeline.h"

#include <array>
#include <map>
#include <sstream>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "framework/logging.h"

namespace voxpipe {

// ---------------------------------------------------------------- building

namespace {

// Building goes on past a bad stage, so that one run of `voxpipe check`
// reports every independent problem; after one, the formats downstream are
// not known, and only errors that do not depend on them are reported.
struct BuildState {
  StatusList problems;
  bool formats_known = true;
};

std::vector<Stage> BuildStages(const ConfigNode& list, StreamFormat input, std::string_view upstream_name,
                               int upstream_line, BuildState& state);

// The name and line of the stage whose output a stage receives, for errors.
struct Producer {
  std::string name;
  int line = 0;
  std::string Describe() const { return line > 0 ? fmt::format("{} (line {})", name, line) : name; }
};

std::optional<Stage> BuildProcessorStage(const ConfigNode& node, const StreamFormat& input, const Producer& producer,
                                         BuildState& state) {
  auto fail = [&](const Status& s) -> std::optional<Stage> {
    state.problems.Add(s);
    state.formats_known = false;
    return std::nullopt;
  };
  auto type_node = node["type"];
  if (type_node.IsNull()) {
    return fail(node.Error("stage has no 'type' (write `- type: ProcessorName`, or `- parallel:` for branches)"));
  }
  auto type_name = type_node.Scalar();
  if (!type_name.ok()) return fail(type_name.status());
  const ProcessorType* type = Registry::Instance().FindProcessor(*type_name);
  if (!type) {
    return fail(type_node.Error(fmt::format("unknown processor type '{}'{}; `voxpipe processors` lists them",
                                            *type_name, DidYouMean(*type_name, Registry::Instance().ProcessorNames()))));
  }
  Stage stage;
  stage.type = type;
  stage.node = node;
  stage.input = input;
  if (auto name_node = node["name"]; !name_node.IsNull()) {
    auto name = name_node.Scalar();
    if (!name.ok()) return fail(name.status());
    stage.name = *name;
  }
  auto options = type->parse_options(node);
  if (!options.ok()) return fail(Status::Error(fmt::format("{} [{}]", options.message(), type->name)));
  stage.options = std::move(options).value();
  auto output = type->negotiate(stage.options.get(), input);
  if (!output.ok()) {
    if (!state.formats_known) return std::nullopt;
    std::string from = producer.name.empty() ? "the pipeline's input" : producer.Describe();
    return fail(node.Error(
        fmt::format("{} cannot take {} from {}: {}", type->name, input.ToString(), from, output.message())));
  }
  stage.output = *output;
  return stage;
}

std::optional<Stage> BuildParallelStage(const ConfigNode& node, const StreamFormat& input, const Producer& producer,
                                        BuildState& state) {
  ConfigNode branches = node["parallel"];
  if (!branches.IsSequence() || branches.Items().empty()) {
    state.problems.Add(node.Error("'parallel' takes a list of branches, each a list of stages"));
    state.formats_known = false;
    return std::nullopt;
  }
  if (node.yaml().size() != 1) state.problems.Add(node.Error("a parallel stage has only the key 'parallel'"));
  Stage stage;
  stage.node = node;
  stage.input = input;
  std::optional<StreamFormat> audio_out;
  for (const auto& branch : branches.Items()) {
    if (!branch.IsSequence() && !branch.IsNull()) {
      state.problems.Add(
          branch.Error("each branch of 'parallel' is a list of stages (`- [ ... ]` or a nested `- - type: ...`)"));
      continue;
    }
    size_t before = state.problems.size();
    auto built = BuildStages(branch, input, producer.name, producer.line, state);
    StreamFormat out = built.empty() ? input : built.back().output;
    if (out.is_audio() && state.problems.size() == before) {
      if (audio_out && *audio_out != out) {
        state.problems.Add(branch.Error(fmt::format("branches of 'parallel' produce different audio ({} and {}); "
                                                    "end the extra branch with a sink or convert it",
                                                    audio_out->ToString(), out.ToString())));
      }
      audio_out = out;
    }
    stage.branches.push_back(std::move(built));
  }
  stage.output = audio_out.value_or(StreamFormat::None());
  return stage;
}

std::vector<Stage> BuildStages(const ConfigNode& list, StreamFormat input, std::string_view upstream_name,
                               int upstream_line, BuildState& state) {
  std::vector<Stage> stages;
  Producer producer{std::string(upstream_name), upstream_line};
  for (const auto& node : list.Items()) {
    if (!node.IsMap()) {
      state.problems.Add(node.Error("a stage is a mapping such as `- type: MulawDecoder`"));
      state.formats_known = false;
      continue;
    }
    auto stage = node["parallel"].IsNull() ? BuildProcessorStage(node, input, producer, state)
                                           : BuildParallelStage(node, input, producer, state);
    if (!stage) continue;
    input = stage->output;
    producer = {stage->is_parallel() ? "parallel" : stage->type->name, node.line()};
    stages.push_back(std::move(*stage));
  }
  return stages;
}

// Every processor stage, depth first, as Stage* or const Stage*.
template <typename Stages, typename StagePtr>
void CollectStages(Stages& stages, std::vector<StagePtr>& out) {
  for (auto& s : stages) {
    if (s.is_parallel()) {
      for (auto& b : s.branches) CollectStages(b, out);
    } else {
      out.push_back(&s);
    }
  }
}

// Names every unnamed stage after its type, numbered when the type repeats.
Status AssignNames(std::vector<Stage>& stages) {
  std::vector<Stage*> all;
  CollectStages(stages, all);
  std::map<std::string, int> count;
  for (auto* s : all) ++count[s->type->name];
  std::map<std::string, int> seen;
  std::map<std::string, const Stage*> names;
  for (auto* s : all) {
    if (s->name.empty()) {
      const std::string& t = s->type->name;
      s->name = count[t] > 1 ? fmt::format("{}#{}", t, ++seen[t]) : t;
    }
    if (auto [it, inserted] = names.emplace(s->name, s); !inserted) {
      return s->node.Error(fmt::format("two stages are named '{}' (the other is on line {})", s->name,
                                       it->second->node.line()));
    }
  }
  return OkStatus();
}

}  // namespace

Result<std::shared_ptr<const PipelineTemplate>> PipelineTemplate::Build(const ConfigNode& stages, std::string name,
                                                                        StreamFormat input) {
  if (!stages.IsSequence() || stages.Items().empty()) {
    return stages.Error("'pipeline' must be a non-empty list of stages");
  }
  BuildState state;
  auto built = BuildStages(stages, input, "", 0, state);
  if (!state.problems.empty()) return state.problems.ToStatus();
  auto pipeline = std::shared_ptr<PipelineTemplate>(new PipelineTemplate());
  pipeline->name_ = std::move(name);
  pipeline->stages_ = std::move(built);
  if (auto s = AssignNames(pipeline->stages_); !s.ok()) return s;
  return std::shared_ptr<const PipelineTemplate>(std::move(pipeline));
}

std::vector<const Stage*> PipelineTemplate::Flatten() const {
  std::vector<const Stage*> all;
  CollectStages(stages_, all);
  return all;
}

bool PipelineTemplate::can_prewarm() const {
  for (const Stage* stage : Flatten()) {
    if (stage->type->prewarm) return true;
  }
  return false;
}

std::shared_ptr<EarlyResources> PipelineTemplate::Prewarm(const PipelineContext::Executor& executor,
                                                          const std::string& call_id, const CallValues& values) const {
  auto resources = std::make_shared<EarlyResources>();
  for (const Stage* stage : Flatten()) {
    if (!stage->type->prewarm) continue;
    std::shared_ptr<const void> bound = stage->type->bind(stage->options.get(), values);
    if (auto resource = stage->type->prewarm(bound ? bound : stage->options, executor, call_id)) {
      resources->Add(stage->name, std::move(resource));
    }
  }
  return resources;
}

namespace {

std::string DotEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Emits the nodes and edges of `stages`, fed by `from`; returns the ids of
// the nodes whose output leaves the list (none after a sink).
std::vector<std::string> DotStages(const std::vector<Stage>& stages, std::vector<std::string> from,
                                   std::ostringstream& dot, int& junction_count) {
  for (const auto& stage : stages) {
    std::string edge_label = DotEscape(stage.input.ToString());
    if (stage.is_parallel()) {
      int n = ++junction_count;
      std::string fork = fmt::format("fork_{}", n);
      std::string join = fmt::format("join_{}", n);
      dot << fmt::format("  \"{}\" [label=\"parallel\", shape=diamond];\n", fork);
      dot << fmt::format("  \"{}\" [label=\"join\", shape=diamond];\n", join);
      for (const auto& f : from) dot << fmt::format("  \"{}\" -> \"{}\" [label=\"{}\"];\n", f, fork, edge_label);
      for (const auto& branch : stage.branches) {
        auto ends = DotStages(branch, {fork}, dot, junction_count);
        std::string label = DotEscape((branch.empty() ? stage.input : branch.back().output).ToString());
        for (const auto& end : ends) dot << fmt::format("  \"{}\" -> \"{}\" [label=\"{}\"];\n", end, join, label);
      }
      from = {join};
      continue;
    }
    std::string id = DotEscape(stage.name);
    dot << fmt::format("  \"{}\" [label=\"{}\\n{}\"{}];\n", id, id, DotEscape(stage.type->name),
                       stage.output.is_audio() ? "" : ", shape=box3d");
    for (const auto& f : from) dot << fmt::format("  \"{}\" -> \"{}\" [label=\"{}\"];\n", f, id, edge_label);
    from = {id};
    if (!stage.output.is_audio() && stage.input.is_audio()) from.clear();  // a sink: nothing leaves it
  }
  return from;
}

}  // namespace

std::string PipelineTemplate::ToDot() const {
  std::ostringstream dot;
  dot << fmt::format("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n",
                     DotEscape(name_));
  int junctions = 0;
  DotStages(stages_, {}, dot, junctions);
  dot << "}\n";
  return dot.str();
}

// ---------------------------------------------------------------- running

// The two ends of a parallel stage. The fork copies downstream frames into
// every branch; the join passes one copy of each frame on, and holds an
// EndFrame until every branch has passed it. Upstream it is the other way
// round. Copies share their Frame::id, which is how they are recognised.
class Junction : public Processor {
 public:
  void Process(Frame frame, Direction direction) override {
    if (direction == spread_direction_) return Spread(std::move(frame), direction);
    if (frame.Is<EndFrame>()) {
      if (++end_counts_[frame.id] < static_cast<int>(targets_.size())) return;
      end_counts_.erase(frame.id);
    } else if (Seen(frame.id)) {
      return;
    }
    Remember(frame.id);
    Forward(std::move(frame), direction);
  }

  Direction spread_direction_ = Direction::kDownstream;
  std::vector<Processor*> targets_;  // branch heads (fork) or branch tails (join)
  Processor* onward_ = nullptr;      // where merged frames go

 private:
  void Spread(Frame frame, Direction direction) {
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (i + 1 == targets_.size()) {
        targets_[i]->Deliver(std::move(frame), direction);
      } else {
        targets_[i]->Deliver(Frame(frame), direction);
      }
    }
  }
  void Forward(Frame frame, Direction direction) {
    if (onward_) onward_->Deliver(std::move(frame), direction);
  }
  bool Seen(uint64_t id) const { return std::find(recent_.begin(), recent_.end(), id) != recent_.end(); }
  void Remember(uint64_t id) { recent_[next_++ % recent_.size()] = id; }

  std::array<uint64_t, 64> recent_{};
  size_t next_ = 0;
  std::map<uint64_t, int> end_counts_;
};

class PipelineInstance::Head : public Processor {
 public:
  explicit Head(PipelineInstance& instance) : instance_(instance) {}
  void Process(Frame frame, Direction direction) override {
    if (direction == Direction::kUpstream) return instance_.OnHeadFrame(std::move(frame));
    PushFrame(std::move(frame), Direction::kDownstream);
  }

 private:
  PipelineInstance& instance_;
};

class PipelineInstance::Tail : public Processor {
 public:
  explicit Tail(PipelineInstance& instance) : instance_(instance) {}
  void Process(Frame frame, Direction direction) override {
    if (direction == Direction::kDownstream) return instance_.OnTailFrame(std::move(frame));
    PushFrame(std::move(frame), Direction::kUpstream);
  }

 private:
  PipelineInstance& instance_;
};

namespace {

struct Chain {
  Processor* first = nullptr;  // null for an empty chain
  Processor* last = nullptr;
};

}  // namespace

std::shared_ptr<PipelineInstance> PipelineInstance::Create(std::shared_ptr<const PipelineTemplate> pipeline,
                                                           PipelineContext::Executor executor, std::string call_id,
                                                           const CallValues* values) {
  auto instance = std::shared_ptr<PipelineInstance>(
      new PipelineInstance(std::move(pipeline), std::move(executor), std::move(call_id)));
  instance->context_.owner_ = instance;
  instance->Link(values);
  return instance;
}

PipelineInstance::PipelineInstance(std::shared_ptr<const PipelineTemplate> pipeline,
                                   PipelineContext::Executor executor, std::string call_id)
    : template_(std::move(pipeline)),
      context_(std::move(executor), std::move(call_id)),
      head_(std::make_unique<Head>(*this)),
      tail_(std::make_unique<Tail>(*this)) {}

PipelineInstance::~PipelineInstance() = default;

void PipelineInstance::Link(const CallValues* values) {
  auto attach = [this](Processor* p, std::string name) {
    p->name_ = std::move(name);
    p->context_ = &context_;
  };
  attach(head_.get(), "head");
  attach(tail_.get(), "tail");

  // Builds the processors of `stages` linked in order; returns its ends.
  std::function<Chain(const std::vector<Stage>&)> build = [&](const std::vector<Stage>& stages) {
    Chain chain;
    auto append = [&chain](Processor* first, Processor* last) {
      if (!first) return;
      if (chain.last) {
        chain.last->downstream_ = first;
        first->upstream_ = chain.last;
      } else {
        chain.first = first;
      }
      chain.last = last;
    };
    for (const auto& stage : stages) {
      if (!stage.is_parallel()) {
        std::shared_ptr<const void> options = stage.options;
        if (values && stage.type->bind) {
          if (auto bound = stage.type->bind(options.get(), *values)) {
            options = bound;
            bound_options_.push_back(std::move(bound));
          }
        }
        ProcessorPtr p = stage.type->create(options);
        attach(p.get(), stage.name);
        p->input_format_ = stage.input;
        processors_.push_back(p.get());
        append(p.get(), p.get());
        nodes_.push_back(std::move(p));
        continue;
      }
      auto fork = std::make_unique<Junction>();
      auto join = std::make_unique<Junction>();
      attach(fork.get(), stage.name + "fork");
      attach(join.get(), stage.name + "join");
      fork->spread_direction_ = Direction::kDownstream;
      join->spread_direction_ = Direction::kUpstream;
      for (const auto& branch : stage.branches) {
        Chain b = build(branch);
        if (!b.first) {
          fork->targets_.push_back(join.get());
          join->targets_.push_back(fork.get());
          continue;
        }
        b.first->upstream_ = fork.get();
        b.last->downstream_ = join.get();
        fork->targets_.push_back(b.first);
        join->targets_.push_back(b.last);
      }
      Processor* fork_ptr = fork.get();
      Processor* join_ptr = join.get();
      append(fork_ptr, join_ptr);
      // The fork sends upstream copies on through its own upstream link; the
      // join sends merged downstream frames through its downstream link. Both
      // are set by append() and the final linking below, read at run time.
      nodes_.push_back(std::move(fork));
      nodes_.push_back(std::move(join));
    }
    return chain;
  };
  Chain chain = build(template_->stages());
  head_->downstream_ = chain.first ? chain.first : tail_.get();
  tail_->upstream_ = chain.last ? chain.last : head_.get();
  if (chain.first) chain.first->upstream_ = head_.get();
  if (chain.last) chain.last->downstream_ = tail_.get();
  // Junctions forward merged frames through their plain links.
  for (auto& node : nodes_) {
    if (auto* j = dynamic_cast<Junction*>(node.get())) {
      j->onward_ = j->spread_direction_ == Direction::kDownstream ? j->upstream_ : j->downstream_;
    }
  }
}

std::vector<Processor*> PipelineInstance::processors() const { return processors_; }

Processor* PipelineInstance::Find(const std::string& name) const {
  for (auto* p : processors_) {
    if (p->name() == name) return p;
  }
  return nullptr;
}

void PipelineInstance::Start(StartFrame start, DoneHandler done) {
  self_ = shared_from_this();
  done_ = std::move(done);
  boost::asio::dispatch(context_.executor(), [this, start = std::move(start)]() mutable { DoStart(std::move(start)); });
}

void PipelineInstance::DoStart(StartFrame start) {
  for (auto& o : context_.observers_) context_.frame_watchers_ += o->wants_frames() ? 1 : 0;
  for (auto* p : processors_) {
    Status s = p->Open();
    if (!s.ok()) {
      return Finish(Status::Error(fmt::format("{}: cannot open: {}", p->name(), s.message())));
    }
    ++opened_;
  }
  started_ = true;
  for (auto& o : context_.observers_) o->OnStarted(context_);
  head_->Deliver(Frame::Make(std::move(start), Clock::now()), Direction::kDownstream);
}

void PipelineInstance::End(std::string reason) {
  boost::asio::dispatch(context_.executor(), [this, keep = shared_from_this(), reason = std::move(reason)]() mutable {
    if (!started_ || finished_) return;
    head_->Deliver(Frame::Make(EndFrame{std::move(reason)}), Direction::kDownstream);
  });
}

void PipelineInstance::Cancel(std::string reason) {
  boost::asio::dispatch(context_.executor(), [this, keep = shared_from_this(), reason = std::move(reason)]() mutable {
    if (finished_) return;
    if (!reason.empty() && failure_.ok()) failure_ = Status::Error(reason);
    if (!started_) return Finish(failure_);
    head_->Deliver(Frame::Make(CancelFrame{std::move(reason)}), Direction::kDownstream);
  });
}

void PipelineInstance::Push(Frame frame) {
  boost::asio::dispatch(context_.executor(), [this, keep = shared_from_this(), frame = std::move(frame)]() mutable {
    if (!started_ || finished_) return;
    head_->Deliver(std::move(frame), Direction::kDownstream);
  });
}

void PipelineInstance::OnHeadFrame(Frame frame) {
  if (finished_) return;
  if (tap_) tap_(frame, Direction::kUpstream);
  if (auto* error = frame.As<ErrorFrame>()) {
    for (auto& o : context_.observers_) o->OnError(context_, *error);
    if (error->fatal) {
      if (failure_.ok()) failure_ = Status::Error(fmt::format("{}: {}", error->source, error->message));
      head_->Deliver(Frame::Make(CancelFrame{error->message}), Direction::kDownstream);
    }
  } else if (auto* metrics = frame.As<MetricsFrame>()) {
    for (auto& o : context_.observers_) o->OnMetrics(context_, *metrics);
  } else if (frame.Is<EndFrame>() || frame.Is<CancelFrame>()) {
    // A processor asks to end the call (e.g. the model's end_call tool).
    head_->Deliver(std::move(frame), Direction::kDownstream);
  }
}

void PipelineInstance::OnTailFrame(Frame frame) {
  if (finished_) return;
  if (tap_) tap_(frame, Direction::kDownstream);
  if (auto* metrics = frame.As<MetricsFrame>()) {
    for (auto& o : context_.observers_) o->OnMetrics(context_, *metrics);
  } else if (frame.Is<EndFrame>()) {
    Finish(failure_);
  } else if (auto* cancel = frame.As<CancelFrame>()) {
    if (failure_.ok() && !cancel->reason.empty()) failure_ = Status::Error(cancel->reason);
    Finish(failure_);
  }
}

void PipelineInstance::Finish(Status status) {
  if (finished_) return;
  finished_ = true;
  context_.closed_ = true;
  if (started_) {
    for (size_t i = 0; i < opened_; ++i) processors_[i]->Close();
  } else {
    for (size_t i = opened_; i-- > 0;) processors_[i]->Close();
  }
  for (auto& o : context_.observers_) o->OnFinished(context_, status);
  if (auto done = std::move(done_)) done(status);
  // Finish often runs deep inside a processor's Process(); the instance must
  // outlive that call stack, so the last reference is dropped later.
  boost::asio::post(context_.executor(), [self = std::move(self_)] {});
}

}  // namespace voxpipe
