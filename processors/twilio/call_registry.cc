#include "processors/twilio/call_registry.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace voxpipe::twilio {

bool IsTerminalCallStatus(const std::string& status) {
  return status == "completed" || status == "busy" || status == "failed" || status == "no-answer" ||
         status == "canceled";
}

void CallRegistry::Ringing(const std::string& call_sid, const std::string& from, const std::string& to) {
  std::lock_guard lock(mutex_);
  ExpireRinging();
  auto& e = calls_[call_sid];
  e.from = from;
  e.to = to;
  e.state = "ringing";
}

std::shared_ptr<CallCounters> CallRegistry::StreamStarted(const std::string& call_sid, const std::string& stream_sid,
                                                          const std::string& from, const std::string& to,
                                                          std::function<void(std::string)> end) {
  std::lock_guard lock(mutex_);
  auto& e = calls_[call_sid];
  if (!from.empty()) e.from = from;
  if (!to.empty()) e.to = to;
  e.stream_sid = stream_sid;
  e.state = "streaming";
  e.start_time = std::chrono::system_clock::now();
  e.started = std::chrono::steady_clock::now();
  e.counters = std::make_shared<CallCounters>();
  e.end = std::move(end);
  return e.counters;
}

void CallRegistry::StatusUpdate(const std::string& call_sid, const std::string& status) {
  std::function<void(std::string)> end;
  {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(call_sid);
    if (it == calls_.end()) return;
    it->second.state = status;
    if (IsTerminalCallStatus(status)) {
      end = it->second.end;
      if (!end) calls_.erase(it);  // no stream to wait for
    }
  }
  if (end) end("call " + status);
}

void CallRegistry::SetError(const std::string& call_sid, const std::string& error) {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(call_sid);
  if (it != calls_.end()) it->second.last_error = error;
}

void CallRegistry::Ended(const std::string& call_sid) {
  std::lock_guard lock(mutex_);
  calls_.erase(call_sid);
}

size_t CallRegistry::size() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

void CallRegistry::ExpireRinging() {
  auto now = std::chrono::steady_clock::now();
  std::erase_if(calls_, [&](const auto& kv) { return !kv.second.counters && now - kv.second.started > kRingingExpiry; });
}

nlohmann::json CallRegistry::ToJson() const {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [sid, e] : calls_) {
    nlohmann::json call = {
        {"sid", sid},
        {"from", e.from},
        {"to", e.to},
        {"state", e.state},
        {"stream_sid", e.stream_sid},
        {"start_time", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(e.start_time)))},
        {"duration_s", std::chrono::duration<double>(now - e.started).count()},
        {"last_error", e.last_error},
    };
    if (e.counters) {
      call["frames_in"] = e.counters->frames_in.load();
      call["frames_out"] = e.counters->frames_out.load();
      call["bytes_in"] = e.counters->bytes_in.load();
      call["bytes_out"] = e.counters->bytes_out.load();
      call["errors"] = e.counters->errors.load();
    }
    out.push_back(std::move(call));
  }
  return out;
}

}  // namespace voxpipe::twilio
