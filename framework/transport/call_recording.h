// CallRecording: one call's record, kept when a call server's
// `recordings_dir` is set (off by default). In DIR/DATE/:
//
//   CALL.caller.wav  what came from the caller, as it came
//   CALL.heard.wav   what the caller heard: the assistant's audio as it
//                    played, without what a barge-in cleared; silence
//                    between, so both files share one time axis
//   CALL.jsonl       one event a line: call_start, user_transcript,
//                    bot_audio_start/_end, bot_transcript (cut to what was
//                    heard when interrupted), interruption, tool_call,
//                    tool_result, message_taken, transfer, hangup, error,
//                    fallback, call_end — each with "ms" since the call
//                    started, "time" (ISO 8601 with the zone) and "event"
//
// What the caller heard is modelled as Twilio plays it: audio plays in real
// time from when it is sent; the marks the transport sends are echoed when
// the audio before them has played, and tighten the model; `clear` drops
// what has not played. So an interrupted turn's transcript is cut where the
// caller stopped hearing it.
//
// Files are written on the BackgroundWriter's thread, never a call's loop:
// event lines as they happen, WAV headers fixed up every second, so a call
// that crashes (or a process that is killed) leaves files valid up to the
// last write. The transport feeds the audio; the pipeline's frames are seen
// as an observer of the call's instance. Everything else runs on the call's
// loop.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "framework/frames.h"
#include "framework/observer.h"
#include "framework/pipeline_context.h"
#include "framework/status.h"
#include "framework/stream_format.h"
#include "framework/transport/call_registry.h"

namespace voxpipe {

class CallRecording : public PipelineObserver, public std::enable_shared_from_this<CallRecording> {
 public:
  // The files of the call `info`, started by `start`, in `folder` (created).
  static std::shared_ptr<CallRecording> Create(PipelineContext::Executor executor, const std::string& folder,
                                               const CallInfo& info, const StartFrame& start);
  ~CallRecording() override;

  // --- from the transport, on the call's loop
  void CallerAudio(const Frame& frame);
  // Audio queued for the caller's ear (in the order sent): a frame, or its
  // bytes (mu-law, or 16-bit PCM samples) in `format`.
  void Sent(const Frame& frame);
  void Sent(const StreamFormat& format, std::span<const uint8_t> bytes);
  // The caller has heard the first `sent` samples of everything sent.
  void HeardThrough(int64_t sent);
  // What was sent and not yet heard is gone (a barge-in's `clear`).
  void Cleared();
  // An event of the transport's own: transfer, hangup, fallback.
  void Note(std::string_view event, nlohmann::json fields = nlohmann::json::object());
  void Finish(const Status& status);

  // --- PipelineObserver: transcripts, tools, interruptions, errors
  bool wants_frames() const override { return true; }
  void OnFramePushed(const PipelineContext& context, const Processor& from, const Frame& frame,
                     Direction direction) override;
  void OnError(const PipelineContext& context, const ErrorFrame& error) override;

  // DIR/DATE/CALL, the files' common prefix.
  const std::string& base() const { return base_; }

 private:
  struct Files;
  struct Segment {
    int64_t start;  // heard position (samples from the call's start)
    int64_t sent;   // how many samples had been sent before it
    std::vector<uint8_t> bytes;
  };
  struct TranscriptPart {
    std::string text;
    int64_t position;  // heard position of the audio queued when it came
  };

  CallRecording(PipelineContext::Executor executor, std::string base);
  void Event(std::string_view event, nlohmann::json fields);
  double MsSinceStart() const;
  // The heard position playback has reached at `t`, by the model.
  int64_t PlayedBy(Clock::time_point t) const;
  void Commit(Clock::time_point now);
  void EndBotTurn(bool interrupted);
  void ArmTimer();
  bool SeenBefore(uint64_t id);

  PipelineContext::Executor executor_;
  std::string base_;
  std::shared_ptr<Files> files_;
  boost::asio::steady_timer timer_;
  Clock::time_point started_ = Clock::now();

  // What the caller hears, modelled.
  StreamFormat heard_format_;  // of the first audio sent; none until then
  int heard_rate_ = 0;
  size_t heard_bytes_per_sample_ = 0;
  uint8_t heard_silence_ = 0;
  double clock_offset_ = 0;  // samples: marks found playback later than real time
  int64_t written_ = 0;      // heard samples written to the file
  int64_t queue_end_ = 0;    // heard position where the next audio sent would start
  int64_t sent_ = 0;
  std::deque<Segment> queue_;

  // The bot's turn in progress.
  int turn_ = 1;
  bool bot_speaking_ = false;
  int64_t turn_start_ = 0;  // heard position of its first audio
  std::vector<TranscriptPart> bot_text_;
  std::string user_text_;
  std::map<std::string, nlohmann::json> tool_args_;  // by call id
  std::array<uint64_t, 32> recent_{};
  size_t next_recent_ = 0;
  bool finished_ = false;
};

}  // namespace voxpipe
