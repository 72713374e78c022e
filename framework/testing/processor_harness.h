// ProcessorHarness: run one processor, or a few, from a YAML snippet, push
// frames in and read what comes out. For voxpipe's tests and for plugin
// authors (it is installed with the headers).
//
//   ProcessorHarness h(R"(
//     - type: MulawDecoder
//   )");
//   ASSERT_TRUE(h.status().ok()) << h.status().message();
//   h.Push(Frame::Make(EncodedAudioFrame{...}));
//   auto out = h.Downstream<AudioFrame>();
//
// The pipeline runs on the harness's own io_context, on the calling thread:
// Push() and the other calls return once the frames they caused have flowed,
// so tests need no sleeps. RunFor() lets timers and sockets progress.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "framework/frames.h"
#include "framework/pipeline.h"

namespace voxpipe {

class ProcessorHarness {
 public:
  // `stages_yaml` is the body of a `pipeline:` list; `input` the format fed to
  // the first stage. Build errors are reported by status().
  explicit ProcessorHarness(std::string_view stages_yaml, StreamFormat input = StreamFormat::None());
  ~ProcessorHarness();

  // OK when the pipeline was built (and, after Start(), opened).
  const Status& status() const { return status_; }
  PipelineInstance& instance() { return *instance_; }
  boost::asio::io_context& io() { return io_; }

  // Opens the processors and sends a StartFrame. Called by the first Push()
  // when not called before.
  void Start(StartFrame start = {});
  // Into the head of the chain, downstream.
  void Push(Frame frame);
  template <typename T>
  void Push(T body) { Push(Frame::Make(std::move(body), Clock::now())); }
  // Into the tail of the chain, upstream (as a transport's acknowledgement would).
  void PushUpstream(Frame frame);
  // Graceful end; returns once the instance finished or `timeout` passed.
  void End(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Runs timers and I/O for `duration` of real time.
  void RunFor(std::chrono::milliseconds duration);
  // Runs until `done()` or `timeout`; returns done().
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  bool finished() const { return finished_; }
  // The status the instance finished with.
  const Status& result() const { return result_; }

  // Frames that left the chain so far, taken out of the harness.
  std::vector<Frame> TakeDownstream() { return std::exchange(downstream_, {}); }
  std::vector<Frame> TakeUpstream() { return std::exchange(upstream_, {}); }
  // The frames of one kind that left downstream (left in the harness).
  template <typename T>
  std::vector<T> Downstream() const {
    std::vector<T> out;
    for (const auto& f : downstream_) {
      if (auto* body = f.As<T>()) out.push_back(*body);
    }
    return out;
  }
  template <typename T>
  std::vector<T> Upstream() const {
    std::vector<T> out;
    for (const auto& f : upstream_) {
      if (auto* body = f.As<T>()) out.push_back(*body);
    }
    return out;
  }
  // All PCM samples that left downstream, concatenated.
  std::vector<int16_t> DownstreamSamples() const;

 private:
  void Drain();

  boost::asio::io_context io_;
  std::shared_ptr<PipelineInstance> instance_;
  Status status_;
  Status result_;
  bool started_ = false;
  bool finished_ = false;
  std::vector<Frame> downstream_;
  std::vector<Frame> upstream_;
};

}  // namespace voxpipe
