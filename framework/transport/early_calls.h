// EarlyCalls: calls a server has heard of before their media connects (a
// Twilio voice webhook comes before its stream), with the early resources
// their pipeline opened for them (framework/early_resources.h: the model
// session), so that the caller does not wait for them once the stream
// starts.
//
// Each early call is placed on a loop when it is opened; the server puts
// the call's stream connection on that same loop (the HTTP route's place
// hook), and the session takes the resources there, once. Resources no
// stream came for within `timeout` are closed, and at most `max_open` are
// open at a time (more webhooks just get no early session).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "framework/call_values.h"
#include "framework/early_resources.h"
#include "framework/pipeline.h"
#include "framework/runtime.h"

namespace voxpipe {

class EarlyCalls : public std::enable_shared_from_this<EarlyCalls> {
 public:
  EarlyCalls(int max_open, std::chrono::milliseconds timeout) : max_open_(max_open), timeout_(timeout) {}

  // Prewarms `pipeline` for the call under `key` on `loop`; false when
  // `max_open` are open already or the key is taken. From any thread.
  bool Open(const std::string& key, EventLoop& loop, std::shared_ptr<const PipelineTemplate> pipeline,
            std::string call_id, CallValues values);
  // The loop `key`'s call was placed on, or null. From any thread.
  EventLoop* LoopOf(const std::string& key) const;
  // On the call's loop: its resources, once; null when there are none, or
  // when called from another loop (they are closed then).
  std::shared_ptr<EarlyResources> Take(const std::string& key);
  // Closes every early call's resources (a drain). From any thread.
  void CloseAll();
  int open() const;

 private:
  struct Entry {
    EventLoop* loop = nullptr;
    std::shared_ptr<EarlyResources> resources;  // set on the loop once prewarmed
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  void Prewarmed(const std::string& key, std::shared_ptr<EarlyResources> resources,
                 std::shared_ptr<boost::asio::steady_timer> timer);
  void Expire(const std::string& key, const boost::asio::steady_timer* timer);
  static void CloseOn(EventLoop& loop, std::shared_ptr<EarlyResources> resources);

  const int max_open_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace voxpipe
