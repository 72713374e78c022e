// The per-frame building blocks of the phone chain, one 20 ms frame at a time.
#include <cmath>
#include <numbers>

#include <benchmark/benchmark.h>

#include "processors/common/g711.h"
#include "processors/common/base64.h"

namespace voxpipe {
namespace {

std::vector<int16_t> Speechlike(size_t n, int rate) {
  std::vector<int16_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    double t = double(i) / rate;
    out[i] = static_cast<int16_t>(8000 * std::sin(2 * std::numbers::pi * 220 * t) +
                                  3000 * std::sin(2 * std::numbers::pi * 1330 * t));
  }
  return out;
}

void BM_MulawEncode20ms(benchmark::State& state) {
  auto pcm = Speechlike(160, 8000);
  std::vector<uint8_t> out(160);
  for (auto _ : state) {
    g711::MulawEncode(pcm, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 160);
}
BENCHMARK(BM_MulawEncode20ms);

void BM_MulawDecode20ms(benchmark::State& state) {
  auto pcm = Speechlike(160, 8000);
  std::vector<uint8_t> codes(160);
  g711::MulawEncode(pcm, codes);
  std::vector<int16_t> out(160);
  for (auto _ : state) {
    g711::MulawDecode(codes, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 160);
}
BENCHMARK(BM_MulawDecode20ms);

// 20 ms of audio: 160 bytes of mu-law (a Twilio payload) or 640 of 16-bit
// PCM at 16 kHz (a realtimeInput message's audio).
void BM_Base64Encode20ms(benchmark::State& state) {
  std::vector<uint8_t> bytes(size_t(state.range(0)), 0x55);
  std::string out;
  for (auto _ : state) {
    out.clear();
    base64::EncodeTo(bytes, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Base64Encode20ms)->Arg(160)->Arg(640);

void BM_Base64Decode20msMulaw(benchmark::State& state) {
  std::string text = base64::Encode(std::vector<uint8_t>(160, 0x55));
  std::vector<uint8_t> out;
  for (auto _ : state) {
    base64::DecodeTo(text, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Base64Decode20msMulaw);

}  // namespace
}  // namespace voxpipe
