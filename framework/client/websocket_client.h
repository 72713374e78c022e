// WebSocketClient: an asynchronous RFC 6455 client for ws:// and wss://.
//
//   auto ws = WebSocketClient::Create(strand, {.url = "wss://host/path",
//                                              .headers = {{"x-goog-api-key", key}}},
//                                     {.on_open = ..., .on_message = ..., .on_close = ...});
//   ws->Connect();
//   ws->Send(json_text);
//
// All socket work and every handler run on the executor given to Create (a
// call's event loop), so a processor calls Send() and receives messages
// without locks. Call Connect, Send and Close on that executor.
//
// Writes: Send() frames the message and, over ws://, hands it to the socket
// at once when nothing else is waiting (no asynchronous operation per
// message); what is sent while a write is in flight goes out with the next
// one. Up to `max_queued_messages` wait; Send() returns false (and drops
// the message) when that many are waiting or the connection is not open, so
// a stalled server cannot grow memory. TakeBuffer() gives back the storage
// of a message already sent, so a steady sender allocates nothing.
//
// on_close runs exactly once: after a close frame (its code and reason), an
// abrupt end (1006, with the transport error in `error`), or a failed
// connect or handshake (1006, `http_status` set when the server answered the
// upgrade with an HTTP error). Header values are never logged.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "framework/client/tls_context.h"

namespace voxpipe {

struct WebSocketCloseInfo {
  int code = 1006;
  std::string reason;     // from the peer's close frame
  std::string error;      // transport or handshake failure, for logs
  int http_status = 0;    // when the upgrade was refused
  bool opened = false;    // whether on_open ran before
};

struct WebSocketClientOptions {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  size_t max_queued_messages = 512;
  size_t max_message_bytes = 16 * 1024 * 1024;
  TlsContextPtr tls;  // null: DefaultTlsClientContext()
};

struct WebSocketHandlers {
  std::function<void()> on_open;
  std::function<void(std::string_view data, bool binary)> on_message;
  std::function<void(const WebSocketCloseInfo&)> on_close;
  // Called when a message has been handed to the socket (latency figures,
  // pacing), never from inside Send().
  std::function<void()> on_written;
};

class WebSocketClient {
 public:
  static std::shared_ptr<WebSocketClient> Create(boost::asio::any_io_executor executor, WebSocketClientOptions options,
                                                 WebSocketHandlers handlers);
  virtual ~WebSocketClient() = default;

  virtual void Connect() = 0;
  virtual bool Send(std::string message, bool binary = false) = 0;
  // An empty string, with the capacity of a message already sent when there is one.
  virtual std::string TakeBuffer() = 0;
  // Sends a close frame after the queued messages; on_close follows.
  virtual void Close(int code = 1000, std::string reason = {}) = 0;
  // Drops the handlers (no further callbacks) and closes.
  virtual void Detach() = 0;
  // Closes the TCP connection without a close frame (tests of abrupt ends).
  virtual void Abort() = 0;

  virtual bool is_open() const = 0;
  virtual size_t queued() const = 0;
};

}  // namespace voxpipe
