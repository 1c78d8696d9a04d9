// This ISA's pooling dispatch table.
#include "kernels/pool/pool_impl.h"

namespace pyk::pool {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {
    &isa::max_forward,        &isa::avg_forward,        &isa::max_backward,        &isa::avg_backward,
    &isa::global_max_forward, &isa::global_avg_forward, &isa::global_max_backward, &isa::global_avg_backward,
};
}  // namespace pyk::pool
