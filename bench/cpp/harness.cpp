// Benchmark entry point. Flags of our own (before Google Benchmark's):
//   --isa=generic|avx2|avx512   kernel path (default: best supported, or PYKERAS_ISA)
//   --threads=N                 kernel threads (default: OMP_NUM_THREADS, else all CPUs)
// The FMA peak is measured at start-up on the chosen path and thread count and printed, and
// every kernel benchmark reports its rate as a percentage of it.
#include "harness.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include "kernels/probe/probe.h"
#include "runtime/cpu.h"
#include "runtime/threading.h"

namespace pyk::bench {
namespace {

double measure_peak() {
  const auto& probe = pyk::probe::table();
  const int threads = num_threads();
  const int64_t iters = 20'000'000;  // ~0.3 s per thread at AVX-512 rates
  double best = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    double flops = 0.0, worst = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : flops) reduction(max : worst)
    {
      auto t0 = std::chrono::steady_clock::now();
      flops += probe.fma_loop(iters);
      worst = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    best = std::max(best, flops / worst * 1e-9);
  }
  return best;
}

}  // namespace

double peak_gflops() {
  static const double peak = measure_peak();
  return peak;
}

void report_flops(benchmark::State& state, double flops_per_iteration) {
  const double total = flops_per_iteration * static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(total * 1e-9, benchmark::Counter::kIsRate);
  state.counters["%peak"] = benchmark::Counter(total * 1e-9 * 100.0 / peak_gflops(), benchmark::Counter::kIsRate);
}

void report_bytes(benchmark::State& state, double bytes_per_iteration) {
  const double total = bytes_per_iteration * static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(total * 1e-9, benchmark::Counter::kIsRate);
}

}  // namespace pyk::bench

namespace {

// The probe loop on the calling thread alone: % of peak is ~100 / threads.
void fma_probe_one_thread(benchmark::State& state) {
  const auto& probe = pyk::probe::table();
  double flops = 0.0;
  for (auto _ : state) benchmark::DoNotOptimize(flops = probe.fma_loop(1'000'000));
  pyk::bench::report_flops(state, flops);
}
BENCHMARK(fma_probe_one_thread)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--isa=", 6) == 0) {
      pyk::set_active_isa(pyk::parse_isa(argv[i] + 6));
    } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      pyk::set_num_threads(std::atoi(argv[i] + 10));
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (const char* env = std::getenv("PYKERAS_ISA")) pyk::set_active_isa(pyk::parse_isa(env));
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  std::printf("pykeras kernels: path %s, %d thread(s), measured FMA peak %.1f GFLOP/s\n",
              pyk::isa_name(pyk::active_isa()), pyk::num_threads(), pyk::bench::peak_gflops());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
