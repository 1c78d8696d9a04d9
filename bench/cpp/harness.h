#pragma once
// Shared helpers for the C++ microbenchmarks: the measured FMA peak of the active kernel path,
// and counters that print GFLOP/s, % of that peak, and GB/s.
#include <benchmark/benchmark.h>

namespace pyk::bench {

// GFLOP/s of back-to-back vector FMAs on the active path and thread count, measured once.
double peak_gflops();

// Reports flops_per_iteration as GFLOP/s and as % of peak_gflops().
void report_flops(benchmark::State& state, double flops_per_iteration);
// Reports bytes_per_iteration (read + written) as GB/s.
void report_bytes(benchmark::State& state, double bytes_per_iteration);

}  // namespace pyk::bench
