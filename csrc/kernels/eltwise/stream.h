#pragma once
// The streaming loop shared by the elementwise kernels: out[i] = f(i, w) over [lo, hi), kWidth
// floats at a time. The output pointer decides the alignment: a masked head brings the stores to
// a vector boundary (numpy's buffers are only 16-byte aligned, and a store split over two cache
// lines costs twice), then whole aligned vectors, then a masked tail. f(i, w) gets the number of
// valid lanes w (kWidth in the body, so its partial-load branches fold away); it must not read
// past i + w.
//
// Outputs of at least kStreamBytes are written with non-temporal stores: an array larger than the
// last-level cache (32 MB on the development machine) would otherwise be read from DRAM before
// being overwritten (write-allocate), a third more traffic for a copy-like kernel. Smaller
// outputs stay cached for whoever reads them next.
#include <cstdint>

#include "runtime/isa_namespace.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {

constexpr int64_t kStreamBytes = int64_t(32) << 20;

// Loads w floats at p (a whole vector when w == kWidth). A whole vector is kept a plain load:
// the empty asm stops the compiler from folding it into a masked load when the value is only used
// under a select (dx = x > 0 ? dy : 0). Masked loads whose masks vary from vector to vector defeat
// the hardware prefetcher: relu's backward on 32M floats ran at 60% of the bandwidth of a plain
// stream.
inline simd::PYK_ISA_NS::VecF load_n(const float* p, int w) {
  if (w != simd::PYK_ISA_NS::kWidth) return simd::PYK_ISA_NS::load_partial(p, w);
  simd::PYK_ISA_NS::VecF v = simd::PYK_ISA_NS::load(p);
#if PYK_ISA_LEVEL >= 1
  asm("" : "+v"(v.v));
#endif
  return v;
}

// Whether an output of n floats should bypass the caches.
inline bool stream_output(int64_t n) { return n * static_cast<int64_t>(sizeof(float)) >= kStreamBytes; }

template <class F>
inline void map_store(float* out, int64_t lo, int64_t hi, bool stream, F f) {
  using namespace simd::PYK_ISA_NS;
  constexpr int64_t kVecBytes = kWidth * static_cast<int64_t>(sizeof(float));
  int64_t i = lo;
  const int64_t misalign = static_cast<int64_t>(reinterpret_cast<uintptr_t>(out + i) % kVecBytes);
  const int64_t head = std::min<int64_t>(hi - lo, misalign ? (kVecBytes - misalign) / 4 : 0);
  if (head > 0) {
    store_partial(out + i, f(i, static_cast<int>(head)), static_cast<int>(head));
    i += head;
  }
  if (stream) {
    for (; i + kWidth <= hi; i += kWidth) store_stream(out + i, f(i, kWidth));
    stream_fence();
  } else {
    // Two vectors per step: independent loads and stores in flight.
    for (; i + 2 * kWidth <= hi; i += 2 * kWidth) {
      const VecF a = f(i, kWidth), b = f(i + kWidth, kWidth);
      store(out + i, a);
      store(out + i + kWidth, b);
    }
    for (; i + kWidth <= hi; i += kWidth) store(out + i, f(i, kWidth));
  }
  if (i < hi) {
    const int w = static_cast<int>(hi - i);
    store_partial(out + i, f(i, w), w);
  }
}

}  // namespace pyk::eltwise::PYK_ISA_NS
