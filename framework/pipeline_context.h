// PipelineContext: what the processors of one pipeline instance share — the
// strand they run on, the call's identity, services attached by the
// transport (e.g. the Twilio media stream of this call), and observers.
#pragma once

#include <any>
#include <map>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "framework/observer.h"

namespace voxpipe {

class PipelineContext {
 public:
  using Executor = boost::asio::strand<boost::asio::io_context::executor_type>;

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

  // A reference that keeps the instance (and so its processors) alive. Bind it
  // into every asynchronous completion handler that captures a processor, and
  // return early from the handler when closed() is true.
  std::shared_ptr<void> KeepAlive() const { return owner_.lock(); }

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
