// Stream tokens: what the voice webhook writes into the <Stream> URL
// (…/twilio/stream/TOKEN) so that only streams for calls Twilio placed get
// a call slot. A token is HMAC-bound to the call's CallSid and an expiry, so
// checking it needs no state and works on any instance sharing the secret:
// the upgrade needs a well-formed, unexpired token, and the stream's
// `start` must carry the CallSid it was issued for. It is single-use: an
// instance remembers the tokens used until they expire.
//
// Twilio's X-Twilio-Signature on the upgrade covers the stream URL, which is
// the same for every call of a plain /twilio/stream and so replayable; with
// the token in the URL the signature differs per call too.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace voxpipe::twilio {

class StreamTokens {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // `secret` empty: a random one for this process.
  StreamTokens(std::string secret, std::chrono::seconds ttl);

  std::string Issue(std::string_view call_sid, TimePoint now = std::chrono::system_clock::now()) const;

  enum class Check { kOk, kMalformed, kExpired };
  // Format and expiry, as the upgrade can check them.
  Check Verify(std::string_view token, TimePoint now = std::chrono::system_clock::now()) const;
  // Whether `token` was issued for `call_sid` (constant time).
  bool Matches(std::string_view token, std::string_view call_sid) const;
  // True the first time a token is used; later uses are replays.
  bool Use(std::string_view token, TimePoint now = std::chrono::system_clock::now());

  std::chrono::seconds ttl() const { return ttl_; }

 private:
  std::string Mac(std::string_view call_sid, std::string_view expiry, std::string_view nonce) const;

  std::string secret_;
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::map<std::string, TimePoint, std::less<>> used_;  // token -> expiry
};

}  // namespace voxpipe::twilio
