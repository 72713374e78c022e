#include "processors/common/base64.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace voxpipe::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeReverse() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto kReverse = MakeReverse();

// kDecode[i][c]: character c's six bits in position i of a quad, already
// shifted; a character outside the alphabet sets bit 31 instead. A quad is
// then four lookups OR-ed together and one test.
constexpr uint32_t kInvalid = 0x80000000u;
constexpr std::array<std::array<uint32_t, 256>, 4> MakeDecode() {
  std::array<std::array<uint32_t, 256>, 4> tables{};
  for (int i = 0; i < 4; ++i) {
    for (int c = 0; c < 256; ++c) {
      tables[i][c] = kReverse[c] < 0 ? kInvalid : uint32_t(kReverse[c]) << (18 - 6 * i);
    }
  }
  return tables;
}
constexpr auto kDecode = MakeDecode();

inline uint32_t DecodeQuad(const char* q) {
  return kDecode[0][uint8_t(q[0])] | kDecode[1][uint8_t(q[1])] | kDecode[2][uint8_t(q[2])] | kDecode[3][uint8_t(q[3])];
}

#if defined(__x86_64__)
// Sixteen characters at a time with SSSE3's byte shuffle instead of the
// tables: every realtimeInput message encodes 640 bytes and every media
// message decodes 216 characters, and in a process serving a hundred calls the
// tables' 12 KiB fell out of the cache between messages (the scalar encoder
// ran at a third of its benchmark speed there). The method is Muła and
// Lemire's ("Faster Base64 Encoding and Decoding Using AVX2 Instructions",
// 2018).

bool HaveSsse3() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("ssse3") != 0;
  }();
  return have;
}

// Encodes whole 12-byte groups while 16 bytes can be loaded; returns the
// bytes done.
__attribute__((target("ssse3"))) size_t EncodeBlocks(const uint8_t* data, size_t size, char* out) {
  // Each 32-bit lane gets bytes (s1, s0, s2, s1) of its three, so that its
  // 16-bit halves hold s0:s1 and s1:s2 in reading order.
  const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  // 6-bit value -> offset to its character: [0] for a-z (26..51), [1..10]
  // for 0-9, [11] '+', [12] '/', [13] A-Z.
  const __m128i offsets = _mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
  size_t i = 0;
  for (; i + 16 <= size; i += 12, out += 16) {
    __m128i in = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i)), spread);
    // Bytes (a, b, c, d) of each lane: a and c by a high multiply, b and d by a low one.
    __m128i ac = _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0FC0FC00)), _mm_set1_epi32(0x04000040));
    __m128i bd = _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003F03F0)), _mm_set1_epi32(0x01000010));
    __m128i values = _mm_or_si128(ac, bd);
    __m128i range = _mm_subs_epu8(values, _mm_set1_epi8(51));
    __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), values), _mm_set1_epi8(13));
    __m128i chars = _mm_add_epi8(values, _mm_shuffle_epi8(offsets, _mm_or_si128(range, upper)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), chars);
  }
  return i;
}

// Decodes whole 16-character groups, none of them padding, while at least
// `keep` characters are left after them; returns the characters done, which
// stops short at the first group holding a character outside the alphabet.
__attribute__((target("ssse3"))) size_t DecodeBlocks(const char* text, size_t size, size_t keep, uint8_t* out) {
  // A character is in the alphabet when its high nibble's class bit is not
  // set in its low nibble's entry: classes 0x01 (2_: only + and /), 0x02
  // (3_: 0-9), 0x04 (4_ and 6_: not @ or `), 0x08 (5_ and 7_: up to Z and z),
  // 0x10 (no character).
  const __m128i by_low = _mm_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B,
                                       0x1B, 0x1B, 0x1A);
  const __m128i by_high = _mm_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10,
                                        0x10, 0x10, 0x10);
  // Offset from a character to its value by high nibble, '/' (one less) at [1].
  const __m128i offsets = _mm_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  // The three bytes of each lane's 24 bits, in order.
  const __m128i gather = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  size_t i = 0;
  for (; i + 16 + keep <= size; i += 16, out += 12) {
    __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + i));
    __m128i high = _mm_and_si128(_mm_srli_epi32(in, 4), _mm_set1_epi8(0x0F));
    __m128i low = _mm_and_si128(in, _mm_set1_epi8(0x0F));
    __m128i bad = _mm_and_si128(_mm_shuffle_epi8(by_low, low), _mm_shuffle_epi8(by_high, high));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xFFFF) break;
    __m128i slash = _mm_cmpeq_epi8(in, _mm_set1_epi8('/'));
    __m128i values = _mm_add_epi8(in, _mm_shuffle_epi8(offsets, _mm_add_epi8(high, slash)));
    // Pairs to 12 bits, then pairs of those to 24.
    __m128i pairs = _mm_maddubs_epi16(values, _mm_set1_epi32(0x01400140));
    __m128i lanes = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00011000));
    alignas(16) uint8_t bytes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes), _mm_shuffle_epi8(lanes, gather));
    std::memcpy(out, bytes, 12);
  }
  return i;
}
#else
bool HaveSsse3() { return false; }
size_t EncodeBlocks(const uint8_t*, size_t, char*) { return 0; }
size_t DecodeBlocks(const char*, size_t, size_t, uint8_t*) { return 0; }
#endif

}  // namespace

// kPairs[v]: the two characters of a 12-bit value, so three bytes take two
// lookups instead of four.
constexpr std::array<std::array<char, 2>, 4096> MakePairs() {
  std::array<std::array<char, 2>, 4096> pairs{};
  for (int v = 0; v < 4096; ++v) pairs[v] = {kAlphabet[v >> 6], kAlphabet[v & 63]};
  return pairs;
}
constexpr auto kPairs = MakePairs();

void EncodeTo(std::span<const uint8_t> data, std::string& out) {
  size_t start = out.size();
  out.resize(start + EncodedSize(data.size()));
  char* p = out.data() + start;
  size_t i = HaveSsse3() ? EncodeBlocks(data.data(), data.size(), p) : 0;
  p += i / 3 * 4;
  for (; i + 3 <= data.size(); i += 3, p += 4) {
    uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    std::memcpy(p, kPairs[v >> 12].data(), 2);
    std::memcpy(p + 2, kPairs[v & 0xFFF].data(), 2);
  }
  if (size_t rest = data.size() - i; rest > 0) {
    uint32_t v = uint32_t(data[i]) << 16;
    if (rest == 2) v |= uint32_t(data[i + 1]) << 8;
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    *p++ = '=';
  }
}

std::string Encode(std::span<const uint8_t> data) {
  std::string out;
  EncodeTo(data, out);
  return out;
}

bool DecodeTo(std::string_view text, std::vector<uint8_t>& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  if (text.empty()) return true;
  size_t padding = text.back() != '=' ? 0 : text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(text.size() / 4 * 3 - padding);
  uint8_t* p = out.data();
  const char* q = text.data();
  const char* last = q + text.size() - 4;
  if (HaveSsse3()) {
    // The last quad, which may be padded, is left to the loops below.
    size_t done = DecodeBlocks(q, text.size(), 4, p);
    q += done;
    p += done / 4 * 3;
  }
  for (; q < last; q += 4, p += 3) {
    uint32_t v = DecodeQuad(q);
    if (v & kInvalid) return false;
    p[0] = uint8_t(v >> 16);
    p[1] = uint8_t(v >> 8);
    p[2] = uint8_t(v);
  }
  // The last quad may end in padding ("xx==" or "xxx=").
  char tail[4] = {q[0], q[1], padding == 2 ? 'A' : q[2], padding >= 1 ? 'A' : q[3]};
  uint32_t v = DecodeQuad(tail);
  if (v & kInvalid) return false;
  p[0] = uint8_t(v >> 16);
  if (padding < 2) p[1] = uint8_t(v >> 8);
  if (padding < 1) p[2] = uint8_t(v);
  return true;
}

std::optional<std::vector<uint8_t>> Decode(std::string_view text) {
  std::vector<uint8_t> out;
  if (!DecodeTo(text, out)) return std::nullopt;
  return out;
}

}  // namespace voxpipe::base64
