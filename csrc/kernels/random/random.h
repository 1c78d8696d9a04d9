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
  // y = x / (1 - rate) where the element is kept (probability 1 - rate), else 0. The mask is not
  // stored: dropout_backward draws the same mask again from (seed, stream).
  void (*dropout)(const float* x, float* y, int64_t n, float rate, uint64_t seed, uint64_t stream);
  void (*dropout_backward)(const float* dy, float* dx, int64_t n, float rate, uint64_t seed, uint64_t stream);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::random
