#include "apps/timeline/timeline.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/audio/wav_file.h"
#include "processors/common/g711.h"
#include "processors/twilio/server/twiml.h"

namespace voxpipe::timeline {
namespace {

using nlohmann::json;

constexpr double kFrameMs = 20;

// Frames louder than the threshold, as [start, end) in ms.
template <typename SampleAt>
std::vector<Span> SpansOf(size_t count, int sample_rate, Lane lane, double threshold_dbfs, double bridge_ms,
                          double min_ms, SampleAt sample_at) {
  std::vector<Span> spans;
  if (sample_rate <= 0) return spans;
  const size_t frame = std::max<size_t>(1, static_cast<size_t>(sample_rate * kFrameMs / 1000));
  const double threshold = 32768.0 * std::pow(10.0, threshold_dbfs / 20);
  for (size_t begin = 0; begin < count; begin += frame) {
    size_t end = std::min(count, begin + frame);
    double energy = 0;
    for (size_t i = begin; i < end; ++i) {
      double s = sample_at(i);
      energy += s * s;
    }
    if (std::sqrt(energy / double(end - begin)) < threshold) continue;
    double start_ms = double(begin) * 1000 / sample_rate;
    double end_ms = double(end) * 1000 / sample_rate;
    if (!spans.empty() && start_ms - spans.back().end_ms <= bridge_ms) {
      spans.back().end_ms = end_ms;
    } else {
      spans.push_back({lane, start_ms, end_ms, ""});
    }
  }
  std::erase_if(spans, [min_ms](const Span& s) { return s.end_ms - s.start_ms < min_ms; });
  return spans;
}

// SVG is XML, and the HTML page holds it: TwiML's escaping serves both.
std::string Escape(std::string_view text) { return twilio::XmlEscape(text); }

std::string Seconds(double ms) { return fmt::format("{:.2f} s", ms / 1000); }

struct Style {
  const char* color;
  const char* name;
};

Style StyleOf(MarkKind kind) {
  switch (kind) {
    case MarkKind::kFirstAudio: return {"#2a9d62", "first audio"};
    case MarkKind::kInterruption: return {"#d1495b", "interruption"};
    case MarkKind::kClear: return {"#d1495b", "clear"};
    case MarkKind::kTool: return {"#c98a00", "tool"};
    case MarkKind::kMessage: return {"#c98a00", "message"};
    case MarkKind::kTransfer: return {"#7b4bb9", "transfer"};
    case MarkKind::kDtmf: return {"#2b7bb9", "keypad"};
    case MarkKind::kHangUp: return {"#555555", "hang-up"};
    case MarkKind::kError: return {"#b00020", "error"};
    case MarkKind::kNote: return {"#555555", "note"};
  }
  return {"#555555", "note"};
}

// Tick spacing giving about 8–16 ticks over `duration_ms`.
double TickStep(double duration_ms) {
  for (double step : {250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 15000.0, 30000.0, 60000.0}) {
    if (duration_ms / step <= 16) return step;
  }
  return 120000;
}

std::string Text(const json& event, const char* key) {
  auto value = event.find(key);
  if (value == event.end()) return "";
  return value->is_string() ? value->get<std::string>() : value->dump();
}

// Lines of a JSON-lines file; a bad line is an error naming it.
Result<std::vector<json>> ReadEvents(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(fmt::format("{}: cannot open the call's record", path));
  std::vector<json> events;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
    // A killed process may leave a last line half written: drawn up to it.
    if (event.is_discarded() || !event.is_object()) {
      if (in.peek() == EOF) break;
      return Status::Error(fmt::format("{}:{}: not a JSON object (is this a call's .jsonl record?)", path, number));
    }
    events.push_back(std::move(event));
  }
  if (events.empty()) return Status::Error(fmt::format("{}: no events in the call's record", path));
  return events;
}

std::vector<Span> SpansOfFile(const std::string& path, Lane lane) {
  auto audio = wav::Read(path);
  if (!audio.ok()) return {};
  if (audio->format.kind == StreamFormat::Kind::kMulaw) {
    return SpeechSpansMulaw(audio->mulaw, audio->format.sample_rate, lane);
  }
  return SpeechSpans(audio->pcm, audio->format.sample_rate, lane);
}

// Assigns each transcript to the span it belongs to: the last span of its
// lane that started before the transcript was written.
void AttachText(std::vector<Span>& spans, Lane lane, double at_ms, const std::string& text) {
  Span* best = nullptr;
  for (auto& span : spans) {
    if (span.lane == lane && span.start_ms <= at_ms && (!best || span.start_ms > best->start_ms)) best = &span;
  }
  if (!best) return;
  best->text += (best->text.empty() ? "" : " ") + text;
}

}  // namespace

std::vector<Span> SpeechSpans(std::span<const int16_t> samples, int sample_rate, Lane lane, double threshold_dbfs,
                              double bridge_ms, double min_ms) {
  return SpansOf(samples.size(), sample_rate, lane, threshold_dbfs, bridge_ms, min_ms,
                 [&](size_t i) { return double(samples[i]); });
}

std::vector<Span> SpeechSpansMulaw(std::span<const uint8_t> mulaw, int sample_rate, Lane lane, double threshold_dbfs,
                                   double bridge_ms, double min_ms) {
  return SpansOf(mulaw.size(), sample_rate, lane, threshold_dbfs, bridge_ms, min_ms,
                 [&](size_t i) { return double(g711::MulawDecode(mulaw[i])); });
}

std::vector<Timeline::ReplyDelay> Timeline::ReplyDelays() const {
  std::vector<const Span*> ordered;
  for (const auto& span : spans) ordered.push_back(&span);
  std::sort(ordered.begin(), ordered.end(), [](const Span* a, const Span* b) { return a->start_ms < b->start_ms; });
  std::vector<ReplyDelay> delays;
  const Span* caller = nullptr;
  for (const Span* span : ordered) {
    if (span->lane == Lane::kCaller) {
      caller = span;
    } else if (caller && span->start_ms >= caller->end_ms) {
      delays.push_back({caller->end_ms, span->start_ms});
      caller = nullptr;
    }
  }
  return delays;
}

Result<Timeline> LoadRecordedTimeline(const std::string& jsonl_path) {
  auto events = ReadEvents(jsonl_path);
  if (!events.ok()) return events.status();
  std::string base = jsonl_path;
  if (base.ends_with(".jsonl")) base.resize(base.size() - 6);

  Timeline timeline;
  timeline.spans = SpansOfFile(base + ".caller.wav", Lane::kCaller);
  auto heard = SpansOfFile(base + ".heard.wav", Lane::kAssistant);
  const bool have_heard = !heard.empty();
  timeline.spans.insert(timeline.spans.end(), heard.begin(), heard.end());

  std::string call_id = std::filesystem::path(base).filename().string();
  std::string outcome, started;
  double bot_start = -1;
  bool first_audio = false;
  for (const auto& event : *events) {
    const std::string kind = Text(event, "event");
    const double at = event.value("ms", 0.0);
    timeline.duration_ms = std::max(timeline.duration_ms, at);
    if (kind == "call_start") {
      call_id = Text(event, "call_id");
      started = Text(event, "time");
    } else if (kind == "bot_audio_start") {
      bot_start = at;
      if (!first_audio) {
        first_audio = true;
        timeline.marks.push_back({MarkKind::kFirstAudio, at, "first audio", fmt::format("the assistant's first audio, {} into the call", Seconds(at))});
      }
    } else if (kind == "bot_audio_end" && !have_heard && bot_start >= 0) {
      // No heard.wav: the turn as the record reports it played.
      timeline.spans.push_back({Lane::kAssistant, bot_start, bot_start + event.value("played_ms", 0.0), ""});
      bot_start = -1;
    } else if (kind == "user_transcript") {
      AttachText(timeline.spans, Lane::kCaller, at, Text(event, "text"));
    } else if (kind == "bot_transcript") {
      std::string text = Text(event, "text");
      if (event.value("interrupted", false)) text += " [cut off]";
      AttachText(timeline.spans, Lane::kAssistant, at, text);
    } else if (kind == "interruption") {
      timeline.marks.push_back({MarkKind::kInterruption, at, "barge-in",
                                fmt::format("the caller interrupted; {:.0f} ms of the answer had played",
                                            event.value("played_ms", 0.0))});
    } else if (kind == "tool_call") {
      timeline.marks.push_back({MarkKind::kTool, at, Text(event, "name"),
                                fmt::format("tool call {}({})", Text(event, "name"), Text(event, "args"))});
    } else if (kind == "tool_result") {
      // Drawn with its call; listed.
      timeline.marks.push_back({MarkKind::kNote, at, "", fmt::format("tool result {}: {}", Text(event, "name"), Text(event, "result"))});
    } else if (kind == "message_taken") {
      timeline.marks.push_back({MarkKind::kMessage, at, "message",
                                fmt::format("message taken from {} ({}): {}", Text(event, "name"),
                                            Text(event, "callback_number"), Text(event, "reason"))});
    } else if (kind == "transfer") {
      timeline.marks.push_back({MarkKind::kTransfer, at, "transfer", "transferred to " + Text(event, "target")});
    } else if (kind == "hangup") {
      timeline.marks.push_back({MarkKind::kHangUp, at, "hang-up", "hung up: " + Text(event, "reason")});
    } else if (kind == "fallback") {
      timeline.marks.push_back({MarkKind::kTransfer, at, "fallback",
                                fmt::format("fallback ({}): {}", Text(event, "action"), Text(event, "reason"))});
    } else if (kind == "error") {
      timeline.marks.push_back({MarkKind::kError, at, "error", Text(event, "message")});
    } else if (kind == "call_end") {
      outcome = Text(event, "status") == "ok" ? "ended normally" : "failed: " + Text(event, "reason");
    }
  }
  for (const auto& span : timeline.spans) timeline.duration_ms = std::max(timeline.duration_ms, span.end_ms);
  timeline.title = "Call " + call_id;
  timeline.subtitle = fmt::format("{}{}{}", started, started.empty() || outcome.empty() ? "" : " · ",
                                  outcome.empty() ? "no call_end: the record stops here" : outcome);
  return timeline;
}

std::string RenderSvg(const Timeline& timeline) {
  constexpr double kWidth = 960, kLeft = 92, kRight = 16, kTop = 44;
  constexpr double kLaneHeight = 30, kLaneGap = 14, kMarkRow = 16;
  const double duration = std::max(timeline.duration_ms, 1000.0);
  const double plot = kWidth - kLeft - kRight;
  auto x = [&](double ms) { return kLeft + plot * std::clamp(ms, 0.0, duration) / duration; };
  const double caller_y = kTop, assistant_y = kTop + kLaneHeight + kLaneGap;
  const double axis_y = assistant_y + kLaneHeight + 22;

  // Labels of marks in rows, so none overlaps the one before it.
  std::vector<const Mark*> drawn;
  for (const auto& mark : timeline.marks) {
    if (!mark.label.empty()) drawn.push_back(&mark);
  }
  std::sort(drawn.begin(), drawn.end(), [](const Mark* a, const Mark* b) { return a->at_ms < b->at_ms; });
  std::vector<double> row_end;
  std::vector<int> rows;
  std::vector<bool> leftward;  // near the right edge: the label ends at its line
  for (const Mark* mark : drawn) {
    double width = 7.0 * double(mark->label.size()) + 8;
    bool flip = x(mark->at_ms) + width > kWidth - kRight;
    double left = flip ? x(mark->at_ms) - width : x(mark->at_ms);
    leftward.push_back(flip);
    size_t row = 0;
    while (row < row_end.size() && row_end[row] > left) ++row;
    if (row == row_end.size()) row_end.push_back(0);
    row_end[row] = left + width;
    rows.push_back(static_cast<int>(row));
  }
  const double marks_y = axis_y + 26;
  const double height = marks_y + kMarkRow * double(std::max<size_t>(1, row_end.size())) + 12;

  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1:.0f}" viewBox="0 0 {0} {1:.0f}" )"
      R"(font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="{2}">)"
      "\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
      R"(<text x="{3}" y="18" font-size="14" font-weight="600" fill="#222">{2}</text>)"
      "\n"
      R"(<text x="{3}" y="34" fill="#666">{4}</text>)"
      "\n",
      kWidth, height, Escape(timeline.title), kLeft, Escape(timeline.subtitle));
  // Lanes and the time axis.
  for (auto [y, name] : {std::pair{caller_y, "Caller"}, std::pair{assistant_y, "Assistant"}}) {
    svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#f3f4f6"/>)"
                       R"(<text x="8" y="{}" fill="#222">{}</text>)"
                       "\n",
                       kLeft, y, plot, kLaneHeight, y + kLaneHeight / 2 + 4, name);
  }
  const double step = TickStep(duration);
  for (double t = 0; t <= duration + 1; t += step) {
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#d0d4da"/>)"
                       R"(<text x="{0:.1f}" y="{3}" text-anchor="middle" fill="#666">{4}</text>)"
                       "\n",
                       x(t), caller_y, axis_y - 8, axis_y + 6, fmt::format("{:g} s", t / 1000));
  }
  // Who spoke when; the text is the tooltip.
  for (const auto& span : timeline.spans) {
    bool caller = span.lane == Lane::kCaller;
    double y = caller ? caller_y : assistant_y;
    svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" rx="3" fill="{}">)"
                       "<title>{} {}–{}{}</title></rect>\n",
                       x(span.start_ms), y + 4, std::max(1.0, x(span.end_ms) - x(span.start_ms)), kLaneHeight - 8,
                       caller ? "#2b7bb9" : "#2a9d62", caller ? "caller" : "assistant", Seconds(span.start_ms),
                       Seconds(span.end_ms), span.text.empty() ? "" : ": " + Escape(span.text));
  }
  // How long each answer took to start, on the assistant's lane.
  for (const auto& delay : timeline.ReplyDelays()) {
    double from = x(delay.caller_end_ms), to = x(delay.reply_start_ms);
    double y = assistant_y - kLaneGap / 2;
    svg += fmt::format(R"(<line x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{}" stroke="#444" stroke-dasharray="3 2"/>)"
                       R"(<text x="{:.1f}" y="{}" font-size="10" fill="#444">{:.0f} ms</text>)"
                       "\n",
                       from, to, y, y, to + 3, y + 4, delay.reply_start_ms - delay.caller_end_ms);
  }
  // The moments, a line across the lanes and a label below the axis.
  for (size_t i = 0; i < drawn.size(); ++i) {
    const Mark& mark = *drawn[i];
    Style style = StyleOf(mark.kind);
    double mx = x(mark.at_ms), label_y = marks_y + kMarkRow * rows[i];
    svg += fmt::format(R"(<g><title>{0} at {1}: {2}</title>)"
                       R"(<line x1="{3:.1f}" x2="{3:.1f}" y1="{4}" y2="{5}" stroke="{6}" stroke-width="1.5"/>)"
                       R"(<circle cx="{3:.1f}" cy="{5}" r="3" fill="{6}"/>)"
                       R"(<text x="{7:.1f}" y="{8}" fill="{6}"{10}>{9}</text></g>)"
                       "\n",
                       style.name, Seconds(mark.at_ms), Escape(mark.detail), mx, caller_y, label_y - 4, style.color,
                       leftward[i] ? mx - 4 : mx + 4, label_y, Escape(mark.label),
                       leftward[i] ? R"( text-anchor="end")" : "");
  }
  svg += "</svg>\n";
  return svg;
}

std::string RenderHtml(const Timeline& timeline) {
  std::string html = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>\n"
      "body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}\n"
      "svg{{max-width:100%;height:auto;border:1px solid #e3e5e8;border-radius:6px}}\n"
      "table{{border-collapse:collapse;margin-top:16px}}td{{padding:3px 10px;vertical-align:top;border-bottom:1px solid #eee}}\n"
      "td.t{{text-align:right;color:#666;font-variant-numeric:tabular-nums;white-space:nowrap}}\n"
      ".caller{{color:#2b7bb9}}.assistant{{color:#2a9d62}}\n"
      "</style></head><body>\n",
      Escape(timeline.title));
  html += RenderSvg(timeline);
  struct Row {
    double at;
    std::string who, text;
  };
  std::vector<Row> rows;
  for (const auto& span : timeline.spans) {
    bool caller = span.lane == Lane::kCaller;
    rows.push_back({span.start_ms, caller ? "caller" : "assistant",
                    fmt::format("speaks for {}{}", Seconds(span.end_ms - span.start_ms),
                                span.text.empty() ? "" : ": “" + span.text + "”")});
  }
  for (const auto& mark : timeline.marks) rows.push_back({mark.at_ms, StyleOf(mark.kind).name, mark.detail});
  for (const auto& delay : timeline.ReplyDelays()) {
    rows.push_back({delay.reply_start_ms, "reply",
                    fmt::format("started {:.0f} ms after the caller stopped", delay.reply_start_ms - delay.caller_end_ms)});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.at < b.at; });
  html += "<table>\n";
  for (const auto& row : rows) {
    html += fmt::format("<tr><td class=\"t\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n", Seconds(row.at),
                        row.who, row.who, Escape(row.text));
  }
  html += "</table>\n</body></html>\n";
  return html;
}

Status WriteTimeline(const Timeline& timeline, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::Error(fmt::format("{}: cannot write the timeline", path));
  out << (path.ends_with(".svg") ? RenderSvg(timeline) : RenderHtml(timeline));
  out.close();
  if (!out) return Status::Error(fmt::format("{}: cannot write the timeline", path));
  return Status();
}

}  // namespace voxpipe::timeline
