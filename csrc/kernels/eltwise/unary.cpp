// Activations and unary math, forward and backward, on contiguous float32 arrays of n elements.
// Each operation is a small struct with fwd(x), bwd_x(x, dy) and, where the derivative can be
// written in terms of the output, bwd_y(y, dy) (kFromY): the activations come from
// activation_ops.h (shared with the GEMM and convolution epilogues), the plain math functions are
// below. One templated streaming loop runs an operation kWidth floats at a time with a masked
// tail (padding lanes read 0, harmless for every formula). Threads take chunks of a fixed grain
// set by the operation's cost: kGrainCheap for memory-bound operations (32K floats, ~20 us of
// traffic per chunk), kGrainMath for ones built on exp/log (8K floats, a few us of arithmetic),
// kGrainLibm for the scalar libm lanes (2K floats).
//
// Conventions (activation_ops.h has the activations'): clip(x, lo, hi) passes the gradient on
// [lo, hi] inclusive, abs'(0) = 0.
#include <cmath>

#include "kernels/eltwise/activation_ops.h"
#include "kernels/eltwise/eltwise.h"
#include "kernels/eltwise/stream.h"
#include "runtime/threading.h"
#include "simd/math.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

namespace {

constexpr int64_t kGrainCheap = 32768;
constexpr int64_t kGrainMath = 8192;
constexpr int64_t kGrainLibm = 2048;

template <class Op>
constexpr int64_t grain_of() {
  return Op::kCost == Cost::cheap ? kGrainCheap : (Op::kCost == Cost::math ? kGrainMath : kGrainLibm);
}

// ------------------------------------------------------------------------- streaming loops

template <class Op>
void run_fwd(const Op& op_ref, const float* x, float* y, int64_t n) {
  const bool stream = stream_output(n);
  parallel_for(0, n, grain_of<Op>(), [=](int64_t lo, int64_t hi) {
    // Local copies: the vector stores may alias anything, so values read through the closure
    // would be reloaded on every iteration.
    const Op op = op_ref;
    const float* const xs = x;
    map_store(y, lo, hi, stream, [&](int64_t i, int w) { return op.fwd(load_n(xs + i, w)); });
  });
}

// dx = g(in, dy) where in is x or y.
template <class G>
void run_bwd(int64_t grain, const G& g, const float* in, const float* dy, float* dx, int64_t n) {
  const bool stream = stream_output(n);
  parallel_for(0, n, grain, [=](int64_t lo, int64_t hi) {
    const G gl = g;
    const float* const ins = in;
    const float* const dys = dy;
    map_store(dx, lo, hi, stream, [&](int64_t i, int w) { return gl(load_n(ins + i, w), load_n(dys + i, w)); });
  });
}

template <class Op>
void run_backward(const Op& op_ref, const float* x, const float* y, const float* dy, float* dx, int64_t n) {
  const Op op = op_ref;
  if constexpr (Op::kFromY) {
    if (y != nullptr) {
      run_bwd(grain_of<Op>(), [op](VecF v, VecF d) { return op.bwd_y(v, d); }, y, dy, dx, n);
      return;
    }
  }
  run_bwd(grain_of<Op>(), [op](VecF v, VecF d) { return op.bwd_x(v, d); }, x, dy, dx, n);
}

// Applies a scalar function lane by lane.
template <class F>
inline VecF lanes(VecF v, F f) {
  alignas(64) float buf[kWidth];
  store(buf, v);
  for (int i = 0; i < kWidth; ++i) buf[i] = f(buf[i]);
  return load(buf);
}
template <class F>
inline VecF lanes2(VecF a, VecF b, F f) {
  alignas(64) float ba[kWidth], bb[kWidth];
  store(ba, a);
  store(bb, b);
  for (int i = 0; i < kWidth; ++i) ba[i] = f(ba[i], bb[i]);
  return load(ba);
}

// ------------------------------------------------------------------------- unary math

struct Exp2 {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return exp2(x); }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(exp2(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * y * set1(0.693147180559945309f); }
};

struct Expm1 {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return expm1(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * exp(x); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * (y + set1(1.0f)); }
};

// log, log2, log10 (kBase = e, 2, 10); derivative 1 / (x ln(base)).
template <int kBase>
struct Log {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = false;
  static constexpr float kInvLnBase = kBase == 2 ? 1.44269504088896341f : (kBase == 10 ? 0.434294481903251828f : 1.0f);
  VecF fwd(VecF x) const {
    if constexpr (kBase == 2) return log2(x);
    if constexpr (kBase == 10) return log10(x);
    return log(x);
  }
  VecF bwd_x(VecF x, VecF dy) const { return dy * set1(kInvLnBase) / x; }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

struct Log1p {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return log1p(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy / (set1(1.0f) + x); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

struct Sqrt {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return sqrt(x); }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(sqrt(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * set1(0.5f) / y; }
};

struct Rsqrt {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return set1(1.0f) / sqrt(x); }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(fwd(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * set1(-0.5f) * y * y * y; }
};

struct Square {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return x * x; }
  VecF bwd_x(VecF x, VecF dy) const { return dy * (x + x); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// sign(x): -1, 0 or 1 (NaN stays NaN).
inline VecF sign_of(VecF x) {
  return select(cmp_gt(x, zero()), set1(1.0f), select(cmp_lt(x, zero()), set1(-1.0f), x));
}

struct Abs {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return abs(x); }
  VecF bwd_x(VecF x, VecF dy) const {
    return select(cmp_gt(x, zero()), dy, select(cmp_lt(x, zero()), -dy, zero()));
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// Piecewise-constant functions: zero gradient.
template <int kKind>
struct Constant {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const {
    if constexpr (kKind == 0) return sign_of(x);
    if constexpr (kKind == 1) return floor(x);
    if constexpr (kKind == 2) return ceil(x);
    if constexpr (kKind == 3) return round_nearest(x);  // half to even, as numpy
    return trunc(x);
  }
  VecF bwd_x(VecF, VecF) const { return zero(); }
  VecF bwd_y(VecF, VecF) const { return zero(); }
};

struct Neg {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return -x; }
  VecF bwd_x(VecF, VecF dy) const { return -dy; }
  VecF bwd_y(VecF, VecF dy) const { return -dy; }
};

struct Reciprocal {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return set1(1.0f) / x; }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(fwd(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return -(dy * y * y); }
};

// min(max(x, lo), hi); NaN stays NaN. Gradient passes on [lo, hi].
struct Clip {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = false;
  VecF lo, hi;
  explicit Clip(const UnaryParams& p) : lo(set1(p.min_value)), hi(set1(p.max_value)) {}
  VecF fwd(VecF x) const { return min(hi, max(lo, x)); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_ge(x, lo) & cmp_le(x, hi), dy, zero()); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// Scalar libm functions with their derivatives.
template <UnaryOp kOp>
struct LibmOp {
  static constexpr Cost kCost = Cost::libm;
  static constexpr bool kFromY = false;
  static float f(float x) {
    switch (kOp) {
      case UnaryOp::sin: return std::sin(x);
      case UnaryOp::cos: return std::cos(x);
      case UnaryOp::tan: return std::tan(x);
      case UnaryOp::arcsin: return std::asin(x);
      case UnaryOp::arccos: return std::acos(x);
      case UnaryOp::arctan: return std::atan(x);
      case UnaryOp::sinh: return std::sinh(x);
      case UnaryOp::cosh: return std::cosh(x);
      case UnaryOp::arcsinh: return std::asinh(x);
      case UnaryOp::arccosh: return std::acosh(x);
      case UnaryOp::arctanh: return std::atanh(x);
      case UnaryOp::erf: return std::erf(x);
      default: return std::erfc(x);
    }
  }
  static float df(float x) {
    constexpr float kTwoOverSqrtPi = 1.12837916709551257f;
    switch (kOp) {
      case UnaryOp::sin: return std::cos(x);
      case UnaryOp::cos: return -std::sin(x);
      case UnaryOp::tan: { const float c = std::cos(x); return 1.0f / (c * c); }
      case UnaryOp::arcsin: return 1.0f / std::sqrt((1.0f - x) * (1.0f + x));
      case UnaryOp::arccos: return -1.0f / std::sqrt((1.0f - x) * (1.0f + x));
      case UnaryOp::arctan: return 1.0f / (1.0f + x * x);
      case UnaryOp::sinh: return std::cosh(x);
      case UnaryOp::cosh: return std::sinh(x);
      case UnaryOp::arcsinh: return 1.0f / std::hypot(x, 1.0f);
      case UnaryOp::arccosh: return 1.0f / std::sqrt((x - 1.0f) * (x + 1.0f));
      case UnaryOp::arctanh: return 1.0f / ((1.0f - x) * (1.0f + x));
      case UnaryOp::erf: return kTwoOverSqrtPi * std::exp(-x * x);
      default: return -kTwoOverSqrtPi * std::exp(-x * x);
    }
  }
  VecF fwd(VecF x) const { return lanes(x, [](float v) { return f(v); }); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * lanes(x, [](float v) { return df(v); }); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// ------------------------------------------------------------------------- dispatch

// Calls fn(op_struct) with the structure implementing `op` under parameters p.
template <class Fn>
void with_op(UnaryOp op, const UnaryParams& p, Fn&& fn) {
  if (static_cast<int32_t>(op) < kNumActivations) {
    visit_activation(static_cast<Activation>(op), p, fn);
    return;
  }
  switch (op) {
    case UnaryOp::exp: return fn(Exp{});
    case UnaryOp::exp2: return fn(Exp2{});
    case UnaryOp::expm1: return fn(Expm1{});
    case UnaryOp::log: return fn(Log<0>{});
    case UnaryOp::log2: return fn(Log<2>{});
    case UnaryOp::log10: return fn(Log<10>{});
    case UnaryOp::log1p: return fn(Log1p{});
    case UnaryOp::sqrt: return fn(Sqrt{});
    case UnaryOp::rsqrt: return fn(Rsqrt{});
    case UnaryOp::square: return fn(Square{});
    case UnaryOp::abs: return fn(Abs{});
    case UnaryOp::sign: return fn(Constant<0>{});
    case UnaryOp::neg: return fn(Neg{});
    case UnaryOp::reciprocal: return fn(Reciprocal{});
    case UnaryOp::floor: return fn(Constant<1>{});
    case UnaryOp::ceil: return fn(Constant<2>{});
    case UnaryOp::round: return fn(Constant<3>{});
    case UnaryOp::trunc: return fn(Constant<4>{});
    case UnaryOp::clip: return fn(Clip(p));
    case UnaryOp::sin: return fn(LibmOp<UnaryOp::sin>{});
    case UnaryOp::cos: return fn(LibmOp<UnaryOp::cos>{});
    case UnaryOp::tan: return fn(LibmOp<UnaryOp::tan>{});
    case UnaryOp::arcsin: return fn(LibmOp<UnaryOp::arcsin>{});
    case UnaryOp::arccos: return fn(LibmOp<UnaryOp::arccos>{});
    case UnaryOp::arctan: return fn(LibmOp<UnaryOp::arctan>{});
    case UnaryOp::sinh: return fn(LibmOp<UnaryOp::sinh>{});
    case UnaryOp::cosh: return fn(LibmOp<UnaryOp::cosh>{});
    case UnaryOp::arcsinh: return fn(LibmOp<UnaryOp::arcsinh>{});
    case UnaryOp::arccosh: return fn(LibmOp<UnaryOp::arccosh>{});
    case UnaryOp::arctanh: return fn(LibmOp<UnaryOp::arctanh>{});
    case UnaryOp::erf: return fn(LibmOp<UnaryOp::erf>{});
    case UnaryOp::erfc: return fn(LibmOp<UnaryOp::erfc>{});
    default: return fn(Linear{});  // unreachable: the binding validates op codes
  }
}

}  // namespace

void unary(UnaryOp op, const UnaryParams& p, const float* x, float* y, int64_t n) {
  with_op(op, p, [&](const auto& o) { run_fwd(o, x, y, n); });
}

void unary_backward(UnaryOp op, const UnaryParams& p, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n) {
  with_op(op, p, [&](const auto& o) { run_backward(o, x, y, dy, dx, n); });
}

}  // namespace pyk::eltwise::PYK_ISA_NS
