// GeminiLiveLLM's own cost on the two hot paths, and the latency it adds
// through the real engine against the in-process Gemini Live emulator:
//   caller frame in → realtimeInput handed to the socket;
//   server message read → 24 kHz AudioFrame pushed downstream.
// Needs `gemini_emulator` linked (see docs/gemini.md for the figures).
#include <chrono>
#include <cmath>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>

#include "apps/gemini_emulator/emulator.h"
#include "framework/pipeline.h"
#include "processors/common/base64.h"
#include "processors/gemini/gemini_live_messages.h"

namespace voxpipe {
namespace {

std::vector<int16_t> Tone(size_t n, int rate) {
  std::vector<int16_t> samples(n);
  for (size_t i = 0; i < n; ++i) samples[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 300 * double(i) / rate));
  return samples;
}

void BM_EncodeCallerFrame(benchmark::State& state) {
  auto samples = Tone(320, 16000);  // 20 ms at 16 kHz
  std::string out;
  for (auto _ : state) {
    gemini::EncodeAudioInput(samples.data(), samples.size(), 16000, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_EncodeCallerFrame);

void BM_ParseServerAudio(benchmark::State& state) {
  auto samples = Tone(960, 24000);  // 40 ms at 24 kHz, as the emulator sends
  std::string message = R"({"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":")" +
                        base64::Encode(std::span(reinterpret_cast<const uint8_t*>(samples.data()), samples.size() * 2)) +
                        R"("}}]}}})";
  for (auto _ : state) {
    auto parsed = gemini::ParseServerMessage(message);
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseServerAudio);

// A real GeminiLiveLLM instance talking to the emulator over 127.0.0.1; each
// iteration pushes one 20 ms caller frame and lets the strand run. The
// processor's own latency recorder gives the figures as counters.
void BM_GeminiLiveThroughEmulator(benchmark::State& state) {
  emulator::Scenario scenario;
  scenario.turn.threshold_dbfs = -1;          // nothing counts as speech...
  scenario.turn.after_audio = std::chrono::milliseconds(200);  // ...but it replies every 200 ms of audio
  scenario.reply.tone_duration = std::chrono::milliseconds(200);
  scenario.reply.chunk = std::chrono::milliseconds(40);
  scenario.reply.speed = 0;
  emulator::GeminiEmulator server(scenario);
  if (!server.Start().ok()) return state.SkipWithError("emulator did not start");

  auto root = ConfigNode::Parse(fmt::format("- type: GeminiLiveLLM\n  url: {}\n  api_key: bench\n  model: bench\n", server.url()),
                                "bench");
  auto pipeline = PipelineTemplate::Build(*root, "bench", StreamFormat::Pcm16(16000));
  if (!pipeline.ok()) return state.SkipWithError(pipeline.message().c_str());
  boost::asio::io_context io;
  auto instance = PipelineInstance::Create(*pipeline, io.get_executor(), "bench");
  std::map<std::string, double> figures;
  instance->SetOutputTap([&](const Frame& f, Direction) {
    if (auto* m = f.As<MetricsFrame>(); m && m->values.count("input_latency_p50_us")) figures = m->values;
  });
  bool done = false;
  instance->Start(StartFrame{"bench", {}}, [&](const Status&) { done = true; });
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(5));  // setupComplete

  AudioFrame frame{16000, 1, std::vector<int16_t>(320)};
  for (auto _ : state) {
    instance->Push(Frame::Make(frame, Clock::now()));
    io.restart();
    io.poll();
  }
  until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(5));  // replies drain
  instance->End("bench done");
  until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!done && std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(5));
  for (const auto& key : {"input_latency_p50_us", "input_latency_p99_us", "output_latency_p50_us", "output_latency_p99_us",
                          "output_latency_samples"}) {
    state.counters[key] = figures.count(key) ? figures[key] : -1;
  }
}
BENCHMARK(BM_GeminiLiveThroughEmulator)->Iterations(5000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace voxpipe
