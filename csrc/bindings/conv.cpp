// Bindings of the conv kernel family (csrc/kernels/conv).
#include "bindings/common.h"

namespace pyk::bind {
void bind_conv(py::module_& m) { (void)m; }
}  // namespace pyk::bind
