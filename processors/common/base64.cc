#include "processors/common/base64.h"

#include <array>
#include <cstring>

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
  size_t i = 0;
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
