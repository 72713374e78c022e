// A picture of one call on a single time axis: who spoke when (the caller's
// speech, the assistant's audio as the caller heard it), how long each reply
// took to start, and what happened between (first audio, interruptions and
// `clear`, tool calls, messages, transfers, hang-ups, errors).
//
// Two sources: a call placed by `voxpipe call` (what the caller sent and
// heard), and a call's record on the server (RECORDINGS_DIR: CALL.jsonl
// with CALL.caller.wav and CALL.heard.wav beside it), which also knows the
// tool calls and transcripts. Drawn as SVG, or as an HTML page with the SVG,
// the transcript and the list of events.
//
//   auto timeline = LoadRecordedTimeline("recordings/2026-12-02/CA….jsonl");
//   WriteTimeline(*timeline, "call.html");
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "framework/status.h"

namespace voxpipe::timeline {

enum class Lane { kCaller, kAssistant };

// Someone speaking from `start_ms` to `end_ms`.
struct Span {
  Lane lane = Lane::kCaller;
  double start_ms = 0;
  double end_ms = 0;
  std::string text;  // what was said, when known
};

enum class MarkKind { kFirstAudio, kInterruption, kClear, kTool, kMessage, kTransfer, kDtmf, kHangUp, kError, kNote };

// A moment: `label` is drawn, `detail` is the tooltip and the event list's text.
struct Mark {
  MarkKind kind = MarkKind::kNote;
  double at_ms = 0;
  std::string label;
  std::string detail;
};

struct Timeline {
  std::string title;     // e.g. "Call CA123… to http://127.0.0.1:8091"
  std::string subtitle;  // e.g. the date, the outcome
  double duration_ms = 0;
  std::vector<Span> spans;
  std::vector<Mark> marks;

  // Each assistant span that answers a caller span (starts after it ended,
  // before the caller spoke again): the delay the caller waited, in ms.
  struct ReplyDelay {
    double caller_end_ms = 0;
    double reply_start_ms = 0;
  };
  std::vector<ReplyDelay> ReplyDelays() const;
};

// Where speech is in `samples` (any rate): runs of 20 ms frames louder than
// `threshold_dbfs`, gaps shorter than `bridge_ms` joined, runs shorter than
// `min_ms` dropped.
std::vector<Span> SpeechSpans(std::span<const int16_t> samples, int sample_rate, Lane lane,
                              double threshold_dbfs = -40, double bridge_ms = 400, double min_ms = 100);
// The same for G.711 mu-law audio.
std::vector<Span> SpeechSpansMulaw(std::span<const uint8_t> mulaw, int sample_rate, Lane lane,
                                   double threshold_dbfs = -40, double bridge_ms = 400, double min_ms = 100);

// A call's record: CALL.jsonl and, when present, the CALL.caller.wav and
// CALL.heard.wav beside it (without them, speech comes from the events).
Result<Timeline> LoadRecordedTimeline(const std::string& jsonl_path);

std::string RenderSvg(const Timeline& timeline);
std::string RenderHtml(const Timeline& timeline);
// SVG when `path` ends in .svg, else HTML; the error names the path.
Status WriteTimeline(const Timeline& timeline, const std::string& path);

}  // namespace voxpipe::timeline
