// Convolution kernels on the benchmark rows of bench/py/bench_conv.py (fp32, NHWC, 'same'):
// forward, backward-data and backward-filter separately, in GFLOP/s and % of the measured FMA
// peak (harness.h). Depthwise rows are memory-bound, so they also report GB/s (x read + y
// written once).
//   ./build/bench/pyk_bench --threads=1 --benchmark_filter=conv
#include <cstdint>
#include <vector>

#include "harness.h"
#include "kernels/conv/conv.h"

namespace {

using pyk::conv::Shape;

// Row definitions: batch, H, W, cin, cout, k, stride, kind (0 dense, 1 depthwise, 2 separable).
struct Row {
  int64_t batch, h, w, cin, cout, k, stride, kind;
};
const Row kRows[] = {
    {32, 32, 32, 64, 64, 3, 1, 0},    // a
    {8, 56, 56, 64, 128, 3, 1, 0},    // b
    {32, 32, 32, 64, 128, 1, 1, 0},   // c
    {8, 112, 112, 32, 32, 3, 1, 1},   // d
    {8, 112, 112, 32, 64, 3, 1, 2},   // e
    {8, 224, 224, 3, 32, 3, 2, 0},    // f
};

// TensorFlow 'same' geometry for one row, as the binding computes it.
Shape shape_of(const Row& r) {
  Shape s;
  s.batch = r.batch;
  s.in[1] = r.h;
  s.in[2] = r.w;
  s.k[1] = s.k[2] = r.k;
  s.stride[1] = s.stride[2] = r.stride;
  for (int i = 1; i < 3; ++i) {
    s.out[i] = (s.in[i] + r.stride - 1) / r.stride;
    const int64_t total = (s.out[i] - 1) * r.stride + r.k - s.in[i];
    s.pad[i] = total > 0 ? total / 2 : 0;
  }
  s.cin = r.cin;
  s.cout = r.kind == 0 ? r.cout : r.cin;
  s.groups = r.kind == 0 ? 1 : r.cin;
  return s;
}

struct Data {
  std::vector<float> x, w, pw, y, dy, dx, dw, dpw;
  explicit Data(const Row& r, const Shape& s) {
    const int64_t xs = s.batch * s.in[1] * s.in[2] * s.cin;
    const int64_t out_c = r.kind == 2 ? r.cout : s.cout;
    const int64_t ys = s.batch * s.out[1] * s.out[2] * out_c;
    const int64_t ws = s.k[1] * s.k[2] * (s.cin / s.groups) * s.cout;
    x.assign(xs, 0.5f);
    dx.assign(xs, 0.0f);
    w.assign(ws, 0.01f);
    dw.assign(ws, 0.0f);
    pw.assign(s.cout * r.cout, 0.01f);
    dpw.assign(s.cout * r.cout, 0.0f);
    y.assign(ys, 0.0f);
    dy.assign(ys, 0.25f);
    for (int64_t i = 0; i < xs; i += 7) x[i] = -0.25f;
  }
};

double flops_of(const Row& r, const Shape& s) {
  const double pixels = static_cast<double>(s.batch) * s.out[1] * s.out[2];
  if (r.kind == 0) return 2.0 * pixels * r.cout * r.cin * r.k * r.k;
  if (r.kind == 1) return 2.0 * pixels * r.cin * r.k * r.k;
  return 2.0 * pixels * r.cin * (r.k * r.k + r.cout);
}

// op: 0 forward, 1 backward-data, 2 backward-filter (+bias); separable: 1 = whole backward.
void conv_row(benchmark::State& state) {
  const Row& r = kRows[state.range(0)];
  const int op = static_cast<int>(state.range(1));
  const Shape s = shape_of(r);
  Data d(r, s);
  const auto& t = pyk::conv::table();
  std::vector<float> db(r.cout, 0.0f);
  for (auto _ : state) {
    if (r.kind == 2) {
      if (op == 0) {
        t.separable_forward(s, r.cout, d.x.data(), d.w.data(), d.pw.data(), nullptr, pyk::Activation::linear, 0.0f,
                            d.y.data());
      } else {
        t.separable_backward(s, r.cout, d.x.data(), d.w.data(), d.pw.data(), d.dy.data(), d.dx.data(), d.dw.data(),
                             d.dpw.data(), nullptr);
      }
    } else if (op == 0) {
      t.forward(s, d.x.data(), d.w.data(), nullptr, pyk::Activation::linear, 0.0f, d.y.data());
    } else if (op == 1) {
      t.backward_data(s, d.dy.data(), d.w.data(), nullptr, pyk::Activation::linear, 0.0f, d.dx.data());
    } else {
      t.backward_filter(s, d.x.data(), d.dy.data(), d.dw.data(), db.data());
    }
    benchmark::ClobberMemory();
  }
  const double f = flops_of(r, s) * (r.kind == 2 && op == 1 ? 2.0 : 1.0);
  pyk::bench::report_flops(state, f);
  if (r.kind == 1) pyk::bench::report_bytes(state, 4.0 * (d.x.size() + d.y.size()));
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"row", "op"});
  for (int row = 0; row < 6; ++row) {
    const int ops = kRows[row].kind == 2 ? 2 : 3;
    for (int op = 0; op < ops; ++op) b->Args({row, op});
  }
}
BENCHMARK(conv_row)->Apply(args)->Unit(benchmark::kMillisecond)->MinTime(0.3);

// Forward with a fused bias + activation (code of kernels/activation.h): the cost of the epilogue
// on each row (relu stays in registers; sigmoid and gelu are applied to each stored tile).
void conv_forward_act(benchmark::State& state) {
  const Row& r = kRows[state.range(0)];
  const auto act = static_cast<pyk::Activation>(state.range(1));
  const Shape s = shape_of(r);
  Data d(r, s);
  const auto& t = pyk::conv::table();
  std::vector<float> bias(r.cout, 0.125f);
  for (auto _ : state) {
    if (r.kind == 2) {
      t.separable_forward(s, r.cout, d.x.data(), d.w.data(), d.pw.data(), bias.data(), act, 0.0f, d.y.data());
    } else {
      t.forward(s, d.x.data(), d.w.data(), bias.data(), act, 0.0f, d.y.data());
    }
    benchmark::ClobberMemory();
  }
  pyk::bench::report_flops(state, flops_of(r, s));
}
void act_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"row", "act"});
  for (int row = 0; row < 6; ++row) {
    for (int act : {1, 5, 9}) b->Args({row, act});  // relu, sigmoid, gelu (exact erf form)
  }
}
BENCHMARK(conv_forward_act)->Apply(act_args)->Unit(benchmark::kMillisecond)->MinTime(0.3);

}  // namespace
