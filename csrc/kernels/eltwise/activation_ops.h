#pragma once
// The activations (kernels/activation.h), implemented once for every kernel family: the
// elementwise kernels (unary.cpp) and the epilogues of GEMM and convolution all apply these
// functors, so an activation has the same definition, kinks and limits wherever it runs.
//
// Each activation is a small struct over simd::VecF with fwd(x), bwd_x(x, dy) = dy * f'(x) and,
// where the derivative can be written in terms of the output, bwd_y(y, dy) (kFromY; see
// activation_grad_from_output in eltwise.h for the parameter ranges where that holds). kCost says
// what one vector costs, for callers that size their work by it. visit_activation maps an
// Activation code and its parameters to the functor and calls a generic callable with it, so a
// caller writes its loop once and each activation is inlined into its own copy of the loop.
// visit_register_activation does the same for the few activations cheap enough to apply to
// accumulators still in registers (the relu family); activation_rows applies any activation to
// a block of stored rows.
//
// Conventions, following Keras 3 on JAX where the derivative has a kink: relu'(0) = 0,
// leaky_relu'(0) = 1, elu'(0) = alpha, clipped ranges (relu6, hard_sigmoid, relu max_value) have
// derivative 0 on their end points. Activations return their limits at +-inf (swish(-inf) =
// gelu(-inf) = -0, not NaN); NaN stays NaN. Lanes a masked load filled with 0 are harmless for
// every formula.
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/eltwise/eltwise.h"
#include "simd/math.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

// What one vector of an operation costs: compares, selects and a multiply or two (cheap); a
// vector exp/log from simd/math.h (math); scalar C library calls lane by lane (libm).
enum class Cost { cheap, math, libm };

namespace activation_constants {
// Keras's SELU constants.
constexpr float kSeluAlpha = 1.67326324235437728f;
constexpr float kSeluScale = 1.05070098735548049f;
// gelu tanh form: x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)).
constexpr float kGeluTwoK = 1.59576912160573071f;  // 2 sqrt(2/pi)
constexpr float kGeluTwoKC = 1.59576912160573071f * 0.044715f;
// |x| beyond which gelu/swish derivatives are exactly their limits (and products like x * 0
// could turn into inf * 0).
constexpr float kSaturated = 1.0e4f;
// Keras 2's hard_sigmoid slope, taken when the code's alpha is 0 (activation.h).
constexpr float kHardSigmoidKeras2 = 0.2f;
}  // namespace activation_constants

inline VecF neg_zero() { return set1(-0.0f); }
inline MaskF is_neg_inf(VecF x) { return cmp_lt(x, set1(-FLT_MAX)); }

struct Linear {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return x; }
  VecF bwd_x(VecF, VecF dy) const { return dy; }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// max(x, 0); NaN stays NaN as in numpy's maximum. A select rather than max: max would also flush
// a denormal input to 0 under DAZ, where a select passes its bits through.
struct Relu {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return select(cmp_lt(x, zero()), zero(), x); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_gt(x, zero()), dy, zero()); }
  VecF bwd_y(VecF y, VecF dy) const { return bwd_x(y, dy); }
};

// min(max(x, 0), hi) (relu6, and relu with max_value when threshold and slope are 0); NaN stays
// NaN.
struct ReluCapped {
  static constexpr Cost kCost = Cost::cheap;
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

// x >= 0 ? x : alpha x. From y only when alpha > 0.
struct LeakyRelu {
  static constexpr Cost kCost = Cost::cheap;
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
struct ReluGeneral {
  static constexpr Cost kCost = Cost::cheap;
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
struct ThresholdedRelu {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF theta;
  explicit ThresholdedRelu(float t) : theta(set1(t)) {}
  VecF fwd(VecF x) const { return select(cmp_gt(x, theta), x, zero()); }
  VecF bwd_x(VecF x, VecF dy) const { return select(cmp_gt(x, theta), dy, zero()); }
  VecF bwd_y(VecF y, VecF dy) const { return select(cmp_gt(y, zero()), dy, zero()); }
};

// x > 0 ? x : alpha expm1(x) (times scale for selu). From y only when alpha > 0.
struct Elu {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = true;
  VecF alpha, scale, scaled_alpha;
  Elu(float a, float s) : alpha(set1(a)), scale(set1(s)), scaled_alpha(set1(a * s)) {}
  VecF fwd(VecF x) const { return scale * select(cmp_gt(x, zero()), x, alpha * expm1(x)); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * select(cmp_gt(x, zero()), scale, scaled_alpha * exp(x)); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * select(cmp_gt(y, zero()), scale, y + scaled_alpha); }
};

struct Sigmoid {
  static constexpr Cost kCost = Cost::math;
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

struct Tanh {
  static constexpr Cost kCost = Cost::math;
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

// clip(s x + 0.5, 0, 1); s = alpha, or Keras 2's 0.2 when alpha == 0 (see activation.h).
struct HardSigmoid {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF s;
  explicit HardSigmoid(float alpha)
      : s(set1(alpha != 0.0f ? alpha : activation_constants::kHardSigmoidKeras2)) {}
  VecF pre(VecF x) const { return fmadd(x, s, set1(0.5f)); }
  VecF fwd(VecF x) const { return min(set1(1.0f), max(zero(), pre(x))); }
  VecF interior(VecF v, VecF dy) const {
    return select(cmp_gt(v, zero()) & cmp_lt(v, set1(1.0f)), dy * s, zero());
  }
  VecF bwd_x(VecF x, VecF dy) const { return interior(pre(x), dy); }
  VecF bwd_y(VecF y, VecF dy) const { return interior(y, dy); }
};

// x * clip(x/6 + 1/2, 0, 1).
struct HardSilu {
  static constexpr Cost kCost = Cost::cheap;
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
struct Swish {
  static constexpr Cost kCost = Cost::math;
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
    return dy * select(cmp_gt(abs(x), set1(activation_constants::kSaturated)), limit, g);
  }
  VecF bwd_y(VecF, VecF dy) const { return dy; }
};

// Exact: x Phi(x). Approximate: x sigmoid(v), v = 2 sqrt(2/pi) (x + 0.044715 x^3) (the tanh
// form 0.5 x (1 + tanh(v/2)) without its cancellation for negative x).
struct Gelu {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = false;
  bool approximate;
  explicit Gelu(float alpha) : approximate(alpha != 0.0f) {}
  VecF fwd(VecF x) const {
    using namespace activation_constants;
    const VecF y = approximate ? x * sigmoid(x * fmadd(x * x, set1(kGeluTwoKC), set1(kGeluTwoK))) : x_normal_cdf(x);
    return select(cmp_lt(x, set1(-kSaturated)), neg_zero(), y);
  }
  VecF bwd_x(VecF x, VecF dy) const {
    using namespace activation_constants;
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

struct Softplus {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return softplus(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * sigmoid(x); }
  // sigmoid(x) = 1 - exp(-y).
  VecF bwd_y(VecF y, VecF dy) const { return -(dy * expm1(-y)); }
};

// log(sigmoid(x)) = -softplus(-x).
struct LogSigmoid {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return -softplus(-x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * sigmoid(-x); }
  // 1 - sigmoid(x) = -expm1(y).
  VecF bwd_y(VecF y, VecF dy) const { return -(dy * expm1(y)); }
};

// x tanh(softplus(x)) with tanh(log(1 + n)) = t / (t + 2), t = n (n + 2), n = e^x.
struct Mish {
  static constexpr Cost kCost = Cost::math;
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

struct Exp {
  static constexpr Cost kCost = Cost::math;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return exp(x); }
  VecF bwd_x(VecF x, VecF dy) const { return dy * exp(x); }
  VecF bwd_y(VecF y, VecF dy) const { return dy * y; }
};

// x / (1 + |x|), +-1 at +-inf.
struct Softsign {
  static constexpr Cost kCost = Cost::cheap;
  static constexpr bool kFromY = true;
  VecF fwd(VecF x) const { return select(is_inf(x), copysign(set1(1.0f), x), x / (set1(1.0f) + abs(x))); }
  VecF bwd_x(VecF x, VecF dy) const {
    const VecF t = set1(1.0f) / (set1(1.0f) + abs(x));
    return dy * t * t;
  }
  VecF bwd_y(VecF y, VecF dy) const {
    const VecF t = set1(1.0f) - abs(y);
    return dy * t * t;
  }
};

// The parameters of an activation fused into a GEMM or convolution epilogue: its code's alpha
// alone (relu uncapped, threshold 0).
inline UnaryParams fused_params(float alpha) {
  UnaryParams p;
  p.alpha = alpha;
  return p;
}

// Calls f(op) with the functor of activation `a` under parameters p (p.alpha is the code's alpha;
// relu also reads max_value and threshold). Codes must be valid (the bindings check them).
template <class F>
inline void visit_activation(Activation a, const UnaryParams& p, F&& f) {
  using namespace activation_constants;
  switch (a) {
    case Activation::linear: f(Linear{}); return;
    case Activation::relu: {
      const bool no_cap = std::isinf(p.max_value) && p.max_value > 0;
      if (p.threshold == 0.0f && no_cap) {
        if (p.alpha == 0.0f) {
          f(Relu{});
        } else {
          f(LeakyRelu(p.alpha));  // what Keras's relu does for a slope alone
        }
      } else if (p.threshold == 0.0f && p.alpha == 0.0f) {
        f(ReluCapped(p.max_value));
      } else {
        f(ReluGeneral(p));
      }
      return;
    }
    case Activation::relu6: f(ReluCapped(6.0f)); return;
    case Activation::leaky_relu: f(LeakyRelu(p.alpha)); return;
    case Activation::elu: f(Elu(p.alpha, 1.0f)); return;
    case Activation::sigmoid: f(Sigmoid{}); return;
    case Activation::tanh: f(Tanh{}); return;
    case Activation::hard_sigmoid: f(HardSigmoid(p.alpha)); return;
    case Activation::swish: f(Swish{}); return;
    case Activation::gelu: f(Gelu(p.alpha)); return;
    case Activation::softplus: f(Softplus{}); return;
    case Activation::selu: f(Elu(kSeluAlpha, kSeluScale)); return;
    case Activation::exponential: f(Exp{}); return;
    case Activation::softsign: f(Softsign{}); return;
    case Activation::hard_silu: f(HardSilu{}); return;
    case Activation::thresholded_relu: f(ThresholdedRelu(p.alpha)); return;
    case Activation::mish: f(Mish{}); return;
    case Activation::log_sigmoid: f(LogSigmoid{}); return;
  }
  f(Linear{});  // unreachable for valid codes
}

// The activations a fusing kernel applies to accumulators still in registers: a compare and a
// select or two each (linear, relu with or without a slope, relu6, leaky_relu). Calls f(op) with
// the same functor visit_activation(a, fused_params(alpha), ...) would pass and returns true;
// for every other code returns false without calling f (apply those to the stored result, e.g.
// with activation_rows).
template <class F>
inline bool visit_register_activation(Activation a, float alpha, F&& f) {
  switch (a) {
    case Activation::linear: f(Linear{}); return true;
    case Activation::relu:
      if (alpha == 0.0f) {
        f(Relu{});
      } else {
        f(LeakyRelu(alpha));
      }
      return true;
    case Activation::relu6: f(ReluCapped(6.0f)); return true;
    case Activation::leaky_relu: f(LeakyRelu(alpha)); return true;
    default: return false;
  }
}

// Whether visit_register_activation takes code a.
inline bool is_register_activation(Activation a) {
  return visit_register_activation(a, 0.0f, [](const auto&) {});
}

// One vector through a register activation; other codes pass it through unchanged. For kernels
// that choose per vector rather than per tile.
inline VecF register_activation(VecF x, Activation a, float alpha) {
  VecF y = x;
  visit_register_activation(a, alpha, [&](const auto& op) { y = op.fwd(x); });
  return y;
}

// y = op.fwd(y) in place on rows x cols floats at c (row stride ldc), kWidth floats at a time
// with a masked tail.
template <class Op>
inline void map_rows(const Op& op, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    int64_t j = 0;
    for (; j + kWidth <= cols; j += kWidth) store(row + j, op.fwd(load(row + j)));
    if (j < cols) {
      const int w = static_cast<int>(cols - j);
      store_partial(row + j, op.fwd(load_partial(row + j, w)), w);
    }
  }
}

// Applies activation a (parameters p) in place to a block of stored rows. A fusing kernel calls
// it on a tile it has just written, while the tile is still in L1.
inline void activation_rows(Activation a, const UnaryParams& p, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  visit_activation(a, p, [&](const auto& op) { map_rows(op, c, ldc, rows, cols); });
}

}  // namespace pyk::eltwise::PYK_ISA_NS
