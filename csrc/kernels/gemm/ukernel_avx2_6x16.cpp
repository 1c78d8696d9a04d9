// AVX2+FMA micro-kernels: register tile of 6 rows x 16 columns (two ymm vectors), plus every
// smaller edge shape (1..6 rows, 1 or 2 vectors). 12 accumulators, 2 B vectors and 1 broadcast
// use 15 of the 16 ymm registers; 12 independent FMA chains cover the FMA latency of two pipes.
// The kernel body is ukernel_impl.h.
#include "kernels/gemm/ukernel_impl.h"

static_assert(PYK_ISA_LEVEL == 1, "AVX2 kernels are built only for the AVX2 path");

namespace pyk::gemm::PYK_ISA_NS {

static_assert(kMR == 6 && kNR == 16, "the AVX2 tile is 6 x 16");

const KernelSet& kernels() {
  static const KernelSet set = make_kernel_set();
  return set;
}

}  // namespace pyk::gemm::PYK_ISA_NS
