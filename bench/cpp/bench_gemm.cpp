// SGEMM: the register-tile micro-kernel alone (operands in L1) and the whole GEMM, in GFLOP/s
// and % of the FMA peak measured at start-up on the same path and thread count.
//   ./build/bench/pyk_bench --threads=1 --benchmark_filter=gemm
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "harness.h"
#include "kernels/gemm/gemm.h"

namespace {

std::vector<float> random_vector(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// The micro-kernel on packed panels of depth k, writing one tile of C: k = 128 keeps both panels
// in L1 (7 KiB of A and 16 KiB of B on AVX-512), k = 384 streams its 48 KiB B panel from L2 as
// the GEMM does. Reported against the single-core peak: run with --threads=1.
void gemm_ukernel(benchmark::State& state) {
  const auto& g = pyk::gemm::table();
  const int64_t k = state.range(0);
  const auto a = random_vector(static_cast<size_t>(k * g.mr), 1);
  const auto b = random_vector(static_cast<size_t>(k * g.nr), 2);
  std::vector<float> c(static_cast<size_t>(g.mr * g.nr));
  for (auto _ : state) {
    g.ukernel_tile(k, a.data(), b.data(), c.data(), g.nr);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_flops(state, 2.0 * g.mr * g.nr * k);
}
BENCHMARK(gemm_ukernel)->Arg(128)->Arg(384);

// C = A @ B, row-major, on the active path and thread count (--threads).
void gemm_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const auto a = random_vector(static_cast<size_t>(m * k), 1);
  const auto b = random_vector(static_cast<size_t>(k * n), 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  pyk::gemm::Problem p;
  p.m = m; p.n = n; p.k = k;
  p.a = a.data(); p.lda = k;
  p.b = b.data(); p.ldb = n;
  p.c = c.data(); p.ldc = n;
  for (auto _ : state) {
    pyk::gemm::table().sgemm(p);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_flops(state, 2.0 * m * n * k);
}
BENCHMARK(gemm_sgemm)
    ->ArgNames({"M", "K", "N"})
    ->Args({256, 256, 256})
    ->Args({512, 512, 512})
    ->Args({1024, 1024, 1024})
    ->Args({2048, 2048, 2048})
    ->Args({128, 784, 512})
    ->Args({128, 512, 512})
    ->Args({128, 512, 10})
    ->Args({32768, 576, 64})
    ->Args({12544, 27, 32})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// C = act(A @ B + bias) with the fused epilogue: what each activation (code of
// kernels/activation.h) adds to a deep-learning shape. Shallow products (k = 27) show the epilogue
// most, since it runs once per element of C whatever k is.
void gemm_epilogue(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const auto a = random_vector(static_cast<size_t>(m * k), 1);
  const auto b = random_vector(static_cast<size_t>(k * n), 2);
  const auto bias = random_vector(static_cast<size_t>(n), 3);
  std::vector<float> c(static_cast<size_t>(m * n));
  pyk::gemm::Problem p;
  p.m = m; p.n = n; p.k = k;
  p.a = a.data(); p.lda = k;
  p.b = b.data(); p.ldb = n;
  p.c = c.data(); p.ldc = n;
  p.bias = bias.data();
  p.act = static_cast<pyk::Activation>(state.range(3));
  for (auto _ : state) {
    pyk::gemm::table().sgemm(p);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_flops(state, 2.0 * m * n * k);
}
void epilogue_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N", "act"});
  // linear, relu, sigmoid, tanh, gelu (exact erf form), softplus
  for (int act : {0, 1, 5, 6, 9, 10}) {
    b->Args({128, 784, 512, act});
    b->Args({12544, 27, 32, act});
  }
}
BENCHMARK(gemm_epilogue)->Apply(epilogue_args)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
