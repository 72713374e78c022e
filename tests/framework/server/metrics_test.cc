#include "framework/metrics.h"

#include <thread>

#include <gtest/gtest.h>

namespace voxpipe {
namespace {

TEST(MetricsTest, RendersPrometheusTextFormat) {
  Metrics metrics;
  metrics.Counter("calls_total", "Calls").Increment(3);
  metrics.Counter("errors_total", "Errors", {{"kind", "bad \"json\""}}).Increment();
  metrics.Gauge("active", "Active").Set(2.5);
  auto& h = metrics.Histogram("latency_seconds", "Latency", {}, {0.001, 0.01});
  h.Observe(0.0005);
  h.Observe(0.005);
  h.Observe(std::chrono::milliseconds(50));
  std::string text = metrics.RenderText();
  EXPECT_NE(text.find("# HELP calls_total Calls\n# TYPE calls_total counter\ncalls_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("errors_total{kind=\"bad \\\"json\\\"\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE active gauge\nactive 2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos) << text;
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameMetric) {
  Metrics metrics;
  auto& a = metrics.Counter("x_total", "X", {{"k", "1"}});
  auto& b = metrics.Counter("x_total", "X", {{"k", "1"}});
  auto& c = metrics.Counter("x_total", "X", {{"k", "2"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
}

TEST(MetricsTest, CountsFromManyThreads) {
  Metrics metrics;
  auto& counter = metrics.Counter("n_total", "N");
  auto& gauge = metrics.Gauge("g", "G");
  auto& hist = metrics.Histogram("h", "H");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.Increment();
        gauge.Add(1);
        hist.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.value(), 40000u);
  EXPECT_EQ(gauge.value(), 40000.0);
  EXPECT_EQ(hist.count(), 40000u);
  EXPECT_NEAR(hist.sum(), 40.0, 1e-6);
}

}  // namespace
}  // namespace voxpipe
