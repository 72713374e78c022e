// Frames crossing pipelines: the resampler alone, each direction of the phone
// chain's audio path (with and without the wire formats at its ends), and a
// 7-stage chain, all through the real engine (one strand, frames passed by
// function call). Figures: docs/performance.md.
#include <cmath>
#include <numbers>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>

#include "benchmarks/allocation_counter.h"
#include "framework/pipeline.h"
#include "framework/registry.h"
#include "processors/common/base64.h"
#include "processors/gemini/gemini_live_messages.h"
#include "processors/twilio/twilio_serializer.h"

namespace voxpipe {
namespace {

// Stands in for the network ends and the model: passes every frame on.
class BenchPassThrough : public Processor {
 public:
  using Options = NoOptions;
  static ProcessorDoc Doc() { return {"benchmark pass-through", "", "anything", "same", "- type: BenchPassThrough"}; }
  static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& in) { return in; }
  explicit BenchPassThrough(const Options&) {}
  void Process(Frame frame, Direction direction) override { PushFrame(std::move(frame), direction); }
};
REGISTER_PROCESSOR(BenchPassThrough);

// A started pipeline instance on a private io_context; frames pushed in are
// processed before Push() returns, then handed to `out` (if given).
class Bench {
 public:
  using Output = std::function<void(const Frame&)>;
  Bench(std::string_view yaml, StreamFormat input, Output out = nullptr) : out_(std::move(out)) {
    auto root = ConfigNode::Parse(yaml, "bench");
    auto pipeline = PipelineTemplate::Build(*root, "bench", input);
    if (!pipeline.ok()) throw std::runtime_error(pipeline.message());
    instance_ = PipelineInstance::Create(*pipeline, io_.get_executor(), "bench");
    instance_->SetOutputTap([this](const Frame& f, Direction) {
      if (f.Is<StartFrame>()) return;
      ++outputs_;
      if (out_) out_(f);
    });
    instance_->Start(StartFrame{"bench", {}}, [](const Status&) {});
    io_.poll();
  }
  ~Bench() {
    instance_->Cancel("");
    io_.restart();
    io_.poll();
  }
  void Push(Frame frame) {
    instance_->Push(std::move(frame));
    io_.restart();
    io_.poll();
  }
  int64_t outputs() const { return outputs_; }

 private:
  Output out_;
  boost::asio::io_context io_;
  std::shared_ptr<PipelineInstance> instance_;
  int64_t outputs_ = 0;
};

std::vector<int16_t> Tone(size_t n, int rate) {
  std::vector<int16_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int16_t>(8000 * std::sin(2 * std::numbers::pi * 440.0 * i / rate));
  return out;
}

void RunAudio(benchmark::State& state, std::string_view yaml, int rate) {
  Bench bench(yaml, StreamFormat::Pcm16(rate));
  auto samples = Tone(rate / 50, rate);
  bench::AllocationCount allocations;
  for (auto _ : state) bench.Push(Frame::Make(AudioFrame{rate, 1, samples}));
  state.counters["allocs_per_frame"] = allocations.PerIteration(state);
  state.counters["frames_out"] = benchmark::Counter(double(bench.outputs()), benchmark::Counter::kAvgIterations);
}

void BM_Resample8to16(benchmark::State& state) { RunAudio(state, "- {type: Resampler, rate: 16000}", 8000); }
BENCHMARK(BM_Resample8to16);

void BM_Resample24to8(benchmark::State& state) { RunAudio(state, "- {type: Resampler, rate: 8000}", 24000); }
BENCHMARK(BM_Resample24to8);

// Caller to model: mu-law 8 kHz decoded and brought to 16 kHz.
void BM_PhoneInbound20ms(benchmark::State& state) {
  Bench bench("- type: MulawDecoder\n- {type: Resampler, rate: 16000}\n", StreamFormat::Mulaw(8000));
  std::vector<uint8_t> mulaw(160, 0xD5);
  for (auto _ : state) bench.Push(Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, mulaw}));
}
BENCHMARK(BM_PhoneInbound20ms);

// Model to caller: 24 kHz PCM brought to 8 kHz mu-law.
void BM_PhoneOutbound20ms(benchmark::State& state) {
  RunAudio(state, "- {type: Resampler, rate: 8000}\n- type: MulawEncoder\n", 24000);
}
BENCHMARK(BM_PhoneOutbound20ms);

// The whole caller-to-model direction of the phone line, wire to wire: a
// Twilio media message (parsed, base64 decoded) becomes a 20 ms
// mu-law frame, is decoded and resampled, and leaves as Gemini's
// realtimeInput message (base64 encoded).
void BM_CallerToModelWireToWire20ms(benchmark::State& state) {
  std::string message;
  Bench bench("- type: MulawDecoder\n- {type: Resampler, rate: 16000}\n", StreamFormat::Mulaw(8000), [&](const Frame& f) {
    if (auto* audio = f.As<AudioFrame>()) {
      gemini::EncodeAudioInput(audio->samples.data(), audio->samples.size(), audio->sample_rate, message);
    }
  });
  std::vector<uint8_t> mulaw(160, 0xD5);
  std::string twilio;
  twilio::AppendMediaMessage(R"("MZ18ad3ab5a668481ce02b83e7395059f0")", mulaw, twilio);
  twilio = R"({"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"5",)" +
           twilio.substr(twilio.find(R"("payload")"));
  twilio.insert(twilio.size() - 1, R"(,"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0")");
  std::vector<uint8_t> bytes;
  twilio::TwilioMessage parsed;
  bench::AllocationCount allocations;
  for (auto _ : state) {
    twilio::ParseTwilioMessage(twilio, parsed);
    if (parsed.kind != twilio::TwilioMessage::Kind::kMedia || !base64::DecodeTo(parsed.payload, bytes)) {
      return state.SkipWithError("the media message did not parse");
    }
    bench.Push(Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, bytes}));
  }
  state.counters["allocs_per_frame"] = allocations.PerIteration(state);
  state.counters["message_bytes"] = double(message.size());
}
BENCHMARK(BM_CallerToModelWireToWire20ms);

// The whole model-to-caller direction, wire to wire: Gemini's serverContent
// message with 20 ms of 24 kHz audio is parsed (simdjson, base64), resampled
// to 8 kHz, encoded to mu-law and written as a Twilio media message.
void BM_ModelToCallerWireToWire20ms(benchmark::State& state) {
  std::string message;
  Bench bench("- {type: Resampler, rate: 8000}\n- type: MulawEncoder\n", StreamFormat::Pcm16(24000), [&](const Frame& f) {
    if (auto* audio = f.As<EncodedAudioFrame>()) {
      message.clear();
      twilio::AppendMediaMessage(R"("MZ18ad3ab5a668481ce02b83e7395059f0")", audio->bytes, message);
    }
  });
  auto samples = Tone(480, 24000);
  std::string gemini = R"({"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":")" +
                       base64::Encode(std::span(reinterpret_cast<const uint8_t*>(samples.data()), samples.size() * 2)) +
                       R"("}}]}}})";
  bench::AllocationCount allocations;
  for (auto _ : state) {
    auto parsed = gemini::ParseServerMessage(gemini);
    if (!parsed.ok() || parsed->audio.empty()) return state.SkipWithError("the server message did not parse");
    auto& chunk = parsed->audio.front();
    bench.Push(Frame::Make(AudioFrame{chunk.sample_rate, 1, std::move(chunk.samples)}));
  }
  state.counters["allocs_per_frame"] = allocations.PerIteration(state);
  state.counters["message_bytes"] = double(message.size());
}
BENCHMARK(BM_ModelToCallerWireToWire20ms);

// The phone chain's shape, seven stages, with pass-throughs standing in for
// the transport ends and the model: one 20 ms caller frame end to end.
void BM_SevenStageChain20ms(benchmark::State& state) {
  Bench bench(R"(
- type: BenchPassThrough
  name: transport_in
- type: MulawDecoder
- {type: Resampler, name: up, rate: 16000}
- type: BenchPassThrough
  name: model
- {type: Resampler, name: down, rate: 8000}
- type: MulawEncoder
- type: BenchPassThrough
  name: transport_out
)",
              StreamFormat::Mulaw(8000));
  std::vector<uint8_t> mulaw(160, 0xD5);
  for (auto _ : state) bench.Push(Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, mulaw}));
  state.counters["frames_out"] = benchmark::Counter(double(bench.outputs()), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_SevenStageChain20ms);

// The engine's own cost: a frame through seven pass-throughs.
void BM_SevenPassThroughs(benchmark::State& state) {
  std::string yaml;
  for (int i = 0; i < 7; ++i) yaml += "- type: BenchPassThrough\n";
  Bench bench(yaml, StreamFormat::Mulaw(8000));
  std::vector<uint8_t> mulaw(160, 0xD5);
  for (auto _ : state) bench.Push(Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, mulaw}));
}
BENCHMARK(BM_SevenPassThroughs);

}  // namespace
}  // namespace voxpipe
