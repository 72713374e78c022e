// The engine: building pipelines from YAML, format checks, parallel
// branches, interruption, errors and the instance lifecycle.
#include "framework/pipeline.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "framework/pipeline_file.h"
#include "framework/testing/processor_harness.h"

namespace voxpipe {
namespace {

// Multiplies PCM samples; with `hold`, keeps audio until an EndFrame (so an
// interruption has something to drop).
class TestGain : public Processor {
 public:
  struct Options {
    double factor = 1.0;
    bool hold = false;
    static void Declare(Schema<Options>& s) {
      s.Field("factor", &Options::factor, "Gain").Range(0, 100);
      s.Field("hold", &Options::hold, "Hold audio until the end");
    }
  };
  static ProcessorDoc Doc() { return {"test gain", "", "PCM", "PCM", "- type: TestGain"}; }
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& in) {
    if (in.kind != StreamFormat::Kind::kPcm16) return Status::Error("expects PCM s16le audio");
    return in;
  }
  explicit TestGain(const Options& o) : options_(o) {}
  void OnInterruption() override { held_.clear(); }
  void Process(Frame frame, Direction direction) override {
    if (auto* audio = frame.As<AudioFrame>()) {
      AudioFrame scaled = *audio;
      for (auto& s : scaled.samples) s = static_cast<int16_t>(s * options_.factor);
      Frame out = Frame::Derive(frame, std::move(scaled));
      if (options_.hold) return held_.push_back(std::move(out));
      return PushFrame(std::move(out), direction);
    }
    if (frame.Is<EndFrame>()) {
      for (auto& h : held_) PushFrame(std::move(h), Direction::kDownstream);
      held_.clear();
    }
    PushFrame(std::move(frame), direction);
  }

 private:
  Options options_;
  std::vector<Frame> held_;
};
REGISTER_PROCESSOR(TestGain);

// Consumes audio; counts it in a shared counter.
class TestSink : public Processor {
 public:
  using Options = NoOptions;
  static int consumed;
  static ProcessorDoc Doc() { return {"test sink", "", "any audio", "none", "- type: TestSink"}; }
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& in) {
    if (!in.is_audio()) return Status::Error("expects audio");
    return StreamFormat::None();
  }
  explicit TestSink(const Options&) {}
  void Process(Frame frame, Direction direction) override {
    if (frame.Is<AudioFrame>()) {
      ++consumed;
      return;
    }
    PushFrame(std::move(frame), direction);
  }
};
int TestSink::consumed = 0;
REGISTER_PROCESSOR(TestSink);

// Raises an error for each TextFrame: fatal when the text is "fatal".
// Fails Open() when `fail_open` is set; records Close() calls.
class TestFaulty : public Processor {
 public:
  struct Options {
    bool fail_open = false;
    static void Declare(Schema<Options>& s) { s.Field("fail_open", &Options::fail_open, "Fail in Open()"); }
  };
  static std::vector<std::string> closed;
  static ProcessorDoc Doc() { return {"test faults", "", "anything", "same", "- type: TestFaulty"}; }
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& in) { return in; }
  explicit TestFaulty(const Options& o) : options_(o) {}
  Status Open() override { return options_.fail_open ? Status::Error("no device") : OkStatus(); }
  void Close() override { closed.push_back(name()); }
  void Process(Frame frame, Direction direction) override {
    if (auto* text = frame.As<TextFrame>()) return PushError("bad text: " + text->text, text->text == "fatal");
    PushFrame(std::move(frame), direction);
  }

 private:
  Options options_;
};
std::vector<std::string> TestFaulty::closed;
REGISTER_PROCESSOR(TestFaulty);

Frame Audio(std::vector<int16_t> samples) { return Frame::Make(AudioFrame{16000, 1, std::move(samples)}); }

TEST(PipelineTest, LinearChainTransformsInOrder) {
  ProcessorHarness h(R"(
- type: TestGain
  factor: 2
- type: TestGain
  factor: 3
)",
                     StreamFormat::Pcm16(16000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Push(Audio({1, -2, 100}));
  EXPECT_EQ(h.DownstreamSamples(), (std::vector<int16_t>{6, -12, 600}));
  auto names = h.instance().processors();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0]->name(), "TestGain#1");
  EXPECT_EQ(names[1]->name(), "TestGain#2");
}

TEST(PipelineTest, EndFrameFinishesTheInstanceAfterHeldData) {
  ProcessorHarness h("- type: TestGain\n  hold: true\n", StreamFormat::Pcm16(16000));
  h.Push(Audio({1}));
  h.Push(Audio({2}));
  EXPECT_TRUE(h.DownstreamSamples().empty());
  h.End();
  EXPECT_TRUE(h.finished());
  EXPECT_TRUE(h.result().ok());
  EXPECT_EQ(h.DownstreamSamples(), (std::vector<int16_t>{1, 2}));
}

TEST(PipelineTest, InterruptionDropsBufferedDataAndReachesTheOutput) {
  ProcessorHarness h("- type: TestGain\n  hold: true\n", StreamFormat::Pcm16(16000));
  h.Push(Audio({1}));
  h.Push(InterruptionFrame{});
  EXPECT_EQ(h.Downstream<InterruptionFrame>().size(), 1u);
  h.Push(Audio({3}));
  h.End();
  EXPECT_EQ(h.DownstreamSamples(), (std::vector<int16_t>{3}));
}

TEST(PipelineTest, ParallelBranchesGetCopiesAndMergeOnce) {
  TestSink::consumed = 0;
  ProcessorHarness h(R"(
- parallel:
    - - type: TestSink
    - - type: TestGain
        factor: 2
    - []
)",
                     StreamFormat::Pcm16(16000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Push(Audio({5}));
  h.Push(TextFrame{"once"});
  // The sink consumed its copy; the gain branch and the empty branch both
  // produce audio (different frames), the text copies merge into one.
  EXPECT_EQ(TestSink::consumed, 1);
  EXPECT_EQ(h.DownstreamSamples(), (std::vector<int16_t>{10, 5}));
  EXPECT_EQ(h.Downstream<TextFrame>().size(), 1u);
  EXPECT_EQ(h.Downstream<StartFrame>().size(), 1u);
  h.End();
  EXPECT_TRUE(h.finished());
  EXPECT_EQ(h.Downstream<EndFrame>().size(), 1u);
}

TEST(PipelineTest, ParallelEndWaitsForEveryBranch) {
  ProcessorHarness h(R"(
- parallel:
    - - type: TestGain
        hold: true
    - - type: TestSink
)",
                     StreamFormat::Pcm16(16000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Push(Audio({7}));
  h.End();
  EXPECT_TRUE(h.finished());
  // The held audio came out before the single EndFrame.
  auto frames = h.TakeDownstream();
  ASSERT_GE(frames.size(), 2u);
  EXPECT_TRUE(frames[frames.size() - 2].Is<AudioFrame>());
  EXPECT_TRUE(frames.back().Is<EndFrame>());
}

TEST(PipelineTest, NonFatalErrorIsReportedAndTheCallGoesOn) {
  ProcessorHarness h("- type: TestFaulty\n");
  h.Push(TextFrame{"oops"});
  auto errors = h.Upstream<ErrorFrame>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].source, "TestFaulty");
  EXPECT_FALSE(errors[0].fatal);
  EXPECT_FALSE(h.finished());
}

TEST(PipelineTest, FatalErrorCancelsTheInstanceAndClosesProcessors) {
  TestFaulty::closed.clear();
  ProcessorHarness h("- type: TestFaulty\n  name: first\n- type: TestFaulty\n  name: second\n");
  h.Push(TextFrame{"fatal"});
  EXPECT_TRUE(h.finished());
  ASSERT_FALSE(h.result().ok());
  EXPECT_NE(h.result().message().find("first: bad text: fatal"), std::string::npos) << h.result().message();
  EXPECT_EQ(TestFaulty::closed, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(h.Downstream<CancelFrame>().size(), 1u);
}

TEST(PipelineTest, OpenFailureClosesWhatWasOpenedInReverse) {
  TestFaulty::closed.clear();
  ProcessorHarness h(R"(
- {type: TestFaulty, name: a}
- {type: TestFaulty, name: b}
- {type: TestFaulty, name: c, fail_open: true}
)");
  h.Start();
  EXPECT_TRUE(h.finished());
  ASSERT_FALSE(h.result().ok());
  EXPECT_NE(h.result().message().find("c: cannot open: no device"), std::string::npos);
  EXPECT_EQ(TestFaulty::closed, (std::vector<std::string>{"b", "a"}));
  EXPECT_TRUE(h.TakeDownstream().empty());  // no StartFrame went out
}

TEST(PipelineTest, UnknownProcessorSuggestsTheClosestName) {
  ProcessorHarness h("- type: TestGain\n- type: TestGian\n", StreamFormat::Pcm16(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("<harness>:2: unknown processor type 'TestGian' (did you mean 'TestGain'?)"),
            std::string::npos)
      << h.status().message();
}

TEST(PipelineTest, FormatMismatchNamesTheStageAndItsProducer) {
  ProcessorHarness h("- type: TestSink\n- type: TestGain\n", StreamFormat::Pcm16(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find(
                "<harness>:2: TestGain cannot take no audio from TestSink (line 1): expects PCM s16le audio"),
            std::string::npos)
      << h.status().message();
}

TEST(PipelineTest, DuplicateInstanceNamesAreRejected) {
  ProcessorHarness h("- {type: TestGain, name: x}\n- {type: TestGain, name: x}\n", StreamFormat::Pcm16(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("two stages are named 'x'"), std::string::npos);
}

TEST(PipelineTest, ParallelBranchesMustAgreeOnAudio) {
  ProcessorHarness h(R"(
- parallel:
    - []
    - - type: TestSink
    - - type: TestGain
)",
                     StreamFormat::Pcm16(8000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();  // a sink branch produces no audio: fine
}

TEST(PipelineFileTest, TopLevelKeysAreChecked) {
  auto file = ParsePipeline("name: x\npipline: []\n", "p.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.message().find("p.yaml:2: unknown key 'pipline' (did you mean 'pipeline'?)"), std::string::npos)
      << file.message();
}

TEST(PipelineFileTest, UnknownServerTypeIsNamed) {
  auto file = ParsePipeline("server:\n  type: nonesuch\npipeline:\n  - type: TestFaulty\n", "p.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.message().find("p.yaml:2: unknown server type 'nonesuch'"), std::string::npos) << file.message();
}

TEST(PipelineFileTest, MissingPluginNamesFileAndLine) {
  auto file = ParsePipeline("plugins: [missing.so]\npipeline:\n  - type: TestFaulty\n", "p.yaml", "/tmp");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.message().find("p.yaml:1: plugin /tmp/missing.so: file not found"), std::string::npos)
      << file.message();
}

TEST(PipelineFileTest, IndependentProblemsAreReportedTogether) {
  auto file = ParsePipeline(R"(
nmae: typo
pipeline:
  - type: TestFaulty
    colour: red
  - type: NoSuchThing
  - type: TestFaulty
    shape: round
)",
                            "many.yaml");
  ASSERT_FALSE(file.ok());
  const std::string& m = file.message();
  EXPECT_NE(m.find("many.yaml:2: unknown key 'nmae' (did you mean 'name'?)"), std::string::npos) << m;
  EXPECT_NE(m.find("many.yaml:5: unknown option 'colour'"), std::string::npos) << m;
  EXPECT_NE(m.find("many.yaml:6: unknown processor type 'NoSuchThing'"), std::string::npos) << m;
  EXPECT_NE(m.find("many.yaml:8: unknown option 'shape'"), std::string::npos) << m;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 3) << "one line each: " << m;
}

TEST(PipelineFileTest, ATransportWithoutItsServerFailsWithItsLine) {
  auto file = ParsePipeline("pipeline:\n  - type: TwilioInput\n  - type: MulawDecoder\n", "no_server.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.message().find("no_server.yaml:2: TwilioInput needs `server: {type: twilio}` in the pipeline file"),
            std::string::npos)
      << file.message();
}

TEST(PipelineFileTest, GraphShowsStagesAndFormats) {
  auto file = ParsePipeline(R"(
name: demo
pipeline:
  - type: TestFaulty
  - parallel:
      - - type: TestFaulty
          name: side
      - []
)",
                            "p.yaml");
  ASSERT_TRUE(file.ok()) << file.message();
  std::string dot = file->pipeline->ToDot();
  EXPECT_NE(dot.find("digraph \"demo\""), std::string::npos);
  EXPECT_NE(dot.find("\"TestFaulty#1\" -> \"fork_1\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("\"fork_1\" -> \"side\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("\"fork_1\" -> \"join_1\""), std::string::npos) << "the empty branch" << dot;
}

}  // namespace
}  // namespace voxpipe
