#pragma once
// Elementwise kernels on contiguous float32 arrays of n elements (in-place allowed: y may be x).
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::eltwise {

struct Table {
  void (*add)(const float* a, const float* b, float* y, int64_t n);
  void (*relu)(const float* x, float* y, int64_t n);
  // dx = dy where x > 0, else 0.
  void (*relu_backward)(const float* x, const float* dy, float* dx, int64_t n);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::eltwise
