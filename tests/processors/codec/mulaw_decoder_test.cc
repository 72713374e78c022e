#include "processors/codec/mulaw_decoder.h"

#include <gtest/gtest.h>

#include "framework/testing/processor_harness.h"
#include "processors/common/g711.h"

namespace voxpipe {
namespace {

TEST(MulawDecoderTest, DecodesMulawFramesKeepingRateAndIngress) {
  ProcessorHarness h("- type: MulawDecoder", StreamFormat::Mulaw(8000));
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  auto ingress = Clock::now();
  h.Push(Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, {0x00, 0x80, 0xFF, 0xCE}}, ingress));
  auto frames = h.TakeDownstream();
  ASSERT_EQ(frames.size(), 2u);  // StartFrame, then the audio
  auto* audio = frames[1].As<AudioFrame>();
  ASSERT_NE(audio, nullptr);
  EXPECT_EQ(audio->sample_rate, 8000);
  EXPECT_EQ(audio->samples, (std::vector<int16_t>{-32124, 32124, 0, 988}));
  EXPECT_EQ(frames[1].ingress, ingress);
}

TEST(MulawDecoderTest, PassesOtherFramesThrough) {
  ProcessorHarness h("- type: MulawDecoder", StreamFormat::Mulaw(8000));
  h.Push(DtmfFrame{'5'});
  h.Push(TextFrame{"hello"});
  auto dtmf = h.Downstream<DtmfFrame>();
  ASSERT_EQ(dtmf.size(), 1u);
  EXPECT_EQ(dtmf[0].digit, '5');
  EXPECT_EQ(h.Downstream<TextFrame>().size(), 1u);
}

TEST(MulawDecoderTest, RejectsPcmInputWhenBuilt) {
  ProcessorHarness h("- type: MulawDecoder", StreamFormat::Pcm16(16000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("<harness>:1: MulawDecoder cannot take PCM s16le 16000 Hz mono"),
            std::string::npos)
      << h.status().message();
}

TEST(MulawDecoderTest, RejectsOptionsItDoesNotHave) {
  ProcessorHarness h("- type: MulawDecoder\n  rate: 8000", StreamFormat::Mulaw(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("<harness>:2: unknown option 'rate'"), std::string::npos)
      << h.status().message();
}

}  // namespace
}  // namespace voxpipe
