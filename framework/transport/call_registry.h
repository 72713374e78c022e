// CallRegistry: the calls a process is serving, for the admin endpoint
// `GET /calls` (and `/twilio/calls`), fed by the call servers: Twilio's
// webhooks, media streams and status callbacks, browser sessions. One per
// process, shared by every server in it. Thread-safe: calls live on several
// loops; it is touched when a call changes state, never per frame.
//
// One entry per call id: a second stream for a live call is refused, so the
// registry, the servers' active-call counts and status callbacks agree.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/metrics.h"

namespace voxpipe {

// Counters of one call, written by its loop without the registry's lock.
struct CallCounters {
  SingleWriterCounter frames_in;
  SingleWriterCounter frames_out;
  SingleWriterCounter bytes_in;
  SingleWriterCounter bytes_out;
  SingleWriterCounter errors;
};

struct CallInfo {
  std::string id;       // CallSid, or the session id of a browser
  std::string carrier;  // "twilio", "browser"
  std::string from;     // caller (a phone number: personal data)
  std::string to;
  std::string stream;   // StreamSid, or the browser's address
};

class CallRegistry {
 public:
  // Twilio's webhook answered: the call is ringing into our stream. Expires
  // when no stream follows within a few minutes.
  void Ringing(const CallInfo& call);
  // Media started. `end` asks the call to end (from any thread), e.g. when
  // a status callback says it is over. Null when the id is live already.
  std::shared_ptr<CallCounters> Begin(const CallInfo& call, std::function<void(std::string reason)> end);
  // A status callback. Terminal states end the call's media, if any.
  void StatusUpdate(const std::string& id, const std::string& status);
  void SetError(const std::string& id, const std::string& error);
  // The call whose media had `counters` is over. Only that entry goes: an
  // entry a later call has since claimed stays.
  void Ended(const std::string& id, const CallCounters* counters);

  size_t size() const;
  // Calls with media in progress.
  size_t active() const;
  // [{"id","carrier","from","to","state","stream","start_time","duration_s","frames_in",...}], oldest first;
  // numbers masked to their last four digits unless `show_numbers`.
  nlohmann::json ToJson(bool show_numbers = false) const;

 private:
  struct Entry {
    CallInfo info;
    std::string state, last_error;
    std::chrono::system_clock::time_point start_time = std::chrono::system_clock::now();
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::shared_ptr<CallCounters> counters;  // set while media is in progress
    std::function<void(std::string)> end;
  };
  static constexpr std::chrono::minutes kRingingExpiry{2};
  void ExpireRinging();

  mutable std::mutex mutex_;
  std::map<std::string, Entry> calls_;
};

bool IsTerminalCallStatus(const std::string& status);

// "+1******0100": all but the first two and last four characters of a
// phone number replaced, so logs and admin views identify a call without
// holding the caller's number.
std::string MaskPhoneNumber(std::string_view number);

}  // namespace voxpipe
