// Activations and unary math, forward and backward, on contiguous float32 arrays of n elements.
// Each operation is a small struct with fwd(x), bwd_x(x, dy) and, where the derivative can be
// written in terms of the output, bwd_y(y, dy) (kFromY); one templated streaming loop runs it
// kWidth floats at a time with a masked tail (padding lanes read 0, harmless for every formula).
// Threads take chunks of a fixed grain: kGrainCheap for memory-bound operations (32K floats,
// ~20 us of traffic per chunk), kGrainMath for ones built on exp/log (8K floats, a few us of
// arithmetic), kGrainLibm for the scalar libm lanes (2K floats).
//
// Conventions, following Keras 3 on JAX where the derivative has a kink: relu'(0) = 0,
// leaky_relu'(0) = 1, elu'(0) = alpha, clipped ranges (relu6, hard_sigmoid, relu max_value) have
// derivative 0 on their end points, clip(x, lo, hi) passes the gradient on [lo, hi] inclusive,
// abs'(0) = 0. Activations return their limits at +-inf (swish(-inf) = gelu(-inf) = -0, not NaN).
#include <cmath>

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

// Keras's SELU constants.
constexpr float kSeluAlpha = 1.67326324235437728f;
constexpr float kSeluScale = 1.05070098735548049f;
// gelu tanh form: x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)).
constexpr float kGeluTwoK = 1.59576912160573071f;          // 2 sqrt(2/pi)
constexpr float kGeluTwoKC = 1.59576912160573071f * 0.044715f;
// |x| beyond which gelu/swish derivatives are exactly their limits (and products like
// x * 0 could turn into inf * 0).
constexpr float kSaturated = 1.0e4f;

inline VecF neg_zero() { return set1(-0.0f); }
inline MaskF is_neg_inf(VecF x) { return cmp_lt(x, set1(-FLT_MAX)); }

// ------------------------------------------------------------------------- streaming loops

template <class Op>
void run_fwd(const Op& op_ref, const float* x, float* y, int64_t n) {
  const bool stream = stream_output(n);
  parallel_for(0, n, Op::kGrain, [=](int64_t lo, int64_t hi) {
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
      run_bwd(Op::kGrain, [op](VecF v, VecF d) { return op.bwd_y(v, d); }, y, dy, dx, n);
      return;
    }
  }
  run_bwd(Op::kGrain, [op](VecF v, VecF d) { return op.bwd_x(v, d); }, x, dy, dx, n);
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

struct Cheap { static constexpr int64_t kGrain = kGrainCheap; };
struct Math { static constexpr int64_t kGrain = kGrainMath; };
struct Libm { static constexpr int64_t kGrain = kGrainLibm; };

// ------------------------------------------------------------------------- activations

struct Linear : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return x; }
  VecF bwd_x(VecF, VecF dy) const { return dy; }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// max(x, 0); NaN stays NaN as in numpy's maximum.
struct Relu : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return select(cmp_lt(x, zero()), zero(), x); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_gt(x, zero()), dy, zero()); }
  VecF bwd_y(VecF y, VecF dy) const { return bwd_x(y, dy); }
};

// min(max(x, 0), hi) (relu6, and relu with max_value when threshold and slope are 0).
struct ReluCapped : Cheap {
  static constexpr bool kFromY = true;
  VecF hi;
  explicit ReluCapped(float cap) : hi(set1(cap)) {}
  VecF fwd(VecF x) const {
    const VecF v = select(cmp_lt(x, zero()), zero(), x);
    return select(cmp_gt(v, hi), hi, v);
  }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_gt(x, zero()) & cmp_lt(x, hi), dy, zero()); }
  VecF bwd_y(VecF y, VecF dy) const { return bwd_x(y, dy); }
};

// x >= 0 ? x : alpha x. From y only when alpha > 0 (the binding checks).
struct LeakyRelu : Cheap {
  static constexpr bool kFromY = true;
  VecF alpha;
  explicit LeakyRelu(float a) : alpha(set1(a)) {}
  VecF fwd(VecF x) const { return select(cmp_ge(x, zero()), x, alpha * x); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_ge(x, zero()), dy, alpha * dy); }
  VecF bwd_y(VecF y, VecF dy) const { return bwd_x(y, dy); }
};

// Keras 3's relu(x, negative_slope, max_value, threshold):
//   y = c(x > threshold ? x : 0) - negative_slope * max(threshold - x, 0),
//   c(v) = clip(v, 0, max_value) when max_value is given (finite), else v.
struct ReluGeneral : Cheap {
  static constexpr bool kFromY = false;
  VecF slope, hi, thr;
  bool capped, sloped;
  explicit ReluGeneral(const UnaryParams& p)
      : slope(set1(p.alpha)), hi(set1(p.max_value)), thr(set1(p.threshold)), capped(std::isfinite(p.max_value)),
        sloped(p.alpha != 0.0f) {}
  VecF fwd(VecF x) const {
    VecF v = select(cmp_gt(x, thr), x, zero());
    if (capped) v = min(hi, max(zero(), v));
    // Without a slope there is no negative part (and no 0 * inf at x = -inf).
    return sloped ? fnmadd(slope, max(thr - x, zero()), v) : v;
  }
  VecF bwd_x(VecF x, VecF dy) const {
    MaskF pass = cmp_gt(x, thr);
    if (capped) pass = pass & cmp_gt(x, zero()) & cmp_lt(x, hi);
    return select(pass, dy, select(cmp_lt(x, thr), slope * dy, zero()));
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }  // unused (kFromY is false)
};

// x > theta ? x : 0. From y only when theta >= 0.
struct ThresholdedRelu : Cheap {
  static constexpr bool kFromY = true;
  VecF theta;
  explicit ThresholdedRelu(float t) : theta(set1(t)) {}
  VecF fwd(VecF x) const { return select(cmp_gt(x, theta), x, zero()); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_gt(x, theta), dy, zero()); }
  VecF bwd_y(VecF y, VecF dy) const { return select(cmp_gt(y, zero()), dy, zero()); }
};

// x > 0 ? x : alpha expm1(x) (times scale for selu). From y only when alpha > 0.
struct Elu : Math {
  static constexpr bool kFromY = true;
  VecF alpha, scale, scaled_alpha;
  Elu(float a, float s) : alpha(set1(a)), scale(set1(s)), scaled_alpha(set1(a * s)) {}
  VecF fwd(VecF x) const { return scale * select(cmp_gt(x, zero()), x, alpha * expm1(x)); }
  VecF bwd_x(VecF x, VecF dy) const {
    return dy * select(cmp_gt(x, zero()), scale, scaled_alpha * exp(x));
  }
  VecF bwd_y(VecF y, VecF dy) const { return dy * select(cmp_gt(y, zero()), scale, y + scaled_alpha); }
};

struct Sigmoid : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return sigmoid(x); }
  // sigmoid' = e / (1 + e)^2 with e = exp(-|x|): no cancellation in the tails.
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF e = exp(-abs(x));
    const VecF d = set1(1.0f) + e;
    return dy * e / (d * d);
  }
  VecF bwd_y(VecF y, VecF dy) const { return dy * (y - y * y); }
};

struct Tanh : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return tanh(x); }
  // tanh' = 4e / (1 + e)^2 with e = exp(-2|x|).
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF a = abs(x);
    const VecF e = exp(-(a + a));
    const VecF d = set1(1.0f) + e;
    return dy * set1(4.0f) * e / (d * d);
  }
  VecF bwd_y(VecF y, VecF dy) const { return dy * fnmadd(y, y, set1(1.0f)); }
};

// clip(s x + 0.5, 0, 1); s = alpha, or 0.2 when alpha == 0 (see activation.h).
struct HardSigmoid : Cheap {
  static constexpr bool kFromY = true;
  VecF s;
  explicit HardSigmoid(float alpha) : s(set1(alpha != 0.0f ? alpha : 0.2f)) {}
  VecF pre(VecF x) const { return fmadd(x, s, set1(0.5f)); }
  VecF fwd(VecF x) const { return min(set1(1.0f), max(zero(), pre(x))); }
  VecF interior(VecF v, VecF dy) const {
    return select(cmp_gt(v, zero()) & cmp_lt(v, set1(1.0f)), dy * s, zero());
  }
  VecF bwd_x(VecF x, VecF dy) const { return interior(pre(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return interior(y, dy); }
};

// x * clip(x/6 + 1/2, 0, 1).
struct HardSilu : Cheap {
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const {
    const VecF hs = min(set1(1.0f), max(zero(), fmadd(x, set1(1.0f / 6.0f), set1(0.5f))));
    return select(cmp_lt(x, set1(-3.0f)), neg_zero(), x * hs);
  }
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF inner = fmadd(x, set1(1.0f / 3.0f), set1(0.5f));
    const VecF g = select(cmp_ge(x, set1(3.0f)), set1(1.0f), select(cmp_gt(x, set1(-3.0f)), inner, zero()));
    return dy * g;
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// x * sigmoid(x).
struct Swish : Math {
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return select(is_neg_inf(x), neg_zero(), x * sigmoid(x)); }
  // s + x e / (1 + e)^2, e = exp(-|x|).
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF one = set1(1.0f);
    const VecF e = exp(-abs(x));
    const VecF d = one + e;
    const VecF s = select(cmp_ge(x, zero()), one, e) / d;
    const VecF g = fmadd(x, e / (d * d), s);
    const VecF limit = select(cmp_gt(x, zero()), one, zero());
    return dy * select(cmp_gt(abs(x), set1(kSaturated)), limit, g);
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// Exact: x Phi(x). Approximate: x sigmoid(v), v = 2 sqrt(2/pi) (x + 0.044715 x^3) (the tanh
// form 0.5 x (1 + tanh(v/2)) without its cancellation for negative x).
struct Gelu : Math {
  static constexpr bool kFromY = false;
  bool approximate;
  explicit Gelu(float alpha) : approximate(alpha != 0.0f) {}
  VecF fwd(VecF x) const {
    const VecF y = approximate ? x * sigmoid(x * fmadd(x * x, set1(kGeluTwoKC), set1(kGeluTwoK))) : x_normal_cdf(x);
    return select(cmp_lt(x, set1(-kSaturated)), neg_zero(), y);
  }
  VecF bwd_x(VecF x, VecF dy) const {
    VecF g;
    if (approximate) {
      // s(v) + x s(v) (1 - s(v)) v', with s (1 - s) = e / (1 + e)^2, e = exp(-|v|).
      const VecF one = set1(1.0f);
      const VecF x2 = x * x;
      const VecF v = x * fmadd(x2, set1(kGeluTwoKC), set1(kGeluTwoK));
      const VecF dv = fmadd(x2, set1(3.0f * kGeluTwoKC), set1(kGeluTwoK));
      const VecF e = exp(-abs(v));
      const VecF d = one + e;
      const VecF s = select(cmp_ge(v, zero()), one, e) / d;
      g = fmadd(x * dv, e / (d * d), s);
    } else {
      g = fmadd(x, normal_pdf(x), normal_cdf(x));
    }
    const VecF limit = select(cmp_gt(x, zero()), set1(1.0f), zero());
    return dy * select(cmp_gt(abs(x), set1(kSaturated)), limit, g);
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

struct Softplus : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return softplus(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * sigmoid(x); }
  // sigmoid(x) = 1 - exp(-y).
  VecF bwd_y(VecF y, VecF dy) const { return -(dy * expm1(-y)); }
};

// log(sigmoid(x)) = -softplus(-x).
struct LogSigmoid : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return -softplus(-x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * sigmoid(-x); }
  // 1 - sigmoid(x) = -expm1(y).
  VecF bwd_y(VecF y, VecF dy) const { return -(dy * expm1(y)); }
};

// x tanh(softplus(x)) with tanh(log(1 + n)) = t / (t + 2), t = n (n + 2), n = e^x.
struct Mish : Math {
  static constexpr bool kFromY = false;
  static constexpr float kBig = 20.0f;  // above, tanh(softplus(x)) is 1 in float32
  VecF fwd(VecF x) const {
    const VecF n = exp(min(set1(kBig), x));
    const VecF t = n * (n + set1(2.0f));
    const VecF y = x * t / (t + set1(2.0f));
    return select(cmp_gt(x, set1(kBig)), x, select(is_neg_inf(x), neg_zero(), y));
  }
  // T + x sigmoid(x) (1 - T^2), 1 - T^2 = 4 (t + 1) / (t + 2)^2.
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF one = set1(1.0f), two = set1(2.0f);
    const VecF n = exp(min(set1(kBig), x));
    const VecF t = n * (n + two);
    const VecF d = t + two;
    const VecF big_t = t / d;
    const VecF sig = n / (one + n);
    const VecF g = fmadd(x * sig, set1(4.0f) * (t + one) / (d * d), big_t);
    const VecF limit = select(cmp_gt(x, zero()), one, zero());
    return dy * select(cmp_gt(x, set1(kBig)) | is_neg_inf(x), limit, g);
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

struct Exp : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return exp(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * exp(x); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * y; }
};

// x / (1 + |x|), +-1 at +-inf.
struct Softsign : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const {
    return select(is_inf(x), copysign(set1(1.0f), x), x / (set1(1.0f) + abs(x)));
  }
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF t = set1(1.0f) / (set1(1.0f) + abs(x));
    return dy * t * t;
  }
  VecF bwd_y(VecF y, VecF dy) const {
    const VecF t = set1(1.0f) - abs(y);
    return dy * t * t;
  }
};

// ------------------------------------------------------------------------- unary math

struct Exp2 : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return exp2(x); }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(exp2(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * y * set1(0.693147180559945309f); }
};

struct Expm1 : Math {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return expm1(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * exp(x); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * (y + set1(1.0f)); }
};

// log, log2, log10 (kBase = e, 2, 10); derivative 1 / (x ln(base)).
template <int kBase>
struct Log : Math {
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

struct Log1p : Math {
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return log1p(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy / (set1(1.0f) + x); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

struct Sqrt : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return sqrt(x); }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(sqrt(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * set1(0.5f) / y; }
};

struct Rsqrt : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return set1(1.0f) / sqrt(x); }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(fwd(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * set1(-0.5f) * y * y * y; }
};

struct Square : Cheap {
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return x * x; }
  VecF bwd_x(VecF x, VecF dy) const { return dy * (x + x); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// sign(x): -1, 0 or 1 (NaN stays NaN).
inline VecF sign_of(VecF x) {
  return select(cmp_gt(x, zero()), set1(1.0f), select(cmp_lt(x, zero()), set1(-1.0f), x));
}

struct Abs : Cheap {
  static constexpr bool kFromY = false;
  VecF fwd(VecF x) const { return abs(x); }
  VecF bwd_x(VecF x, VecF dy) const {
    return select(cmp_gt(x, zero()), dy, select(cmp_lt(x, zero()), -dy, zero()));
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// Piecewise-constant functions: zero gradient.
template <int kKind>
struct Constant : Cheap {
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

struct Neg : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return -x; }
  VecF bwd_x(VecF, VecF dy) const { return -dy; }
  VecF bwd_y(VecF, VecF dy) const { return -dy; }
};

struct Reciprocal : Cheap {
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return set1(1.0f) / x; }
  VecF bwd_x(VecF x, VecF dy) const { return bwd_y(fwd(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return -(dy * y * y); }
};

// min(max(x, lo), hi); NaN stays NaN. Gradient passes on [lo, hi].
struct Clip : Cheap {
  static constexpr bool kFromY = false;
  VecF lo, hi;
  explicit Clip(const UnaryParams& p) : lo(set1(p.min_value)), hi(set1(p.max_value)) {}
  VecF fwd(VecF x) const { return min(hi, max(lo, x)); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_ge(x, lo) & cmp_le(x, hi), dy, zero()); }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// Scalar libm functions with their derivatives.
template <UnaryOp kOp>
struct LibmOp : Libm {
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
  switch (static_cast<int32_t>(op)) {
    case static_cast<int32_t>(Activation::linear): return fn(Linear{});
    case static_cast<int32_t>(Activation::relu): {
      const bool no_cap = std::isinf(p.max_value) && p.max_value > 0;
      if (p.threshold == 0.0f && no_cap) {
        if (p.alpha == 0.0f) return fn(Relu{});
        return fn(LeakyRelu(p.alpha));  // what Keras's relu does for a slope alone
      }
      if (p.threshold == 0.0f && p.alpha == 0.0f) return fn(ReluCapped(p.max_value));
      return fn(ReluGeneral(p));
    }
    case static_cast<int32_t>(Activation::relu6): return fn(ReluCapped(6.0f));
    case static_cast<int32_t>(Activation::leaky_relu): return fn(LeakyRelu(p.alpha));
    case static_cast<int32_t>(Activation::elu): return fn(Elu(p.alpha, 1.0f));
    case static_cast<int32_t>(Activation::sigmoid): return fn(Sigmoid{});
    case static_cast<int32_t>(Activation::tanh): return fn(Tanh{});
    case static_cast<int32_t>(Activation::hard_sigmoid): return fn(HardSigmoid(p.alpha));
    case static_cast<int32_t>(Activation::swish): return fn(Swish{});
    case static_cast<int32_t>(Activation::gelu): return fn(Gelu(p.alpha));
    case static_cast<int32_t>(Activation::softplus): return fn(Softplus{});
    case static_cast<int32_t>(Activation::selu): return fn(Elu(kSeluAlpha, kSeluScale));
    case static_cast<int32_t>(Activation::exponential): return fn(Exp{});
    case static_cast<int32_t>(Activation::softsign): return fn(Softsign{});
    case static_cast<int32_t>(Activation::hard_silu): return fn(HardSilu{});
    case static_cast<int32_t>(Activation::thresholded_relu): return fn(ThresholdedRelu(p.alpha));
    case static_cast<int32_t>(Activation::mish): return fn(Mish{});
    case static_cast<int32_t>(Activation::log_sigmoid): return fn(LogSigmoid{});
    default: break;
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
