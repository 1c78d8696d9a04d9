// Bindings of the pool kernel family (csrc/kernels/pool).
#include "bindings/common.h"

namespace pyk::bind {
void bind_pool(py::module_& m) { (void)m; }
}  // namespace pyk::bind
