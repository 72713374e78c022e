// The simulated phone's speaker, for `voxpipe call`: audio is queued as it
// arrives and played one slot per tick; a mark is reached when the audio
// queued before it has played; `clear` drops what is queued. It also counts
// gaps: silent slots inside an utterance, where the audio ran dry and more of
// the same utterance came later (a mark ends an utterance).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

namespace voxpipe::simulator {

inline constexpr uint8_t kMulawSilence = 0xFF;

class PlaybackBuffer {
 public:
  // Queues audio that arrived; ends a gap, if the buffer had run dry.
  void Append(std::span<const uint8_t> mulaw);
  // A mark, reached when everything queued before it has played.
  void Mark(std::string name);
  // Plays `bytes` into `heard`, silence where the buffer runs dry; returns
  // the marks reached.
  std::vector<std::string> Play(size_t bytes, std::vector<uint8_t>& heard);
  // Drops the queued audio; returns the pending marks (Twilio echoes them).
  std::vector<std::string> Clear();

  size_t queued_bytes() const { return audio_.size(); }
  size_t gaps() const { return gaps_; }

 private:
  struct PendingMark {
    std::string name;
    uint64_t position;  // played_ at which it is reached
  };
  std::vector<std::string> TakeMarks(uint64_t up_to);

  std::deque<uint8_t> audio_;
  std::deque<PendingMark> marks_;
  uint64_t played_ = 0;
  bool speaking_ = false;  // audio came and no mark has ended it yet
  size_t dry_slots_ = 0;   // silent slots since the buffer last ran dry
  size_t gaps_ = 0;
};

}  // namespace voxpipe::simulator
