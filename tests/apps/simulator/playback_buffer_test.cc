#include "apps/simulator/playback_buffer.h"

#include <gtest/gtest.h>

namespace voxpipe::simulator {
namespace {

constexpr size_t kSlot = 160;  // 20 ms of 8 kHz mu-law

std::vector<uint8_t> Audio(size_t slots, uint8_t value = 0x10) { return std::vector<uint8_t>(slots * kSlot, value); }

TEST(PlaybackBufferTest, PlaysWhatCameThenSilence) {
  PlaybackBuffer buffer;
  std::vector<uint8_t> heard;
  buffer.Append(Audio(1, 0x22));
  buffer.Play(kSlot + 80, heard);
  ASSERT_EQ(heard.size(), kSlot + 80);
  EXPECT_EQ(heard[kSlot - 1], 0x22);
  EXPECT_EQ(heard[kSlot], kMulawSilence);
  EXPECT_EQ(buffer.queued_bytes(), 0u);
}

TEST(PlaybackBufferTest, AMarkIsReachedWhenTheAudioBeforeItHasPlayed) {
  PlaybackBuffer buffer;
  std::vector<uint8_t> heard;
  buffer.Append(Audio(2));
  buffer.Mark("turn-1");
  buffer.Append(Audio(1));
  EXPECT_TRUE(buffer.Play(kSlot, heard).empty());
  EXPECT_EQ(buffer.Play(kSlot, heard), std::vector<std::string>{"turn-1"});
  EXPECT_TRUE(buffer.Play(kSlot, heard).empty());
}

TEST(PlaybackBufferTest, ClearDropsTheAudioAndReturnsPendingMarks) {
  PlaybackBuffer buffer;
  std::vector<uint8_t> heard;
  buffer.Append(Audio(5));
  buffer.Mark("a");
  buffer.Append(Audio(5));
  buffer.Mark("b");
  buffer.Play(kSlot, heard);
  EXPECT_EQ(buffer.Clear(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(buffer.queued_bytes(), 0u);
  buffer.Play(kSlot, heard);
  EXPECT_EQ(heard.back(), kMulawSilence);
}

// Silence inside an utterance (audio ran dry, then more of it came) is a gap
// the caller hears as a clipped word; silence after a mark, between turns, or
// before the first audio is not.
TEST(PlaybackBufferTest, CountsOnlySilenceInsideAnUtterance) {
  PlaybackBuffer buffer;
  std::vector<uint8_t> heard;
  for (int i = 0; i < 10; ++i) buffer.Play(kSlot, heard);  // before anything came
  buffer.Append(Audio(2));
  for (int i = 0; i < 5; ++i) buffer.Play(kSlot, heard);  // 2 played, 3 dry
  EXPECT_EQ(buffer.gaps(), 0u) << "not a gap until the utterance goes on";
  buffer.Append(Audio(1));
  EXPECT_EQ(buffer.gaps(), 3u);
  buffer.Mark("turn-1");
  for (int i = 0; i < 20; ++i) buffer.Play(kSlot, heard);  // the turn ended: silence between turns
  buffer.Append(Audio(1));
  EXPECT_EQ(buffer.gaps(), 3u);
  buffer.Play(kSlot, heard);
  buffer.Play(kSlot, heard);  // dry
  EXPECT_EQ(buffer.Clear(), std::vector<std::string>{});
  buffer.Append(Audio(1));  // a new utterance after barge-in
  EXPECT_EQ(buffer.gaps(), 3u);
}

}  // namespace
}  // namespace voxpipe::simulator
