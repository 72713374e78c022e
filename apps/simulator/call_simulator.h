// CallSimulator: places a call against a Twilio server the way Twilio does,
// for `voxpipe call` and the tests. It POSTs the signed voice webhook, reads
// the TwiML for the <Stream> URL and <Parameter>s, opens the media stream
// (signed upgrade), sends `connected`, `start` and the caller's audio as 20 ms
// `media` messages, and plays what comes back through a simulated playback
// buffer: marks are echoed when the audio before them has played, `clear`
// empties the buffer and echoes pending marks. What the caller heard is kept
// as a mu-law timeline.
//
// Real time (default): one 20 ms frame sent and one played per tick, on
// absolute deadlines. Fast: frames are sent as fast as the socket takes them
// and audio counts as played the moment it arrives.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "apps/simulator/call_script.h"
#include "framework/status.h"

namespace voxpipe::simulator {

struct SimulatedCallOptions {
  std::string url;  // server base (http://127.0.0.1:8091) or the full webhook URL
  std::string auth_token;  // signs the webhook and the stream upgrade; empty: unsigned
  std::string account_sid = "AC00000000000000000000000000000000";
  std::string call_sid;  // generated when empty
  std::string from = "+15555550100";
  std::string to = "+15555550199";
  std::vector<uint8_t> audio;  // what the caller says: mu-law, 8000 Hz
  bool realtime = true;
  // How long to keep listening after the audio has been sent (fast mode:
  // after the last audio arrived).
  std::chrono::milliseconds tail{std::chrono::seconds(2)};
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // the whole call
  bool send_stop = true;  // end with `stop`, as Twilio does when the caller hangs up
  // Real time: what the caller does, in order (call_script.h), instead of
  // `audio` then `tail`; the call hangs up after the last step.
  std::vector<CallStep> script;
  // A reply has finished when its audio has played and nothing more came for this long.
  std::chrono::milliseconds reply_grace{std::chrono::milliseconds(1200)};
  // Sign as Twilio would for a server whose PUBLIC_URL is this (https://host):
  // the webhook, stream and action URLs are signed with this base, and
  // requests still go to `url`.
  std::string public_url;
  // Wait this long after the webhook's answer before opening the stream
  // (Twilio takes a few hundred ms: TwiML fetch, <Say>, its own connect).
  std::chrono::milliseconds stream_delay{0};
  // When the server closes the stream and the TwiML has <Connect action>,
  // request it as Twilio does and keep the TwiML it answers.
  bool follow_action = true;
  // Real time: keep what the caller sent in the result (`said`), e.g. for
  // a picture of the call.
  bool keep_said = false;
};

struct SimulatedCallResult {
  struct Event {
    // What a picture of the call marks; kInfo is only told.
    enum class Kind { kInfo, kFirstAudio, kClear, kBargeIn, kDtmf, kHangUp, kClosed, kAfterStream, kFailed };
    std::chrono::microseconds at;  // since the webhook was sent
    std::string what;
    Kind kind = Kind::kInfo;
  };
  Status status;
  std::string call_sid;
  std::vector<Event> events;
  std::vector<uint8_t> heard;     // mu-law 8000 Hz timeline of what the caller heard
  std::vector<uint8_t> received;  // every media payload from the server, concatenated
  // With keep_said, in real time: what the caller sent, one 20 ms frame a tick (its words and
  // the line's silence), on the same axis as `heard`; both start at
  // `stream_start_ms`.
  std::vector<uint8_t> said;
  double stream_start_ms = 0;  // since the webhook was sent
  size_t underruns = 0;           // 20 ms slots of silence inside an utterance (audio came late)
  // For each media message received: arrival minus the send time of the
  // caller frame at the same sample position. On an echo line this is the
  // round trip through the server (including any resampler delay).
  std::vector<double> echo_latency_ms;
  // For each of the caller's utterances that got an answer: from the last
  // speech frame sent to the first audio received after it (the model's
  // reply delay plus the line's, as the caller experiences it).
  std::vector<double> reply_latency_ms;
  double webhook_ms = 0;
  double connect_ms = 0;
  double first_audio_ms = -1;  // from `start` sent to the first media received
  int http_status = 0;         // of the webhook (or the refused upgrade)
  size_t media_sent = 0, media_received = 0, marks = 0, clears = 0;
  bool closed_by_server = false;
  int close_code = 0;           // the server's close code, when it closed
  std::string close_reason;
  bool no_reply = false;        // a wait_reply step timed out with nothing heard
  std::string after_stream;     // TwiML the <Connect action> answered (e.g. the fallback)
};

using SimulatedCallDone = std::function<void(SimulatedCallResult)>;

// Runs the call on `executor` (make it a strand when the io_context has more
// than one thread); `done` runs there once.
void PlaceSimulatedCall(boost::asio::any_io_executor executor, SimulatedCallOptions options, SimulatedCallDone done);

// The verbs of a TwiML answer in a line: Say "...", then Dial +1555..., then Hangup.
std::string DescribeTwiml(std::string_view xml);

// How similar `heard` is to `sent` (both mu-law): the peak normalised
// cross-correlation of the decoded audio over lags 0..max_lag samples, and
// the lag where it peaks. 1.0 is identical up to scale.
struct EchoMatch {
  double correlation = 0;
  int lag = 0;
};
EchoMatch CorrelateEcho(const std::vector<uint8_t>& sent, const std::vector<uint8_t>& heard, int max_lag = 4000);

}  // namespace voxpipe::simulator
