#include "apps/simulator/playback_buffer.h"

#include <algorithm>
#include <limits>

namespace voxpipe::simulator {

void PlaybackBuffer::Append(std::span<const uint8_t> mulaw) {
  if (mulaw.empty()) return;
  audio_.insert(audio_.end(), mulaw.begin(), mulaw.end());
  speaking_ = true;
  gaps_ += dry_slots_;
  dry_slots_ = 0;
}

void PlaybackBuffer::Mark(std::string name) { marks_.push_back({std::move(name), played_ + audio_.size()}); }

std::vector<std::string> PlaybackBuffer::Play(size_t bytes, std::vector<uint8_t>& heard) {
  size_t n = std::min(bytes, audio_.size());
  heard.insert(heard.end(), audio_.begin(), audio_.begin() + n);
  audio_.erase(audio_.begin(), audio_.begin() + n);
  heard.insert(heard.end(), bytes - n, kMulawSilence);
  if (n < bytes && speaking_) ++dry_slots_;
  played_ += n;
  return TakeMarks(played_);
}

std::vector<std::string> PlaybackBuffer::Clear() {
  audio_.clear();
  return TakeMarks(std::numeric_limits<uint64_t>::max());
}

std::vector<std::string> PlaybackBuffer::TakeMarks(uint64_t up_to) {
  std::vector<std::string> reached;
  while (!marks_.empty() && marks_.front().position <= up_to) {
    reached.push_back(std::move(marks_.front().name));
    marks_.pop_front();
  }
  if (!reached.empty() || up_to == std::numeric_limits<uint64_t>::max()) {
    speaking_ = false;
    dry_slots_ = 0;
  }
  return reached;
}

}  // namespace voxpipe::simulator
