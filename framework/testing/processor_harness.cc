#include "framework/testing/processor_harness.h"

#include <boost/asio/post.hpp>

namespace voxpipe {

ProcessorHarness::ProcessorHarness(std::string_view stages_yaml, StreamFormat input) {
  auto root = ConfigNode::Parse(stages_yaml, "<harness>");
  if (!root.ok()) {
    status_ = root.status();
    return;
  }
  auto pipeline = PipelineTemplate::Build(*root, "harness", input);
  if (!pipeline.ok()) {
    status_ = pipeline.status();
    return;
  }
  instance_ = PipelineInstance::Create(*pipeline, io_.get_executor(), "harness-call");
  instance_->SetOutputTap([this](const Frame& frame, Direction direction) {
    (direction == Direction::kDownstream ? downstream_ : upstream_).push_back(frame);
  });
}

ProcessorHarness::~ProcessorHarness() {
  if (instance_ && started_ && !finished_) {
    instance_->Cancel("");
    Drain();
  }
}

void ProcessorHarness::Drain() {
  io_.restart();
  io_.poll();
}

void ProcessorHarness::Start(StartFrame start) {
  if (!instance_ || started_) return;
  started_ = true;
  if (start.call_id.empty()) start.call_id = "harness-call";
  instance_->Start(std::move(start), [this](const Status& s) {
    finished_ = true;
    result_ = s;
  });
  Drain();
  if (finished_ && !result_.ok()) status_ = result_;
}

void ProcessorHarness::Push(Frame frame) {
  if (!instance_) return;
  Start();
  instance_->Push(std::move(frame));
  Drain();
}

void ProcessorHarness::PushUpstream(Frame frame) {
  if (!instance_) return;
  Start();
  auto procs = instance_->processors();
  if (procs.empty()) return;
  Processor* last = procs.back();
  boost::asio::post(instance_->context().executor(),
                    [last, frame = std::move(frame)]() mutable { last->Deliver(std::move(frame), Direction::kUpstream); });
  Drain();
}

void ProcessorHarness::End(std::chrono::milliseconds timeout) {
  if (!instance_) return;
  Start();
  instance_->End("harness end");
  RunUntil([this] { return finished_; }, timeout);
}

void ProcessorHarness::RunFor(std::chrono::milliseconds duration) {
  io_.restart();
  io_.run_for(duration);
}

bool ProcessorHarness::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  io_.restart();
  while (!done() && Clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(10));
    if (io_.stopped()) io_.restart();
  }
  return done();
}

std::vector<int16_t> ProcessorHarness::DownstreamSamples() const {
  std::vector<int16_t> samples;
  for (const auto& audio : Downstream<AudioFrame>()) {
    samples.insert(samples.end(), audio.samples.begin(), audio.samples.end());
  }
  return samples;
}

}  // namespace voxpipe
