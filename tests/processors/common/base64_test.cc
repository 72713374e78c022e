#include "processors/common/base64.h"

#include <gtest/gtest.h>

namespace voxpipe::base64 {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 4648 section 4 read literally, six bits at a time: the reference the
// fast paths (16 characters at a time, then quads) are held to.
std::string ReferenceEncode(const std::vector<uint8_t>& data) {
  std::string out;
  size_t bits = data.size() * 8;
  for (size_t at = 0; at < bits; at += 6) {
    int value = 0;
    for (size_t b = at; b < at + 6; ++b) {
      value = value << 1 | (b < bits ? (data[b / 8] >> (7 - b % 8)) & 1 : 0);
    }
    out += kAlphabet[value];
  }
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> data(n);
  uint32_t x = 12345;
  for (auto& b : data) b = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
  return data;
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(Encode(Bytes(plain)), encoded);
    auto decoded = Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, Bytes(plain));
  }
}

TEST(Base64Test, RoundTripsEveryByteValue) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Decode(Encode(all)), all);
}

TEST(Base64Test, EveryLengthMatchesTheRfc) {
  for (size_t n = 0; n <= 700; ++n) {  // past a realtimeInput's 640 bytes
    auto data = Pattern(n);
    std::string text = Encode(data);
    ASSERT_EQ(text, ReferenceEncode(data)) << n << " bytes";
    ASSERT_EQ(Decode(text), data) << n << " bytes";
  }
}

TEST(Base64Test, DecodesEveryCharacterAnywhere) {
  const std::string base = Encode(Pattern(48));  // 64 characters: several 16-character groups
  for (size_t at = 0; at < base.size(); ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string text = base;
      text[at] = static_cast<char>(c);
      auto value = kAlphabet.find(static_cast<char>(c));
      if (c == '=' && at == base.size() - 1) continue;  // padding, a valid ending
      auto decoded = Decode(text);
      if (value == std::string_view::npos) {
        ASSERT_FALSE(decoded.has_value()) << "character " << c << " at " << at;
        continue;
      }
      ASSERT_TRUE(decoded.has_value()) << "character " << c << " at " << at;
      ASSERT_EQ(Encode(*decoded), text) << "character " << c << " at " << at;
    }
  }
}

TEST(Base64Test, RejectsMalformedInput) {
  EXPECT_FALSE(Decode("Zm9").has_value());       // length
  EXPECT_FALSE(Decode("Zm9v!A==").has_value());  // character
  EXPECT_FALSE(Decode("Z===").has_value());      // padding
  EXPECT_FALSE(Decode("Zg==Zg==").has_value());  // padding in the middle
  for (size_t at = 0; at < 8; ++at) {             // a bad character anywhere, first quad to last
    std::string text = "Zm9vYmFy";
    text[at] = '\n';
    EXPECT_FALSE(Decode(text).has_value()) << at;
  }
  EXPECT_EQ(Decode("")->size(), 0u);
}

}  // namespace
}  // namespace voxpipe::base64
