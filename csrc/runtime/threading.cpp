#include "runtime/threading.h"

#include <omp.h>
#include <sched.h>
#include <xmmintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace pyk {
namespace {

// MXCSR bits: FTZ (flush results to zero) = 0x8000, DAZ (treat denormal inputs as zero) = 0x0040.
constexpr unsigned int kFtzDaz = 0x8040;

int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return num_cpus();
}

std::atomic<int>& thread_slot() {
  static std::atomic<int> slot{default_threads()};
  return slot;
}

}  // namespace

int num_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1, omp_get_num_procs());
}

int num_threads() { return thread_slot().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("the number of threads must be at least 1, got " + std::to_string(n));
  thread_slot().store(n, std::memory_order_relaxed);
}

FlushDenormalsScope::FlushDenormalsScope() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
FlushDenormalsScope::~FlushDenormalsScope() { _mm_setcsr(saved_); }

void parallel_for_impl(int64_t begin, int64_t end, int64_t grain, ChunkFn fn, void* ctx) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t grains = (end - begin + grain - 1) / grain;
  const int chunks = static_cast<int>(std::min<int64_t>(num_threads(), grains));
  FlushDenormalsScope ftz;
  // Inside another parallel region (a kernel calling a kernel from its own threads) the work
  // stays on the calling thread rather than oversubscribing the cores.
  if (chunks <= 1 || omp_in_parallel()) {
    fn(ctx, begin, end);
    return;
  }
  // Whole grains per chunk, the remainder spread one grain at a time over the first chunks.
  const int64_t base = grains / chunks, extra = grains % chunks;
#pragma omp parallel num_threads(chunks)
  {
    const int t = omp_get_thread_num();
    // Worker threads belong to the OpenMP pool and keep FTZ/DAZ; the caller (t == 0) has the scope.
    if (t != 0) _mm_setcsr(_mm_getcsr() | kFtzDaz);
    const int64_t first = t * base + std::min<int64_t>(t, extra);
    const int64_t count = base + (t < extra ? 1 : 0);
    const int64_t lo = begin + first * grain;
    const int64_t hi = std::min(end, lo + count * grain);
    if (lo < hi) fn(ctx, lo, hi);
  }
}

}  // namespace pyk
