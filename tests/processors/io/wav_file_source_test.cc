#include "processors/io/wav_file_source.h"

#include <gtest/gtest.h>

#include "framework/testing/processor_harness.h"
#include "framework/audio/wav_file.h"

namespace voxpipe {
namespace {

const std::string kCaller = std::string(VOXPIPE_AUDIO_DIR) + "/caller_visiting_hours_8k_mulaw.wav";
const std::string kCaller16k = std::string(VOXPIPE_AUDIO_DIR) + "/caller_visiting_hours_16k.wav";

TEST(WavFileSourceTest, PlaysAMulawFileInTwentyMillisecondFramesThenEnds) {
  ProcessorHarness h("- type: WavFileSource\n  path: " + kCaller + "\n");
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Start();
  ASSERT_TRUE(h.RunUntil([&] { return h.finished(); }));
  EXPECT_TRUE(h.result().ok()) << h.result().message();
  auto frames = h.Downstream<EncodedAudioFrame>();
  auto file = wav::Read(kCaller);
  ASSERT_TRUE(file.ok());
  std::vector<uint8_t> played;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].sample_rate, 8000);
    if (i + 1 < frames.size()) {
      EXPECT_EQ(frames[i].bytes.size(), 160u);
    }
    played.insert(played.end(), frames[i].bytes.begin(), frames[i].bytes.end());
  }
  EXPECT_EQ(played, file->mulaw);
  EXPECT_EQ(h.Downstream<EndFrame>().size(), 1u);
}

TEST(WavFileSourceTest, PadsWithSilenceAndCanLeaveThePipelineOpen) {
  ProcessorHarness h("- type: WavFileSource\n  path: " + kCaller16k + "\n  pad_end: 100ms\n  end: false\n  frame: 10ms\n");
  ASSERT_TRUE(h.status().ok()) << h.status().message();
  h.Start();
  h.RunFor(std::chrono::milliseconds(200));
  EXPECT_FALSE(h.finished());
  auto samples = h.DownstreamSamples();
  auto file = wav::Read(kCaller16k);
  ASSERT_EQ(samples.size(), file->pcm.size() + 1600);
  EXPECT_TRUE(std::all_of(samples.end() - 1600, samples.end(), [](int16_t s) { return s == 0; }));
  EXPECT_EQ(h.Downstream<AudioFrame>().front().samples.size(), 160u);
}

TEST(WavFileSourceTest, RealtimePacingDeliversFramesOverTime) {
  ProcessorHarness h("- type: WavFileSource\n  path: " + kCaller + "\n  realtime: true\n");
  h.Start();
  h.RunFor(std::chrono::milliseconds(100));
  // Paced: a fraction of the 3.8 s file has come out, and the pipeline runs on.
  size_t frames = h.Downstream<EncodedAudioFrame>().size();
  EXPECT_GT(frames, 0u);
  EXPECT_LT(frames, 150u);
  EXPECT_FALSE(h.finished());
}

TEST(WavFileSourceTest, MissingFileIsABuildErrorWithTheLine) {
  ProcessorHarness h("- type: WavFileSource\n  path: /nonexistent/x.wav\n");
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("<harness>:1: WavFileSource cannot take no audio from the pipeline's input: "
                                      "/nonexistent/x.wav: cannot open WAV"),
            std::string::npos)
      << h.status().message();
}

TEST(WavFileSourceTest, UnsupportedEncodingIsNamed) {
  std::string path = ::testing::TempDir() + "/float.wav";
  ASSERT_EQ(std::system(("sox -n -r 8000 -e floating-point -b 32 " + path + " trim 0 0.1 2>/dev/null").c_str()), 0);
  auto probe = wav::Probe(path);
  ASSERT_FALSE(probe.ok());
  EXPECT_NE(probe.message().find("is not supported; convert it to 16-bit PCM or mu-law"), std::string::npos)
      << probe.message();
}

}  // namespace
}  // namespace voxpipe
