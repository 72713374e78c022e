#include "processors/common/g711.h"

#include <array>
#include <bit>
#include <cassert>

namespace voxpipe::g711 {
namespace {

// G.191's compression for one sample, expressed with bit operations: the
// segment is the bit length of the 13-bit magnitude above 64, the mantissa
// the four bits below its leading one.
constexpr uint8_t CompressReference(int16_t sample) {
  int magnitude = (sample < 0 ? (~sample >> 2) : (sample >> 2)) + 33;  // 33: mu-law bias in 14-bit units
  if (magnitude > 0x1FFF) magnitude = 0x1FFF;
  int segment = std::bit_width(static_cast<unsigned>(magnitude >> 6)) + 1;  // 1..8
  int mantissa = 0xF - ((magnitude >> segment) & 0xF);
  int code = ((8 - segment) << 4) | mantissa;
  return static_cast<uint8_t>(sample >= 0 ? (code | 0x80) : code);
}

constexpr int16_t ExpandReference(uint8_t code) {
  int inverted = ~code & 0xFF;
  int exponent = (inverted >> 4) & 0x7;
  int mantissa = inverted & 0xF;
  int step = 4 << (exponent + 1);
  int magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
  return static_cast<int16_t>(code < 0x80 ? -magnitude : magnitude);
}

// The output depends only on the top 14 bits of the sample (sample >> 2,
// arithmetic), so one 16 KiB table covers every input.
struct Tables {
  std::array<uint8_t, 1 << 14> encode{};
  std::array<int16_t, 256> decode{};
  constexpr Tables() {
    for (int i = 0; i < (1 << 14); ++i) {
      encode[i] = CompressReference(static_cast<int16_t>((i - ((i & 0x2000) ? 0x4000 : 0)) * 4));
    }
    for (int c = 0; c < 256; ++c) decode[c] = ExpandReference(static_cast<uint8_t>(c));
  }
};

constexpr Tables kTables;

inline uint8_t Encode(int16_t sample) { return kTables.encode[static_cast<uint16_t>(sample) >> 2]; }

}  // namespace

uint8_t MulawEncode(int16_t sample) { return Encode(sample); }
int16_t MulawDecode(uint8_t code) { return kTables.decode[code]; }

void MulawEncode(std::span<const int16_t> in, std::span<uint8_t> out) {
  assert(out.size() >= in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = Encode(in[i]);
}

void MulawDecode(std::span<const uint8_t> in, std::span<int16_t> out) {
  assert(out.size() >= in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = kTables.decode[in[i]];
}

}  // namespace voxpipe::g711
