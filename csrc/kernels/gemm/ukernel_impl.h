#pragma once
// The register-tile micro-kernel, written once against simd/vec.h and instantiated by each ISA's
// ukernel_<isa>_<MR>x<NR>.cpp for every edge shape (MR' <= MR rows, NV' <= NV vectors).
//
// Per kk step: NV vector loads of B, then for each of the MR rows one broadcast of A(r, kk)
// followed by NV FMAs into that row's accumulators. The row count is a template parameter, so an
// edge tile with fewer rows never reads A or writes C past its last row; a partial last column
// vector is handled with masked loads (B read in place) and masked stores (C). The epilogue runs
// on the accumulators before the single store of the tile (see ukernel.h for its formula); an
// activation outside the relu family is applied to the stored tile (apply_activation).
#include "kernels/eltwise/activation_ops.h"
#include "kernels/gemm/ukernel.h"
#include "simd/vec.h"

namespace pyk::gemm::PYK_ISA_NS {

namespace simd = pyk::simd::PYK_ISA_NS;

// acc[r][v] = f(acc[r][v]) over a whole register tile.
template <int MR, int NV, class F>
inline void apply_all(simd::VecF (&acc)[MR][NV], F f) {
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = f(acc[r][v]);
}

template <int MR, int NV, bool kARow, bool kMaskB>
void ukernel(const Tile& t) {
  using simd::VecF;
  constexpr int W = simd::kWidth;
  VecF acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = simd::zero();

  // Ask for the C tile's lines now (for writing), so the stores at the end do not wait on them.
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    __builtin_prefetch(t.c + r * t.ldc, 1, 3);
    if (NV * W > 16) __builtin_prefetch(t.c + r * t.ldc + NV * W - 1, 1, 3);
  }

  const int last_lanes = t.nr - (NV - 1) * W;  // valid lanes of the last vector, 1..W
  const float* a = t.a;
  const float* b = t.b;
  const int64_t a_rs = t.a_rs, a_ks = t.a_ks, b_ks = t.b_ks;
  const float* a_next = t.a_next;
  for (int64_t kk = 0; kk < t.k; ++kk) {
    VecF bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      bv[v] = (kMaskB && v == NV - 1) ? simd::load_partial(b + v * W, last_lanes) : simd::load(b + v * W);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const VecF ar = simd::set1(kARow ? a[r * a_rs] : a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = simd::fmadd(ar, bv[v], acc[r][v]);
    }
    if (a_next) {
      // One line of the next A micro-panel per step: in row layout row kk % 16 at this column
      // (a line holds 16 floats, so every row's line is requested once per 16 steps); in k-major
      // layout the line of this kk.
      const int64_t r = kARow ? (kk & 15) : 0;
      if (r < MR) {
        const float* line = a_next + r * t.a_next_rs + kk * (kARow ? 1 : a_ks);
        if (t.a_next_l2) {
          __builtin_prefetch(line, 0, 2);
        } else {
          __builtin_prefetch(line, 0, 3);
        }
      }
    }
    a += kARow ? 1 : a_ks;
    b += b_ks;
  }

  // Epilogue on the register tile.
  const Epilogue& e = t.ep;
  const bool partial = last_lanes != W;
  const VecF alpha = simd::set1(e.alpha), beta = simd::set1(e.beta);
  VecF bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    if (e.bias) {
      bias[v] = (partial && v == NV - 1) ? simd::load_partial(e.bias + v * W, last_lanes) : simd::load(e.bias + v * W);
    } else {
      bias[v] = simd::zero();
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const float* cr = t.c + r * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      VecF x = acc[r][v] * alpha;
      if (e.beta != 0.0f) {
        const bool part = partial && v == NV - 1;
        const VecF old = part ? simd::load_partial(cr + v * W, last_lanes) : simd::load(cr + v * W);
        x = simd::fmadd(beta, old, x);
      }
      acc[r][v] = x + bias[v];
    }
  }
  // The relu family in registers; any other activation on the stored tile (apply_activation).
  const bool in_registers = eltwise::PYK_ISA_NS::visit_register_activation(
      e.act, e.act_alpha, [&](const auto& op) { apply_all(acc, [&](VecF x) { return op.fwd(x); }); });
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* cr = t.c + r * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (partial && v == NV - 1) {
        simd::store_partial(cr + v * W, acc[r][v], last_lanes);
      } else {
        simd::store(cr + v * W, acc[r][v]);
      }
    }
  }
  if (!in_registers) apply_activation(t.c, t.ldc, MR, t.nr, e.act, e.act_alpha);
}

// Fills set.fn[*][*][NV - 1][MR - 1] for every MR' in 1..MR.
template <int NV, int MR>
void fill_rows(KernelSet& set) {
  if constexpr (MR > 0) {
    set.fn[0][0][NV - 1][MR - 1] = &ukernel<MR, NV, false, false>;
    set.fn[0][1][NV - 1][MR - 1] = &ukernel<MR, NV, false, true>;
    set.fn[1][0][NV - 1][MR - 1] = &ukernel<MR, NV, true, false>;
    set.fn[1][1][NV - 1][MR - 1] = &ukernel<MR, NV, true, true>;
    fill_rows<NV, MR - 1>(set);
  }
}

template <int NV>
void fill_all(KernelSet& set) {
  if constexpr (NV > 0) {
    fill_rows<NV, kMR>(set);
    fill_all<NV - 1>(set);
  }
}

inline KernelSet make_kernel_set() {
  KernelSet set{};
  fill_all<kNV>(set);
  return set;
}

}  // namespace pyk::gemm::PYK_ISA_NS
