// BufferPool: the sample and byte vectors of audio frames, recycled on the
// thread that frees them.
//
// Every 20 ms frame of a call used to own a fresh vector at each stage
// (the Twilio payload's bytes, the decoder's samples, the resampler's): three
// to four malloc/free pairs a frame, and memory that had left the cache.
// A call's frames are made and freed on its loop's thread, so the vector one
// stage frees is the one the next frame's stage writes into. A Frame gives
// its AudioFrame's samples or EncodedAudioFrame's bytes back when it is
// destroyed; producers take one with Take(n) instead of constructing one.
//
// Bounded: at most kMaxBuffers vectors a thread and type, none above
// kMaxBytes (a long chunk of a file pipeline goes back to malloc). A thread
// that never took a buffer keeps none, and nothing is kept once the
// thread's pool is destroyed (frames freed while a thread or the process
// exits).
#pragma once

#include <cstddef>
#include <vector>

namespace voxpipe {

template <typename T>
class BufferPool {
 public:
  static constexpr size_t kMaxBuffers = 32;
  static constexpr size_t kMaxBytes = 16 * 1024;

  // An empty vector with room for at least `n` elements.
  static std::vector<T> Take(size_t n) {
    std::vector<T> buffer;
    auto& free = Free();
    if (!free.buffers.empty()) {
      buffer = std::move(free.buffers.back());
      free.buffers.pop_back();
      buffer.clear();
    }
    buffer.reserve(n);
    return buffer;
  }

  // Keeps `buffer`'s storage for a later Take (or lets it go); `buffer` is
  // left empty either way.
  static void Give(std::vector<T>& buffer) {
    const size_t bytes = buffer.capacity() * sizeof(T);
    if (live_ && bytes > 0 && bytes <= kMaxBytes) {
      auto& free = Free();
      if (free.buffers.size() < kMaxBuffers) free.buffers.push_back(std::move(buffer));
    }
    buffer = {};
  }

  // Buffers kept by this thread: for tests.
  static size_t kept() { return live_ ? Free().buffers.size() : 0; }

 private:
  struct Kept {
    Kept() { live_ = true; }
    ~Kept() { live_ = false; }
    std::vector<std::vector<T>> buffers;
  };
  static Kept& Free() {
    thread_local Kept kept;
    return kept;
  }
  // Trivially destructible, so readable while the thread's other
  // thread-locals are being destroyed: Give() then touches no pool.
  static inline thread_local bool live_ = false;
};

}  // namespace voxpipe
