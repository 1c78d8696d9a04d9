// Bindings of the optim kernel family (csrc/kernels/optim).
#include "bindings/common.h"

namespace pyk::bind {
void bind_optim(py::module_& m) { (void)m; }
}  // namespace pyk::bind
