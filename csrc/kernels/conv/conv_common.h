#pragma once
// Building blocks shared by the convolution kernels of one ISA copy.
//
// Two register-tiled micro-kernels do all the arithmetic of the dense (non-depthwise) paths:
//   igemm_tile<R, V>  an indirect GEMM tile: R output pixels x V vectors of channels. The
//                     reduction runs over a list of taps; tap t contributes
//                     sum_k A[t.a + shift + r * a_rs + k] * B[(t.brow + k) * V*W + v*W ...]
//                     where A is a row of input pixels (a real row of x, or a zero-padded copy)
//                     and B a packed weight panel. Forward, backward-data (transposed conv),
//                     1x1 / pointwise convolutions all use it with different taps and strides.
//   wgrad_tile<R, V>  a weight-gradient tile: R consecutive reduction rows (input channels of
//                     one tap) x V vectors of output channels, accumulated over the pixels of a
//                     row: C[r][v] += sum_q A[q * a_ps + r] * B[q * b_ps + v*W].
// Tile sizes (R, V) per ISA: V vectors of W floats of channels times R pixels, chosen so that
// R*V accumulators + V weight vectors fit in the register file (32 zmm / 16 ymm) with R*V >= 12,
// enough independent FMA chains to cover the FMA latency on both pipes. Measured on the
// development machine (Zen 5), every shape from 4x4 up runs at 95-99% of the FMA peak with B
// streaming from L2, so a row's last, narrower tile costs little; rows are split into tiles of
// near-equal width.
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/activation.h"
#include "kernels/conv/conv.h"
#include "kernels/eltwise/activation_ops.h"
#include "runtime/aligned.h"
#include "simd/vec.h"

namespace pyk::conv::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;
using pyk::PYK_ISA_NS::AlignedBuffer;

// Largest number of channel vectors in one panel, and the largest tile height R per V.
constexpr int kMaxV = 4;
#if PYK_ISA_LEVEL == 2
constexpr int kMaxR1 = 16, kMaxR2 = 12, kMaxR3 = 8, kMaxR4 = 6;
#elif PYK_ISA_LEVEL == 1
constexpr int kMaxR1 = 12, kMaxR2 = 6, kMaxR3 = 4, kMaxR4 = 3;
#else
constexpr int kMaxR1 = 8, kMaxR2 = 8, kMaxR3 = 6, kMaxR4 = 4;
#endif
inline int max_r(int v) { return v == 1 ? kMaxR1 : v == 2 ? kMaxR2 : v == 3 ? kMaxR3 : kMaxR4; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Floor division for any sign of a (b > 0).
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// ------------------------------------------------------------------------------- activations
// Fused activations are the elementwise family's (kernels/eltwise/activation_ops.h). The relu
// family is applied to vectors still in registers (register_activation); every other code to the
// values just stored, while they are in L1 (act_rows / act_apply).
using pyk::eltwise::PYK_ISA_NS::is_register_activation;
using pyk::eltwise::PYK_ISA_NS::register_activation;

// Applies act in place to rows x n floats at p, row stride ld.
void act_rows(float* p, int64_t ld, int64_t rows, int64_t n, Activation act, float alpha);
// Applies act in place to n contiguous floats.
inline void act_apply(float* p, int64_t n, Activation act, float alpha) { act_rows(p, n, 1, n, act, alpha); }

struct Epilogue {
  const float* bias = nullptr;  // bias of the tile's first channel, or null
  Activation act = Activation::linear;
  float alpha = 0.0f;
};

// Number of valid lanes of vector v of a panel holding n valid channels.
inline int lanes(int n, int v) {
  const int left = n - v * kWidth;
  return left >= kWidth ? kWidth : (left > 0 ? left : 0);
}

// Stores an R x V accumulator tile: c[r * c_rs + v*W + lane], n valid channels per pixel.
template <int R, int V>
inline void store_tile(VecF (&acc)[R][V], float* c, int64_t c_rs, int n, const Epilogue& e) {
  VecF b[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) b[v] = e.bias ? load_partial(e.bias + v * kWidth, lanes(n, v)) : zero();
  const bool vec_act = is_register_activation(e.act);
  const Activation act = vec_act ? e.act : Activation::linear;
  const bool full = n == V * kWidth;
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      const VecF y = register_activation(acc[r][v] + b[v], act, e.alpha);
      if (full) {
        store(c + r * c_rs + v * kWidth, y);
      } else {
        store_partial(c + r * c_rs + v * kWidth, y, lanes(n, v));
      }
    }
  }
  if (!vec_act) act_rows(c, c_rs, R, n, e.act, e.alpha);
}

// ------------------------------------------------------------------------------- indirect GEMM
struct Tap {
  const float* a;  // A for pixel 0 of the row (before the per-call shift)
  int64_t brow;    // first row of the packed panel for this tap
  int64_t len;     // reduction length (contiguous floats of A, rows of B)
};

template <int R, int V>
void igemm_tile(const Tap* taps, int64_t ntaps, int64_t a_shift, int64_t a_rs, const float* b, float* c,
                int64_t c_rs, int n, const Epilogue& e) {
  constexpr int64_t kPanel = V * kWidth;
  VecF acc[R][V];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = zero();
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* a = taps[t].a + a_shift;
    const float* bp = b + taps[t].brow * kPanel;
    const int64_t len = taps[t].len;
    for (int64_t k = 0; k < len; ++k) {
      VecF bv[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) bv[v] = load(bp + v * kWidth);
      bp += kPanel;
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) {
        const VecF av = set1(a[r * a_rs + k]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = fmadd(av, bv[v], acc[r][v]);
      }
    }
  }
  store_tile<R, V>(acc, c, c_rs, n, e);
}

using IgemmFn = void (*)(const Tap*, int64_t, int64_t, int64_t, const float*, float*, int64_t, int,
                         const Epilogue&);

template <int V, int... I>
IgemmFn igemm_pick(int r, std::integer_sequence<int, I...>) {
  static constexpr IgemmFn fns[] = {&igemm_tile<I + 1, V>...};
  return fns[r - 1];
}

// The tile function for r pixels (1 <= r <= max_r(v)) and v channel vectors.
inline IgemmFn igemm_fn(int r, int v) {
  switch (v) {
    case 1: return igemm_pick<1>(r, std::make_integer_sequence<int, kMaxR1>{});
    case 2: return igemm_pick<2>(r, std::make_integer_sequence<int, kMaxR2>{});
    case 3: return igemm_pick<3>(r, std::make_integer_sequence<int, kMaxR3>{});
    default: return igemm_pick<4>(r, std::make_integer_sequence<int, kMaxR4>{});
  }
}

// ------------------------------------------------------------------------------- weight gradient
// C (R rows of ldc, n valid channels) += sum over nq pixels of A (R consecutive floats per pixel,
// pixel stride a_ps) times B (channel vectors, pixel stride b_ps).
template <int R, int V>
void wgrad_tile(const float* a, int64_t a_ps, const float* b, int64_t b_ps, int64_t nq, float* c, int64_t ldc,
                int n) {
  VecF acc[R][V];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = load_partial(c + r * ldc + v * kWidth, lanes(n, v));
  if (n == V * kWidth) {
    for (int64_t q = 0; q < nq; ++q) {
      VecF bv[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) bv[v] = load(b + v * kWidth);
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) {
        const VecF av = set1(a[r]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = fmadd(av, bv[v], acc[r][v]);
      }
      a += a_ps;
      b += b_ps;
    }
  } else {
    // The last vector is partial: masked loads never read past the channels of the pixel.
    const int tail = lanes(n, V - 1);
    for (int64_t q = 0; q < nq; ++q) {
      VecF bv[V];
#pragma GCC unroll 8
      for (int v = 0; v < V - 1; ++v) bv[v] = load(b + v * kWidth);
      bv[V - 1] = load_partial(b + (V - 1) * kWidth, tail);
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) {
        const VecF av = set1(a[r]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = fmadd(av, bv[v], acc[r][v]);
      }
      a += a_ps;
      b += b_ps;
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) store_partial(c + r * ldc + v * kWidth, acc[r][v], lanes(n, v));
}

using WgradFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t, int);

template <int V, int... I>
WgradFn wgrad_pick(int r, std::integer_sequence<int, I...>) {
  static constexpr WgradFn fns[] = {&wgrad_tile<I + 1, V>...};
  return fns[r - 1];
}

inline WgradFn wgrad_fn(int r, int v) {
  switch (v) {
    case 1: return wgrad_pick<1>(r, std::make_integer_sequence<int, kMaxR1>{});
    case 2: return wgrad_pick<2>(r, std::make_integer_sequence<int, kMaxR2>{});
    case 3: return wgrad_pick<3>(r, std::make_integer_sequence<int, kMaxR3>{});
    default: return wgrad_pick<4>(r, std::make_integer_sequence<int, kMaxR4>{});
  }
}

// ------------------------------------------------------------------------------- panels
// Channels [0, n) of one group are covered by panels of up to kMaxV vectors; the last panel
// takes just enough vectors for what is left.
struct Panel {
  int64_t off;     // first channel (within the group)
  int count;       // channels in the panel
  int v;           // vectors (panel width v * kWidth)
  int64_t packed;  // offset of the panel's packed weights within the group's block
};

inline int64_t num_panels(int64_t n) { return ceil_div(n, kMaxV * kWidth); }

// Fills panels for n channels with `rows` packed rows each; returns the floats per group.
inline int64_t plan_panels(int64_t n, int64_t rows, Panel* p) {
  int64_t off = 0, packed = 0;
  for (int64_t i = 0; off < n; ++i) {
    const int64_t left = n - off;
    const int v = static_cast<int>(min64(kMaxV, ceil_div(left, kWidth)));
    p[i] = {off, static_cast<int>(min64(left, v * kWidth)), v, packed};
    off += p[i].count;
    packed += rows * v * kWidth;
  }
  return packed;
}

// Splits [0, n) into ceil(n / rmax) tiles of near-equal size; calls f(start, size).
template <class F>
inline void for_tiles(int64_t n, int rmax, F&& f) {
  if (n <= 0) return;
  const int64_t tiles = ceil_div(n, rmax);
  const int64_t base = n / tiles, extra = n % tiles;
  int64_t start = 0;
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t size = base + (i < extra ? 1 : 0);
    f(start, static_cast<int>(size));
    start += size;
  }
}

// dst = [pl zero pixels][w pixels of src][pr zero pixels], c floats per pixel.
inline void pad_row(float* dst, const float* src, int64_t w, int64_t c, int64_t pl, int64_t pr) {
  if (pl > 0) std::memset(dst, 0, sizeof(float) * pl * c);
  std::memcpy(dst + pl * c, src, sizeof(float) * w * c);
  if (pr > 0) std::memset(dst + (pl + w) * c, 0, sizeof(float) * pr * c);
}

// ------------------------------------------------------------------------------- row cache
// Zero-padded copies of input rows, kept per thread and reused by neighbouring output rows.
// The rows one output row reads lie in a window of `span` consecutive indices per dimension, so
// slot (i_d mod span_d, i_h mod span_h) never holds two rows needed at once.
class RowCache {
 public:
  void init(int64_t span_d, int64_t span_h, int64_t row_floats) {
    span_d_ = span_d;
    span_h_ = span_h;
    row_floats_ = row_floats;
    data_.reserve(static_cast<size_t>(span_d * span_h * row_floats));
    tags_.reserve(static_cast<size_t>(span_d * span_h));
    for (int64_t i = 0; i < span_d * span_h; ++i) tags_.data()[i] = -1;
  }
  // The slot for row (i_d, i_h) with global identity `tag`; *hit tells whether it already holds it.
  float* slot(int64_t i_d, int64_t i_h, int64_t tag, bool* hit) {
    const int64_t s = (i_d % span_d_) * span_h_ + (i_h % span_h_);
    *hit = tags_.data()[s] == tag;
    tags_.data()[s] = tag;
    return data_.data() + s * row_floats_;
  }
  // Row (i_d, i_h) with identity `tag` zero-padded (see pad_row), copied from src on a miss.
  const float* padded(int64_t i_d, int64_t i_h, int64_t tag, const float* src, int64_t w, int64_t c, int64_t pl,
                      int64_t pr) {
    bool hit;
    float* dst = slot(i_d, i_h, tag, &hit);
    if (!hit) pad_row(dst, src, w, c, pl, pr);
    return dst;
  }

 private:
  int64_t span_d_ = 1, span_h_ = 1, row_floats_ = 0;
  AlignedBuffer<float> data_;
  AlignedBuffer<int64_t> tags_;
};

// A problem whose kernel is 1x1x1 with unit strides and no padding is a plain matrix product
// over pixels: view each image as one long row so that tiles and partial sums span many pixels.
inline Shape flatten_pointwise(const Shape& s) {
  for (int i = 0; i < 3; ++i) {
    if (s.k[i] != 1 || s.stride[i] != 1 || s.pad[i] != 0 || s.out[i] != s.in[i]) return s;
  }
  Shape f = s;
  const int64_t pixels = s.in[0] * s.in[1] * s.in[2];
  for (int i = 0; i < 2; ++i) f.in[i] = f.out[i] = 1;
  f.in[2] = f.out[2] = pixels;
  return f;
}

// Rows longer than this many pixels are split into segments so that a single long row (a
// flattened 1x1 problem on one image) still spreads over threads.
constexpr int64_t kSegmentPixels = 512;

// Work below about this many flops stays on one thread (~10 us at the single-core FMA rate).
constexpr double kMinParallelFlops = 2.0e6;

// Copy-like passes (weight packing, adding partial sums) go to threads only beyond this many
// floats (~1 MB): below it a pass takes a few microseconds, less than waking a thread costs.
constexpr int64_t kCopyGrainFloats = int64_t{1} << 18;

inline int64_t grain_for(double flops_per_item) {
  if (flops_per_item <= 0) return 1;
  const double g = kMinParallelFlops / flops_per_item;
  return g < 1.0 ? 1 : static_cast<int64_t>(g) + 1;
}

// ------------------------------------------------------------------------------- entry points
void forward(const Shape& s, const float* x, const float* w, const float* bias, Activation act, float alpha,
             float* y);
void backward_data(const Shape& s, const float* dy, const float* w, const float* bias, Activation act,
                   float alpha, float* dx);
void backward_filter(const Shape& s, const float* x, const float* dy, float* dw, float* db);

void dw_forward(const Shape& s, const float* x, const float* w, const float* bias, Activation act, float alpha,
                float* y);
void dw_backward_data(const Shape& s, const float* dy, const float* w, const float* bias, Activation act,
                      float alpha, float* dx);
void dw_backward_filter(const Shape& s, const float* x, const float* dy, float* dw, float* db);
// Both gradients in one pass over dy (dx may be null).
void dw_backward(const Shape& s, const float* x, const float* w, const float* dy, float* dx, float* dkernel,
                 float* dbias);
void backward(const Shape& s, const float* x, const float* w, const float* dy, float* dx, float* dkernel,
              float* dbias);

void separable_forward(const Shape& s, int64_t pw_out, const float* x, const float* dw_kernel,
                       const float* pw_kernel, const float* bias, Activation act, float alpha, float* y);
void separable_backward(const Shape& s, int64_t pw_out, const float* x, const float* dw_kernel,
                        const float* pw_kernel, const float* dy, float* dx, float* d_dw, float* d_pw, float* db);
void activation_backward(const float* y, const float* dy, float* dz, int64_t n, Activation act, float alpha);
void bias_backward(const float* dy, int64_t pixels, int64_t channels, float* db);

inline bool is_depthwise(const Shape& s) { return s.groups > 1 && s.groups == s.cin && s.cout % s.cin == 0; }

}  // namespace pyk::conv::PYK_ISA_NS
