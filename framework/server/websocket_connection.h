// WebSocketConnection: one accepted server-side WebSocket, as the HTTP server
// hands it to a route after the handshake. Beast stays in the .cc file.
//
// Everything about a connection happens on its strand, the one it was
// accepted on: callbacks run there and the methods must be called there. A
// pipeline instance created on the same strand (executor()) therefore talks to
// its socket by plain function calls.
//
// Writes: one in flight, the rest queued up to a bound; a peer too slow to
// take them is disconnected rather than allowed to grow the queue. Message
// buffers are recycled (TakeBuffer), so a steady stream allocates nothing.
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
    // A complete text (or binary) message; the view is valid during the call.
    std::function<void(std::string_view message)> on_message;
    // Once, when the connection is gone: closed by either side, failed or
    // timed out. `reason` is for logs ("peer closed", "read: timeout").
    std::function<void(const std::string& reason)> on_close;
  };

  virtual ~WebSocketConnection() = default;

  virtual const Executor& executor() const = 0;
  virtual const std::string& remote() const = 0;
  // Starts reading; the callbacks are released after on_close.
  virtual void Start(Callbacks callbacks) = 0;
  // An empty string with spare capacity, for building the next message.
  virtual std::string TakeBuffer() = 0;
  // Queues a text message. False (and the connection closing) when the
  // queue is full or the connection is closed.
  virtual bool Send(std::string message) = 0;
  // Drops queued messages not yet handed to the socket; returns how many.
  virtual size_t DropQueued() = 0;
  // Sends a normal close after the queued messages; on_close follows.
  virtual void Close(std::string reason) = 0;
  virtual bool is_open() const = 0;
  // Messages waiting behind the one being written.
  virtual size_t queued() const = 0;
};

}  // namespace voxpipe::server
