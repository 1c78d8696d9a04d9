// Dense N-d convolution, gradient with respect to the kernel (and the bias):
// dkernel[t, c, o] = sum over output pixels of x[pixel's input for tap t, c] * dy[pixel, o],
// dbias[o] = sum over output pixels of dy[pixel, o]. NDHWC data, Keras kernel layout.
//
// The reduction runs over every output pixel, so it is cut into a fixed number of partitions
// of output rows chosen from the shape alone (never from the thread count); each partition sums
// its rows into its own partial kernel in a fixed order and the partials are added in partition
// order at the end, which makes the result bitwise identical for any number of threads. When
// the kernel is large the partials would cost too much memory, so fewer partitions are used and
// the input channels are split into blocks instead (a block's entries are computed in full by
// one work item). Within a partition, for each output row and valid (kd, kh) tap row, the
// gradient rows (tap, c) of a kw run (all kw * cin of them when dilation is 1 and there is one
// group) are tiled R rows x one panel of output channels and accumulated over the row's pixels
// with wgrad_tile; input rows come from x directly or from a zero-padded per-thread copy as in
// the forward pass.
#include "kernels/conv/conv_common.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

namespace {

// Partition limits: at most kMaxPartitions partial kernels, each worth at least
// kPartitionFlops of work, together at most kMaxPartialFloats floats (64 MB).
constexpr int64_t kMaxPartitions = 8;
constexpr double kPartitionFlops = 4.0e6;
constexpr int64_t kMaxPartialFloats = int64_t{16} << 20;
// Aim for at least this many independent work items (partitions x channel blocks).
constexpr int64_t kMinItems = 8;
// A channel block holds at least this many input channels.
constexpr int64_t kMinBlockChannels = 16;
// Bytes of input and output-gradient pixels a reduction segment may span (2/3 of a 48 KB L1),
// and the shortest segment (below it the tile loads and stores of the gradient would dominate).
constexpr int64_t kWgradL1Bytes = 32 * 1024;
constexpr int64_t kMinWgradSegment = 32;

}  // namespace

void backward_filter(const Shape& s0, const float* x, const float* dy, float* dkernel, float* dbias) {
  if (is_depthwise(s0)) {
    dw_backward_filter(s0, x, dy, dkernel, dbias);
    return;
  }
  const Shape s = flatten_pointwise(s0);
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  const int64_t Do = s.out[0], Ho = s.out[1], Wo = s.out[2];
  const int64_t KD = s.k[0], KH = s.k[1], KW = s.k[2];
  const int64_t cin = s.cin, cout = s.cout, G = s.groups;
  const int64_t cig = cin / G, cog = cout / G;
  const int64_t taps = KD * KH * KW;
  const int64_t kfloats = taps * cig * cout;

  // Reduction units: row segments short enough that a segment's input pixels and one panel of
  // its output-gradient pixels stay in L1 while every tile of gradient rows sweeps them.
  const int64_t seg_len = max64(kMinWgradSegment, min64(kSegmentPixels, kWgradL1Bytes / (static_cast<int64_t>(sizeof(float)) *
                                                                       (s.stride[2] * cin + min64(cout, kMaxV * kWidth)))));
  const int64_t rows = s.batch * Do * Ho;
  const int64_t segs = ceil_div(Wo, seg_len);
  const int64_t units = rows * segs;
  const double total_flops = 2.0 * rows * Wo * taps * cig * cout;
  int64_t P = static_cast<int64_t>(total_flops / kPartitionFlops);
  P = max64(1, min64(min64(P, kMaxPartitions), units));
  P = max64(1, min64(P, kMaxPartialFloats / max64(kfloats, 1)));
  int64_t MB = 1;
  if (P < kMinItems) MB = max64(1, min64(ceil_div(kMinItems, P), cig / kMinBlockChannels));

  const int64_t npanels = num_panels(cog);
  AlignedBuffer<Panel> panels(static_cast<size_t>(npanels));
  plan_panels(cog, 0, panels.data());

  // Partial kernels (+ bias) per partition; with one partition the result is summed in place.
  const int64_t part_floats = kfloats + cout;
  AlignedBuffer<float> partial(static_cast<size_t>(P > 1 ? P * part_floats : 0));
  AlignedBuffer<float> bias_one(static_cast<size_t>(P > 1 ? 0 : cout));
  auto part_kernel = [&](int64_t p) { return P > 1 ? partial.data() + p * part_floats : dkernel; };
  auto part_bias = [&](int64_t p) { return P > 1 ? partial.data() + p * part_floats + kfloats : bias_one.data(); };

  const int64_t pl = s.pad[2];
  const int64_t pr = max64(0, (Wo - 1) * s.stride[2] + (KW - 1) * s.dilation[2] + 1 - pl - W);
  const bool direct = pl == 0 && pr == 0;
  const int64_t row_floats = (W + pl + pr) * cin;
  const int64_t span_d = min64((KD - 1) * s.dilation[0] + 1, D), span_h = min64((KH - 1) * s.dilation[1] + 1, H);
  const bool merged = s.dilation[2] == 1 && G == 1 && MB == 1;
  const int64_t a_ps = s.stride[2] * cin;

  parallel_for(0, P * MB, 1, [&](int64_t lo, int64_t hi) {
    RowCache cache;
    if (!direct) cache.init(span_d, span_h, row_floats);
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t p = item / MB, blk = item % MB;
      float* dk = part_kernel(p);
      float* db = part_bias(p);
      // Zero this item's entries: channels [c_lo, c_hi) of every tap and group.
      const int64_t c_lo = blk * cig / MB, c_hi = (blk + 1) * cig / MB;
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t c = c_lo; c < c_hi; ++c) std::memset(dk + (t * cig + c) * cout, 0, sizeof(float) * cout);
      if (blk == 0) std::memset(db, 0, sizeof(float) * cout);

      const int64_t u_lo = p * units / P, u_hi = (p + 1) * units / P;
      for (int64_t u = u_lo; u < u_hi; ++u) {
        const int64_t row = u / segs, seg = u % segs;
        const int64_t n = row / (Do * Ho), od = (row / Ho) % Do, oh = row % Ho;
        const int64_t ow0 = seg * seg_len, nq = min64(Wo, ow0 + seg_len) - ow0;
        const float* dyrow = dy + (row * Wo + ow0) * cout;
        if (blk == 0 && dbias) {
          for (int64_t q = 0; q < nq; ++q) {
            const float* d = dyrow + q * cout;
            for (int64_t o = 0; o < cout; o += kWidth) {
              const int m = static_cast<int>(min64(kWidth, cout - o));
              store_partial(db + o, load_partial(db + o, m) + load_partial(d + o, m), m);
            }
          }
        }
        for (int64_t kd = 0; kd < KD; ++kd) {
          const int64_t id = od * s.stride[0] - s.pad[0] + kd * s.dilation[0];
          if (id < 0 || id >= D) continue;
          for (int64_t kh = 0; kh < KH; ++kh) {
            const int64_t ih = oh * s.stride[1] - s.pad[1] + kh * s.dilation[1];
            if (ih < 0 || ih >= H) continue;
            const int64_t in_row = (n * D + id) * H + ih;
            const float* src = x + in_row * W * cin;
            if (!direct) src = cache.padded(id, ih, in_row, src, W, cin, pl, pr);
            src += ow0 * a_ps;
            const int64_t t0 = (kd * KH + kh) * KW;
            // Runs of gradient rows: (first A float, first kernel row, length).
            auto run = [&](const float* a, int64_t m0, int64_t len, int64_t g) {
              for (int64_t pi = 0; pi < npanels; ++pi) {
                const Panel& pn = panels.data()[pi];
                const int64_t o0 = g * cog + pn.off;
                for_tiles(len, max_r(pn.v), [&](int64_t start, int r) {
                  wgrad_fn(r, pn.v)(a + start, a_ps, dyrow + o0, cout, nq, dk + (m0 + start) * cout + o0, cout,
                                    pn.count);
                });
              }
            };
            if (merged) {
              run(src, t0 * cig, KW * cig, 0);
            } else {
              for (int64_t g = 0; g < G; ++g)
                for (int64_t kw = 0; kw < KW; ++kw)
                  run(src + kw * s.dilation[2] * cin + g * cig + c_lo, (t0 + kw) * cig + c_lo, c_hi - c_lo, g);
            }
          }
        }
      }
    }
  });

  if (P > 1) {
    // dkernel = partial_0 + partial_1 + ... in partition order, split over elements.
    parallel_for(0, part_floats, kCopyGrainFloats, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        if (i >= kfloats && !dbias) break;
        float acc = partial.data()[i];
        for (int64_t p = 1; p < P; ++p) acc += partial.data()[p * part_floats + i];
        if (i < kfloats) {
          dkernel[i] = acc;
        } else {
          dbias[i - kfloats] = acc;
        }
      }
    });
  } else if (dbias) {
    std::memcpy(dbias, bias_one.data(), sizeof(float) * cout);
  }
}

void backward(const Shape& s, const float* x, const float* w, const float* dy, float* dx, float* dkernel,
              float* dbias) {
  if (is_depthwise(s)) {
    dw_backward(s, x, w, dy, dx, dkernel, dbias);
    return;
  }
  if (dx) backward_data(s, dy, w, nullptr, Activation::linear, 0.0f, dx);
  backward_filter(s, x, dy, dkernel, dbias);
}

}  // namespace pyk::conv::PYK_ISA_NS
