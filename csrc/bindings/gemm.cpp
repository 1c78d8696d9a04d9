// Bindings of the gemm kernel family (csrc/kernels/gemm).
#include "bindings/common.h"

namespace pyk::bind {
void bind_gemm(py::module_& m) { (void)m; }
}  // namespace pyk::bind
