// Dense N-d convolution, forward: y = act(conv(x, kernel) + bias), NDHWC data, Keras kernel
// (kd, kh, kw, cin/groups, cout), computed as an indirect GEMM with no im2col buffer.
//
// The kernel is first packed per group into panels of up to kMaxV channel vectors:
// packed[tap][c][panel lanes], zero-filled past the group's channels, so the micro-kernel reads
// B as one contiguous stream. Output rows (n, od, oh) are split over threads (rows longer than
// kSegmentPixels also into segments). For each output row the valid (kd, kh) taps name input
// rows; without padding along W the micro-kernel reads them in place, otherwise from a
// zero-padded copy in a per-thread row cache (copied once per input row per neighbourhood, a
// small cost next to the cout * kw multiply-adds each copied float feeds). With unit dilation
// and one group the kw * cin floats of a tap row are contiguous, so each row tap is a single
// run of the reduction. Each row is then covered by igemm tiles of R pixels x one panel, with
// bias and activation applied as the tile is stored.
#include "kernels/conv/conv_common.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

namespace {

// Packs the forward kernel of every group: block g at g * group_floats, panels inside it.
void pack_forward(const Shape& s, const float* w, const Panel* panels, int64_t npanels, int64_t group_floats,
                  float* packed) {
  const int64_t taps = s.k[0] * s.k[1] * s.k[2];
  const int64_t cig = s.cin / s.groups, cog = s.cout / s.groups;
  const int64_t rows = taps * cig;
  // Rows of one packed row each span about the group's channels rounded up to panels.
  const int64_t row_floats = max64(1, npanels * kMaxV * kWidth);
  parallel_for(0, s.groups * rows, max64(1, kCopyGrainFloats / row_floats), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t g = i / rows, row = i % rows;
      const float* src = w + row * s.cout + g * cog;
      for (int64_t p = 0; p < npanels; ++p) {
        const Panel& pn = panels[p];
        const int64_t width = pn.v * kWidth;
        float* dst = packed + g * group_floats + pn.packed + row * width;
        for (int64_t j = 0; j < width; ++j) dst[j] = j < pn.count ? src[pn.off + j] : 0.0f;
      }
    }
  });
}

}  // namespace

void forward(const Shape& s0, const float* x, const float* w, const float* bias, Activation act, float alpha,
             float* y) {
  if (is_depthwise(s0)) {
    dw_forward(s0, x, w, bias, act, alpha, y);
    return;
  }
  const Shape s = flatten_pointwise(s0);
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  const int64_t Do = s.out[0], Ho = s.out[1], Wo = s.out[2];
  const int64_t KD = s.k[0], KH = s.k[1], KW = s.k[2];
  const int64_t cin = s.cin, cout = s.cout, G = s.groups;
  const int64_t cig = cin / G, cog = cout / G;
  const int64_t taps = KD * KH * KW;

  AlignedBuffer<Panel> panels(static_cast<size_t>(num_panels(cog)));
  const int64_t npanels = num_panels(cog);
  const int64_t group_floats = plan_panels(cog, taps * cig, panels.data());
  AlignedBuffer<float> packed(static_cast<size_t>(G * group_floats));
  pack_forward(s, w, panels.data(), npanels, group_floats, packed.data());

  // Zero padding needed along W, before and after the data.
  const int64_t pl = s.pad[2];
  const int64_t pr = max64(0, (Wo - 1) * s.stride[2] + (KW - 1) * s.dilation[2] + 1 - pl - W);
  const bool direct = pl == 0 && pr == 0;
  const int64_t row_floats = (W + pl + pr) * cin;
  const int64_t span_d = min64((KD - 1) * s.dilation[0] + 1, D), span_h = min64((KH - 1) * s.dilation[1] + 1, H);
  const bool merged = s.dilation[2] == 1 && G == 1;

  const int64_t rows = s.batch * Do * Ho;
  const int64_t segs = ceil_div(Wo, kSegmentPixels);
  const double item_flops = 2.0 * min64(Wo, kSegmentPixels) * cout * taps * cig;

  parallel_for(0, rows * segs, grain_for(item_flops), [&](int64_t lo, int64_t hi) {
    RowCache cache;
    if (!direct) cache.init(span_d, span_h, row_floats);
    AlignedBuffer<Tap> tap_buf(static_cast<size_t>(taps));
    Tap* tl = tap_buf.data();
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t row = item / segs, seg = item % segs;
      const int64_t n = row / (Do * Ho), od = (row / Ho) % Do, oh = row % Ho;
      const int64_t ow_begin = seg * kSegmentPixels, ow_end = min64(Wo, ow_begin + kSegmentPixels);
      int64_t nt = 0;
      for (int64_t kd = 0; kd < KD; ++kd) {
        const int64_t id = od * s.stride[0] - s.pad[0] + kd * s.dilation[0];
        if (id < 0 || id >= D) continue;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * s.stride[1] - s.pad[1] + kh * s.dilation[1];
          if (ih < 0 || ih >= H) continue;
          const int64_t in_row = (n * D + id) * H + ih;
          const float* src = x + in_row * W * cin;
          if (!direct) src = cache.padded(id, ih, in_row, src, W, cin, pl, pr);
          const int64_t t0 = (kd * KH + kh) * KW;
          if (merged) {
            tl[nt++] = {src, t0 * cig, KW * cig};
          } else {
            for (int64_t kw = 0; kw < KW; ++kw) tl[nt++] = {src + kw * s.dilation[2] * cin, (t0 + kw) * cig, cig};
          }
        }
      }
      float* yrow = y + row * Wo * cout;
      for (int64_t g = 0; g < G; ++g) {
        for (int64_t p = 0; p < npanels; ++p) {
          const Panel& pn = panels.data()[p];
          const float* b = packed.data() + g * group_floats + pn.packed;
          const int64_t c0 = g * cog + pn.off;
          Epilogue e{bias ? bias + c0 : nullptr, act, alpha};
          const int rmax = max_r(pn.v);
          for_tiles(ow_end - ow_begin, rmax, [&](int64_t start, int r) {
            const int64_t ow = ow_begin + start;
            igemm_fn(r, pn.v)(tl, nt, ow * s.stride[2] * cin + g * cig, s.stride[2] * cin, b, yrow + ow * cout + c0,
                              cout, pn.count, e);
          });
        }
      }
    }
  });
}

}  // namespace pyk::conv::PYK_ISA_NS
