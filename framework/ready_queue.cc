#include "framework/ready_queue.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "framework/runtime.h"

namespace voxpipe {
namespace {

constexpr int kEventsPerCall = 64;

uint64_t Pack(uint32_t slot, uint32_t generation) { return (uint64_t(slot) << 32) | generation; }

}  // namespace

ReadyQueue::ReadyQueue(boost::asio::io_context& io) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    spdlog::warn("ready queue: epoll_create1: {}; sockets wait through Asio", std::strerror(errno));
    return;
  }
  // The reactor owns (and closes) a duplicate, so that Shutdown() can let
  // go of it while watchers still remove themselves from the set.
  int dup_fd = fcntl(epoll_fd_, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    spdlog::warn("ready queue: dup: {}; sockets wait through Asio", std::strerror(errno));
    close(epoll_fd_);
    epoll_fd_ = -1;
    return;
  }
  descriptor_.emplace(io, dup_fd);
}

ReadyQueue::~ReadyQueue() {
  ReleaseDescriptor();  // the loop's services are gone: no watcher is told
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void ReadyQueue::Shutdown() {
  // By index: a watcher removes itself as it goes.
  for (size_t slot = 0; slot < entries_.size(); ++slot) {
    if (auto watcher = entries_[slot].watcher.lock()) watcher->OnLoopShutdown();
  }
  ReleaseDescriptor();
}

void ReadyQueue::ReleaseDescriptor() {
  if (!descriptor_) return;
  boost::system::error_code ignored;
  descriptor_->close(ignored);
  descriptor_.reset();
}

ReadyQueue::Token ReadyQueue::Add(int fd, std::weak_ptr<Watcher> watcher) {
  if (!descriptor_ || fd < 0) return {};
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& entry = entries_[slot];
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  event.data.u64 = Pack(slot, entry.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    spdlog::debug("ready queue: epoll_ctl add {}: {}", fd, std::strerror(errno));
    free_.push_back(slot);
    return {};
  }
  entry.watcher = std::move(watcher);
  if (watching_++ == 0) Arm();
  return {slot, entry.generation};
}

void ReadyQueue::Remove(Token& token, int fd) {
  if (!token || token.slot >= entries_.size() || entries_[token.slot].generation != token.generation) return;
  if (fd >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  Entry& entry = entries_[token.slot];
  entry.watcher.reset();
  if (++entry.generation == 0) entry.generation = 1;  // events already fetched for it no longer match
  free_.push_back(token.slot);
  token = {};
  // An idle loop has no wait pending (a loop with nothing to do may return).
  if (--watching_ == 0 && descriptor_) descriptor_->cancel();
}

void ReadyQueue::Arm() {
  if (armed_ || !descriptor_) return;
  armed_ = true;
  descriptor_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [this](const boost::system::error_code& ec) {
                            armed_ = false;
                            if (!ec) OnReady();
                            if (watching_ > 0 && descriptor_) Arm();
                          });
}

void ReadyQueue::OnReady() {
  epoll_event events[kEventsPerCall];
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, kEventsPerCall, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) {
      auto slot = static_cast<uint32_t>(events[i].data.u64 >> 32);
      auto generation = static_cast<uint32_t>(events[i].data.u64);
      // A watcher told before this one may have removed it, or itself.
      if (slot >= entries_.size() || entries_[slot].generation != generation) continue;
      if (auto watcher = entries_[slot].watcher.lock()) {
        ++told_;
        watcher->OnReadable();
      }
    }
    if (n < kEventsPerCall) return;
  }
}

bool ReadyQueue::Membership::Join(const boost::asio::execution_context& io, int fd, std::weak_ptr<Watcher> watcher) {
  queue_ = EventLoop::ReadyQueueFor(io);
  if (queue_) token_ = queue_->Add(fd, std::move(watcher));
  if (!token_) queue_ = nullptr;
  return joined();
}

void ReadyQueue::Membership::Leave(int fd) {
  if (queue_) queue_->Remove(token_, fd);
  queue_ = nullptr;
  awaiting_ = false;
}

}  // namespace voxpipe
