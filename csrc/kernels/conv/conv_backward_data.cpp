// Dense N-d convolution, gradient with respect to the input (and the transposed convolution):
// dx[n, i, c] = sum over taps and output channels o of dy[n, (i + pad - k * dil) / stride, o] *
// kernel[k, c, o], where the division must be exact and the output index in range. NDHWC data,
// Keras kernel (kd, kh, kw, cin/groups, cout); optional bias (cin) and activation make it
// Conv*Transpose's forward pass.
//
// Gather formulation, so that threads own disjoint rows of dx and no reduction crosses threads:
// a dx row (n, id, ih) reads the dy rows of the (kd, kh) taps whose offset divides by the
// stride. Along W the dx pixels split into stride classes iw = rw + sw * q; within a class the
// contributing taps kw are fixed and dy pixel ow = q + off(kw) moves with q, so each class is a
// stride-1 indirect GEMM over a zero-padded copy of the dy rows (reduction over the taps and the
// group's output channels), storing every sw-th dx pixel. The kernel is packed per group as
// [tap][o][panel of input channels], with kw reversed so that for unit stride and dilation the
// kw * cog floats of a dy row are one contiguous run in the order of the packed rows.
#include "kernels/conv/conv_common.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

namespace {

void pack_backward_data(const Shape& s, const float* w, const Panel* panels, int64_t npanels, int64_t group_floats,
                        float* packed) {
  const int64_t KW = s.k[2];
  const int64_t taps = s.k[0] * s.k[1] * KW;
  const int64_t cig = s.cin / s.groups, cog = s.cout / s.groups;
  const int64_t rows = taps * cog;
  // Rows of one packed row each span about the group's channels rounded up to panels.
  const int64_t row_floats = max64(1, npanels * kMaxV * kWidth);
  parallel_for(0, s.groups * rows, max64(1, kCopyGrainFloats / row_floats), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t g = i / rows, row = i % rows;
      const int64_t tp = row / cog, o = row % cog;  // packed tap index has kw reversed
      const int64_t t = tp - tp % KW + (KW - 1 - tp % KW);
      const float* src = w + t * cig * s.cout + g * cog + o;  // kernel[t, c, g*cog + o] at c * cout
      for (int64_t p = 0; p < npanels; ++p) {
        const Panel& pn = panels[p];
        const int64_t width = pn.v * kWidth;
        float* dst = packed + g * group_floats + pn.packed + row * width;
        for (int64_t j = 0; j < width; ++j) dst[j] = j < pn.count ? src[(pn.off + j) * s.cout] : 0.0f;
      }
    }
  });
}

// ------------------------------------------------------------------------------ few input channels
// With 1-4 input channels (an RGB first layer) a panel of dx channels would leave most vector
// lanes empty, so this variant puts dx pixels in the lanes instead: dy rows are copied
// transposed (output channel major, zero-padded), and a tile of kPixVecs vectors of consecutive
// pixels of one stride class accumulates, for each tap and output channel o, a broadcast weight
// times a contiguous run of dy values. Each tile is then scattered to dx with bias and activation.
constexpr int64_t kMaxSmallCin = 4;
constexpr int kPixVecs = PYK_ISA_LEVEL == 1 ? 2 : 4;

struct SmallTap {
  const float* dyt;  // transposed dy row: o-th channel at dyt + o * pitch, pixel q + off at + q
  const float* w;    // kernel[tap] (cin x cout)
};

// dst[o * pitch + pl + q] = src[q * cout + o], zero elsewhere in each of the cout rows. Blocks of
// kBlock x kBlock keep both the reads and the writes within a few cache lines.
void transpose_row(const float* src, int64_t wo, int64_t cout, int64_t pl, int64_t pitch, float* dst) {
  constexpr int64_t kBlock = 16;
  for (int64_t o = 0; o < cout; ++o) {
    std::memset(dst + o * pitch, 0, sizeof(float) * pl);
    std::memset(dst + o * pitch + pl + wo, 0, sizeof(float) * (pitch - pl - wo));
  }
  for (int64_t q0 = 0; q0 < wo; q0 += kBlock) {
    const int64_t qn = min64(kBlock, wo - q0);
    for (int64_t o0 = 0; o0 < cout; o0 += kBlock) {
      const int64_t on = min64(kBlock, cout - o0);
      for (int64_t o = 0; o < on; ++o) {
        float* d = dst + (o0 + o) * pitch + pl + q0;
        const float* sp = src + q0 * cout + o0 + o;
        for (int64_t q = 0; q < qn; ++q) d[q] = sp[q * cout];
      }
    }
  }
}

template <int C>
void small_cin_tile(const SmallTap* taps, int64_t nt, int64_t pitch, int64_t cout, int64_t q0, float* acc_out) {
  constexpr int Q = kPixVecs;
  VecF acc[C][Q];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < Q; ++j) acc[c][j] = zero();
  for (int64_t t = 0; t < nt; ++t) {
    const float* d = taps[t].dyt + q0;
    const float* w = taps[t].w;
    for (int64_t o = 0; o < cout; ++o, d += pitch) {
      VecF dv[Q];
#pragma GCC unroll 4
      for (int j = 0; j < Q; ++j) dv[j] = load(d + j * kWidth);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const VecF wv = set1(w[c * cout + o]);
#pragma GCC unroll 4
        for (int j = 0; j < Q; ++j) acc[c][j] = fmadd(wv, dv[j], acc[c][j]);
      }
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < Q; ++j) store(acc_out + (c * Q + j) * kWidth, acc[c][j]);
}

using SmallCinFn = void (*)(const SmallTap*, int64_t, int64_t, int64_t, int64_t, float*);

void backward_data_small_cin(const Shape& s, const float* dy, const float* w, const float* bias, Activation act,
                             float alpha, float* dx) {
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  const int64_t Do = s.out[0], Ho = s.out[1], Wo = s.out[2];
  const int64_t KD = s.k[0], KH = s.k[1], KW = s.k[2];
  const int64_t sw = s.stride[2], dw = s.dilation[2], pw = s.pad[2];
  const int64_t cin = s.cin, cout = s.cout;
  constexpr int64_t kTile = kPixVecs * kWidth;  // pixels per tile
  static constexpr SmallCinFn kFns[] = {&small_cin_tile<1>, &small_cin_tile<2>, &small_cin_tile<3>,
                                        &small_cin_tile<4>};
  const SmallCinFn fn = kFns[cin - 1];

  // Transposed dy rows: PL zeros, Wo values, zeros to the end (covering a whole last tile).
  int64_t PL = 0, PR = 0;
  for (int64_t rw = 0; rw < min64(sw, W); ++rw) {
    const int64_t nq = ceil_div(W - rw, sw);
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t t = rw + pw - kw * dw;
      if (floor_div(t, sw) * sw != t) continue;
      PL = max64(PL, -floor_div(t, sw));
      PR = max64(PR, ceil_div(nq, kTile) * kTile - 1 + floor_div(t, sw) - (Wo - 1));
    }
  }
  const int64_t pitch = PL + Wo + PR;
  const int64_t span_d = min64((KD - 1) * s.dilation[0] / s.stride[0] + 1, Do);
  const int64_t span_h = min64((KH - 1) * s.dilation[1] / s.stride[1] + 1, Ho);
  const int64_t rows = s.batch * D * H;
  const double row_flops = 2.0 * W * cin * KD * KH * KW * cout / static_cast<double>(s.stride[0] * s.stride[1] * sw);

  parallel_for(0, rows, grain_for(row_flops), [&](int64_t lo, int64_t hi) {
    RowCache cache;
    cache.init(span_d, span_h, cout * pitch);
    AlignedBuffer<const float*> srcs(static_cast<size_t>(KD * KH));
    AlignedBuffer<int64_t> tap_rows(static_cast<size_t>(KD * KH));
    AlignedBuffer<SmallTap> taps(static_cast<size_t>(KD * KH * KW));
    AlignedBuffer<float> tile(static_cast<size_t>(kMaxSmallCin * kTile));
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t n = row / (D * H), id = (row / H) % D, ih = row % H;
      int64_t nrt = 0;
      for (int64_t kd = 0; kd < KD; ++kd) {
        const int64_t td = id + s.pad[0] - kd * s.dilation[0];
        if (floor_div(td, s.stride[0]) * s.stride[0] != td) continue;
        const int64_t od = floor_div(td, s.stride[0]);
        if (od < 0 || od >= Do) continue;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t th = ih + s.pad[1] - kh * s.dilation[1];
          if (floor_div(th, s.stride[1]) * s.stride[1] != th) continue;
          const int64_t oh = floor_div(th, s.stride[1]);
          if (oh < 0 || oh >= Ho) continue;
          const int64_t dy_row = (n * Do + od) * Ho + oh;
          bool hit;
          float* slot = cache.slot(od, oh, dy_row, &hit);
          if (!hit) transpose_row(dy + dy_row * Wo * cout, Wo, cout, PL, pitch, slot);
          srcs.data()[nrt] = slot;
          tap_rows.data()[nrt++] = kd * KH + kh;
        }
      }
      float* dxrow = dx + row * W * cin;
      for (int64_t rw = 0; rw < min64(sw, W); ++rw) {
        int64_t nt = 0;
        for (int64_t i = 0; i < nrt; ++i) {
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t t = rw + pw - kw * dw;
            if (floor_div(t, sw) * sw != t) continue;
            taps.data()[nt++] = {srcs.data()[i] + PL + floor_div(t, sw),
                                 w + (tap_rows.data()[i] * KW + kw) * cin * cout};
          }
        }
        const int64_t nq = ceil_div(W - rw, sw);
        for (int64_t q0 = 0; q0 < nq; q0 += kTile) {
          fn(taps.data(), nt, pitch, cout, q0, tile.data());
          const int64_t m = min64(kTile, nq - q0);
          const float* tv = tile.data();
          if (!bias) {
            for (int64_t j = 0; j < m; ++j)
              for (int64_t c = 0; c < cin; ++c) dxrow[(rw + (q0 + j) * sw) * cin + c] = tv[c * kTile + j];
          } else {
            for (int64_t j = 0; j < m; ++j)
              for (int64_t c = 0; c < cin; ++c) dxrow[(rw + (q0 + j) * sw) * cin + c] = tv[c * kTile + j] + bias[c];
          }
        }
      }
      // Every pixel of the row is written by one stride class: the activation runs over the
      // whole row at once, on contiguous vectors.
      act_apply(dxrow, W * cin, act, alpha);
    }
  });
}

}  // namespace

void backward_data(const Shape& s0, const float* dy, const float* w, const float* bias, Activation act, float alpha,
                   float* dx) {
  if (is_depthwise(s0)) {
    dw_backward_data(s0, dy, w, bias, act, alpha, dx);
    return;
  }
  const Shape s = flatten_pointwise(s0);
  if (s.groups == 1 && s.cin <= kMaxSmallCin && s.in[2] >= kPixVecs * kWidth) {
    backward_data_small_cin(s, dy, w, bias, act, alpha, dx);
    return;
  }
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  const int64_t Do = s.out[0], Ho = s.out[1], Wo = s.out[2];
  const int64_t KD = s.k[0], KH = s.k[1], KW = s.k[2];
  const int64_t sw = s.stride[2], dw = s.dilation[2], pw = s.pad[2];
  const int64_t cin = s.cin, cout = s.cout, G = s.groups;
  const int64_t cig = cin / G, cog = cout / G;
  const int64_t taps = KD * KH * KW;

  const int64_t npanels = num_panels(cig);
  AlignedBuffer<Panel> panels(static_cast<size_t>(npanels));
  const int64_t group_floats = plan_panels(cig, taps * cog, panels.data());
  AlignedBuffer<float> packed(static_cast<size_t>(G * group_floats));
  pack_backward_data(s, w, panels.data(), npanels, group_floats, packed.data());

  // Zero pixels needed before and after a dy row so that every class reads in bounds:
  // dy pixel q + off(kw) for q in [0, nq(rw)).
  int64_t PL = 0, PR = 0;
  for (int64_t rw = 0; rw < min64(sw, W); ++rw) {
    const int64_t nq = ceil_div(W - rw, sw);
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t t = rw + pw - kw * dw;
      if (floor_div(t, sw) * sw != t) continue;
      const int64_t off = floor_div(t, sw);
      PL = max64(PL, -off);
      PR = max64(PR, nq - 1 + off - (Wo - 1));
    }
  }
  const bool direct = PL == 0 && PR == 0;
  const int64_t row_floats = (Wo + PL + PR) * cout;
  const int64_t span_d = min64((KD - 1) * s.dilation[0] / s.stride[0] + 1, Do);
  const int64_t span_h = min64((KH - 1) * s.dilation[1] / s.stride[1] + 1, Ho);
  // Unit stride and dilation with one group: the kw taps of a dy row form one run (kw reversed).
  const bool merged = sw == 1 && dw == 1 && G == 1;

  const int64_t rows = s.batch * D * H;
  // Only unit-stride rows are split into segments (a class then is the whole row).
  const int64_t segs = sw == 1 ? ceil_div(W, kSegmentPixels) : 1;
  const double item_flops = 2.0 * min64(W, kSegmentPixels) * cin * taps * cog /
                            static_cast<double>(s.stride[0] * s.stride[1] * sw);

  parallel_for(0, rows * segs, grain_for(item_flops), [&](int64_t lo, int64_t hi) {
    RowCache cache;
    if (!direct) cache.init(span_d, span_h, row_floats);
    AlignedBuffer<const float*> srcs(static_cast<size_t>(KD * KH));
    AlignedBuffer<int64_t> tap_rows(static_cast<size_t>(KD * KH));
    AlignedBuffer<Tap> tap_buf(static_cast<size_t>(taps));
    Tap* tl = tap_buf.data();
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t row = item / segs, seg = item % segs;
      const int64_t n = row / (D * H), id = (row / H) % D, ih = row % H;
      // Row taps (kd, kh) with an exact, in-range dy row.
      int64_t nrt = 0;
      for (int64_t kd = 0; kd < KD; ++kd) {
        const int64_t td = id + s.pad[0] - kd * s.dilation[0];
        if (floor_div(td, s.stride[0]) * s.stride[0] != td) continue;
        const int64_t od = floor_div(td, s.stride[0]);
        if (od < 0 || od >= Do) continue;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t th = ih + s.pad[1] - kh * s.dilation[1];
          if (floor_div(th, s.stride[1]) * s.stride[1] != th) continue;
          const int64_t oh = floor_div(th, s.stride[1]);
          if (oh < 0 || oh >= Ho) continue;
          const int64_t dy_row = (n * Do + od) * Ho + oh;
          const float* src = dy + dy_row * Wo * cout;
          if (!direct) src = cache.padded(od, oh, dy_row, src, Wo, cout, PL, PR);
          srcs.data()[nrt] = src;  // dy pixel ow sits at src + (PL + ow) * cout
          tap_rows.data()[nrt++] = kd * KH + kh;
        }
      }
      float* dxrow = dx + row * W * cin;
      const int64_t nclass = min64(sw, W);
      for (int64_t rw = 0; rw < nclass; ++rw) {
        int64_t q_begin = 0, q_end = ceil_div(W - rw, sw);
        if (segs > 1) {
          q_begin = seg * kSegmentPixels;
          q_end = min64(q_end, q_begin + kSegmentPixels);
        }
        int64_t nt = 0;
        for (int64_t i = 0; i < nrt; ++i) {
          const int64_t t0 = tap_rows.data()[i] * KW;
          if (merged) {
            // Packed rows for reversed kw = 0..KW-1 read dy pixels q + pw - (KW - 1) + kw'.
            tl[nt++] = {srcs.data()[i] + (PL + rw + pw - (KW - 1)) * cout, t0 * cog, KW * cog};
            continue;
          }
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t t = rw + pw - kw * dw;
            if (floor_div(t, sw) * sw != t) continue;
            const int64_t off = floor_div(t, sw);
            tl[nt++] = {srcs.data()[i] + (PL + off) * cout, (t0 + KW - 1 - kw) * cog, cog};
          }
        }
        for (int64_t g = 0; g < G; ++g) {
          for (int64_t p = 0; p < npanels; ++p) {
            const Panel& pn = panels.data()[p];
            const float* b = packed.data() + g * group_floats + pn.packed;
            const int64_t c0 = g * cig + pn.off;
            Epilogue e{bias ? bias + c0 : nullptr, act, alpha};
            for_tiles(q_end - q_begin, max_r(pn.v), [&](int64_t start, int r) {
              const int64_t q = q_begin + start;
              igemm_fn(r, pn.v)(tl, nt, q * cout + g * cog, cout, b, dxrow + (rw + q * sw) * cin + c0, sw * cin,
                                pn.count, e);
            });
          }
        }
      }
    }
  });
}

}  // namespace pyk::conv::PYK_ISA_NS
