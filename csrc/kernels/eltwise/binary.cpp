// Binary operations with numpy broadcasting, their elementwise backward, and broadcast copies.
//
// Layout: the output is contiguous in the broadcast shape; the bindings collapse the shapes into
// ndim <= kMaxDims dimensions where adjacent dimensions are merged whenever both operands are
// either full or broadcast along both, so a same-shape op is one dimension, a bias add is two
// (rows x columns), and only truly interleaved patterns need more. Each operand has an element
// stride per dimension, 0 where it is broadcast.
//
// Threads split the flat output range into chunks of kGrain elements. A chunk starts at any point
// of a row: it decomposes its first index into a multi-index once, then walks row segments of the
// innermost dimension, advancing the operand offsets like an odometer. Each segment is one of
// three vector loops (both operands contiguous, a scalar on one side), so broadcasting costs
// nothing inside a row. Every output element is computed independently: results do not depend on
// the partition.
#include <cmath>

#include "kernels/eltwise/eltwise.h"
#include "kernels/eltwise/stream.h"
#include "runtime/threading.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

namespace {

constexpr int64_t kGrain = 32768;      // elements per chunk (memory-bound: ~20 us per chunk)
constexpr int64_t kGrainLibm = 4096;   // power: one libm call per element

// Lane-wise scalar function of two vectors (libm pow).
template <class F>
inline VecF lanes2(VecF a, VecF b, F f) {
  alignas(64) float ba[kWidth], bb[kWidth];
  store(ba, a);
  store(bb, b);
  for (int i = 0; i < kWidth; ++i) ba[i] = f(ba[i], bb[i]);
  return load(ba);
}

// ------------------------------------------------------------------------- forward functors

struct Add { VecF operator()(VecF a, VecF b) const { return a + b; } };
struct Sub { VecF operator()(VecF a, VecF b) const { return a - b; } };
struct Mul { VecF operator()(VecF a, VecF b) const { return a * b; } };
struct Div { VecF operator()(VecF a, VecF b) const { return a / b; } };
// NaN-propagating, as numpy's maximum/minimum (x86 max returns the second operand on NaN).
struct Max { VecF operator()(VecF a, VecF b) const { return select(is_nan(a), a, max(a, b)); } };
struct Min { VecF operator()(VecF a, VecF b) const { return select(is_nan(a), a, min(a, b)); } };
struct Pow {
  VecF operator()(VecF a, VecF b) const { return lanes2(a, b, [](float x, float y) { return std::pow(x, y); }); }
};
struct Prelu { VecF operator()(VecF a, VecF b) const { return select(cmp_gt(a, zero()), a, a * b); } };

struct Eq { MaskF operator()(VecF a, VecF b) const { return cmp_eq(a, b); } };
struct Ne { MaskF operator()(VecF a, VecF b) const { return cmp_neq(a, b); } };
struct Lt { MaskF operator()(VecF a, VecF b) const { return cmp_lt(a, b); } };
struct Le { MaskF operator()(VecF a, VecF b) const { return cmp_le(a, b); } };
struct Gt { MaskF operator()(VecF a, VecF b) const { return cmp_gt(a, b); } };
struct Ge { MaskF operator()(VecF a, VecF b) const { return cmp_ge(a, b); } };

// out[0..n) = f(a[i * sa], b[i * sb]) for strides sa, sb in {0, 1} (never both 0 for n > 1).
// Float results go through map_store (aligned, streamed when huge); masks are written as bytes.
template <class F>
void segment(const F& f, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n, bool stream) {
  if (sa != 0 && sb != 0) {
    map_store(out, 0, n, stream, [&](int64_t i, int w) { return f(load_n(a + i, w), load_n(b + i, w)); });
  } else if (sb == 0) {
    const VecF vb = set1(*b);
    if (sa != 0) map_store(out, 0, n, stream, [&](int64_t i, int w) { return f(load_n(a + i, w), vb); });
    else map_store(out, 0, n, stream, [&](int64_t, int) { return f(set1(*a), vb); });
  } else {
    const VecF va = set1(*a);
    map_store(out, 0, n, stream, [&](int64_t i, int w) { return f(va, load_n(b + i, w)); });
  }
}

template <class F>
void segment(const F& f, const float* a, int64_t sa, const float* b, int64_t sb, uint8_t* out, int64_t n, bool) {
  for (int64_t i = 0; i < n; i += kWidth) {
    const int w = static_cast<int>(std::min<int64_t>(kWidth, n - i));
    const VecF va = sa ? load_partial(a + i, w) : set1(*a);
    const VecF vb = sb ? load_partial(b + i, w) : set1(*b);
    store_mask_u8(out + i, f(va, vb), w);
  }
}

int64_t total_size(const Broadcast& bc) {
  int64_t n = 1;
  for (int d = 0; d < bc.ndim; ++d) n *= bc.shape[d];
  return n;
}

// Walks the output range [lo, hi) of bc row segment by row segment, calling
// seg(offset_a, offset_b, out_pos, col, len) with the operand offsets of the segment start.
template <class Seg>
void walk(const Broadcast& bc, int64_t lo, int64_t hi, Seg seg) {
  const int nd = bc.ndim;
  const int64_t inner = bc.shape[nd - 1];
  int64_t idx[kMaxDims];
  int64_t row = lo / inner, col = lo % inner;
  int64_t off_a = 0, off_b = 0;
  for (int d = nd - 2; d >= 0; --d) {
    idx[d] = row % bc.shape[d];
    row /= bc.shape[d];
    off_a += idx[d] * bc.stride_a[d];
    off_b += idx[d] * bc.stride_b[d];
  }
  int64_t pos = lo;
  while (pos < hi) {
    const int64_t len = std::min(inner - col, hi - pos);
    seg(off_a + col * bc.stride_a[nd - 1], off_b + col * bc.stride_b[nd - 1], pos, len);
    pos += len;
    col = 0;
    for (int d = nd - 2; d >= 0; --d) {  // odometer step over the outer dimensions
      off_a += bc.stride_a[d];
      off_b += bc.stride_b[d];
      if (++idx[d] < bc.shape[d]) break;
      off_a -= bc.shape[d] * bc.stride_a[d];
      off_b -= bc.shape[d] * bc.stride_b[d];
      idx[d] = 0;
    }
  }
}

template <class F, class Out>
void run_binary(const F& f, const Broadcast& bc, const float* a, const float* b, Out* out, int64_t grain) {
  const int64_t sa = bc.stride_a[bc.ndim - 1], sb = bc.stride_b[bc.ndim - 1];
  const int64_t n = total_size(bc);
  const bool stream = stream_output(n);
  parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
    const F fl = f;
    const float* const as = a;
    const float* const bs = b;
    Out* const os = out;
    walk(bc, lo, hi, [&](int64_t oa, int64_t ob, int64_t pos, int64_t len) {
      segment(fl, as + oa, sa, bs + ob, sb, os + pos, len, stream);
    });
  });
}

// ------------------------------------------------------------------------- backward

// Per element: ga = dy * df/da, gb = dy * df/db.
struct Grads {
  VecF ga, gb;
};

template <BinaryOp kOp>
inline Grads grads(VecF a, VecF b, VecF dy) {
  const VecF half = set1(0.5f);
  if constexpr (kOp == BinaryOp::add) return {dy, dy};
  if constexpr (kOp == BinaryOp::subtract) return {dy, -dy};
  if constexpr (kOp == BinaryOp::multiply) return {dy * b, dy * a};
  if constexpr (kOp == BinaryOp::divide) {
    const VecF ga = dy / b;
    return {ga, -(ga * (a / b))};  // -dy a / b^2 without forming b^2
  }
  if constexpr (kOp == BinaryOp::maximum || kOp == BinaryOp::minimum) {
    // The larger (smaller) operand takes the gradient; ties split it in halves, as JAX does.
    const MaskF a_wins = kOp == BinaryOp::maximum ? cmp_gt(a, b) : cmp_lt(a, b);
    const MaskF b_wins = kOp == BinaryOp::maximum ? cmp_lt(a, b) : cmp_gt(a, b);
    const MaskF tie = cmp_eq(a, b);
    const VecF split = dy * half;
    return {select(a_wins, dy, select(tie, split, zero())), select(b_wins, dy, select(tie, split, zero()))};
  }
  if constexpr (kOp == BinaryOp::power) {
    // d/da = b a^(b-1) (0 when b == 0); d/db = a^b log(a) (0 when a == 0, as JAX).
    const VecF da = lanes2(a, b, [](float x, float y) { return y == 0.0f ? 0.0f : y * std::pow(x, y - 1.0f); });
    const VecF db = lanes2(a, b, [](float x, float y) { return x == 0.0f ? 0.0f : std::pow(x, y) * std::log(x); });
    return {dy * da, dy * db};
  }
  // prelu: a > 0 ? a : b a
  const MaskF pos = cmp_gt(a, zero());
  return {select(pos, dy, dy * b), select(pos, zero(), dy * a)};
}

template <BinaryOp kOp>
void run_backward(const Broadcast& bc, const float* a, const float* b, const float* dy, float* ga, float* gb) {
  const int64_t sa = bc.stride_a[bc.ndim - 1], sb = bc.stride_b[bc.ndim - 1];
  const int64_t grain = kOp == BinaryOp::power ? kGrainLibm : kGrain;
  parallel_for(0, total_size(bc), grain, [&](int64_t lo, int64_t hi) {
    walk(bc, lo, hi, [&](int64_t oa, int64_t ob, int64_t pos, int64_t len) {
      const float* pa = a + oa;
      const float* pb = b + ob;
      for (int64_t i = 0; i < len; i += kWidth) {
        const int w = static_cast<int>(std::min<int64_t>(kWidth, len - i));
        const VecF va = sa ? load_partial(pa + i, w) : set1(*pa);
        const VecF vb = sb ? load_partial(pb + i, w) : set1(*pb);
        const Grads g = grads<kOp>(va, vb, load_partial(dy + pos + i, w));
        if (ga) store_partial(ga + pos + i, g.ga, w);
        if (gb) store_partial(gb + pos + i, g.gb, w);
      }
    });
  });
}

}  // namespace

void binary(BinaryOp op, const Broadcast& bc, const float* a, const float* b, void* out) {
  float* y = static_cast<float*>(out);
  uint8_t* m = static_cast<uint8_t*>(out);
  switch (op) {
    case BinaryOp::add: return run_binary(Add{}, bc, a, b, y, kGrain);
    case BinaryOp::subtract: return run_binary(Sub{}, bc, a, b, y, kGrain);
    case BinaryOp::multiply: return run_binary(Mul{}, bc, a, b, y, kGrain);
    case BinaryOp::divide: return run_binary(Div{}, bc, a, b, y, kGrain);
    case BinaryOp::maximum: return run_binary(Max{}, bc, a, b, y, kGrain);
    case BinaryOp::minimum: return run_binary(Min{}, bc, a, b, y, kGrain);
    case BinaryOp::power: return run_binary(Pow{}, bc, a, b, y, kGrainLibm);
    case BinaryOp::prelu: return run_binary(Prelu{}, bc, a, b, y, kGrain);
    case BinaryOp::equal: return run_binary(Eq{}, bc, a, b, m, kGrain);
    case BinaryOp::not_equal: return run_binary(Ne{}, bc, a, b, m, kGrain);
    case BinaryOp::less: return run_binary(Lt{}, bc, a, b, m, kGrain);
    case BinaryOp::less_equal: return run_binary(Le{}, bc, a, b, m, kGrain);
    case BinaryOp::greater: return run_binary(Gt{}, bc, a, b, m, kGrain);
    case BinaryOp::greater_equal: return run_binary(Ge{}, bc, a, b, m, kGrain);
    default: return;
  }
}

void binary_backward(BinaryOp op, const Broadcast& bc, const float* a, const float* b, const float* dy, float* ga,
                     float* gb) {
  switch (op) {
    case BinaryOp::add: return run_backward<BinaryOp::add>(bc, a, b, dy, ga, gb);
    case BinaryOp::subtract: return run_backward<BinaryOp::subtract>(bc, a, b, dy, ga, gb);
    case BinaryOp::multiply: return run_backward<BinaryOp::multiply>(bc, a, b, dy, ga, gb);
    case BinaryOp::divide: return run_backward<BinaryOp::divide>(bc, a, b, dy, ga, gb);
    case BinaryOp::maximum: return run_backward<BinaryOp::maximum>(bc, a, b, dy, ga, gb);
    case BinaryOp::minimum: return run_backward<BinaryOp::minimum>(bc, a, b, dy, ga, gb);
    case BinaryOp::power: return run_backward<BinaryOp::power>(bc, a, b, dy, ga, gb);
    case BinaryOp::prelu: return run_backward<BinaryOp::prelu>(bc, a, b, dy, ga, gb);
    default: return;  // comparisons have no gradient (the binding refuses them)
  }
}

void broadcast(const Broadcast& bc, const float* a, float scale, float* out) {
  const int64_t sa = bc.stride_a[bc.ndim - 1];
  const int64_t n = total_size(bc);
  const bool stream = stream_output(n);
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    const VecF s = set1(scale);
    const float* const as = a;
    float* const os = out;
    walk(bc, lo, hi, [&](int64_t oa, int64_t, int64_t pos, int64_t len) {
      const float* pa = as + oa;
      if (sa == 0) {
        const VecF v = set1(*pa) * s;
        map_store(os + pos, 0, len, stream, [&](int64_t, int) { return v; });
      } else {
        map_store(os + pos, 0, len, stream, [&](int64_t i, int w) { return load_n(pa + i, w) * s; });
      }
    });
  });
}

}  // namespace pyk::eltwise::PYK_ISA_NS
