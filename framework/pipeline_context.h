// PipelineContext: what the processors of one pipeline instance share — the
// event loop they run on, the call's identity, services attached by the
// transport (e.g. the Twilio media stream of this call), and observers.
#pragma once

#include <any>
#include <map>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include "framework/observer.h"

namespace voxpipe {

class PipelineContext {
 public:
  // The call's event loop (see runtime.h): one thread, so no strand.
  using Executor = boost::asio::io_context::executor_type;

  PipelineContext(Executor executor, std::string call_id)
      : executor_(std::move(executor)), call_id_(std::move(call_id)) {}

  const Executor& executor() const { return executor_; }
  const std::string& call_id() const { return call_id_; }

  // Services are shared objects a transport attaches before the instance
  // starts and processors look up in Open(): one per type.
  template <typename T>
  void Provide(std::shared_ptr<T> service) {
    services_[std::type_index(typeid(T))] = std::move(service);
  }
  template <typename T>
  std::shared_ptr<T> Find() const {
    auto it = services_.find(std::type_index(typeid(T)));
    return it == services_.end() ? nullptr : std::any_cast<std::shared_ptr<T>>(it->second);
  }

  // Observers are added before the instance starts.
  void AddObserver(std::shared_ptr<PipelineObserver> observer) { observers_.push_back(std::move(observer)); }
  const std::vector<std::shared_ptr<PipelineObserver>>& observers() const { return observers_; }

  // A reference that keeps the instance (and so its processors) alive.
  std::shared_ptr<void> KeepAlive() const { return owner_.lock(); }

  // Wraps the completion handler of a processor's asynchronous work so that
  // it runs only while the instance is alive and not closed; otherwise it is
  // dropped. The handler may capture the processor by `this`:
  //   client->Fetch(..., context().Guard([this](Result<Reply> r) { OnReply(r); }));
  template <typename F>
  auto Guard(F handler) const {
    return [this, owner = owner_, handler = std::move(handler)](auto&&... args) mutable {
      auto alive = owner.lock();
      if (!alive || closed_) return;
      handler(std::forward<decltype(args)>(args)...);
    };
  }
  // The same for a timer: `handler()` runs when the timer expired, not when
  // it was cancelled or the instance is gone.
  //   timer_.async_wait(context().OnTimer([this] { OnTurnTimeout(); }));
  template <typename F>
  auto OnTimer(F handler) const {
    return Guard([handler = std::move(handler)](const boost::system::error_code& ec) mutable {
      if (!ec) handler();
    });
  }

  // True once the instance has closed its processors.
  bool closed() const { return closed_; }

  void NotifyPush(const Processor& from, const Frame& frame, Direction direction) {
    if (frame_watchers_ == 0) return;
    for (auto& o : observers_) {
      if (o->wants_frames()) o->OnFramePushed(*this, from, frame, direction);
    }
  }

 private:
  friend class PipelineInstance;

  Executor executor_;
  std::string call_id_;
  std::map<std::type_index, std::any> services_;
  std::vector<std::shared_ptr<PipelineObserver>> observers_;
  std::weak_ptr<void> owner_;
  int frame_watchers_ = 0;
  bool closed_ = false;
};

}  // namespace voxpipe
