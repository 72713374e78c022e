#include "apps/timeline/call_timeline.h"

#include <fmt/format.h>

namespace voxpipe::timeline {

Timeline CallTimeline(const simulator::SimulatedCallResult& call, const std::string& url) {
  using EventKind = simulator::SimulatedCallResult::Event::Kind;
  constexpr int kRate = 8000;
  Timeline timeline;
  timeline.title = fmt::format("Call {} to {}", call.call_sid, url);
  timeline.subtitle = call.status.ok() ? "from the caller's side (voxpipe call)"
                                       : "from the caller's side (voxpipe call) · failed: " + call.status.message();
  // Both timelines start when the stream started; the axis starts there.
  timeline.spans = SpeechSpansMulaw(call.said, kRate, Lane::kCaller);
  auto heard = SpeechSpansMulaw(call.heard, kRate, Lane::kAssistant);
  timeline.spans.insert(timeline.spans.end(), heard.begin(), heard.end());
  timeline.duration_ms = double(std::max(call.said.size(), call.heard.size())) * 1000 / kRate;
  for (const auto& event : call.events) {
    double at = double(event.at.count()) / 1000 - call.stream_start_ms;
    MarkKind kind;
    std::string label;
    switch (event.kind) {
      case EventKind::kInfo: continue;
      case EventKind::kFirstAudio: kind = MarkKind::kFirstAudio, label = "first audio"; break;
      case EventKind::kClear: kind = MarkKind::kClear, label = "clear"; break;
      case EventKind::kBargeIn: kind = MarkKind::kInterruption, label = "barge-in"; break;
      case EventKind::kDtmf: kind = MarkKind::kDtmf, label = "keys"; break;
      case EventKind::kHangUp: kind = MarkKind::kHangUp, label = "caller hung up"; break;
      case EventKind::kClosed: kind = MarkKind::kHangUp, label = "server closed"; break;
      case EventKind::kAfterStream: kind = MarkKind::kTransfer, label = "TwiML"; break;
      case EventKind::kFailed: kind = MarkKind::kError, label = "failed"; break;
    }
    timeline.marks.push_back({kind, std::max(0.0, at), label, event.what});
    timeline.duration_ms = std::max(timeline.duration_ms, at);
  }
  return timeline;
}

}  // namespace voxpipe::timeline
