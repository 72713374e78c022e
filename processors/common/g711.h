// G.711 mu-law, bit-exact with the ITU-T G.191 reference (g711.c):
// 16-bit linear input is reduced to 14 bits the way ulaw_compress() does
// (so -1 encodes to 0x7F, where Python's audioop gives 0x7E), and codes
// expand to ulaw_expand()'s 16-bit left-justified values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace voxpipe::g711 {

uint8_t MulawEncode(int16_t sample);
int16_t MulawDecode(uint8_t code);

// Whole buffers; `out` must be as long as `in`.
void MulawEncode(std::span<const int16_t> in, std::span<uint8_t> out);
void MulawDecode(std::span<const uint8_t> in, std::span<int16_t> out);

}  // namespace voxpipe::g711
