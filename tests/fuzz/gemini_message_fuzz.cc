// Gemini Live server messages (GeminiLiveSession parses each one).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "processors/gemini/gemini_live_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxpipe::gemini;
  auto parsed = ParseServerMessage(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!parsed.ok()) return 0;
  if (parsed->problems.size() > kMaxProblems + 1) abort();
  if (parsed->go_away && (parsed->go_away->count() < 0 || *parsed->go_away > kMaxDuration)) abort();
  for (const auto& chunk : parsed->audio) {
    if (chunk.samples.empty() || chunk.sample_rate < 1000 || chunk.sample_rate > 192000) abort();
  }
  if (size > 0) {
    // Durations alone, as goAway carries them.
    std::string text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 64));
    auto duration = ParseDuration(text);
    if (duration && (duration->count() < 0 || *duration > kMaxDuration)) abort();
  }
  return 0;
}
