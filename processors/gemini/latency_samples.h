// LatencySamples: latencies of one call in log-spaced buckets, 16 per octave
// from 1 µs to about 2 s — the same few kilobytes however long the call, and
// percentiles within 4.4% — each also observed by a process-wide histogram
// for /metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "framework/metrics.h"

namespace voxpipe {

class LatencySamples {
 public:
  explicit LatencySamples(MetricHistogram& process_wide) : process_wide_(process_wide) {}
  void Add(std::chrono::steady_clock::duration d);
  double Percentile(double p) const;  // µs
  size_t size() const { return count_; }

 private:
  static constexpr int kPerOctave = 16;
  static constexpr int kOctaves = 21;
  std::array<uint32_t, kPerOctave * kOctaves + 1> buckets_{};  // [0] is under 1 µs
  size_t count_ = 0;
  MetricHistogram& process_wide_;
};

}  // namespace voxpipe
