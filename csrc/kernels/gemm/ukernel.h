#pragma once
// The micro-kernel contract shared by the GEMM driver (sgemm.cpp) and the per-ISA micro-kernels
// (ukernel_<isa>_<MR>x<NR>.cpp). A micro-kernel computes one register tile of C, at most MR rows by
// NR = NV vectors of columns, over a k-range:
//   acc[r][j] = sum_kk A(r, kk) * B(kk, j)        (one FMA per kk, in kk order)
//   C[r][j]   = epilogue(acc[r][j])                (see Epilogue)
// A(r, kk) is read at a[r * a_rs + kk * a_ks]: a row-major operand (or a row copy of it) has
// a_ks = 1, a transposed operand or a k-major packed panel has a_rs = 1. B(kk, j) is read at
// b[kk * b_ks + j]: a packed panel (b_ks = NR, zero-padded) or a row-major operand in place.
// Every element's sum is formed the same way whatever the tile shape, the operand layout or the
// thread that computes it, so results do not depend on packing decisions or thread counts.
#include <cstdint>

#include "kernels/activation.h"
#include "runtime/isa_namespace.h"

namespace pyk::gemm::PYK_ISA_NS {

// Register tile of this ISA: MR rows by NV vectors of kWidth floats.
//   AVX-512: 14 x 32 = 28 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers.
//   AVX2:     6 x 16 = 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers.
//   generic:  4 x  4 = 16 scalar accumulators (plain C++).
#if PYK_ISA_LEVEL == 2
constexpr int kMR = 14, kNV = 2, kVecWidth = 16;
#elif PYK_ISA_LEVEL == 1
constexpr int kMR = 6, kNV = 2, kVecWidth = 8;
#else
constexpr int kMR = 4, kNV = 4, kVecWidth = 1;
#endif
constexpr int kNR = kNV * kVecWidth;

// What happens to the finished sums of one k-range before they reach C:
//   v = alpha * acc + beta * C    (C is not read when beta == 0, so NaN there is ignored)
//   v += bias[j]                  (when bias is set)
//   C = act(v)
// The driver sets bias/act only for the last k-range, and beta = 1 for every k-range after the
// first, so C accumulates the partial products of consecutive k-ranges.
struct Epilogue {
  float alpha = 1.0f;
  float beta = 0.0f;
  const float* bias = nullptr;  // points at the tile's first column
  Activation act = Activation::linear;
  float act_alpha = 0.0f;  // the activation's alpha (kernels/activation.h)
};

struct Tile {
  int64_t k = 0;
  const float* a = nullptr;
  int64_t a_rs = 0, a_ks = 0;
  const float* b = nullptr;
  int64_t b_ks = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  // When set, the kernel prefetches the next A micro-panel (same layout, row stride a_next_rs)
  // while it computes: into L1 when A is read in place from memory (tall-skinny products), into
  // L2 (a_next_l2) when the next panel's rows are about to be packed, so the copy does not wait
  // on L3 or memory.
  const float* a_next = nullptr;
  int64_t a_next_rs = 0;
  bool a_next_l2 = false;
  int nr = 0;  // valid columns, (NV - 1) * kVecWidth < nr <= NV * kVecWidth for an NV-vector kernel
  Epilogue ep;
};

using KernelFn = void (*)(const Tile& t);

// Kernels by A layout, B masking, vector count and row count:
//   [a_row][mask_b][nv - 1][mr - 1]
// a_row:  1 when A is read with a_ks == 1 (row layout), 0 when a_rs == 1 (k-major layout).
// mask_b: 1 when B is read in place and the tile's last vector is partial (masked loads so no
//         byte past column n is touched); packed B is zero-padded and never needs it.
struct KernelSet {
  KernelFn fn[2][2][kNV][kMR];
};
const KernelSet& kernels();

// The activations a micro-kernel does not apply in registers itself (all but those of
// eltwise::visit_register_activation), applied to a finished tile of C while it is still in L1:
// rows x cols values at c with row stride ldc.
void apply_activation(float* c, int64_t ldc, int rows, int cols, Activation act, float act_alpha);

}  // namespace pyk::gemm::PYK_ISA_NS
