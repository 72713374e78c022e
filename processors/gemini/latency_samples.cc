#include "processors/gemini/latency_samples.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace voxpipe {

void LatencySamples::Add(std::chrono::steady_clock::duration d) {
  process_wide_.Observe(d);
  double us = std::chrono::duration<double, std::micro>(d).count();
  size_t bucket = us < 1 ? 0 : 1 + static_cast<size_t>(std::log2(us) * kPerOctave);
  ++buckets_[std::min(bucket, buckets_.size() - 1)];
  ++count_;
}

double LatencySamples::Percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100 * double(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<uint64_t>(rank, 1)) {
      // Bucket i (from 1) holds [2^((i-1)/k), 2^(i/k)) µs: report its geometric middle.
      return i == 0 ? 0.5 : std::exp2((double(i) - 0.5) / kPerOctave);
    }
  }
  return std::exp2(double(kOctaves));
}

}  // namespace voxpipe
