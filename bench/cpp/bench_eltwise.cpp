// Elementwise family: memory-bound kernels in GB/s (bytes an ideal kernel reads + writes), the
// transcendental ones also in ns per element, on the active path and thread count.
//   ./build/bench/pyk_bench --threads=1 --benchmark_filter=eltwise
// Sizes: 1M floats (4 MB per array: L2/L3-resident) and 32M floats (128 MB: DRAM-bound, where the
// output is written with streaming stores).
#include <cstdint>
#include <random>
#include <vector>

#include "harness.h"
#include "kernels/eltwise/eltwise.h"
#include "kernels/random/random.h"

namespace {

namespace E = pyk::eltwise;

std::vector<float> random_vector(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Nanoseconds per element: the inverse of a rate of (elements * 1e-9) per second.
void report_elements(benchmark::State& state, double elements) {
  state.counters["ns_per_elem"] = benchmark::Counter(elements * static_cast<double>(state.iterations()) * 1e-9,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// y = f(x) for an activation or math op: state.range(1) is the UnaryOp / Activation code.
void eltwise_unary(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto op = static_cast<E::UnaryOp>(state.range(1));
  const auto x = random_vector(static_cast<size_t>(n), 1);
  std::vector<float> y(static_cast<size_t>(n));
  const E::UnaryParams p;
  for (auto _ : state) {
    E::table().unary(op, p, x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 8.0 * n);
  report_elements(state, static_cast<double>(n));
}
constexpr int64_t kRelu = static_cast<int64_t>(pyk::Activation::relu);
constexpr int64_t kGelu = static_cast<int64_t>(pyk::Activation::gelu);
constexpr int64_t kSigmoid = static_cast<int64_t>(pyk::Activation::sigmoid);
constexpr int64_t kTanh = static_cast<int64_t>(pyk::Activation::tanh);
constexpr int64_t kExp = static_cast<int64_t>(E::UnaryOp::exp);
constexpr int64_t kLog = static_cast<int64_t>(E::UnaryOp::log);
BENCHMARK(eltwise_unary)
    ->ArgNames({"n", "op"})
    ->Args({1 << 20, kRelu})
    ->Args({32 << 20, kRelu})
    ->Args({1 << 20, kExp})
    ->Args({1 << 20, kLog})
    ->Args({1 << 20, kTanh})
    ->Args({1 << 20, kSigmoid})
    ->Args({1 << 20, kGelu})
    ->Unit(benchmark::kMicrosecond);

// dx = dy * relu'(y).
void eltwise_relu_backward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto y = random_vector(static_cast<size_t>(n), 1), dy = random_vector(static_cast<size_t>(n), 2);
  std::vector<float> dx(static_cast<size_t>(n));
  const E::UnaryParams p;
  for (auto _ : state) {
    E::table().unary_backward(E::activation_op(pyk::Activation::relu), p, nullptr, y.data(), dy.data(), dx.data(), n);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 12.0 * n);
}
BENCHMARK(eltwise_relu_backward)->Arg(1 << 20)->Arg(32 << 20)->Unit(benchmark::kMicrosecond);

// STREAM add a = b + c (the traffic of a triad), contiguous, no broadcasting.
void eltwise_stream_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto b = random_vector(static_cast<size_t>(n), 1), c = random_vector(static_cast<size_t>(n), 2);
  std::vector<float> a(static_cast<size_t>(n));
  E::Broadcast bc;
  bc.ndim = 1;
  bc.shape[0] = n;
  bc.stride_a[0] = bc.stride_b[0] = 1;
  for (auto _ : state) {
    E::table().binary(E::BinaryOp::add, bc, b.data(), c.data(), a.data());
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 12.0 * n);
}
BENCHMARK(eltwise_stream_add)->Arg(1 << 20)->Arg(32 << 20)->Unit(benchmark::kMicrosecond);

// Bias add [rows, cols] + [cols].
void eltwise_bias_add(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto a = random_vector(static_cast<size_t>(rows * cols), 1), b = random_vector(static_cast<size_t>(cols), 2);
  std::vector<float> y(static_cast<size_t>(rows * cols));
  E::Broadcast bc;
  bc.ndim = 2;
  bc.shape[0] = rows; bc.shape[1] = cols;
  bc.stride_a[0] = cols; bc.stride_a[1] = 1;
  bc.stride_b[0] = 0; bc.stride_b[1] = 1;
  for (auto _ : state) {
    E::table().binary(E::BinaryOp::add, bc, a.data(), b.data(), y.data());
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 8.0 * rows * cols);
}
BENCHMARK(eltwise_bias_add)->Args({4096, 1024})->Args({128, 512})->Unit(benchmark::kMicrosecond);

// Softmax over the last axis of [rows, cols].
void eltwise_softmax(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 1);
  std::vector<float> y(static_cast<size_t>(rows * cols));
  E::ReduceShape s;
  s.outer = rows; s.len = cols; s.inner = 1;
  for (auto _ : state) {
    E::table().softmax(false, s, x.data(), y.data());
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 8.0 * rows * cols);
  report_elements(state, static_cast<double>(rows * cols));
}
BENCHMARK(eltwise_softmax)->Args({4096, 1024})->Args({128, 10})->Unit(benchmark::kMicrosecond);

// Sum over the middle axis of [outer, len, inner]: the whole array (1, n, 1) and columns (1, rows, cols).
void eltwise_sum(benchmark::State& state) {
  E::ReduceShape s;
  s.outer = 1; s.len = state.range(0); s.inner = state.range(1);
  const auto x = random_vector(static_cast<size_t>(s.len * s.inner), 1);
  std::vector<float> y(static_cast<size_t>(s.inner));
  for (auto _ : state) {
    E::table().reduce(E::ReduceOp::sum, s, x.data(), y.data());
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 4.0 * s.len * s.inner);
}
BENCHMARK(eltwise_sum)->ArgNames({"len", "inner"})->Args({4 << 20, 1})->Args({4096, 1024})->Unit(benchmark::kMicrosecond);

// Seeded dropout (vectorised Philox).
void eltwise_dropout(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_vector(static_cast<size_t>(n), 1);
  std::vector<float> y(static_cast<size_t>(n));
  uint64_t stream = 0;
  for (auto _ : state) {
    pyk::random::table().dropout(x.data(), y.data(), nullptr, n, 0.5f, 42, stream++);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 8.0 * n);
  report_elements(state, static_cast<double>(n));
}
BENCHMARK(eltwise_dropout)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

// Dropout's backward pass from the mask the forward pass stored (no generator).
void eltwise_dropout_masked_backward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto dy = random_vector(static_cast<size_t>(n), 2);
  std::vector<float> x(static_cast<size_t>(n), 1.0f), y(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
  std::vector<uint8_t> mask(static_cast<size_t>(n));
  pyk::random::table().dropout(x.data(), y.data(), mask.data(), n, 0.5f, 42, 0);
  for (auto _ : state) {
    pyk::random::table().dropout_masked_backward(dy.data(), mask.data(), dx.data(), n, 0.5f);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 9.0 * n);
  report_elements(state, static_cast<double>(n));
}
BENCHMARK(eltwise_dropout_masked_backward)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

}  // namespace
