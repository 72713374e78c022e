// `voxpipe timeline CALL.jsonl`: the picture of a call from its record on
// the server (RECORDINGS_DIR): who spoke when, reply delays, interruptions,
// tool calls, messages, transfers, errors. HTML next to the record unless
// -o names another file (.svg for the picture alone).
#include <fmt/format.h>

#include "apps/timeline/timeline.h"
#include "apps/voxpipe/commands.h"

namespace voxpipe::cli {
namespace {

struct TimelineFlags {
  std::string record;
  std::string output;
};

int DrawTimeline(const TimelineFlags& flags) {
  auto timeline = timeline::LoadRecordedTimeline(flags.record);
  if (!timeline.ok()) {
    fmt::print(stderr, "voxpipe timeline: {}\n", timeline.message());
    return 1;
  }
  std::string output = flags.output;
  if (output.empty()) {
    output = flags.record.ends_with(".jsonl") ? flags.record.substr(0, flags.record.size() - 6) : flags.record;
    output += ".html";
  }
  if (Status s = timeline::WriteTimeline(*timeline, output); !s.ok()) {
    fmt::print(stderr, "voxpipe timeline: {}\n", s.message());
    return 1;
  }
  size_t caller = 0, assistant = 0;
  for (const auto& span : timeline->spans) (span.lane == timeline::Lane::kCaller ? caller : assistant)++;
  auto times = [](size_t n) { return fmt::format("{} time{}", n, n == 1 ? "" : "s"); };
  fmt::print("{}: {:.1f} s; the caller spoke {}, the assistant {}; {} events\n", timeline->title,
             timeline->duration_ms / 1000, times(caller), times(assistant), timeline->marks.size());
  for (const auto& delay : timeline->ReplyDelays()) {
    fmt::print("  reply at {:.2f} s, {:.0f} ms after the caller stopped\n", delay.reply_start_ms / 1000,
               delay.reply_start_ms - delay.caller_end_ms);
  }
  fmt::print("drew {}\n", output);
  return 0;
}

}  // namespace

void AddTimelineCommand(CLI::App& app, CommonFlags&, int* exit_code) {
  auto* cmd = app.add_subcommand("timeline", "Draw a recorded call (RECORDINGS_DIR/DATE/CALL.jsonl) as a timeline");
  auto flags = std::make_shared<TimelineFlags>();
  cmd->add_option("record", flags->record, "The call's .jsonl record (its .caller.wav and .heard.wav beside it)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", flags->output, "Where to draw it: .html (default: next to the record) or .svg");
  cmd->callback([flags, exit_code] { *exit_code = DrawTimeline(*flags); });
}

}  // namespace voxpipe::cli
