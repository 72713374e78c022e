#include "framework/logging.h"

#include <cctype>
#include <ctime>
#include <map>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "framework/metrics.h"

namespace voxpipe {

namespace {

// "2026-12-02T05:01:19.123+00:00": ISO 8601 with milliseconds and the zone.
void AppendTime(std::chrono::system_clock::time_point time, spdlog::memory_buf_t& out) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char zone[8];
  std::strftime(zone, sizeof(zone), "%z", &local);  // "+0100"
  fmt::format_to(std::back_inserter(out), "{:%Y-%m-%dT%H:%M:%S}.{:03d}{}{}:{}", local, ms, zone[0],
                 std::string_view(zone + 1, 2), std::string_view(zone + 3, 2));
}

// A line about a call starts with "[CALL_ID] ".
std::string_view CallIdOf(std::string_view message) {
  if (message.size() < 3 || message[0] != '[') return {};
  size_t close = message.find("] ");
  if (close == std::string_view::npos || close > 72) return {};
  return message.substr(1, close - 1);
}

void AppendJsonString(std::string_view text, spdlog::memory_buf_t& out) {
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

class TextFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    AppendTime(msg.time, dest);
    auto level = spdlog::level::to_string_view(msg.level);
    fmt::format_to(std::back_inserter(dest), " {:<5} ", std::string_view(level.data(), level.size()));
    dest.append(msg.payload.begin(), msg.payload.end());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(); }
};

// One object a line, for log collectors: time, level, call, msg.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    dest.append(std::string_view("{\"time\":\""));
    AppendTime(msg.time, dest);
    auto level = spdlog::level::to_string_view(msg.level);
    dest.append(std::string_view("\",\"level\":"));
    AppendJsonString(std::string_view(level.data(), level.size()), dest);
    if (std::string_view call = CallIdOf(text); !call.empty()) {
      dest.append(std::string_view(",\"call\":"));
      AppendJsonString(call, dest);
      text.remove_prefix(call.size() + 3);
    }
    dest.append(std::string_view(",\"msg\":"));
    AppendJsonString(text, dest);
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// The safety net behind LogEvery: whatever the line, one kind of line (its
// text with the numbers and the call id taken out) passes at most
// kLinesPerSecond times a second; the rest are counted, and said once a
// second.
class RateLimitedSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr int kLinesPerSecond = 20;
  explicit RateLimitedSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) ReportSuppressed(msg, now);
    std::string key = KindOf(std::string_view(msg.payload.data(), msg.payload.size()));
    int& count = counts_[key];
    if (++count > kLinesPerSecond) {
      ++suppressed_;
      if (count == kLinesPerSecond + 1) suppressed_example_ = key;
      return;
    }
    inner_->log(msg);
  }
  void flush_() override { inner_->flush(); }

 private:
  static std::string KindOf(std::string_view text) {
    if (std::string_view call = CallIdOf(text); !call.empty()) text.remove_prefix(call.size() + 3);
    std::string key;
    for (char c : text.substr(0, 60)) key += std::isdigit(static_cast<unsigned char>(c)) ? '#' : c;
    return key;
  }

  void ReportSuppressed(const spdlog::details::log_msg& msg, std::chrono::steady_clock::time_point now) {
    window_start_ = now;
    counts_.clear();
    if (suppressed_ == 0) return;
    static MetricCounter& counter =
        Metrics::Global().Counter("voxpipe_log_lines_suppressed_total", "Log lines held back by the rate limit");
    counter.Increment(suppressed_);
    std::string text = fmt::format("{} log lines suppressed in the last second (more than {} a second of one kind, "
                                   "e.g. \"{}\")",
                                   suppressed_, kLinesPerSecond, suppressed_example_);
    spdlog::details::log_msg note(msg.logger_name, spdlog::level::warn, text);
    inner_->log(note);
    suppressed_ = 0;
  }

  std::shared_ptr<spdlog::sinks::sink> inner_;
  std::chrono::steady_clock::time_point window_start_{};
  std::map<std::string, int> counts_;
  uint64_t suppressed_ = 0;
  std::string suppressed_example_;
};

}  // namespace

Status InitLogging(std::string_view level, std::string_view format) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return Status::Error(fmt::format("unknown log level '{}' (use trace, debug, info, warn, error or off)", level));
  }
  if (format != "text" && format != "json") {
    return Status::Error(fmt::format("unknown log format '{}' (use text or json)", format));
  }
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  if (format == "json") {
    stderr_sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    stderr_sink->set_formatter(std::make_unique<TextFormatter>());
  }
  auto sink = std::make_shared<RateLimitedSink>(stderr_sink);
  auto logger = std::make_shared<spdlog::logger>("voxpipe", sink);
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
