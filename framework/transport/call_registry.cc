#include "framework/transport/call_registry.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace voxpipe {

bool IsTerminalCallStatus(const std::string& status) {
  return status == "completed" || status == "busy" || status == "failed" || status == "no-answer" ||
         status == "canceled";
}

std::string MaskPhoneNumber(std::string_view number) {
  if (number.empty()) return {};
  if (number.size() <= 6) return std::string(number.size(), '*');
  std::string out(number);
  for (size_t i = 2; i + 4 < out.size(); ++i) out[i] = '*';
  return out;
}

void CallRegistry::Ringing(const CallInfo& call) {
  std::lock_guard lock(mutex_);
  ExpireRinging();
  auto [it, inserted] = calls_.try_emplace(call.id);
  if (!inserted && it->second.counters) return;  // a retried webhook for a live call changes nothing
  it->second.info = call;
  it->second.state = "ringing";
  it->second.started = std::chrono::steady_clock::now();
}

std::shared_ptr<CallCounters> CallRegistry::Begin(const CallInfo& call, std::function<void(std::string)> end) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = calls_.try_emplace(call.id);
  Entry& e = it->second;
  if (e.counters) return nullptr;
  if (!call.from.empty() || inserted) e.info.from = call.from;
  if (!call.to.empty() || inserted) e.info.to = call.to;
  e.info.id = call.id;
  e.info.carrier = call.carrier;
  e.info.stream = call.stream;
  e.state = "in-progress";
  e.start_time = std::chrono::system_clock::now();
  e.started = std::chrono::steady_clock::now();
  e.counters = std::make_shared<CallCounters>();
  e.end = std::move(end);
  return e.counters;
}

void CallRegistry::StatusUpdate(const std::string& id, const std::string& status) {
  std::function<void(std::string)> end;
  {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    it->second.state = status;
    if (IsTerminalCallStatus(status)) {
      end = it->second.end;
      if (!it->second.counters) calls_.erase(it);  // no media to wait for
    }
  }
  if (end) end("call " + status);
}

void CallRegistry::SetError(const std::string& id, const std::string& error) {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(id);
  if (it != calls_.end()) it->second.last_error = error;
}

void CallRegistry::Ended(const std::string& id, const CallCounters* counters) {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(id);
  if (it != calls_.end() && it->second.counters.get() == counters) calls_.erase(it);
}

size_t CallRegistry::size() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

size_t CallRegistry::active() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [id, e] : calls_) n += e.counters ? 1 : 0;
  return n;
}

void CallRegistry::ExpireRinging() {
  auto now = std::chrono::steady_clock::now();
  std::erase_if(calls_, [&](const auto& kv) { return !kv.second.counters && now - kv.second.started > kRingingExpiry; });
}

nlohmann::json CallRegistry::ToJson(bool show_numbers) const {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  std::vector<const Entry*> entries;
  for (const auto& [id, e] : calls_) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) { return a->started < b->started; });
  nlohmann::json out = nlohmann::json::array();
  for (const Entry* e : entries) {
    nlohmann::json call = {
        {"id", e->info.id},
        {"carrier", e->info.carrier},
        {"from", show_numbers ? e->info.from : MaskPhoneNumber(e->info.from)},
        {"to", show_numbers ? e->info.to : MaskPhoneNumber(e->info.to)},
        {"state", e->state},
        {"stream", e->info.stream},
        {"start_time",
         fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(e->start_time)))},
        {"duration_s", std::chrono::duration<double>(now - e->started).count()},
        {"last_error", e->last_error},
    };
    if (e->counters) {
      call["frames_in"] = e->counters->frames_in.value();
      call["frames_out"] = e->counters->frames_out.value();
      call["bytes_in"] = e->counters->bytes_in.value();
      call["bytes_out"] = e->counters->bytes_out.value();
      call["errors"] = e->counters->errors.value();
    }
    out.push_back(std::move(call));
  }
  return out;
}

}  // namespace voxpipe
