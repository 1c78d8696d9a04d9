#pragma once
// Seeded random numbers from the counter-based Philox generator (runtime/philox.h).
// Element i of a call is a pure function of (seed, stream, i): the same on every ISA path and for
// every thread count. Callers pass a fresh stream number per call to get fresh numbers.
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::random {

struct Table {
  void (*uniform)(float* out, int64_t n, uint64_t seed, uint64_t stream, float lo, float hi);
  void (*normal)(float* out, int64_t n, uint64_t seed, uint64_t stream, float mean, float stddev);
  // Normal samples redrawn until within two standard deviations of the mean (Keras's rule).
  void (*truncated_normal)(float* out, int64_t n, uint64_t seed, uint64_t stream, float mean, float stddev);
  // y = x / (1 - rate) where the element is kept (probability 1 - rate), else 0. When `mask` is
  // not null, mask[i] = 1 for a kept element and 0 otherwise (numpy bool), for
  // dropout_masked_backward; dropout_backward instead draws the same mask again from
  // (seed, stream), which costs a pass of the generator but no memory.
  void (*dropout)(const float* x, float* y, uint8_t* mask, int64_t n, float rate, uint64_t seed, uint64_t stream);
  void (*dropout_backward)(const float* dy, float* dx, int64_t n, float rate, uint64_t seed, uint64_t stream);
  void (*dropout_masked_backward)(const float* dy, const uint8_t* mask, float* dx, int64_t n, float rate);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::random
