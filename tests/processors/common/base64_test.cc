#include "processors/common/base64.h"

#include <gtest/gtest.h>

namespace voxpipe::base64 {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

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
