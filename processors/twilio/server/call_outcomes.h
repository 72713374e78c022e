// CallOutcomes: how each call's media stream ended, kept until Twilio asks.
//
// The answer TwiML is <Connect action="…/twilio/after-stream"><Stream …>.
// When a stream's WebSocket closes, Twilio requests the action URL and runs
// the TwiML it gets back. A stream records its ending here just before it
// closes, and the action answers from that: a normal end hangs up; a
// failure (the model could not be reached, failed, or ran out of
// reconnects; the server shut down under the call) gets the fallback, an
// apology and a transfer to a person. The caller is never left in silence
// or dropped, and the same works with no REST credentials, and for a call
// whose instance died (no record here: the fallback too).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace voxpipe::twilio {

struct CallOutcome {
  bool failed = false;
  std::string reason;  // why it failed; empty when it ended normally
};

class CallOutcomes {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxEntries = 10000;
  static constexpr std::chrono::minutes kKeepFor{10};

  // From any loop.
  void Record(const std::string& call_sid, CallOutcome outcome, Clock::time_point now = Clock::now());
  // The outcome, removed: each action request is answered once.
  std::optional<CallOutcome> Take(const std::string& call_sid);
  size_t size() const;

 private:
  struct Entry {
    CallOutcome outcome;
    Clock::time_point recorded;
  };
  void Prune(Clock::time_point now);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace voxpipe::twilio
