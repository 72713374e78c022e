#include "benchmarks/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace voxpipe::bench {
namespace {

std::atomic<uint64_t> allocations{0};

void* Allocate(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}

}  // namespace

uint64_t Allocations() { return allocations.load(std::memory_order_relaxed); }

}  // namespace voxpipe::bench

// The replaceable global forms; the array forms and the nothrow forms
// default to these.
void* operator new(std::size_t size) { return voxpipe::bench::Allocate(size); }
void* operator new[](std::size_t size) { return voxpipe::bench::Allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
