// Counts the heap allocations made through operator new in the benchmark
// binary (it replaces the global operator new), so a benchmark can report
// allocations per frame beside its time: the steady media path should make
// none where a reused buffer works. C libraries' own malloc calls are not
// counted.
//
//   AllocationCount count;
//   for (auto _ : state) ...;
//   state.counters["allocs_per_frame"] = count.PerIteration(state);
#pragma once

#include <cstdint>

#include <benchmark/benchmark.h>

namespace voxpipe::bench {

uint64_t Allocations();

class AllocationCount {
 public:
  AllocationCount() : start_(Allocations()) {}
  double PerIteration(const benchmark::State& state) const {
    return state.iterations() ? double(Allocations() - start_) / double(state.iterations()) : 0;
  }

 private:
  uint64_t start_;
};

}  // namespace voxpipe::bench
