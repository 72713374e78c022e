// Logging through spdlog. One process-wide logger; lines carry the call id
// where there is one. Secrets never reach a log line: values that may hold
// one go through Redact().
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "framework/status.h"

namespace voxpipe {

// Sets the level from "trace", "debug", "info", "warn", "error" or "off".
Status InitLogging(std::string_view level);

// "abcd…(40 chars)" style masking for tokens and keys shown to humans.
std::string Redact(std::string_view secret);

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
