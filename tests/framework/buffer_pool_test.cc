// BufferPool: what a frame frees on a thread is what the next producer on
// that thread writes into, within the pool's bounds.
#include "framework/buffer_pool.h"

#include <thread>

#include <gtest/gtest.h>

#include "framework/frames.h"

namespace voxpipe {
namespace {

using Samples = BufferPool<int16_t>;
using Bytes = BufferPool<uint8_t>;

// Empties this thread's pool of samples.
void Drain() {
  while (Samples::kept() > 0) Samples::Take(0);
}

TEST(BufferPoolTest, AGivenBufferIsTakenAgainEmptyWithItsStorage) {
  Drain();
  auto buffer = Samples::Take(320);
  EXPECT_GE(buffer.capacity(), 320u);
  buffer.resize(320, 7);
  const int16_t* storage = buffer.data();
  Samples::Give(buffer);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(Samples::kept(), 1u);
  auto again = Samples::Take(160);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(again.data(), storage);
  EXPECT_EQ(Samples::kept(), 0u);
}

TEST(BufferPoolTest, AnAudioFrameGivesItsSamplesBackWhenDestroyed) {
  Drain();
  const int16_t* storage;
  {
    Frame frame = Frame::Make(AudioFrame{16000, 1, Samples::Take(320)});
    frame.As<AudioFrame>()->samples.resize(320);
    storage = frame.As<AudioFrame>()->samples.data();
    Frame moved = std::move(frame);  // the moved-from frame has nothing to give
  }
  EXPECT_EQ(Samples::kept(), 1u);
  EXPECT_EQ(Samples::Take(320).data(), storage);
}

TEST(BufferPoolTest, AnEncodedFrameGivesItsBytesBack) {
  while (Bytes::kept() > 0) Bytes::Take(0);
  const uint8_t* storage;
  {
    Frame frame = Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, Bytes::Take(160)});
    frame.As<EncodedAudioFrame>()->bytes.resize(160);
    storage = frame.As<EncodedAudioFrame>()->bytes.data();
  }
  EXPECT_EQ(Bytes::Take(160).data(), storage);
}

TEST(BufferPoolTest, KeepsABoundedNumberOfBuffersOfABoundedSize) {
  Drain();
  std::vector<std::vector<int16_t>> buffers;
  for (size_t i = 0; i < Samples::kMaxBuffers + 5; ++i) buffers.push_back(Samples::Take(100));
  for (auto& b : buffers) Samples::Give(b);
  EXPECT_EQ(Samples::kept(), Samples::kMaxBuffers);
  Drain();
  auto big = Samples::Take(Samples::kMaxBytes / sizeof(int16_t) + 1);
  Samples::Give(big);
  EXPECT_EQ(Samples::kept(), 0u) << "a buffer above the size limit goes back to malloc";
  std::vector<int16_t> never_allocated;
  Samples::Give(never_allocated);
  EXPECT_EQ(Samples::kept(), 0u);
}

TEST(BufferPoolTest, AThreadThatNeverTookKeepsNothing) {
  size_t kept_there = 1;
  std::thread([&] {
    std::vector<int16_t> buffer(320);
    Samples::Give(buffer);
    kept_there = Samples::kept();
  }).join();
  EXPECT_EQ(kept_there, 0u);
}

}  // namespace
}  // namespace voxpipe
