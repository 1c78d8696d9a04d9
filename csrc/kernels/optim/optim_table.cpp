// This ISA's optimizer dispatch table.
#include "kernels/optim/optim_impl.h"

namespace pyk::optim {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {
    &isa::sgd_update,  &isa::rmsprop_update, &isa::adagrad_update, &isa::adadelta_update,
    &isa::adam_update, &isa::adamax_update,  &isa::nadam_update,   &isa::sum_squares,
    &isa::scale,       &isa::clip,
};
}  // namespace pyk::optim
