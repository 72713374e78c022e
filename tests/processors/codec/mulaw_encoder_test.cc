#include "processors/codec/mulaw_encoder.h"

#include <gtest/gtest.h>

#include "framework/testing/processor_harness.h"
#include "processors/common/g711.h"

namespace voxpipe {
namespace {

TEST(MulawEncoderTest, EncodesPcmFrames) {
  ProcessorHarness h("- type: MulawEncoder", StreamFormat::Pcm16(8000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Push(AudioFrame{8000, 1, {0, -1, 1000, -32768}});
  auto out = h.Downstream<EncodedAudioFrame>();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sample_rate, 8000);
  EXPECT_EQ(out[0].bytes, (std::vector<uint8_t>{0xFF, 0x7F, 0xCE, 0x00}));
}

TEST(MulawEncoderTest, DecoderAndEncoderChainIsLossless) {
  ProcessorHarness h(R"(
- type: MulawDecoder
- type: MulawEncoder
)",
                     StreamFormat::Mulaw(8000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  std::vector<uint8_t> all;
  for (int c = 0; c < 256; ++c) {
    if (c != 0x7F) all.push_back(static_cast<uint8_t>(c));
  }
  h.Push(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, all});
  auto out = h.Downstream<EncodedAudioFrame>();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, all);
}

TEST(MulawEncoderTest, RejectsMulawInputWhenBuilt) {
  ProcessorHarness h("- type: MulawEncoder", StreamFormat::Mulaw(8000));
  EXPECT_FALSE(h.status().ok());
}

}  // namespace
}  // namespace voxpipe
