#include "framework/transport/early_calls.h"

#include <boost/asio/post.hpp>

#include "framework/metrics.h"

namespace voxpipe {
namespace {

MetricCounter& EarlyCallCounter(const std::string& result) {
  return Metrics::Global().Counter("voxpipe_early_calls_total",
                                   "Calls prewarmed before their media connected, by what became of them",
                                   {{"result", result}});
}

}  // namespace

bool EarlyCalls::Open(const std::string& key, EventLoop& loop, std::shared_ptr<const PipelineTemplate> pipeline,
                      std::string call_id, CallValues values) {
  {
    std::lock_guard lock(mutex_);
    if (static_cast<int>(entries_.size()) >= max_open_) {
      EarlyCallCounter("full").Increment();
      return false;
    }
    if (!entries_.emplace(key, Entry{&loop, nullptr, nullptr}).second) return false;
  }
  EarlyCallCounter("opened").Increment();
  std::weak_ptr<EarlyCalls> weak = shared_from_this();
  boost::asio::post(loop.executor(), [weak, key, &loop, pipeline = std::move(pipeline), call_id = std::move(call_id),
                                      values = std::move(values)] {
    auto self = weak.lock();
    if (!self) return;
    auto resources = pipeline->Prewarm(loop.executor(), call_id, values);
    auto timer = std::make_shared<boost::asio::steady_timer>(loop.executor(), self->timeout_);
    timer->async_wait([weak, key, raw = timer.get()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->Expire(key, raw);
    });
    self->Prewarmed(key, std::move(resources), std::move(timer));
  });
  return true;
}

void EarlyCalls::Prewarmed(const std::string& key, std::shared_ptr<EarlyResources> resources,
                           std::shared_ptr<boost::asio::steady_timer> timer) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      it->second.resources = std::move(resources);
      it->second.timer = std::move(timer);
      return;
    }
  }
  // Closed (CloseAll) while the post was on its way.
  timer->cancel();
  resources->CloseAll();
}

void EarlyCalls::Expire(const std::string& key, const boost::asio::steady_timer* timer) {
  std::shared_ptr<EarlyResources> resources;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.timer.get() != timer) return;
    resources = std::move(it->second.resources);
    entries_.erase(it);
  }
  EarlyCallCounter("expired").Increment();
  if (resources) resources->CloseAll();
}

EventLoop* EarlyCalls::LoopOf(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second.loop;
}

std::shared_ptr<EarlyResources> EarlyCalls::Take(const std::string& key) {
  Entry entry;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    entry = std::move(it->second);
    entries_.erase(it);
  }
  // Posted in Open() before this stream could connect, on the same loop:
  // the resources are there unless CloseAll took them.
  if (EventLoop::Current() != entry.loop) {
    EarlyCallCounter("wrong_loop").Increment();
    if (entry.resources) CloseOn(*entry.loop, std::move(entry.resources));
    return nullptr;
  }
  if (entry.timer) entry.timer->cancel();
  if (!entry.resources) return nullptr;
  EarlyCallCounter("used").Increment();
  return entry.resources;
}

void EarlyCalls::CloseAll() {
  std::map<std::string, Entry> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
  }
  for (auto& [key, entry] : entries) {
    if (!entry.resources) continue;
    auto timer = std::move(entry.timer);
    boost::asio::post(entry.loop->executor(), [timer] { timer->cancel(); });
    CloseOn(*entry.loop, std::move(entry.resources));
  }
}

void EarlyCalls::CloseOn(EventLoop& loop, std::shared_ptr<EarlyResources> resources) {
  boost::asio::post(loop.executor(), [resources = std::move(resources)] { resources->CloseAll(); });
}

int EarlyCalls::open() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(entries_.size());
}

}  // namespace voxpipe
