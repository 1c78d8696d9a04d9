// The foundation's plain kernels (same-shape add, relu, relu_backward) and this ISA's table of the
// elementwise family. Each kernel is a streaming loop of kWidth-float vectors with a masked tail,
// split over threads in chunks of kGrain elements: at ~12 GB/s per core a 32K-float chunk
// (128 KB in, 128 KB out) takes ~20 us, which is worth waking a thread for.
#include "kernels/eltwise/eltwise.h"

#include "runtime/threading.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

namespace {

constexpr int64_t kGrain = 32768;

// Applies op(i, width) over [lo, hi) with a masked final step.
template <class Op>
void map_range(int64_t lo, int64_t hi, Op op) {
  int64_t i = lo;
  for (; i + kWidth <= hi; i += kWidth) op(i, kWidth);
  if (i < hi) op(i, static_cast<int>(hi - i));
}

}  // namespace

void add(const float* a, const float* b, float* y, int64_t n) {
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    map_range(lo, hi, [=](int64_t i, int w) {
      store_partial(y + i, load_partial(a + i, w) + load_partial(b + i, w), w);
    });
  });
}

void relu(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    map_range(lo, hi, [=](int64_t i, int w) {
      const VecF v = load_partial(x + i, w);
      // select keeps NaN: relu(NaN) = NaN as in numpy's maximum.
      store_partial(y + i, select(cmp_lt(v, zero()), zero(), v), w);
    });
  });
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    map_range(lo, hi, [=](int64_t i, int w) {
      const VecF v = load_partial(x + i, w);
      store_partial(dx + i, select(cmp_gt(v, zero()), load_partial(dy + i, w), zero()), w);
    });
  });
}

}  // namespace pyk::eltwise::PYK_ISA_NS

namespace pyk::eltwise {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {
    &isa::unary,
    &isa::unary_backward,
    &isa::binary,
    &isa::binary_backward,
    &isa::broadcast,
    &isa::reduce,
    &isa::arg_reduce,
    &isa::reduce_backward,
    &isa::softmax,
    &isa::softmax_backward,
    &isa::softmax_xent,
    &isa::sparse_softmax_xent_i32,
    &isa::sparse_softmax_xent_i64,
    &isa::sigmoid_xent,
    &isa::add,
    &isa::relu,
    &isa::relu_backward,
};
}  // namespace pyk::eltwise
