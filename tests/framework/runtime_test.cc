// Where the runtime places connections (packed onto the first loops up to
// the fill load, then spread to the least-loaded), and what it tells the
// sockets still watched when it goes.
#include "framework/runtime.h"

#include <cstdlib>
#include <future>
#include <memory>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

namespace voxpipe {
namespace {

TEST(RuntimeTest, ALoopFillsBeforeTheNextIsUsed) {
  Runtime runtime(3);
  runtime.set_fill_load(2);
  EventLoop* first = &runtime.Place();
  EXPECT_EQ(first, &runtime.loop(0));
  runtime.loop(0).AddLoad(1);
  EXPECT_EQ(&runtime.Place(), &runtime.loop(0)) << "one connection: loop 0 still has room";
  runtime.loop(0).AddLoad(1);
  EXPECT_EQ(&runtime.Place(), &runtime.loop(1));
  runtime.loop(1).AddLoad(2);
  runtime.loop(2).AddLoad(2);
  runtime.loop(0).AddLoad(1);
  EXPECT_EQ(&runtime.Place(), &runtime.loop(1)) << "all full: the least-loaded (loop 0 has 3)";
  runtime.loop(1).AddLoad(-2);
  runtime.loop(0).AddLoad(-3);
  EXPECT_EQ(&runtime.Place(), &runtime.loop(0)) << "a loop below the fill load again comes first";
  runtime.loop(2).AddLoad(-2);
}

TEST(RuntimeTest, ByDefaultALoopTakesItsFillBeforeTheNext) {
  Runtime runtime(2);
  for (int i = 0; i < Runtime::kDefaultFillLoad; ++i) {
    EventLoop& loop = runtime.Place();
    ASSERT_EQ(&loop, &runtime.loop(0)) << "connection " << i;
    loop.AddLoad(1);
  }
  EXPECT_EQ(&runtime.Place(), &runtime.loop(1)) << "the first loop is full";
  runtime.loop(0).AddLoad(-Runtime::kDefaultFillLoad);
}

TEST(RuntimeTest, FillZeroSendsEveryConnectionToTheLeastLoadedLoop) {
  Runtime runtime(2);
  runtime.set_fill_load(0);
  EventLoop& a = runtime.Place();
  a.AddLoad(1);
  EventLoop& b = runtime.Place();
  EXPECT_NE(&a, &b);
  b.AddLoad(1);
  EventLoop& c = runtime.Place();
  c.AddLoad(1);
  EXPECT_EQ(runtime.loop(0).load() + runtime.loop(1).load(), 3);
  EXPECT_LE(std::abs(runtime.loop(0).load() - runtime.loop(1).load()), 1);
  for (int i = 0; i < 2; ++i) runtime.loop(i).AddLoad(-runtime.loop(i).load());
}


// A connection and the session that owns it hold each other until the
// connection finishes; one still in its closing handshake when the server
// stops is told by its loop's ReadyQueue, so that neither leaks.
class HeldConnection : public ReadyQueue::Watcher, public std::enable_shared_from_this<HeldConnection> {
 public:
  void OnReadable() override {}
  void OnLoopShutdown() override {
    told = true;
    membership.Leave(fd);
    owner.reset();
  }
  ReadyQueue::Membership membership;
  std::shared_ptr<HeldConnection> owner;  // the cycle
  int fd = -1;
  bool told = false;
};

TEST(RuntimeTest, ALoopGoingAwayTellsTheSocketsItStillWatches) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::weak_ptr<HeldConnection> weak;
  {
    Runtime runtime(1);
    runtime.Start();
    std::promise<bool> joined;
    boost::asio::post(runtime.loop(0).io(), [&] {
      auto connection = std::make_shared<HeldConnection>();
      connection->fd = fds[0];
      connection->owner = connection;
      weak = connection;
      joined.set_value(connection->membership.Join(runtime.loop(0).io(), fds[0], connection));
    });
    ASSERT_TRUE(joined.get_future().get());
    runtime.Stop();
    runtime.Abort();
    runtime.Join();
    EXPECT_FALSE(weak.expired()) << "held by its own cycle while the loop exists";
  }
  EXPECT_TRUE(weak.expired());
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace voxpipe
