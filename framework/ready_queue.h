// ReadyQueue: one edge-triggered epoll set per event loop, for the sockets
// that carry a call's media (its Twilio or browser WebSocket, its model
// socket). A socket joins once, when its connection starts, and leaves
// before it closes.
//
// Why: waiting for a socket through Asio's reactor costs a system call per
// message besides the read. `async_wait` re-arms the socket with epoll_ctl
// every time; `async_read_some` first tries a read that, between messages,
// finds nothing. Here the set's own descriptor waits in the loop's reactor,
// re-armed once per wake-up for every socket that became readable
// meanwhile, and each of those is told so and reads what it holds.
//
// Edge-triggered: a watcher told it is readable reads until the socket is
// empty (a short read or EAGAIN); the next data tells it again. Used on its
// loop's thread only (EventLoop::ready_queue()).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace voxpipe {

class ReadyQueue {
 public:
  class Watcher {
   public:
    virtual void OnReadable() = 0;
    // The loop goes away (its thread has stopped) with this socket still
    // watched, e.g. a connection in its closing handshake: let go of what
    // it holds, calling no one, so that a connection and the session that
    // owns it, each holding the other, are freed.
    virtual void OnLoopShutdown() {}

   protected:
    ~Watcher() = default;
  };
  // Names a watched socket; empty once removed.
  struct Token {
    uint32_t slot = 0;
    uint32_t generation = 0;  // 0: not watching
    explicit operator bool() const { return generation != 0; }
  };

  explicit ReadyQueue(boost::asio::io_context& io);
  ~ReadyQueue();
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;

  // Watches `fd` for reading; an empty token when the kernel refuses (the
  // caller then waits through Asio). `watcher` is not kept alive.
  Token Add(int fd, std::weak_ptr<Watcher> watcher);
  // Stops watching; call it before `fd` is closed (a closed descriptor's
  // number may already belong to another socket).
  void Remove(Token& token, int fd);
  // Tells every watcher left OnLoopShutdown() and lets go of the reactor
  // registration, before the loop's services are destroyed; Remove still
  // works after it.
  void Shutdown();

  size_t watching() const { return watching_; }
  // Watchers told they are readable since the last call: the loop's
  // measure of how busy it is (RunInBatches).
  size_t TakeTold() { return std::exchange(told_, 0); }

  // A connection's socket in its loop's queue: joined once, then each read
  // that finds the socket empty awaits the next word.
  class Membership {
   public:
    // Joins the calling thread's loop's queue when `io` is that loop's;
    // false: the connection waits through Asio instead.
    bool Join(const boost::asio::execution_context& io, int fd, std::weak_ptr<Watcher> watcher);
    // Before `fd` closes.
    void Leave(int fd);
    bool joined() const { return queue_ != nullptr; }
    // The next readiness is wanted.
    void Await() { awaiting_ = true; }
    // In OnReadable(): whether the word was awaited (and no longer is).
    bool TakeWakeUp() { return std::exchange(awaiting_, false); }

   private:
    ReadyQueue* queue_ = nullptr;
    Token token_;
    bool awaiting_ = false;
  };

 private:
  struct Entry {
    std::weak_ptr<Watcher> watcher;
    uint32_t generation = 1;
  };

  void Arm();
  void OnReady();
  void ReleaseDescriptor();

  int epoll_fd_ = -1;
  std::optional<boost::asio::posix::stream_descriptor> descriptor_;  // a duplicate of epoll_fd_
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  size_t watching_ = 0;
  size_t told_ = 0;
  bool armed_ = false;
};

}  // namespace voxpipe
