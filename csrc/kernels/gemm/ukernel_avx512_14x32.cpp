// AVX-512 micro-kernels: register tile of 14 rows x 32 columns (two zmm vectors), plus every
// smaller edge shape (1..14 rows, 1 or 2 vectors). 28 accumulators, 2 B vectors and 1 broadcast
// use 31 of the 32 zmm registers; per kk step 2 loads + 14 broadcasts feed 28 FMAs, so the two
// FMA pipes stay busy with loads to spare, and 14 independent chains per vector cover the FMA
// latency (4 cycles x 2 pipes). The kernel body is ukernel_impl.h.
#include "kernels/gemm/ukernel_impl.h"

static_assert(PYK_ISA_LEVEL == 2, "AVX-512 kernels are built only for the AVX-512 path");

namespace pyk::gemm::PYK_ISA_NS {

static_assert(kMR == 14 && kNR == 32, "the AVX-512 tile is 14 x 32");

const KernelSet& kernels() {
  static const KernelSet set = make_kernel_set();
  return set;
}

}  // namespace pyk::gemm::PYK_ISA_NS
