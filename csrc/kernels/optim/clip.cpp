// Gradient-clipping helpers over a list of arrays: per-array sums of squares (for global and
// per-tensor norms), in-place scaling and clipping by value.
//
// Sums of squares must not depend on the thread count, so each array is cut into blocks of
// kNormBlock elements (a partition that depends only on the sizes); threads take whole blocks,
// a block widens its values to double and sums their squares in double vector lanes, and the
// block results are added per array in block order. Scaling and clipping are elementwise
// loops over the list's flat index space (optim_impl.h).

// GCC 12 reports a false -Wmaybe-uninitialized inside some AVX-512 intrinsics (their
// pass-through operand is deliberately undefined); the warning is not about this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <algorithm>

#include "kernels/norm/double_sum.h"
#include "kernels/optim/optim_impl.h"
#include "runtime/aligned.h"

namespace pyk::optim::PYK_ISA_NS {
namespace {

using namespace pyk::simd::PYK_ISA_NS;
using pyk::norm::PYK_ISA_NS::SquareSum;
using pyk::PYK_ISA_NS::AlignedBuffer;

constexpr int64_t kNormBlock = 16384;

double block_sum_squares(const float* p, int64_t n) {
  SquareSum acc;
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) acc.add(load(p + i));
  if (i < n) acc.add(load_partial(p + i, static_cast<int>(n - i)));
  return acc.total();
}

void scale_segment(float* p, int64_t n, float factor) {
  const VecF f = set1(factor);
  for_vectors(n, [&](int64_t i, auto t) { t.store(p + i, 0, t.load(p + i, 0) * f); });
}

void clip_segment(float* p, int64_t n, float lo, float hi) {
  const VecF vlo = set1(lo), vhi = set1(hi);
  // max/min return their second operand when either is NaN, so NaN elements stay NaN.
  for_vectors(n, [&](int64_t i, auto t) { t.store(p + i, 0, min(vhi, max(vlo, t.load(p + i, 0)))); });
}

}  // namespace

void sum_squares(const ArrayList& a, double* out) {
  const int64_t count = a.count;
  AlignedBuffer<int64_t> first(static_cast<size_t>(count + 1));
  int64_t* f = first.data();
  f[0] = 0;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t size = a.offset[t + 1] - a.offset[t];
    f[t + 1] = f[t] + (size + kNormBlock - 1) / kNormBlock;
  }
  const int64_t blocks = f[count];
  AlignedBuffer<double> part(static_cast<size_t>(std::max<int64_t>(1, blocks)));
  double* partial = part.data();
  float* const* data = a.data;
  const int64_t* offset = a.offset;
  parallel_for(0, blocks, 1, [=](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t t = std::upper_bound(f, f + count + 1, b) - f - 1;
      const int64_t begin = (b - f[t]) * kNormBlock;
      const int64_t n = std::min(kNormBlock, offset[t + 1] - offset[t] - begin);
      partial[b] = block_sum_squares(data[t] + begin, n);
    }
  });
  for (int64_t t = 0; t < count; ++t) {
    double s = 0.0;
    for (int64_t b = f[t]; b < f[t + 1]; ++b) s += partial[b];
    out[t] = s;
  }
}

void scale(const ArrayList& a, const float* factor) {
  for_segments(a, [&](int64_t t, int64_t b, int64_t n) { scale_segment(a.data[t] + b, n, factor[t]); });
}

void clip(const ArrayList& a, float lo, float hi) {
  for_segments(a, [&](int64_t t, int64_t b, int64_t n) { clip_segment(a.data[t] + b, n, lo, hi); });
}

}  // namespace pyk::optim::PYK_ISA_NS
