// Pooling, batch normalization and optimizer kernels: memory-bound, so reported in GB/s of
// the bytes each pass must read and write (the minimum traffic, not counting write-allocate).
// Shapes: the reference workloads, (32, 32, 32, 64) NHWC, and Adam over 1.2M parameters.
#include <cstdint>
#include <vector>

#include "harness.h"
#include "kernels/norm/norm.h"
#include "kernels/optim/optim.h"
#include "kernels/pool/pool.h"

namespace {

constexpr int64_t kN = 32, kH = 32, kW = 32, kC = 64;
constexpr int64_t kElems = kN * kH * kW * kC;

std::vector<float> pattern(int64_t n, float scale) {
  std::vector<float> v(n);
  uint32_t s = 12345;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (static_cast<float>(s >> 8) * (1.0f / 16777216.0f) - 0.5f);
  }
  return v;
}

// The 2x2 / stride 2 'valid' window of MaxPooling2D on (32, 32, 32, 64).
pyk::pool::Window window_2x2() {
  pyk::pool::Window w;
  w.n = kN;
  w.c = kC;
  w.in[1] = kH;
  w.in[2] = kW;
  w.out[1] = kH / 2;
  w.out[2] = kW / 2;
  w.pool[1] = w.pool[2] = 2;
  w.stride[1] = w.stride[2] = 2;
  return w;
}

void maxpool_forward(benchmark::State& state) {
  const auto w = window_2x2();
  const auto x = pattern(kElems, 4.0f);
  std::vector<float> y(kElems / 4);
  for (auto _ : state) {
    pyk::pool::table().max_forward(w, x.data(), y.data());
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 4.0 * (kElems + kElems / 4));
}
BENCHMARK(maxpool_forward)->Unit(benchmark::kMicrosecond);

void maxpool_backward(benchmark::State& state) {
  const auto w = window_2x2();
  const auto x = pattern(kElems, 4.0f), dy = pattern(kElems / 4, 1.0f);
  std::vector<float> dx(kElems);
  for (auto _ : state) {
    pyk::pool::table().max_backward(w, x.data(), dy.data(), dx.data());
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 4.0 * (2 * kElems + kElems / 4));
}
BENCHMARK(maxpool_backward)->Unit(benchmark::kMicrosecond);

void batchnorm_train_forward_backward(benchmark::State& state) {
  const auto x = pattern(kElems, 4.0f), dy = pattern(kElems, 1.0f);
  std::vector<float> y(kElems), dx(kElems), gamma(kC, 1.0f), beta(kC, 0.0f), mm(kC, 0.0f), mv(kC, 1.0f);
  std::vector<float> mean(kC), inv_std(kC), dgamma(kC), dbeta(kC);
  pyk::norm::BatchNormTrain f;
  f.shape = {kN * kH * kW, kC, 1};
  f.x = x.data();
  f.gamma = gamma.data();
  f.beta = beta.data();
  f.moving_mean = mm.data();
  f.moving_var = mv.data();
  f.y = y.data();
  f.mean = mean.data();
  f.inv_std = inv_std.data();
  pyk::norm::BatchNormBackward b;
  b.shape = f.shape;
  b.dy = dy.data();
  b.x = x.data();
  b.mean = mean.data();
  b.inv_std = inv_std.data();
  b.gamma = gamma.data();
  b.dx = dx.data();
  b.dgamma = dgamma.data();
  b.dbeta = dbeta.data();
  for (auto _ : state) {
    pyk::norm::table().train_forward(f);
    pyk::norm::table().backward(b);
    benchmark::ClobberMemory();
  }
  // Forward: read x twice (statistics, normalise), write y. Backward: read x and dy twice, write dx.
  pyk::bench::report_bytes(state, 4.0 * kElems * (3 + 5));
}
BENCHMARK(batchnorm_train_forward_backward)->Unit(benchmark::kMicrosecond);

void adam_step(benchmark::State& state) {
  // mnist_cnn's parameter tensors.
  const std::vector<int64_t> sizes = {288, 32, 18432, 64, 1179648, 128, 1280, 10};
  std::vector<std::vector<float>> p, g, m, v;
  std::vector<float*> pp, mp, vp;
  std::vector<const float*> gp;
  std::vector<int64_t> offset{0};
  for (int64_t n : sizes) {
    p.push_back(pattern(n, 1.0f));
    g.push_back(pattern(n, 0.1f));
    m.emplace_back(n, 0.0f);
    v.emplace_back(n, 0.0f);
    offset.push_back(offset.back() + n);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    pp.push_back(p[i].data());
    gp.push_back(g[i].data());
    mp.push_back(m[i].data());
    vp.push_back(v[i].data());
  }
  pyk::optim::TensorList l;
  l.count = static_cast<int64_t>(sizes.size());
  l.offset = offset.data();
  l.param = pp.data();
  l.grad = gp.data();
  l.slot[0] = mp.data();
  l.slot[1] = vp.data();
  pyk::optim::Hyper h;
  h.step = 10;
  for (auto _ : state) {
    pyk::optim::table().adam(l, h);
    benchmark::ClobberMemory();
  }
  pyk::bench::report_bytes(state, 28.0 * offset.back());
}
BENCHMARK(adam_step)->Unit(benchmark::kMicrosecond);

}  // namespace
