#pragma once
// Single-precision GEMM with a fused epilogue:
//   C = act(alpha * op(A) @ op(B) + beta * C + bias)
// Row-major. op(A) is m x k (A stored k x m when trans_a), op(B) is k x n (B stored n x k when
// trans_b); lda/ldb/ldc are row strides in elements. bias (may be null) holds n values added to
// every row; act is applied last. beta == 0 means C is write-only (its old contents, even NaN,
// are ignored), as in BLAS.
//
// Strided batches: with batch > 1 the same product is computed for matrices i = 0..batch-1 at
// a + i * stride_a, b + i * stride_b, c + i * stride_c (a stride of 0 shares one operand, e.g. the
// weights, across the batch); bias and the epilogue are the same for every matrix.
#include <cstdint>

#include "kernels/activation.h"
#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::gemm {

struct Problem {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  float* c = nullptr;
  int64_t ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
  const float* bias = nullptr;
  Activation act = Activation::linear;
  float act_alpha = 0.0f;  // leaky_relu slope, elu alpha
  // Run on the calling thread only (the caller already splits work over threads).
  bool single_thread = false;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between consecutive matrices
};

struct Table {
  void (*sgemm)(const Problem& p);
  // The full register tile alone, for benchmarks: C[mr x nr] (row stride ldc) = A @ B with A in
  // a k-major panel (element (r, kk) at a[kk * mr + r]) and B in a panel (element (kk, j) at
  // b[kk * nr + j]), as the packed path feeds it.
  void (*ukernel_tile)(int64_t k, const float* a, const float* b, float* c, int64_t ldc);
  int mr, nr;  // register tile of this path
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

// Same-ISA entry point for other kernel families (convolution calls GEMM directly).
namespace PYK_ISA_NS {
void sgemm(const Problem& p);
}

}  // namespace pyk::gemm
