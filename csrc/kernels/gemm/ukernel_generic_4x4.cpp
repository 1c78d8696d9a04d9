// Plain C++ micro-kernels for CPUs without AVX2: a 4 x 4 tile of scalar accumulators (16, as many
// as baseline x86-64 has vector registers), plus every smaller edge shape. Correctness first; the
// kernel body is ukernel_impl.h instantiated with one-float "vectors".
#include "kernels/gemm/ukernel_impl.h"

static_assert(PYK_ISA_LEVEL == 0, "generic kernels are built only for the generic path");

namespace pyk::gemm::PYK_ISA_NS {

static_assert(kMR == 4 && kNR == 4, "the generic tile is 4 x 4");

const KernelSet& kernels() {
  static const KernelSet set = make_kernel_set();
  return set;
}

}  // namespace pyk::gemm::PYK_ISA_NS
