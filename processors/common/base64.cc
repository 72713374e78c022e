#include "processors/common/base64.h"

#include <array>

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

}  // namespace

void EncodeTo(std::span<const uint8_t> data, std::string& out) {
  size_t start = out.size();
  out.resize(start + EncodedSize(data.size()));
  char* p = out.data() + start;
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
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
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(text.size() / 4 * 3 - padding);
  uint8_t* p = out.data();
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int a = kReverse[static_cast<uint8_t>(text[i])];
    int b = kReverse[static_cast<uint8_t>(text[i + 1])];
    int c = last && padding == 2 ? 0 : kReverse[static_cast<uint8_t>(text[i + 2])];
    int d = last && padding >= 1 ? 0 : kReverse[static_cast<uint8_t>(text[i + 3])];
    if ((a | b | c | d) < 0) return false;
    uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    *p++ = static_cast<uint8_t>(v >> 16);
    if (!(last && padding == 2)) *p++ = static_cast<uint8_t>(v >> 8);
    if (!(last && padding >= 1)) *p++ = static_cast<uint8_t>(v);
  }
  return true;
}

std::optional<std::vector<uint8_t>> Decode(std::string_view text) {
  std::vector<uint8_t> out;
  if (!DecodeTo(text, out)) return std::nullopt;
  return out;
}

}  // namespace voxpipe::base64
