#include "framework/logging.h"

#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace voxpipe {

Status InitLogging(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return Status::Error(fmt::format("unknown log level '{}' (use trace, debug, info, warn, error or off)", level));
  }
  auto logger = spdlog::stderr_color_mt("voxpipe");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return OkStatus();
}

bool ShouldLog(std::string_view kind, std::chrono::milliseconds interval, uint64_t& suppressed) {
  struct Entry {
    std::chrono::steady_clock::time_point last{};
    uint64_t held_back = 0;
  };
  static std::mutex mutex;
  static std::map<std::string, Entry, std::less<>> entries;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex);
  auto it = entries.find(kind);
  if (it == entries.end()) it = entries.emplace(std::string(kind), Entry{}).first;
  Entry& entry = it->second;
  if (entry.last != std::chrono::steady_clock::time_point{} && now - entry.last < interval) {
    ++entry.held_back;
    return false;
  }
  entry.last = now;
  suppressed = std::exchange(entry.held_back, 0);
  return true;
}

std::string Redact(std::string_view secret) {
  if (secret.empty()) return "(unset)";
  return fmt::format("(set, {} chars)", secret.size());
}

}  // namespace voxpipe

#include "framework/pipeline_context.h"
#include "framework/processor.h"

namespace voxpipe {

void LogObserver::OnStarted(const PipelineContext& context) { spdlog::info("[{}] started", context.call_id()); }

void LogObserver::OnError(const PipelineContext& context, const ErrorFrame& error) {
  if (error.fatal) {
    spdlog::error("[{}] {}: {}", context.call_id(), error.source, error.message);
  } else {
    spdlog::warn("[{}] {}: {}", context.call_id(), error.source, error.message);
  }
}

void LogObserver::OnFinished(const PipelineContext& context, const Status& status) {
  if (status.ok()) {
    spdlog::info("[{}] finished", context.call_id());
  } else {
    spdlog::error("[{}] failed: {}", context.call_id(), status.message());
  }
}

void LogObserver::OnFramePushed(const PipelineContext& context, const Processor& from, const Frame& frame,
                                Direction direction) {
  spdlog::debug("[{}] {} -> {} {}", context.call_id(), from.name(), DirectionName(direction), Describe(frame));
}

}  // namespace voxpipe
