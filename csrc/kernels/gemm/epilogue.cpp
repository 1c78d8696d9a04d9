// The GEMM epilogue's activations that are not applied in registers: every code but those of
// visit_register_activation (linear, relu, relu6, leaky_relu), which the micro-kernels apply to
// their accumulators themselves. A micro-kernel stores its finished tile and calls
// apply_activation on it right away, while the at most 14 x 32 floats are still in L1. The
// activations are the elementwise family's (kernels/eltwise/activation_ops.h), so a fused
// activation gives what the same activation applied on its own gives. Kept out of line: one copy
// of the per-activation loops serves every micro-kernel instantiation.
#include "kernels/eltwise/activation_ops.h"
#include "kernels/gemm/ukernel.h"

namespace pyk::gemm::PYK_ISA_NS {

void apply_activation(float* c, int64_t ldc, int rows, int cols, Activation act, float act_alpha) {
  eltwise::PYK_ISA_NS::activation_rows(act, eltwise::PYK_ISA_NS::fused_params(act_alpha), c, ldc, rows, cols);
}

}  // namespace pyk::gemm::PYK_ISA_NS
