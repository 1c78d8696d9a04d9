// Depthwise N-d convolution (groups == cin, cout = cin * multiplier), forward and both
// gradients. NDHWC data; the kernel is Keras's (kd, kh, kw, cin, multiplier), i.e. one row of
// cm = cin * multiplier weights per tap, output channel c * multiplier + m reading input c.
//
// Threads own output rows (forward), dx rows (backward-data) or fixed partitions of output rows
// (weight gradient, partial sums added in partition order), as in the dense kernels. When both
// gradients are wanted (2-d), each partition also computes the dx rows that lie under its output
// rows, right after their dy rows were used for the weight gradient, so dy is read from memory
// once for both (the depthwise passes are bound by memory traffic, not arithmetic). With a
// multiplier above 1 each input row is first expanded to cm channels (every value repeated
// multiplier times, cached per thread), after which every path is the multiplier-1 case; the
// input gradient is then computed in that expanded space and folded over the multiplier.
// Padding is handled by bounds (dw_common.h), never by copies.
#include "kernels/conv/dw_common.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

namespace {

constexpr int64_t kMaxPartitions = 8;
// A partition of the weight gradient is worth at least this many flops.
constexpr double kPartitionFlops = 1.0e6;

}  // namespace

// The last input row that output row + 1 reads (the one not already read by this row), if it is
// a plain row of x (multiplier 1, 2-d); else null.
const float* next_input_row(const Shape& s, const DwGeom& g, const float* x, int64_t row) {
  if (g.M != 1 || g.KD != 1) return nullptr;
  const int64_t next = row + 1;
  if (next >= s.batch * g.Ho) return nullptr;
  const int64_t n = next / g.Ho, oh = next % g.Ho;
  const int64_t ih = oh * s.stride[1] - s.pad[1] + (g.KH - 1) * s.dilation[1];
  if (ih < 0 || ih >= g.H) return nullptr;
  return x + (n * g.H + ih) * g.W * g.C;
}

// Forward row kernel used by the depthwise and separable paths: out row (Wo x cm, pixel stride cm).
void dw_forward_row(const Shape& s, const float* const* in, const float* const* wr, int64_t nrt, const float* bias,
                    Activation act, float alpha, float* out, const float* pf) {
  const int64_t KW = s.k[2];
  int64_t off[64], kw_of[64];
  AlignedBuffer<int64_t> big(static_cast<size_t>(KW > 64 ? 2 * KW : 0));
  int64_t* po = KW > 64 ? big.data() : off;
  int64_t* pk = KW > 64 ? big.data() + KW : kw_of;
  for (int64_t kw = 0; kw < KW; ++kw) {
    po[kw] = kw * s.dilation[2] - s.pad[2];
    pk[kw] = kw;
  }
  const DwTaps taps{po, pk, KW};
  dw_gather_row(in, wr, nrt, taps, s.stride[2], s.in[2], s.cout, s.out[2], out, s.cout, bias, act, alpha, pf);
}

void dw_forward(const Shape& s, const float* x, const float* w, const float* bias, Activation act, float alpha,
                float* y) {
  const DwGeom g(s);
  const int64_t rows = s.batch * g.Do * g.Ho;
  const double row_flops = 2.0 * g.Wo * g.cm * g.KD * g.KH * g.KW;
  parallel_for(0, rows, grain_for(row_flops), [&](int64_t lo, int64_t hi) {
    InputRows inputs(s, x);
    AlignedBuffer<const float*> in(static_cast<size_t>(g.KD * g.KH)), wr(static_cast<size_t>(g.KD * g.KH));
    AlignedBuffer<int64_t> tap_rows(static_cast<size_t>(g.KD * g.KH));
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t n = row / (g.Do * g.Ho), od = (row / g.Ho) % g.Do, oh = row % g.Ho;
      const int64_t nrt = row_taps(s, g, inputs, n, od, oh, in.data(), tap_rows.data());
      for (int64_t i = 0; i < nrt; ++i) wr.data()[i] = w + tap_rows.data()[i] * g.KW * g.cm;
      dw_forward_row(s, in.data(), wr.data(), nrt, bias, act, alpha, y + row * g.Wo * g.cm,
                     next_input_row(s, g, x, row));
    }
  });
}

// dx row (W pixels x cm channels) from the dy rows of its valid row taps and their weight rows.
void dw_backward_data_row(const Shape& s, const float* const* dyr, const float* const* wr, int64_t nrt,
                          const float* bias, Activation act, float alpha, float* dxrow) {
  const int64_t W = s.in[2], Wo = s.out[2], KW = s.k[2];
  const int64_t sw = s.stride[2], dw = s.dilation[2], pw = s.pad[2], cm = s.cout;
  int64_t off[64], kw_of[64];
  AlignedBuffer<int64_t> big(static_cast<size_t>(KW > 64 ? 2 * KW : 0));
  int64_t* po = KW > 64 ? big.data() : off;
  int64_t* pk = KW > 64 ? big.data() + KW : kw_of;
  for (int64_t rw = 0; rw < min64(sw, W); ++rw) {
    int64_t nt = 0;
    // Taps in decreasing kw, i.e. increasing dy offset, which is what the 3-tap fast path takes.
    for (int64_t kw = KW - 1; kw >= 0; --kw) {
      const int64_t t = rw + pw - kw * dw;
      if (floor_div(t, sw) * sw != t) continue;
      po[nt] = floor_div(t, sw);
      pk[nt++] = kw;
    }
    const DwTaps taps{po, pk, nt};
    dw_gather_row(dyr, wr, nrt, taps, 1, Wo, cm, ceil_div(W - rw, sw), dxrow + rw * cm, sw * cm, bias, act, alpha);
  }
}

// One dx row: gathers the dy rows of its valid row taps (dyr, wr: scratch of KD * KH pointers;
// wide: scratch of W * cm floats when the multiplier is above 1).
void dw_dx_row(const Shape& s, const DwGeom& g, const float* dy, const float* w, const float* bias, Activation act,
               float alpha, int64_t row, const float** dyr, const float** wr, float* wide, float* dx) {
  const int64_t n = row / (g.D * g.H), id = (row / g.H) % g.D, ih = row % g.H;
  int64_t nrt = 0;
  for (int64_t kd = 0; kd < g.KD; ++kd) {
    const int64_t td = id + s.pad[0] - kd * s.dilation[0];
    if (floor_div(td, s.stride[0]) * s.stride[0] != td) continue;
    const int64_t od = floor_div(td, s.stride[0]);
    if (od < 0 || od >= g.Do) continue;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t th = ih + s.pad[1] - kh * s.dilation[1];
      if (floor_div(th, s.stride[1]) * s.stride[1] != th) continue;
      const int64_t oh = floor_div(th, s.stride[1]);
      if (oh < 0 || oh >= g.Ho) continue;
      dyr[nrt] = dy + ((n * g.Do + od) * g.Ho + oh) * g.Wo * g.cm;
      wr[nrt++] = w + (kd * g.KH + kh) * g.KW * g.cm;
    }
  }
  float* dxrow = dx + row * g.W * g.C;
  if (g.M == 1) {
    dw_backward_data_row(s, dyr, wr, nrt, bias, act, alpha, dxrow);
    return;
  }
  dw_backward_data_row(s, dyr, wr, nrt, nullptr, Activation::linear, 0.0f, wide);
  for (int64_t i = 0; i < g.W * g.C; ++i) {
    float acc = bias ? bias[i % g.C] : 0.0f;
    for (int64_t m = 0; m < g.M; ++m) acc += wide[i * g.M + m];
    dxrow[i] = acc;
  }
  act_apply(dxrow, g.W * g.C, act, alpha);
}

void dw_backward_data(const Shape& s, const float* dy, const float* w, const float* bias, Activation act,
                      float alpha, float* dx) {
  const DwGeom g(s);
  const int64_t rows = s.batch * g.D * g.H;
  const double row_flops = 2.0 * g.W * g.cm * g.KD * g.KH * g.KW / (s.stride[0] * s.stride[1] * s.stride[2]);
  parallel_for(0, rows, grain_for(row_flops), [&](int64_t lo, int64_t hi) {
    AlignedBuffer<const float*> dyr(static_cast<size_t>(g.KD * g.KH)), wr(static_cast<size_t>(g.KD * g.KH));
    AlignedBuffer<float> wide(static_cast<size_t>(g.M > 1 ? g.W * g.cm : 0));
    for (int64_t row = lo; row < hi; ++row) {
      dw_dx_row(s, g, dy, w, bias, act, alpha, row, dyr.data(), wr.data(), wide.data(), dx);
    }
  });
}

// Adds one output row's contribution to a partial weight gradient (and bias gradient).
void dw_backward_filter_row(const Shape& s, const float* const* in, const int64_t* tap_rows, int64_t nrt,
                            const float* dyrow, float* gw, float* gb) {
  const int64_t KW = s.k[2], cm = s.cout;
  for (int64_t i = 0; i < nrt; ++i) {
    dw_wgrad_row(in[i], dyrow, gw + tap_rows[i] * KW * cm, s.in[2], s.out[2], KW, s.stride[2], s.dilation[2],
                 s.pad[2], cm);
  }
  if (gb) add_row_sums(dyrow, s.out[2], cm, gb);
}

int64_t dw_partitions(const Shape& s) {
  const DwGeom g(s);
  const int64_t rows = s.batch * g.Do * g.Ho;
  const double flops = 2.0 * rows * g.Wo * g.cm * g.KD * g.KH * g.KW;
  return max64(1, min64(min64(static_cast<int64_t>(flops / kPartitionFlops), kMaxPartitions), rows));
}

namespace {

// Adds partial sums of partitions into the outputs, in partition order.
void reduce_partials(const float* partial, int64_t P, int64_t part_floats, int64_t kfloats, float* dkernel,
                     float* dbias) {
  parallel_for(0, part_floats, kCopyGrainFloats, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float acc = partial[i];
      for (int64_t p = 1; p < P; ++p) acc += partial[p * part_floats + i];
      if (i < kfloats) {
        dkernel[i] = acc;
      } else if (dbias) {
        dbias[i - kfloats] = acc;
      }
    }
  });
}

// The weight-gradient work of the output rows [lo, hi) of partition p, plus, when dx is given,
// the dx rows in [dx_lo, dx_hi) (interleaved so that each dy row is read from memory once).
struct DwBackwardScratch {
  AlignedBuffer<const float*> in, dyr, wr;
  AlignedBuffer<int64_t> tap_rows;
  AlignedBuffer<float> wide;
  explicit DwBackwardScratch(const DwGeom& g)
      : in(static_cast<size_t>(g.KD * g.KH)), dyr(static_cast<size_t>(g.KD * g.KH)), wr(static_cast<size_t>(g.KD * g.KH)),
        tap_rows(static_cast<size_t>(g.KD * g.KH)), wide(static_cast<size_t>(g.M > 1 ? g.W * g.cm : 0)) {}
};

}  // namespace

void dw_backward_filter(const Shape& s, const float* x, const float* dy, float* dkernel, float* dbias) {
  dw_backward(s, x, nullptr, dy, nullptr, dkernel, dbias);
}

void dw_backward(const Shape& s, const float* x, const float* w, const float* dy, float* dx, float* dkernel,
                 float* dbias) {
  const DwGeom g(s);
  const int64_t rows = s.batch * g.Do * g.Ho;
  const int64_t kfloats = g.KD * g.KH * g.KW * g.cm;
  const int64_t part_floats = kfloats + g.cm;
  const int64_t P = dw_partitions(s);
  // dx rows are attached to output rows when both are (n, h) rows (no depth dimension): output
  // row (n, oh) owns dx rows [n * H + oh * sh, the next output row's first); the last output
  // row of an image owns the rest of the image.
  const bool fused = dx != nullptr && g.D == 1 && g.Do == 1;
  auto dx_first = [&](int64_t r) {
    if (r >= rows) return s.batch * g.H;
    return (r / g.Ho) * g.H + min64(g.H, (r % g.Ho) * s.stride[1]);
  };
  AlignedBuffer<float> partial(static_cast<size_t>(P * part_floats));
  parallel_for(0, P, 1, [&](int64_t lo, int64_t hi) {
    InputRows inputs(s, x);
    DwBackwardScratch sc(g);
    for (int64_t p = lo; p < hi; ++p) {
      float* gw = partial.data() + p * part_floats;
      std::memset(gw, 0, sizeof(float) * part_floats);
      for (int64_t row = p * rows / P; row < (p + 1) * rows / P; ++row) {
        const int64_t n = row / (g.Do * g.Ho), od = (row / g.Ho) % g.Do, oh = row % g.Ho;
        const int64_t nrt = row_taps(s, g, inputs, n, od, oh, sc.in.data(), sc.tap_rows.data());
        dw_backward_filter_row(s, sc.in.data(), sc.tap_rows.data(), nrt, dy + row * g.Wo * g.cm, gw,
                               dbias ? gw + kfloats : nullptr);
        if (fused) {
          for (int64_t r = dx_first(row); r < dx_first(row + 1); ++r)
            dw_dx_row(s, g, dy, w, nullptr, Activation::linear, 0.0f, r, sc.dyr.data(), sc.wr.data(), sc.wide.data(), dx);
        }
      }
    }
  });
  reduce_partials(partial.data(), P, part_floats, kfloats, dkernel, dbias);
  if (dx && !fused) dw_backward_data(s, dy, w, nullptr, Activation::linear, 0.0f, dx);
}

}  // namespace pyk::conv::PYK_ISA_NS
