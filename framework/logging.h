// Logging through spdlog. One process-wide logger; lines carry the call id
// where there is one. Secrets never reach a log line: values that may hold
// one go through Redact().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "framework/status.h"

namespace voxpipe {

// Sets the level from "trace", "debug", "info", "warn", "error" or "off",
// and the format: "text" (a line with the time and its zone, the level and
// the message) or "json" (one object a line: time, level, call when the
// line is about one, msg).
Status InitLogging(std::string_view level, std::string_view format = "text");

// "abcd…(40 chars)" style masking for tokens and keys shown to humans.
std::string Redact(std::string_view secret);

// For events that a peer can repeat at will (refused connections, bad
// messages): true at most once per `interval` for each `kind`, and then
// `suppressed` says how many were held back since the last one. Thread-safe.
bool ShouldLog(std::string_view kind, std::chrono::milliseconds interval, uint64_t& suppressed);

// Logs at most once per `interval` per `kind`, noting how many were held back.
template <typename... Args>
void LogEvery(std::chrono::milliseconds interval, spdlog::level::level_enum level, std::string_view kind,
              spdlog::format_string_t<Args...> format, Args&&... args) {
  uint64_t suppressed = 0;
  if (!ShouldLog(kind, interval, suppressed)) return;
  std::string text = fmt::format(format, std::forward<Args>(args)...);
  if (suppressed > 0) text += fmt::format(" ({} more like this since the last)", suppressed);
  spdlog::log(level, "{}", text);
}

}  // namespace voxpipe

#include "framework/observer.h"

namespace voxpipe {

// Logs errors, metrics summaries and the end of every instance it watches;
// with `frames` set, every frame pushed (debug level).
class LogObserver : public PipelineObserver {
 public:
  explicit LogObserver(bool frames = false) : frames_(frames) {}
  void OnStarted(const PipelineContext& context) override;
  void OnError(const PipelineContext& context, const ErrorFrame& error) override;
  void OnFinished(const PipelineContext& context, const Status& status) override;
  bool wants_frames() const override { return frames_; }
  void OnFramePushed(const PipelineContext& context, const Processor& from, const Frame& frame,
                     Direction direction) override;

 private:
  bool frames_;
};

}  // namespace voxpipe
