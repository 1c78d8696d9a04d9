// Separable convolution: depthwise (Keras depthwise kernel (k..., cin, mult)) then pointwise
// (kernel (cm, pw_out), cm = cin * mult), one bias on the pointwise output, fused activation.
//
// Forward, per output row and thread: the depthwise row is computed into a per-thread buffer of
// Wo x cm floats, which stays in L1/L2, and the pointwise product reads it from there (igemm with
// a single tap), so the intermediate never makes a round trip through memory.
// Backward, over fixed partitions of output rows (deterministic, as for the dense weight
// gradient): each row recomputes its depthwise row m, forms dm = dy @ pointwise^T (igemm over
// the transposed packed pointwise kernel), and accumulates the three partial gradients
// (pointwise: m^T dy; bias: sum dy; depthwise: from the input rows and dm). dm is kept for the
// whole batch only when dx is wanted; dx is then the depthwise backward-data of dm.
#include "kernels/conv/dw_common.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

namespace {

// packed[panel][row][lanes] = w[row * ld + col_of(panel, lane)] (zero past the panel's channels),
// for `rows` rows and n columns; `transpose` reads w[col * ld + row] instead.
void pack_matrix(const float* w, int64_t rows, int64_t ld, bool transpose, const Panel* panels, int64_t npanels,
                 float* packed) {
  for (int64_t p = 0; p < npanels; ++p) {
    const Panel& pn = panels[p];
    const int64_t width = pn.v * kWidth;
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = packed + pn.packed + r * width;
      for (int64_t j = 0; j < width; ++j) {
        const int64_t col = pn.off + j;
        dst[j] = j < pn.count ? (transpose ? w[col * ld + r] : w[r * ld + col]) : 0.0f;
      }
    }
  }
}

// out (np pixels, pixel stride ldo) = act(a (np pixels of k floats, stride lda) @ packed + bias).
void pointwise_row(const float* a, int64_t lda, int64_t k, int64_t np, const Panel* panels, int64_t npanels,
                   const float* packed, const float* bias, Activation act, float alpha, float* out, int64_t ldo) {
  const Tap tap{a, 0, k};
  for (int64_t p = 0; p < npanels; ++p) {
    const Panel& pn = panels[p];
    const Epilogue e{bias ? bias + pn.off : nullptr, act, alpha};
    for_tiles(np, max_r(pn.v), [&](int64_t start, int r) {
      igemm_fn(r, pn.v)(&tap, 1, start * lda, lda, packed + pn.packed, out + start * ldo + pn.off, ldo, pn.count, e);
    });
  }
}

}  // namespace

void separable_forward(const Shape& s, int64_t pw_out, const float* x, const float* dw_kernel,
                       const float* pw_kernel, const float* bias, Activation act, float alpha, float* y) {
  const DwGeom g(s);
  const int64_t npanels = num_panels(pw_out);
  AlignedBuffer<Panel> panels(static_cast<size_t>(npanels));
  const int64_t pfloats = plan_panels(pw_out, g.cm, panels.data());
  AlignedBuffer<float> packed(static_cast<size_t>(pfloats));
  pack_matrix(pw_kernel, g.cm, pw_out, false, panels.data(), npanels, packed.data());

  const int64_t rows = s.batch * g.Do * g.Ho;
  const double row_flops = 2.0 * g.Wo * g.cm * (g.KD * g.KH * g.KW + pw_out);
  parallel_for(0, rows, grain_for(row_flops), [&](int64_t lo, int64_t hi) {
    InputRows inputs(s, x);
    AlignedBuffer<const float*> in(static_cast<size_t>(g.KD * g.KH)), wr(static_cast<size_t>(g.KD * g.KH));
    AlignedBuffer<int64_t> tap_rows(static_cast<size_t>(g.KD * g.KH));
    AlignedBuffer<float> mid(static_cast<size_t>(g.Wo * g.cm));
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t n = row / (g.Do * g.Ho), od = (row / g.Ho) % g.Do, oh = row % g.Ho;
      const int64_t nrt = row_taps(s, g, inputs, n, od, oh, in.data(), tap_rows.data());
      for (int64_t i = 0; i < nrt; ++i) wr.data()[i] = dw_kernel + tap_rows.data()[i] * g.KW * g.cm;
      dw_forward_row(s, in.data(), wr.data(), nrt, nullptr, Activation::linear, 0.0f, mid.data());
      pointwise_row(mid.data(), g.cm, g.cm, g.Wo, panels.data(), npanels, packed.data(), bias, act, alpha,
                    y + row * g.Wo * pw_out, pw_out);
    }
  });
}

void separable_backward(const Shape& s, int64_t pw_out, const float* x, const float* dw_kernel,
                        const float* pw_kernel, const float* dy, float* dx, float* d_dw, float* d_pw, float* db) {
  const DwGeom g(s);
  const int64_t cm = g.cm;
  // Transposed pointwise kernel, panels over the cm channels of dm.
  const int64_t npanels_t = num_panels(cm);
  AlignedBuffer<Panel> panels_t(static_cast<size_t>(npanels_t));
  const int64_t tfloats = plan_panels(cm, pw_out, panels_t.data());
  AlignedBuffer<float> packed_t(static_cast<size_t>(tfloats));
  pack_matrix(pw_kernel, pw_out, pw_out, true, panels_t.data(), npanels_t, packed_t.data());
  // Panels over the pointwise outputs for its weight gradient.
  const int64_t npanels = num_panels(pw_out);
  AlignedBuffer<Panel> panels(static_cast<size_t>(npanels));
  plan_panels(pw_out, 0, panels.data());

  const int64_t rows = s.batch * g.Do * g.Ho;
  const int64_t dw_floats = g.KD * g.KH * g.KW * cm, pw_floats = cm * pw_out;
  const int64_t part_floats = dw_floats + pw_floats + pw_out;
  const int64_t P = dw_partitions(s);
  AlignedBuffer<float> partial(static_cast<size_t>(P * part_floats));
  AlignedBuffer<float> dmid(static_cast<size_t>(dx ? rows * g.Wo * cm : 0));

  parallel_for(0, P, 1, [&](int64_t lo, int64_t hi) {
    InputRows inputs(s, x);
    AlignedBuffer<const float*> in(static_cast<size_t>(g.KD * g.KH)), wr(static_cast<size_t>(g.KD * g.KH));
    AlignedBuffer<int64_t> tap_rows(static_cast<size_t>(g.KD * g.KH));
    AlignedBuffer<float> mid(static_cast<size_t>(g.Wo * cm));
    AlignedBuffer<float> dm_row(static_cast<size_t>(dx ? 0 : g.Wo * cm));
    for (int64_t p = lo; p < hi; ++p) {
      float* gdw = partial.data() + p * part_floats;
      float* gpw = gdw + dw_floats;
      float* gb = gpw + pw_floats;
      std::memset(gdw, 0, sizeof(float) * part_floats);
      for (int64_t row = p * rows / P; row < (p + 1) * rows / P; ++row) {
        const int64_t n = row / (g.Do * g.Ho), od = (row / g.Ho) % g.Do, oh = row % g.Ho;
        const float* dyrow = dy + row * g.Wo * pw_out;
        const int64_t nrt = row_taps(s, g, inputs, n, od, oh, in.data(), tap_rows.data());
        for (int64_t i = 0; i < nrt; ++i) wr.data()[i] = dw_kernel + tap_rows.data()[i] * g.KW * cm;
        dw_forward_row(s, in.data(), wr.data(), nrt, nullptr, Activation::linear, 0.0f, mid.data());
        float* dm = dx ? dmid.data() + row * g.Wo * cm : dm_row.data();
        pointwise_row(dyrow, pw_out, pw_out, g.Wo, panels_t.data(), npanels_t, packed_t.data(), nullptr,
                      Activation::linear, 0.0f, dm, cm);
        // Pointwise weight gradient rows c = mid channels, columns = pointwise outputs.
        for (int64_t pi = 0; pi < npanels; ++pi) {
          const Panel& pn = panels.data()[pi];
          for_tiles(cm, max_r(pn.v), [&](int64_t start, int r) {
            wgrad_fn(r, pn.v)(mid.data() + start, cm, dyrow + pn.off, pw_out, g.Wo, gpw + start * pw_out + pn.off,
                              pw_out, pn.count);
          });
        }
        if (db) add_row_sums(dyrow, g.Wo, pw_out, gb);
        dw_backward_filter_row(s, in.data(), tap_rows.data(), nrt, dm, gdw, nullptr);
      }
    }
  });

  parallel_for(0, part_floats, kCopyGrainFloats, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float acc = partial.data()[i];
      for (int64_t p = 1; p < P; ++p) acc += partial.data()[p * part_floats + i];
      if (i < dw_floats) {
        d_dw[i] = acc;
      } else if (i < dw_floats + pw_floats) {
        d_pw[i - dw_floats] = acc;
      } else if (db) {
        db[i - dw_floats - pw_floats] = acc;
      }
    }
  });

  if (dx) dw_backward_data(s, dmid.data(), dw_kernel, nullptr, Activation::linear, 0.0f, dx);
}

}  // namespace pyk::conv::PYK_ISA_NS
