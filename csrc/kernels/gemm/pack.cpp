// Packing routines (layouts in pack.h). Row copies of A and panels of a row-major B are straight
// vector copies; panels of a transposed B are a transpose, done in blocks of kTransposeBlock
// columns of B^T so that both the reads (rows of B^T) and the writes (packed rows) stay within a
// few cache lines.
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

// Columns of B^T per transpose block: kTransposeBlock consecutive kk of each of the nr rows of
// B^T (one cache line of each) are written before moving on.
constexpr int64_t kTransposeBlock = 16;

// One panel of a transposed B: element (kk, j) from b[j * ldb + kk].
void pack_b_panel_trans(const float* b, int64_t ldb, int64_t kc, int nr, float* out) {
  for (int64_t k0 = 0; k0 < kc; k0 += kTransposeBlock) {
    const int64_t k1 = k0 + kTransposeBlock < kc ? k0 + kTransposeBlock : kc;
    for (int j = 0; j < nr; ++j) {
      const float* src = b + j * ldb;
      for (int64_t kk = k0; kk < k1; ++kk) out[kk * kNR + j] = src[kk];
    }
    for (int j = nr; j < kNR; ++j) {
      for (int64_t kk = k0; kk < k1; ++kk) out[kk * kNR + j] = 0.0f;
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
