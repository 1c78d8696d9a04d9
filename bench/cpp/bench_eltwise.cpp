// Elementwise kernels: memory-bound, so reported in GB/s (bytes read + written).
#include <vector>

#include "harness.h"
#include "kernels/eltwise/eltwise.h"

namespace {

void relu(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> x(n, -0.5f), y(n);
  for (int64_t i = 0; i < n; i += 2) x[i] = 1.5f;
  for (auto _ : state) {
    pyk::eltwise::table().relu(x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 8.0 * n);
}
BENCHMARK(relu)->Arg(4 << 20)->Arg(1 << 16)->Unit(benchmark::kMicrosecond);

void add(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(n, 1.0f), b(n, 2.0f), y(n);
  for (auto _ : state) {
    pyk::eltwise::table().add(a.data(), b.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 12.0 * n);
}
BENCHMARK(add)->Arg(4 << 20)->Unit(benchmark::kMicrosecond);

}  // namespace
