#pragma once
// Threads: one knob (num_threads) and one way to split work (parallel_for).
//
// parallel_for cuts [begin, end) into at most num_threads() contiguous chunks whose boundaries fall
// on multiples of `grain` (counted from begin), and runs fn(lo, hi) on each chunk in its own
// OpenMP thread. A range of at most one grain runs inline on the calling thread, so tiny work
// never pays for waking threads: kernels choose a grain worth a few microseconds of work.
// The partition is static, so a kernel whose chunks do independent work gives the same bits for
// any thread count.
//
// Every chunk runs with denormals flushed (FTZ/DAZ), as XLA and TensorFlow do; the calling
// thread's floating-point mode is restored afterwards so numpy code on that thread is unaffected.
#include <cstdint>
#include <type_traits>

namespace pyk {

int num_threads();
// n >= 1. Values above the number of CPUs are allowed (the OS time-slices them).
void set_num_threads(int n);
// Number of CPUs this process may run on.
int num_cpus();

using ChunkFn = void (*)(void* ctx, int64_t lo, int64_t hi);
void parallel_for_impl(int64_t begin, int64_t end, int64_t grain, ChunkFn fn, void* ctx);

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& fn) {
  using Fn = typename std::remove_reference<F>::type;
  parallel_for_impl(
      begin, end, grain, [](void* ctx, int64_t lo, int64_t hi) { (*static_cast<Fn*>(ctx))(lo, hi); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// Sets FTZ/DAZ on this thread for its lifetime and restores the previous mode on exit.
class FlushDenormalsScope {
 public:
  FlushDenormalsScope();
  ~FlushDenormalsScope();
  FlushDenormalsScope(const FlushDenormalsScope&) = delete;
  FlushDenormalsScope& operator=(const FlushDenormalsScope&) = delete;

 private:
  unsigned int saved_;
};

}  // namespace pyk
