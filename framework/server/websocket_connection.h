// WebSocketConnection: one accepted server-side WebSocket, as the HTTP server
// hands it to a route after the handshake.
//
// A connection lives on one event loop (runtime.h), the one its TCP
// connection was placed on: callbacks run there and the methods must be
// called there. A pipeline instance created on the same loop (executor())
// therefore talks to its socket by plain function calls.
//
// Reads take whatever the socket has (several small messages at once).
// Writes: whatever is queued when the socket is free goes out in one write
// (one syscall for a burst of media messages); the queue is bounded, and a
// peer too slow to take it is disconnected rather than allowed to grow it.
// Message buffers are recycled (TakeBuffer), so a steady stream allocates
// nothing. An idle peer is pinged after half the idle timeout and dropped
// after all of it, by a timer that is checked, not re-armed per message.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "framework/pipeline_context.h"

namespace voxpipe::server {

class WebSocketConnection {
 public:
  using Executor = PipelineContext::Executor;
  struct Callbacks {
    // A complete message; the view is valid during the call.
    std::function<void(std::string_view message, bool binary)> on_message;
    // Once, when the connection is gone: closed by either side, failed or
    // timed out. `reason` is for logs ("peer closed", "idle timeout").
    std::function<void(const std::string& reason)> on_close;
  };

  virtual ~WebSocketConnection() = default;

  virtual const Executor& executor() const = 0;
  virtual const std::string& remote() const = 0;
  // Starts reading; the callbacks are released after on_close.
  virtual void Start(Callbacks callbacks) = 0;
  // An empty string with spare capacity, for building the next message.
  virtual std::string TakeBuffer() = 0;
  // Queues a message. False (and the connection closing) when the queue is
  // full, or false when the connection is closed or closing.
  virtual bool Send(std::string message, bool binary = false) = 0;
  // Drops queued messages not yet handed to the socket; returns how many.
  virtual size_t DropQueued() = 0;
  // Sends a close frame (after the queued messages) with `code` and
  // `reason` (e.g. 1008, "origin not allowed"); on_close follows.
  virtual void Close(std::string reason, int code = 1000) = 0;
  virtual bool is_open() const = 0;
  // Messages waiting behind the ones being written.
  virtual size_t queued() const = 0;
};

}  // namespace voxpipe::server
