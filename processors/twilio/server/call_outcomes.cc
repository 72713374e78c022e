#include "processors/twilio/server/call_outcomes.h"

namespace voxpipe::twilio {

void CallOutcomes::Record(const std::string& call_sid, CallOutcome outcome, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Prune(now);
  entries_[call_sid] = {std::move(outcome), now};
}

std::optional<CallOutcome> CallOutcomes::Take(const std::string& call_sid) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(call_sid);
  if (it == entries_.end()) return std::nullopt;
  CallOutcome outcome = std::move(it->second.outcome);
  entries_.erase(it);
  return outcome;
}

size_t CallOutcomes::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

// Entries Twilio never asked for (the caller hung up, a REST transfer) go
// after kKeepFor; at kMaxEntries the oldest go first.
void CallOutcomes::Prune(Clock::time_point now) {
  std::erase_if(entries_, [&](const auto& entry) { return now - entry.second.recorded > kKeepFor; });
  while (entries_.size() >= kMaxEntries) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.recorded < oldest->second.recorded) oldest = it;
    }
    entries_.erase(oldest);
  }
}

}  // namespace voxpipe::twilio
