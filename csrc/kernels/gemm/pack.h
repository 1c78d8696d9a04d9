#pragma once
// Packing of GEMM operands into the layouts the micro-kernels read (see ukernel.h).
#include <cstdint>

#include "runtime/isa_namespace.h"

namespace pyk::gemm::PYK_ISA_NS {

// Rows x kc block of a row-major A (element (r, kk) at a[r * lda + kk]) copied row by row to dst
// with row stride ldd. A plain copy: its only purpose is a contiguous block with a row stride
// that does not alias cache sets (see sgemm.cpp), read by the kernels in row layout.
void pack_a_rows(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst, int64_t ldd);

// Rows x kc block of a transposed A (element (r, kk) at a[kk * lda + r]) copied to k-major
// panels of kMR rows: panel p starts at dst + p * kc * kMR, element (r, kk) at [kk * kMR + r].
void pack_a_kmajor(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst);

// kc x nc block of op(B) copied to panels of kNR columns: panel q starts at dst + q * kc * kNR,
// element (kk, j) at [kk * kNR + j], columns past nc zero. B(kk, j) is b[kk * ldb + j], or
// b[j * ldb + kk] when trans.
void pack_b(const float* b, int64_t ldb, bool trans, int64_t kc, int64_t nc, float* dst);

}  // namespace pyk::gemm::PYK_ISA_NS
