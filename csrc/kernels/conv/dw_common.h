#pragma once
// Row kernels of the depthwise convolution (one filter per channel), shared by the depthwise and
// separable paths. Channels are the vector dimension: a row of cm channels per pixel is walked
// in blocks of V vectors (the last vector masked when cm is not a multiple of the width).
//
// Forward and backward-data are both a gather over one output row:
//   out[p * out_ps + c] = act(bias[c] + sum_i sum_j in_i[(p * a + off_j) * cm + c] * w_i[kw_j * cm + c])
// over row taps i (input rows with their weight rows) and column taps j (only those with an
// input pixel inside [0, in_w)). The forward pass has a = stride, off_j = kw * dil - pad; the
// backward-data pass handles one stride class at a time with a = 1 and off_j the dy offset of kw.
// T output pixels are computed together so that T * V independent FMA chains hide the FMA
// latency (each pixel's sum is otherwise a chain of taps); pixels near the row ends, where some
// taps fall outside, take the checked single-pixel path.
#include "kernels/conv/conv_common.h"

namespace pyk::conv::PYK_ISA_NS {

struct DwTaps {
  const int64_t* off;  // input pixel offset of column tap j
  const int64_t* kw;   // its kernel column
  int64_t n;
};

template <bool kMask>
inline VecF ld(const float* p, int n) {
  return kMask ? load_partial(p, n) : load(p);
}
template <bool kMask>
inline void st(float* p, VecF v, int n) {
  if (kMask) {
    store_partial(p, v, n);
  } else {
    store(p, v);
  }
}

// Pixels per step in the unchecked interior, per channel-vector count V.
template <int V>
constexpr int dw_pixels() {
  return V == 1 ? 8 : V == 2 ? 4 : V == 3 ? 3 : 2;
}

// Fast path for three column taps at consecutive input offsets (a 3-wide kernel with unit
// dilation: forward kw = 0, 1, 2, or backward-data with kw reversed) and a in {1, 2}: for a tile
// of T pixels each input vector is loaded once and feeds every (pixel, tap) pair that reads it,
// and the tap row's 3 x V weight vectors sit in registers for the whole tile. Interior pixels
// [p, p_hi) only (all taps in bounds); returns the first pixel not done.
constexpr int kDw3Pixels = PYK_ISA_LEVEL == 1 ? 6 : 8;

// Prefetches (into L2) the V channel vectors of n pixels, pixel stride cm floats. Used on the
// input row the next output row will read first, so that it streams in from L3/DRAM while this
// row computes: the depthwise kernels are bound by memory, not by arithmetic.
inline void prefetch_pixels(const float* p, int64_t n, int64_t cm, int v) {
  constexpr int64_t kLine = 64 / sizeof(float);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < v * kWidth; f += kLine) __builtin_prefetch(p + i * cm + f, 0, 2);
}
inline void prefetch_pixels_for_write(float* p, int64_t n, int64_t ps, int v) {
  constexpr int64_t kLine = 64 / sizeof(float);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < v * kWidth; f += kLine) __builtin_prefetch(p + i * ps + f, 1, 2);
}

template <int V, int A>
int64_t dw3_interior(const float* const* in, const float* const* w, int64_t nrt, const DwTaps& taps, int64_t cm,
                     int64_t p, int64_t p_hi, float* out, int64_t out_ps, int64_t c0, const VecF* b, Activation act,
                     float alpha, const float* pf, int64_t np_row) {
  constexpr int T = kDw3Pixels;
  constexpr int kSpan = (T - 1) * A + 3;  // input pixels read by a tile
  const bool vec_act = is_register_activation(act);
  const Activation vact = vec_act ? act : Activation::linear;
  const int64_t p_first = p;
  for (; p < p_hi; p += T) {
    // A last partial tile is shifted back to end at p_hi: the pixels it repeats are recomputed
    // by the same operations in the same order, so they are stored again with the same bits.
    if (p + T > p_hi) {
      if (p_hi - T < p_first) break;
      p = p_hi - T;
    }
    if (pf) {
      prefetch_pixels(pf + (p * A + taps.off[0]) * cm + c0, T * A, cm, V);
      // The same pixels of the next output row, for writing (its read-for-ownership starts now).
      prefetch_pixels_for_write(out + (p + np_row) * out_ps + c0, T, out_ps, V);
    }
    VecF acc[T][V];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[t][v] = b[v];
    for (int64_t i = 0; i < nrt; ++i) {
      const float* x = in[i] + (p * A + taps.off[0]) * cm + c0;
      VecF wv[3][V];
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j)
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) wv[j][v] = load(w[i] + taps.kw[j] * cm + c0 + v * kWidth);
      // A running pointer (not x + q * cm) keeps the unrolled loop to one address register.
      const float* xq = x;
#pragma GCC unroll 24
      for (int q = 0; q < kSpan; ++q, xq += cm) {
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) {
          const VecF xv = load(xq + v * kWidth);
          // Input pixel q feeds tile pixel t through tap j = q - t * A.
#pragma GCC unroll 8
          for (int t = 0; t < T; ++t) {
            const int j = q - t * A;
            if (j >= 0 && j < 3) acc[t][v] = fmadd(xv, wv[j][v], acc[t][v]);
          }
        }
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      float* o = out + (p + t) * out_ps + c0;
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) store(o + v * kWidth, register_activation(acc[t][v], vact, alpha));
      if (!vec_act) act_apply(o, V * kWidth, act, alpha);
    }
  }
  return p;
}

inline bool dw3_applies(const DwTaps& taps, int64_t a) {
  return taps.n == 3 && taps.off[1] == taps.off[0] + 1 && taps.off[2] == taps.off[1] + 1 && (a == 1 || a == 2);
}

// One block of V vectors (channels c0 .. c0 + V*W, masked to n lanes in the last vector when
// kMask, which implies V == 1) for every output pixel p in [0, np).
template <int V, bool kMask>
void dw_gather_block(const float* const* in, const float* const* w, int64_t nrt, const DwTaps& taps, int64_t a,
                     int64_t in_w, int64_t cm, int64_t np, float* out, int64_t out_ps, int64_t c0, int n,
                     const float* bias, Activation act, float alpha, const float* pf) {
  constexpr int T = dw_pixels<V>();
  int64_t min_off = 0, max_off = 0;
  for (int64_t j = 0; j < taps.n; ++j) {
    if (j == 0 || taps.off[j] < min_off) min_off = taps.off[j];
    if (j == 0 || taps.off[j] > max_off) max_off = taps.off[j];
  }
  // Interior [p_lo, p_hi): every tap in bounds.
  int64_t p_lo = min_off >= 0 ? 0 : ceil_div(-min_off, a);
  int64_t p_hi = in_w - 1 - max_off < 0 ? 0 : (in_w - 1 - max_off) / a + 1;
  p_hi = min64(p_hi, np);
  if (p_lo > p_hi) p_lo = p_hi;
  VecF b[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) b[v] = bias ? ld<kMask>(bias + c0 + v * kWidth, n) : zero();
  const bool vec_act = is_register_activation(act);
  const Activation vact = vec_act ? act : Activation::linear;

  auto finish = [&](float* o, VecF* acc) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) st<kMask>(o + v * kWidth, register_activation(acc[v], vact, alpha), n);
    if (!vec_act) act_apply(o, kMask ? n : V * kWidth, act, alpha);
  };
  // One pixel with bounds checks.
  auto single = [&](int64_t p) {
    VecF acc[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[v] = b[v];
    for (int64_t i = 0; i < nrt; ++i) {
      const float* x = in[i] + c0;
      const float* wr = w[i] + c0;
      for (int64_t j = 0; j < taps.n; ++j) {
        const int64_t ip = p * a + taps.off[j];
        if (ip < 0 || ip >= in_w) continue;
        const float* xp = x + ip * cm;
        const float* wp = wr + taps.kw[j] * cm;
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[v] = fmadd(ld<kMask>(xp + v * kWidth, n), ld<kMask>(wp + v * kWidth, n), acc[v]);
      }
    }
    finish(out + p * out_ps + c0, acc);
  };

  for (int64_t p = 0; p < p_lo; ++p) single(p);
  int64_t p = p_lo;
  if constexpr (!kMask && V <= 2) {
    if (dw3_applies(taps, a)) {
      p = a == 1 ? dw3_interior<V, 1>(in, w, nrt, taps, cm, p, p_hi, out, out_ps, c0, b, act, alpha, pf, np)
                 : dw3_interior<V, 2>(in, w, nrt, taps, cm, p, p_hi, out, out_ps, c0, b, act, alpha, pf, np);
    }
  }
  for (; p + T <= p_hi; p += T) {
    VecF acc[T][V];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[t][v] = b[v];
    for (int64_t i = 0; i < nrt; ++i) {
      const float* x = in[i] + c0 + p * a * cm;
      const float* wr = w[i] + c0;
      for (int64_t j = 0; j < taps.n; ++j) {
        const float* xp = x + taps.off[j] * cm;
        const float* wp = wr + taps.kw[j] * cm;
        VecF wv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) wv[v] = ld<kMask>(wp + v * kWidth, n);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
          for (int v = 0; v < V; ++v) acc[t][v] = fmadd(ld<kMask>(xp + t * a * cm + v * kWidth, n), wv[v], acc[t][v]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) finish(out + (p + t) * out_ps + c0, acc[t]);
  }
  for (; p < np; ++p) single(p);
}

// All channel blocks of a row.
inline void dw_gather_row(const float* const* in, const float* const* w, int64_t nrt, const DwTaps& taps, int64_t a,
                          int64_t in_w, int64_t cm, int64_t np, float* out, int64_t out_ps, const float* bias,
                          Activation act, float alpha, const float* pf = nullptr) {
  // The 3-tap fast path keeps 3 x V weight vectors in registers: at most 2 vectors per block.
  const int64_t vmax = dw3_applies(taps, a) ? 2 : kMaxV;
  int64_t c = 0;
  while (cm - c >= kWidth) {
    const int64_t v = min64(vmax, (cm - c) / kWidth);
    switch (v) {
      case 1: dw_gather_block<1, false>(in, w, nrt, taps, a, in_w, cm, np, out, out_ps, c, kWidth, bias, act, alpha, pf); break;
      case 2: dw_gather_block<2, false>(in, w, nrt, taps, a, in_w, cm, np, out, out_ps, c, kWidth, bias, act, alpha, pf); break;
      case 3: dw_gather_block<3, false>(in, w, nrt, taps, a, in_w, cm, np, out, out_ps, c, kWidth, bias, act, alpha, pf); break;
      default: dw_gather_block<4, false>(in, w, nrt, taps, a, in_w, cm, np, out, out_ps, c, kWidth, bias, act, alpha, pf); break;
    }
    c += v * kWidth;
  }
  if (c < cm) {
    dw_gather_block<1, true>(in, w, nrt, taps, a, in_w, cm, np, out, out_ps, c, static_cast<int>(cm - c), bias, act,
                             alpha, pf);
  }
}

// Weight gradient of one row tap: gw[kw * cm + c] += sum over output pixels ow of
// x[(ow * sw + kw * dw - pw) * cm + c] * dy[ow * cm + c], for the pixels whose input is in range.
// Three taps at unit dilation: over the pixels where all three are in bounds, each dy vector
// is loaded once for the three taps, with two accumulator sets (even and odd pixels) so that
// 2 * 3 * V independent FMA chains cover the latency. Adds into gw[kw * cm + c0 ...]; returns
// the [lo, hi) range it covered so the caller can do the edges.
template <int V>
void dw3_wgrad_interior(const float* x, const float* dy, float* gw, int64_t lo, int64_t hi, int64_t sw, int64_t pw,
                        int64_t cm, int64_t c0) {
  VecF acc0[3][V], acc1[3][V];
#pragma GCC unroll 3
  for (int j = 0; j < 3; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc0[j][v] = acc1[j][v] = zero();
  const float* xp = x + (lo * sw - pw) * cm + c0;
  const float* dp = dy + lo * cm + c0;
  const int64_t xstep = sw * cm;
  int64_t ow = lo;
  for (; ow + 2 <= hi; ow += 2, xp += 2 * xstep, dp += 2 * cm) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const VecF d0 = load(dp + v * kWidth), d1 = load(dp + cm + v * kWidth);
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j) {
        acc0[j][v] = fmadd(load(xp + j * cm + v * kWidth), d0, acc0[j][v]);
        acc1[j][v] = fmadd(load(xp + xstep + j * cm + v * kWidth), d1, acc1[j][v]);
      }
    }
  }
  if (ow < hi) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const VecF d0 = load(dp + v * kWidth);
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j) acc0[j][v] = fmadd(load(xp + j * cm + v * kWidth), d0, acc0[j][v]);
    }
  }
#pragma GCC unroll 3
  for (int j = 0; j < 3; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      float* g = gw + j * cm + c0 + v * kWidth;
      store(g, load(g) + (acc0[j][v] + acc1[j][v]));
    }
}

template <int V, bool kMask>
void dw_wgrad_block(const float* x, const float* dy, float* gw, int64_t W, int64_t Wo, int64_t KW, int64_t sw,
                    int64_t dw, int64_t pw, int64_t cm, int64_t c0, int n) {
  if constexpr (!kMask && V <= 2) {
    if (KW == 3 && dw == 1) {
      // Interior: ow * sw - pw >= 0 and ow * sw - pw + 2 <= W - 1.
      const int64_t lo = min64(Wo, pw > 0 ? ceil_div(pw, sw) : 0);
      const int64_t hi = W - 3 + pw < 0 ? 0 : min64(Wo, (W - 3 + pw) / sw + 1);
      if (hi > lo) {
        dw3_wgrad_interior<V>(x, dy, gw, lo, hi, sw, pw, cm, c0);
        // The edge pixels, tap by tap.
        for (int64_t kw = 0; kw < 3; ++kw) {
          const int64_t off = kw - pw;
          const int64_t a = max64(0, off >= 0 ? 0 : ceil_div(-off, sw));
          const int64_t b = min64(Wo, W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1);
          auto edge = [&](int64_t from, int64_t to) {
            for (int64_t ow = from; ow < to; ++ow) {
              const float* xp = x + (ow * sw + off) * cm + c0;
              const float* dp = dy + ow * cm + c0;
              float* g = gw + kw * cm + c0;
#pragma GCC unroll 2
              for (int v = 0; v < V; ++v)
                store(g + v * kWidth, fmadd(load(xp + v * kWidth), load(dp + v * kWidth), load(g + v * kWidth)));
            }
          };
          edge(a, min64(b, lo));
          edge(max64(a, hi), b);
        }
        return;
      }
    }
  }
  for (int64_t kw = 0; kw < KW; ++kw) {
    const int64_t off = kw * dw - pw;
    const int64_t lo = max64(0, off >= 0 ? 0 : ceil_div(-off, sw));
    const int64_t hi = min64(Wo, W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1);
    // Two independent accumulator sets per vector, added at the end in a fixed order.
    VecF acc0[V], acc1[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc0[v] = acc1[v] = zero();
    const float* xp = x + off * cm + c0;
    const float* dp = dy + c0;
    int64_t ow = lo;
    for (; ow + 2 <= hi; ow += 2) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        acc0[v] = fmadd(ld<kMask>(xp + ow * sw * cm + v * kWidth, n), ld<kMask>(dp + ow * cm + v * kWidth, n), acc0[v]);
        acc1[v] = fmadd(ld<kMask>(xp + (ow + 1) * sw * cm + v * kWidth, n),
                        ld<kMask>(dp + (ow + 1) * cm + v * kWidth, n), acc1[v]);
      }
    }
    if (ow < hi) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        acc0[v] = fmadd(ld<kMask>(xp + ow * sw * cm + v * kWidth, n), ld<kMask>(dp + ow * cm + v * kWidth, n), acc0[v]);
    }
    float* g = gw + kw * cm + c0;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) st<kMask>(g + v * kWidth, ld<kMask>(g + v * kWidth, n) + (acc0[v] + acc1[v]), n);
  }
}

inline void dw_wgrad_row(const float* x, const float* dy, float* gw, int64_t W, int64_t Wo, int64_t KW, int64_t sw,
                         int64_t dw, int64_t pw, int64_t cm) {
  const int64_t vmax = KW == 3 && dw == 1 ? 2 : kMaxV;  // the 3-tap path holds 2 * 3 * V accumulators
  int64_t c = 0;
  while (cm - c >= kWidth) {
    const int64_t v = min64(vmax, (cm - c) / kWidth);
    switch (v) {
      case 1: dw_wgrad_block<1, false>(x, dy, gw, W, Wo, KW, sw, dw, pw, cm, c, kWidth); break;
      case 2: dw_wgrad_block<2, false>(x, dy, gw, W, Wo, KW, sw, dw, pw, cm, c, kWidth); break;
      case 3: dw_wgrad_block<3, false>(x, dy, gw, W, Wo, KW, sw, dw, pw, cm, c, kWidth); break;
      default: dw_wgrad_block<4, false>(x, dy, gw, W, Wo, KW, sw, dw, pw, cm, c, kWidth); break;
    }
    c += v * kWidth;
  }
  if (c < cm) dw_wgrad_block<1, true>(x, dy, gw, W, Wo, KW, sw, dw, pw, cm, c, static_cast<int>(cm - c));
}

// Adds the pixels of a dy row into the bias gradient (cm channels).
inline void add_row_sums(const float* dy, int64_t np, int64_t cm, float* db) {
  for (int64_t c = 0; c < cm; c += kWidth) {
    const int m = static_cast<int>(min64(kWidth, cm - c));
    VecF acc = load_partial(db + c, m);
    for (int64_t p = 0; p < np; ++p) acc = acc + load_partial(dy + p * cm + c, m);
    store_partial(db + c, acc, m);
  }
}

// xe[iw * C * M + c * M + m] = x[iw * C + c]: the input row seen by the C * M output channels.
inline void expand_row(const float* x, int64_t w, int64_t C, int64_t M, float* xe) {
  for (int64_t i = 0; i < w * C; ++i) {
    const float v = x[i];
    for (int64_t m = 0; m < M; ++m) xe[i * M + m] = v;
  }
}

struct DwGeom {
  int64_t D, H, W, Do, Ho, Wo, KD, KH, KW, C, M, cm;
  explicit DwGeom(const Shape& s)
      : D(s.in[0]), H(s.in[1]), W(s.in[2]), Do(s.out[0]), Ho(s.out[1]), Wo(s.out[2]), KD(s.k[0]), KH(s.k[1]),
        KW(s.k[2]), C(s.cin), M(s.cout / s.cin), cm(s.cout) {}
};

// Input rows (direct, or expanded to cm channels in a per-thread cache) for an output row.
class InputRows {
 public:
  InputRows(const Shape& s, const float* x) : g_(s), x_(x) {
    if (g_.M > 1) {
      cache_.init(min64((g_.KD - 1) * s.dilation[0] + 1, g_.D), min64((g_.KH - 1) * s.dilation[1] + 1, g_.H),
                  g_.W * g_.cm);
    }
  }
  const float* row(int64_t n, int64_t id, int64_t ih) {
    const int64_t r = (n * g_.D + id) * g_.H + ih;
    const float* src = x_ + r * g_.W * g_.C;
    if (g_.M == 1) return src;
    bool hit;
    float* slot = cache_.slot(id, ih, r, &hit);
    if (!hit) expand_row(src, g_.W, g_.C, g_.M, slot);
    return slot;
  }

 private:
  DwGeom g_;
  const float* x_;
  RowCache cache_;
};

// Valid (kd, kh) row taps of output row (od, oh): input rows and tap-row indices kd * KH + kh;
// returns the count.
inline int64_t row_taps(const Shape& s, const DwGeom& g, InputRows& rows, int64_t n, int64_t od, int64_t oh,
                 const float** in, int64_t* tap_rows) {
  int64_t nrt = 0;
  for (int64_t kd = 0; kd < g.KD; ++kd) {
    const int64_t id = od * s.stride[0] - s.pad[0] + kd * s.dilation[0];
    if (id < 0 || id >= g.D) continue;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = oh * s.stride[1] - s.pad[1] + kh * s.dilation[1];
      if (ih < 0 || ih >= g.H) continue;
      in[nrt] = rows.row(n, id, ih);
      tap_rows[nrt++] = kd * g.KH + kh;
    }
  }
  return nrt;
}


// Row-level entry points (dwconv_nhwc.cpp), also used by the separable convolution. pf, when
// not null, is the input row to prefetch while this row computes; it also tells that the next
// output row follows this one in memory (its lines are prefetched for writing).
void dw_forward_row(const Shape& s, const float* const* in, const float* const* wr, int64_t nrt, const float* bias,
                    Activation act, float alpha, float* out, const float* pf = nullptr);
void dw_backward_filter_row(const Shape& s, const float* const* in, const int64_t* tap_rows, int64_t nrt,
                            const float* dyrow, float* gw, float* gb);
// Number of weight-gradient partitions for a depthwise problem (a function of the shape only).
int64_t dw_partitions(const Shape& s);

}  // namespace pyk::conv::PYK_ISA_NS
