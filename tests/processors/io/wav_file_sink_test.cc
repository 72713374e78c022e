#include "processors/io/wav_file_sink.h"

#include <gtest/gtest.h>

#include "framework/testing/processor_harness.h"
#include "processors/common/g711.h"
#include "framework/audio/wav_file.h"

#include <cmath>

namespace voxpipe {
namespace {

TEST(WavFileSinkTest, WritesPcmAtTheFramesRate) {
  std::string path = ::testing::TempDir() + "/sink_pcm/out.wav";  // the folder is created
  {
    ProcessorHarness h("- type: WavFileSink\n  path: " + path + "\n", StreamFormat::Pcm16(0));
    ASSERT_TRUE(h.status().ok()) << h.status().message();
    h.Push(AudioFrame{24000, 1, {1, 2, 3}});
    h.Push(AudioFrame{24000, 1, {-4, 5}});
    h.Push(TextFrame{"passes"});
    EXPECT_EQ(h.Downstream<TextFrame>().size(), 1u);
    EXPECT_TRUE(h.Downstream<AudioFrame>().empty());
    h.End();
  }
  auto audio = wav::Read(path);
  ASSERT_TRUE(audio.ok()) << audio.message();
  EXPECT_EQ(audio->format, StreamFormat::Pcm16(24000));
  EXPECT_EQ(audio->pcm, (std::vector<int16_t>{1, 2, 3, -4, 5}));
}

TEST(WavFileSinkTest, WritesMulawBytesUnchanged) {
  std::string path = ::testing::TempDir() + "/sink_mulaw.wav";
  {
    ProcessorHarness h("- type: WavFileSink\n  path: " + path + "\n", StreamFormat::Mulaw(8000));
    h.Push(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, {0x00, 0x7F, 0x80, 0xFF}});
    h.End();
  }
  auto audio = wav::Read(path);
  ASSERT_TRUE(audio.ok()) << audio.message();
  EXPECT_EQ(audio->format, StreamFormat::Mulaw(8000));
  EXPECT_EQ(audio->mulaw, (std::vector<uint8_t>{0x00, 0x7F, 0x80, 0xFF}));
}

TEST(WavFileSinkTest, KnownRateCreatesTheFileEvenWithoutAudio) {
  std::string path = ::testing::TempDir() + "/sink_empty.wav";
  std::remove(path.c_str());
  {
    ProcessorHarness h("- type: WavFileSink\n  path: " + path + "\n", StreamFormat::Pcm16(16000));
    h.End();
  }
  auto audio = wav::Read(path);
  ASSERT_TRUE(audio.ok()) << audio.message();
  EXPECT_EQ(audio->samples(), 0u);
}

TEST(WavFileSinkTest, AudioAtAnotherRateIsReportedOnceAndDropped) {
  std::string path = ::testing::TempDir() + "/sink_mixed.wav";
  ProcessorHarness h("- type: WavFileSink\n  path: " + path + "\n", StreamFormat::Pcm16(0));
  h.Push(AudioFrame{8000, 1, {1}});
  h.Push(AudioFrame{16000, 1, {2}});
  h.Push(AudioFrame{16000, 1, {3}});
  auto errors = h.Upstream<ErrorFrame>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_FALSE(errors[0].fatal);
  EXPECT_NE(errors[0].message.find("got PCM s16le 16000 Hz mono after PCM s16le 8000 Hz mono"), std::string::npos);
}

TEST(WavFileSinkTest, RoundTripPipelineKeepsTheCallAudible) {
  // The shipped round-trip pipeline's path through the codec and resamplers
  // returns the same number of samples, close to the original.
  std::string in = std::string(VOXPIPE_AUDIO_DIR) + "/caller_visiting_hours_8k_mulaw.wav";
  std::string out = ::testing::TempDir() + "/roundtrip.wav";
  {
    ProcessorHarness h("- {type: WavFileSource, path: " + in +
                       "}\n- type: MulawDecoder\n- {type: Resampler, rate: 16000}\n- {type: Resampler, rate: 8000}\n"
                       "- {type: WavFileSink, path: " + out + "}\n");
    ASSERT_TRUE(h.status().ok()) << h.status().message();
    h.Start();
    ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  }
  auto original = wav::Read(in);
  auto result = wav::Read(out);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->pcm.size(), original->mulaw.size());
  // Aligned (soxr compensates its filter delay) and nearly identical: the
  // speech is band-limited well below 4 kHz.
  double dot = 0, a2 = 0, b2 = 0;
  for (size_t i = 0; i < result->pcm.size(); ++i) {
    double a = g711::MulawDecode(original->mulaw[i]);
    double b = result->pcm[i];
    dot += a * b;
    a2 += a * a;
    b2 += b * b;
  }
  EXPECT_GT(dot / std::sqrt(a2 * b2), 0.98);
}

}  // namespace
}  // namespace voxpipe
