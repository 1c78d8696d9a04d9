// The foundation's plain kernels (same-shape add, relu, relu_backward) and this ISA's table of the
// elementwise family. Each kernel is a streaming loop (stream.h: aligned stores, masked ends),
// split over threads in chunks of kGrain elements: at ~12 GB/s per core a 32K-float chunk
// (128 KB in, 128 KB out) takes ~20 us, which is worth waking a thread for.
#include "kernels/eltwise/eltwise.h"
#include "kernels/eltwise/stream.h"

#include "runtime/threading.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

namespace {
constexpr int64_t kGrain = 32768;
}  // namespace

void add(const float* a, const float* b, float* y, int64_t n) {
  const bool stream = stream_output(n);
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    const float* const as = a;
    const float* const bs = b;
    map_store(y, lo, hi, stream, [&](int64_t i, int w) { return load_n(as + i, w) + load_n(bs + i, w); });
  });
}

void relu(const float* x, float* y, int64_t n) {
  const bool stream = stream_output(n);
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    const float* const xs = x;
    map_store(y, lo, hi, stream, [&](int64_t i, int w) {
      const VecF v = load_n(xs + i, w);
      // select keeps NaN: relu(NaN) = NaN as in numpy's maximum.
      return select(cmp_lt(v, zero()), zero(), v);
    });
  });
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  const bool stream = stream_output(n);
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    const float* const xs = x;
    const float* const dys = dy;
    map_store(dx, lo, hi, stream, [&](int64_t i, int w) {
      return select(cmp_gt(load_n(xs + i, w), zero()), load_n(dys + i, w), zero());
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
