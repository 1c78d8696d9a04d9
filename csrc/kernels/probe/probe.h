#pragma once
// Machine probes used by the benchmarks to print figures as a fraction of what the core can do.
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::probe {

struct Table {
  // Runs `iters` rounds of independent vector FMAs on this thread and returns the number of
  // floating-point operations done (2 per lane per FMA).
  double (*fma_loop)(int64_t iters);
  int vector_width;  // floats per vector on this path
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::probe
