// CallRegistry: the calls a Twilio server knows about, for `GET /twilio/calls`,
// fed by webhooks, media streams and status callbacks. Thread-safe: calls run
// on many strands.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace voxpipe::twilio {

// Counters of one call, updated on its strand without the registry lock.
struct CallCounters {
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> errors{0};
};

class CallRegistry {
 public:
  // The webhook answered: the call is ringing into our stream.
  void Ringing(const std::string& call_sid, const std::string& from, const std::string& to);
  // A media stream started for the call. `end` asks the call's pipeline to
  // end (from any thread), e.g. when a status callback says the call is over.
  std::shared_ptr<CallCounters> StreamStarted(const std::string& call_sid, const std::string& stream_sid,
                                              const std::string& from, const std::string& to,
                                              std::function<void(std::string reason)> end);
  // A status callback. Terminal states end the call's stream, if any.
  void StatusUpdate(const std::string& call_sid, const std::string& status);
  void SetError(const std::string& call_sid, const std::string& error);
  // The stream and its pipeline are gone: the call leaves the registry.
  void Ended(const std::string& call_sid);

  size_t size() const;
  // [{"sid","from","to","state","stream_sid","start_time","duration_s","frames_in",...}]
  nlohmann::json ToJson() const;

 private:
  struct Entry {
    std::string from, to, state, stream_sid, last_error;
    std::chrono::system_clock::time_point start_time = std::chrono::system_clock::now();
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::shared_ptr<CallCounters> counters;
    std::function<void(std::string)> end;
  };
  // Webhook-only entries whose stream never came are dropped after this.
  static constexpr std::chrono::minutes kRingingExpiry{2};
  void ExpireRinging();

  mutable std::mutex mutex_;
  std::map<std::string, Entry> calls_;
};

bool IsTerminalCallStatus(const std::string& status);

}  // namespace voxpipe::twilio
