#include "framework/server/server_websocket.h"

#include <array>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "framework/server/websocket_frame.h"

namespace voxpipe::server {
namespace {

namespace net = boost::asio;
using error_code = boost::system::error_code;

// One write takes at most this much of the queue, so a long queue cannot
// delay a `clear` or a close frame queued behind it for long.
constexpr size_t kMaxMessagesPerWrite = 64;
constexpr size_t kMaxBytesPerWrite = 256 * 1024;
// Twilio's messages are a few hundred bytes: the reader starts with room for
// several and reads into whatever is free, at least kMinRead.
constexpr size_t kReaderBuffer = 2048;
constexpr size_t kMinRead = 1024;
constexpr size_t kDiscardBytes = 4096;
constexpr size_t kSpareBuffers = 8;
constexpr size_t kMaxSpareCapacity = 64 * 1024;

class ServerWebSocket : public WebSocketConnection,
                        public ReadyQueue::Watcher,
                        public std::enable_shared_from_this<ServerWebSocket> {
 public:
  ServerWebSocket(Socket socket, ConnectionSlot slot, std::string remote, const WebSocketLimits& limits,
                  std::string_view already_read)
      : socket_(std::move(socket)), slot_(std::move(slot)), executor_(socket_.get_executor()), remote_(std::move(remote)),
        limits_(limits),
        reader_(limits.max_message_bytes, kReaderBuffer), timer_(executor_) {
    reader_.Append(already_read);
  }
  ~ServerWebSocket() { Unwatch(); }

  const Executor& executor() const override { return executor_; }
  const std::string& remote() const override { return remote_; }

  void Start(Callbacks callbacks) override {
    callbacks_ = std::move(callbacks);
    error_code ec;
    socket_.non_blocking(true, ec);  // reads in on_readable() never block the loop
    ready_.Join(socket_.get_executor().context(), socket_.native_handle(), weak_from_this());
    last_read_ = Clock::now();
    ArmTimer(last_read_ + limits_.idle_timeout / 2);
    if (HandleEvents()) do_read();
  }

  std::string TakeBuffer() override {
    if (spare_.empty()) return {};
    std::string buffer = std::move(spare_.back());
    spare_.pop_back();
    buffer.clear();
    return buffer;
  }

  bool Send(std::string message, bool binary) override {
    if (!is_open()) return false;
    if (queue_.size() - head_ >= limits_.max_queued_messages) {
      spdlog::warn("websocket {}: {} messages waiting, peer too slow; disconnecting", remote_, queue_.size() - head_);
      Abort("send queue full");
      return false;
    }
    Queue(binary ? WebSocketOpcode::kBinary : WebSocketOpcode::kText, std::move(message));
    return true;
  }

  size_t DropQueued() override {
    size_t keep_until = head_ + in_flight_;
    size_t dropped = 0;
    for (size_t i = queue_.size(); i-- > keep_until;) {
      if (queue_[i].opcode != WebSocketOpcode::kText && queue_[i].opcode != WebSocketOpcode::kBinary) continue;
      Recycle(std::move(queue_[i].payload));
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
      ++dropped;
    }
    return dropped;
  }

  void Close(std::string reason, int code) override {
    if (!is_open()) return;
    close_reason_ = reason;
    QueueClose(code, reason);
  }

  bool is_open() const override { return !finished_ && !close_queued_; }
  size_t queued() const override { return queue_.size() - head_ - in_flight_; }

 private:
  struct Outgoing {
    WebSocketOpcode opcode;
    std::string payload;
  };

  void Queue(WebSocketOpcode opcode, std::string payload) {
    // Queued payloads move when the queue grows, and a write in flight points
    // into them: a short string stored inline would move with its bytes.
    if (payload.capacity() < 32) payload.reserve(32);
    queue_.push_back({opcode, std::move(payload)});
    if (in_flight_ == 0) do_write();
  }

  void QueueClose(int code, std::string_view reason) {
    close_queued_ = true;
    Queue(WebSocketOpcode::kClose, ClosePayload(code, reason));
  }

  // ---- reading

  // Waits until the socket is readable, then reads what it holds: told by
  // the loop's ReadyQueue (no system call to wait), else through Asio. An
  // async_read_some would first try a read that, between messages, finds
  // nothing: two recv calls a message instead of one.
  void do_read() {
    if (ready_.joined()) {
      ready_.Await();
      return;
    }
    socket_.async_wait(Socket::wait_read, [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
  }

  void OnReadable() override {
    if (ready_.TakeWakeUp()) on_readable({});
  }

  void OnLoopShutdown() override {
    finished_ = true;
    CloseSocket();
    callbacks_ = {};
  }

  void on_readable(const error_code& ec) {
    if (finished_) return;
    if (ec) return Finish("read: " + ec.message());
    for (;;) {
      const auto parts = reader_.PrepareScatter(kMinRead);
      const std::array<net::mutable_buffer, 2> buffers{net::buffer(parts[0].data, parts[0].size),
                                                       net::buffer(parts[1].data, parts[1].size)};
      error_code read_ec;
      size_t n = socket_.read_some(buffers, read_ec);
      if (read_ec == net::error::would_block || read_ec == net::error::try_again) break;  // all read (or a spurious wake)
      if (read_ec == net::error::eof) return Finish(close_sent_ ? "closed: " + close_reason_ : "peer went away");
      if (read_ec) return Finish("read: " + read_ec.message());
      reader_.CommitScatter(n);
      last_read_ = Clock::now();
      ping_sent_ = false;
      if (!HandleEvents()) return;
      // A short read emptied the socket; what arrives next wakes the wait.
      if (n < net::buffer_size(buffers)) {
        reader_.GiveBackGrowth();
        break;
      }
    }
    do_read();
  }

  // Dispatches what has been read; false when reading stops.
  bool HandleEvents() {
    while (!finished_) {
      WebSocketReader::Event event = reader_.Next();
      switch (event.kind) {
        case WebSocketReader::Event::kNone:
          return !reader_.failed();
        case WebSocketReader::Event::kText:
        case WebSocketReader::Event::kBinary:
          if (close_queued_) continue;  // closing: what the peer still sends is of no use
          if (callbacks_.on_message) {
            ++in_callback_;
            callbacks_.on_message(event.data, event.kind == WebSocketReader::Event::kBinary);
            --in_callback_;
          }
          break;
        case WebSocketReader::Event::kPing:
          if (!close_queued_) Queue(WebSocketOpcode::kPong, std::string(event.data));
          break;
        case WebSocketReader::Event::kPong:
          break;
        case WebSocketReader::Event::kClose:
          peer_closed_ = true;
          peer_reason_ = std::string(event.data);
          if (close_sent_) {
            Finish("closed: " + close_reason_);
          } else if (!close_queued_) {
            close_reason_ = "peer closed";
            QueueClose(event.code == 1005 ? kCloseNormal : event.code, {});
          }
          return false;
        case WebSocketReader::Event::kError:
          spdlog::debug("websocket {}: protocol error: {}", remote_, event.data);
          RejectedCounter("websocket_protocol").Increment();
          close_reason_ = "protocol error: " + std::string(event.data);
          if (!close_queued_) {
            QueueClose(event.code, event.data);
          } else if (!close_sent_ && in_flight_ == 0) {
            Abort(close_reason_);
          }
          return false;
      }
    }
    return false;
  }

  // ---- writing

  void do_write() {
    if (finished_ || head_ == queue_.size()) return;
    headers_.clear();
    buffers_.clear();
    size_t bytes = 0;
    size_t end = head_;
    while (end < queue_.size() && end - head_ < kMaxMessagesPerWrite && (bytes < kMaxBytesPerWrite || end == head_)) {
      bytes += queue_[end].payload.size();
      ++end;
    }
    headers_.resize(end - head_);
    for (size_t i = head_; i < end; ++i) {
      auto& header = headers_[i - head_];
      size_t n = WriteFrameHeader(queue_[i].opcode, queue_[i].payload.size(), header.data());
      buffers_.emplace_back(header.data(), n);
      if (!queue_[i].payload.empty()) buffers_.emplace_back(queue_[i].payload.data(), queue_[i].payload.size());
    }
    in_flight_ = end - head_;
    net::async_write(socket_, buffers_,
                     [self = shared_from_this()](const error_code& ec, size_t) { self->on_write(ec); });
  }

  void on_write(const error_code& ec) {
    if (finished_) return;
    if (ec) return Abort("write: " + ec.message());
    bool wrote_close = false;
    for (size_t i = head_; i < head_ + in_flight_; ++i) {
      wrote_close = wrote_close || queue_[i].opcode == WebSocketOpcode::kClose;
      Recycle(std::move(queue_[i].payload));
    }
    head_ += in_flight_;
    in_flight_ = 0;
    if (head_ == queue_.size()) {
      queue_.clear();
      head_ = 0;
    } else if (head_ >= 64) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    if (wrote_close) return OnCloseSent();
    do_write();
  }

  void OnCloseSent() {
    close_sent_ = true;
    error_code ignored;
    if (peer_closed_) {
      // Our close answered theirs: done.
      socket_.shutdown(Socket::shutdown_send, ignored);
      return Finish("peer closed");
    }
    // Wait for the peer's close frame, for a while.
    ArmTimer(Clock::now() + limits_.close_timeout);
    if (reader_.failed()) {
      // A protocol error ended reading (e.g. a message too big), and the peer
      // may still be sending into it: closing the socket with its data unread
      // would reset the connection and lose our close frame, code and reason,
      // in the peer's buffers. Stop sending; drop what comes until it closes.
      socket_.shutdown(Socket::shutdown_send, ignored);
      do_discard();
    }
  }

  void do_discard() {
    // Rare (after a protocol error), so its buffer is not part of every connection.
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardBytes);
    socket_.async_read_some(net::buffer(discard_.get(), kDiscardBytes), [self = shared_from_this()](const error_code& ec, size_t) {
      if (self->finished_) return;
      if (ec) return self->Finish(self->close_reason_);
      self->do_discard();
    });
  }

  void Recycle(std::string buffer) {
    if (spare_.size() < kSpareBuffers && buffer.capacity() <= kMaxSpareCapacity) spare_.push_back(std::move(buffer));
  }

  // ---- idle and close timeouts: one timer, checked when it fires

  void ArmTimer(Clock::time_point at) {
    if (limits_.idle_timeout.count() <= 0 && !close_sent_) return;
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->on_timer();
    });
  }

  void on_timer() {
    if (finished_) return;
    auto now = Clock::now();
    if (close_sent_) return Abort("no close frame from the peer in time");
    auto idle = now - last_read_;
    if (idle >= limits_.idle_timeout) {
      RejectedCounter("websocket_idle").Increment();
      return Abort("idle timeout");
    }
    if (idle >= limits_.idle_timeout / 2 && !ping_sent_ && !close_queued_) {
      ping_sent_ = true;
      Queue(WebSocketOpcode::kPing, {});
      return ArmTimer(last_read_ + limits_.idle_timeout);
    }
    ArmTimer(last_read_ + (ping_sent_ ? limits_.idle_timeout : limits_.idle_timeout / 2));
  }

  // ---- the end

  void Abort(const std::string& reason) {
    CloseSocket();
    Finish(reason);
  }

  void CloseSocket() {
    Unwatch();
    error_code ignored;
    socket_.close(ignored);
  }

  // Before the socket closes: its descriptor's number may be reused at once.
  void Unwatch() {
    ready_.Leave(socket_.native_handle());
  }

  void Finish(const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    // Nothing more is read or written: release the socket now.
    CloseSocket();
    queue_.clear();
    head_ = in_flight_ = 0;
    auto on_close = std::move(callbacks_.on_close);
    // The handlers often hold their owner, which holds this connection; one
    // of them may be running, though, and goes once it has returned.
    if (in_callback_ == 0) {
      callbacks_ = {};
    } else {
      net::post(executor_, [self = shared_from_this()] { self->callbacks_ = {}; });
    }
    if (on_close) on_close(reason);
  }

  Socket socket_;
  ReadyQueue::Membership ready_;  // when the socket waits in its loop's queue
  ConnectionSlot slot_;
  Executor executor_;
  std::string remote_;
  WebSocketLimits limits_;
  WebSocketReader reader_;
  net::steady_timer timer_;
  Callbacks callbacks_;
  std::vector<Outgoing> queue_;  // [head_, head_ + in_flight_) is being written
  size_t head_ = 0;
  size_t in_flight_ = 0;
  std::vector<std::array<uint8_t, kMaxFrameHeader>> headers_;
  std::vector<net::const_buffer> buffers_;
  std::vector<std::string> spare_;
  std::unique_ptr<char[]> discard_;
  std::string close_reason_;
  std::string peer_reason_;
  Clock::time_point last_read_{};
  int in_callback_ = 0;
  bool ping_sent_ = false;
  bool close_queued_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool finished_ = false;
};

}  // namespace

bool ConnectionTable::TryAdd(const std::string& address, int per_address) {
  std::lock_guard lock(mutex_);
  int& count = per_address_[address];
  if (per_address > 0 && count >= per_address) {
    if (count == 0) per_address_.erase(address);
    return false;
  }
  ++count;
  open_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ConnectionTable::Remove(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = per_address_.find(address);
  if (it == per_address_.end()) return;
  if (--it->second <= 0) per_address_.erase(it);
  open_.fetch_sub(1, std::memory_order_relaxed);
}

ConnectionSlot::ConnectionSlot(EventLoop* loop, std::shared_ptr<ConnectionTable> table, std::string address)
    : loop_(loop), table_(std::move(table)), address_(std::move(address)) {
  if (loop_) loop_->AddLoad(1);
}

ConnectionSlot::ConnectionSlot(ConnectionSlot&& other) noexcept
    : loop_(std::exchange(other.loop_, nullptr)), table_(std::move(other.table_)), address_(std::move(other.address_)) {}

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    Release();
    loop_ = std::exchange(other.loop_, nullptr);
    table_ = std::move(other.table_);
    address_ = std::move(other.address_);
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() { Release(); }

ConnectionSlot ConnectionSlot::MoveTo(EventLoop* loop) && {
  if (loop_) loop_->AddLoad(-1);
  loop_ = nullptr;
  return ConnectionSlot(loop, std::move(table_), std::move(address_));
}

void ConnectionSlot::Release() {
  if (loop_) loop_->AddLoad(-1);
  if (table_) table_->Remove(address_);
  loop_ = nullptr;
  table_.reset();
}

std::shared_ptr<WebSocketConnection> MakeServerWebSocket(Socket socket, ConnectionSlot slot, std::string remote,
                                                         const WebSocketLimits& limits, std::string_view already_read) {
  return std::make_shared<ServerWebSocket>(std::move(socket), std::move(slot), std::move(remote), limits, already_read);
}

}  // namespace voxpipe::server
