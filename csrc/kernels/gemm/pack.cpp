// Packing routines (layouts in pack.h). Row copies of A and panels of a row-major B are straight
// vector copies; panels of a transposed B are transposed in registers, one square block of
// vector width (16 x 16 AVX-512, 8 x 8 AVX2, 1 x 1 generic) at a time.
#include "kernels/gemm/pack.h"

#include <cstring>

#include "kernels/gemm/ukernel.h"
#include "simd/vec.h"

namespace pyk::gemm::PYK_ISA_NS {

namespace simd = pyk::simd::PYK_ISA_NS;

void pack_a_rows(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * ldd, a + r * lda, sizeof(float) * kc);
}

void pack_a_kmajor(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst) {
  for (int64_t p = 0; p < rows; p += kMR) {
    const int64_t mr = rows - p < kMR ? rows - p : kMR;
    float* panel = dst + (p / kMR) * kc * kMR;
    for (int64_t kk = 0; kk < kc; ++kk) {
      const float* src = a + kk * lda + p;
      float* out = panel + kk * kMR;
      for (int64_t r = 0; r < mr; ++r) out[r] = src[r];
      for (int64_t r = mr; r < kMR; ++r) out[r] = 0.0f;
    }
  }
}

namespace {

// One panel of a row-major B: kc rows of nr <= kNR floats, zero-padded to kNR.
void pack_b_panel_rows(const float* b, int64_t ldb, int64_t kc, int nr, float* out) {
  constexpr int W = simd::kWidth;
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* src = b + kk * ldb;
    float* o = out + kk * kNR;
    for (int v = 0; v < kNV; ++v) {
      const int lanes = nr - v * W;
      if (lanes >= W) {
        simd::store(o + v * W, simd::load(src + v * W));
      } else {
        simd::store(o + v * W, lanes > 0 ? simd::load_partial(src + v * W, lanes) : simd::zero());
      }
    }
  }
}

#if PYK_ISA_LEVEL == 2
// In-register transpose of a 16 x 16 block: r[i] holds row i on entry, column i on exit.
// Three rounds of shuffles: pairs of rows within 128-bit lanes (ps, then pd granularity), then
// 128-bit lanes across registers.
void transpose_block(simd::VecF* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i].v, r[2 * i + 1].v);
  }
  // u[4i + c], 128-bit lane L: rows 4i..4i+3 of column 4L + c.
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  // Column 4L + c gathers lane L of u[c], u[4 + c], u[8 + c], u[12 + c].
  for (int c = 0; c < 4; ++c) {
    const __m512 lo01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), lo23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 hi01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE), hi23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c].v = _mm512_shuffle_f32x4(lo01, lo23, 0x88);
    r[4 + c].v = _mm512_shuffle_f32x4(lo01, lo23, 0xDD);
    r[8 + c].v = _mm512_shuffle_f32x4(hi01, hi23, 0x88);
    r[12 + c].v = _mm512_shuffle_f32x4(hi01, hi23, 0xDD);
  }
}
#elif PYK_ISA_LEVEL == 1
// In-register transpose of an 8 x 8 block: r[i] holds row i on entry, column i on exit.
void transpose_block(simd::VecF* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i].v, r[2 * i + 1].v);
  }
  // u[4i + c], 128-bit lane L: rows 4i..4i+3 of column 4L + c.
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    r[c].v = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c].v = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}
#else
void transpose_block(simd::VecF*) {}  // one-float "vectors": a 1 x 1 block is its own transpose
#endif

// One panel of a transposed B: element (kk, j) from b[j * ldb + kk]. Square blocks of W rows of
// B^T (columns j) by W consecutive kk are loaded (masked past kc, zero past nr), transposed in
// registers and stored as W packed rows.
void pack_b_panel_trans(const float* b, int64_t ldb, int64_t kc, int nr, float* out) {
  constexpr int W = simd::kWidth;
  simd::VecF r[W];
  for (int64_t k0 = 0; k0 < kc; k0 += W) {
    const int kw = static_cast<int>(kc - k0 < W ? kc - k0 : W);
    for (int j0 = 0; j0 < kNR; j0 += W) {
      for (int i = 0; i < W; ++i) {
        const float* src = b + (j0 + i) * ldb + k0;
        if (j0 + i >= nr) {
          r[i] = simd::zero();
        } else {
          r[i] = kw == W ? simd::load(src) : simd::load_partial(src, kw);
        }
      }
      transpose_block(r);
      for (int i = 0; i < kw; ++i) simd::store(out + (k0 + i) * kNR + j0, r[i]);
    }
  }
}

}  // namespace

void pack_b(const float* b, int64_t ldb, bool trans, int64_t kc, int64_t nc, float* dst) {
  for (int64_t q = 0; q < nc; q += kNR) {
    const int nr = static_cast<int>(nc - q < kNR ? nc - q : kNR);
    float* panel = dst + (q / kNR) * kc * kNR;
    if (trans) {
      pack_b_panel_trans(b + q * ldb, ldb, kc, nr, panel);
    } else {
      pack_b_panel_rows(b + q, ldb, kc, nr, panel);
    }
  }
}

}  // namespace pyk::gemm::PYK_ISA_NS
