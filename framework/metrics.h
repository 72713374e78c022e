// Metrics: counters, gauges and histograms rendered in the Prometheus text
// format (what `GET /metrics` serves).
//
//   auto& calls = Metrics::Global().Counter("voxpipe_calls_total", "Calls accepted");
//   calls.Increment();
//   auto& errors = Metrics::Global().Counter("voxpipe_errors_total", "Errors", {{"kind", "bad_json"}});
//
// A metric is created once (by name and labels) and lives as long as its
// registry, so callers keep the reference and update it on the hot path with
// relaxed atomics only: no lock, no allocation. Counters and histograms keep
// one shard per event loop (a cache line of their own), so loops never share
// a line on the media path; a scrape sums the shards. Creation and rendering
// take the registry's lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace voxpipe {

namespace metrics_detail {
// Shards 0..kShards-2 belong to event loops 0..kShards-2; every other thread
// (and loops beyond) shares the last one, still correctly (atomics).
inline constexpr int kShards = 65;
int ShardIndex();  // of the calling thread
}  // namespace metrics_detail

class MetricCounter {
 public:
  void Increment(uint64_t by = 1) {
    shards_[metrics_detail::ShardIndex()].value.fetch_add(by, std::memory_order_relaxed);
  }
  uint64_t value() const {
    uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  Shard shards_[metrics_detail::kShards];
};

// A counter that one thread writes (a call's loop) and any thread reads:
// no locked instruction on the write.
class SingleWriterCounter {
 public:
  void Add(uint64_t by = 1) { value_.store(value_.load(std::memory_order_relaxed) + by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class MetricGauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by) {
    double old = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(old, old + by, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with fixed upper bounds (in the metric's unit, seconds
// for latencies by Prometheus convention).
class MetricHistogram {
 public:
  explicit MetricHistogram(std::vector<double> bounds);
  void Observe(double value);
  void Observe(std::chrono::nanoseconds d) { Observe(std::chrono::duration<double>(d).count()); }

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), the last one being +Inf.
  std::vector<uint64_t> counts() const;
  uint64_t count() const;
  double sum() const;

 private:
  struct alignas(64) Shard {
    std::atomic<double> sum{0};
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;
  };
  std::vector<double> bounds_;
  Shard shards_[metrics_detail::kShards];
};

// Bucket bounds from 50 µs to 1 s, for processing latencies.
std::vector<double> LatencyBuckets();

class Metrics {
 public:
  using Labels = std::map<std::string, std::string>;

  // The process-wide registry.
  static Metrics& Global();

  MetricCounter& Counter(const std::string& name, const std::string& help, const Labels& labels = {});
  MetricGauge& Gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  MetricHistogram& Histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                             std::vector<double> bounds = LatencyBuckets());

  // Everything, in the Prometheus text exposition format (version 0.0.4).
  std::string RenderText() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<MetricCounter> counter;
    std::unique_ptr<MetricGauge> gauge;
    std::unique_ptr<MetricHistogram> histogram;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& Get(const std::string& name, const std::string& help, Kind kind, const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace voxpipe
