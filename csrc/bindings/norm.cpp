// Bindings of the norm kernel family (csrc/kernels/norm).
#include "bindings/common.h"

namespace pyk::bind {
void bind_norm(py::module_& m) { (void)m; }
}  // namespace pyk::bind
