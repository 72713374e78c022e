// Where the runtime places connections: packed onto the first loops up to
// the fill load, then spread to the least-loaded.
#include "framework/runtime.h"

#include <cstdlib>

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

}  // namespace
}  // namespace voxpipe
