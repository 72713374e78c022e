// Shared by the GeminiLiveLLM tests: an in-process emulator from a YAML
// scenario, a harness around GeminiLiveLLM pointed at it, and caller audio.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "apps/gemini_emulator/emulator.h"
#include "framework/testing/processor_harness.h"

namespace voxpipe::testing {

constexpr char kTestKey[] = "test-key-0123456789";

inline std::unique_ptr<emulator::GeminiEmulator> StartEmulator(const std::string& scenario_yaml,
                                                               emulator::ServerOptions server = {}) {
  auto scenario = emulator::ParseScenario(scenario_yaml, "<scenario>", VOXPIPE_SOURCE_DIR "/tests/data/emulator");
  EXPECT_TRUE(scenario.ok()) << scenario.message();
  if (!scenario.ok()) return nullptr;
  auto emulator = std::make_unique<emulator::GeminiEmulator>(std::move(scenario).value(), server);
  auto started = emulator->Start();
  EXPECT_TRUE(started.ok()) << started.message();
  return started.ok() ? std::move(emulator) : nullptr;
}

// The YAML of one GeminiLiveLLM stage talking to `url`, plus `extra` option lines.
inline std::string GeminiStage(const std::string& url, const std::string& extra = "") {
  std::string yaml = fmt::format(
      "- type: GeminiLiveLLM\n"
      "  url: {}\n"
      "  api_key: {}\n"
      "  model: gemini-test-model\n"
      "  reconnect_backoff: 20ms\n",
      url, kTestKey);
  std::string indented;
  size_t start = 0;
  while (start < extra.size()) {
    size_t end = extra.find('\n', start);
    if (end == std::string::npos) end = extra.size();
    indented += "  " + extra.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return yaml + indented;
}

// 20 ms frames of a loud 300 Hz tone (speech to the emulator) or silence.
inline std::vector<AudioFrame> Speech(int ms, int rate = 16000) {
  std::vector<AudioFrame> frames;
  const int n = rate / 50;
  for (int f = 0; f < ms / 20; ++f) {
    AudioFrame frame{rate, 1, std::vector<int16_t>(n)};
    for (int i = 0; i < n; ++i) {
      frame.samples[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 300 * double(f * n + i) / rate));
    }
    frames.push_back(std::move(frame));
  }
  return frames;
}

inline std::vector<AudioFrame> Silence(int ms, int rate = 16000) {
  return std::vector<AudioFrame>(ms / 20, AudioFrame{rate, 1, std::vector<int16_t>(rate / 50)});
}

inline void PushAll(ProcessorHarness& h, const std::vector<AudioFrame>& frames) {
  for (const auto& f : frames) h.Push(f);
}

inline std::vector<int16_t> Concat(const std::vector<AudioFrame>& frames) {
  std::vector<int16_t> out;
  for (const auto& f : frames) out.insert(out.end(), f.samples.begin(), f.samples.end());
  return out;
}

}  // namespace voxpipe::testing
