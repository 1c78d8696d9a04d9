#pragma once
// Vectorised float32 transcendental functions on VecF (simd/vec.h), compiled once per ISA like the
// kernels that include them: exp, expm1, log, log1p, tanh, sigmoid, softplus, and the standard
// normal CDF / density used by the exact GELU. Every function is branch-free over the lanes
// (both sides of a piecewise definition are evaluated and the lanes selected), propagates NaN, and
// returns the correct limits at +-inf and on overflow/underflow.
//
// Method: exp and expm1 reduce x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 split into a
// 9-bit head, so n * head is exact with or without FMA) and evaluate e^r = 1 + r + r^2 P(r);
// log and log1p split x = m 2^e with m in [sqrt(1/2), sqrt(2)) and evaluate
// log(m) = f - f^2/2 + f^3 P(f), f = m - 1 (log1p adds the rounding error of 1 + x back as
// (x - (u - 1)) / u); tanh uses x + x^3 P(x^2) for |x| <= 1 and 1 - 2e/(1 + e), e = exp(-2|x|),
// above; sigmoid is 1/(1 + e) or e/(1 + e) with e = exp(-|x|), never cancelling; the normal CDF
// uses Phi(-a) = t exp(-a^2/2 + P(u)), t = 1/(1 + 0.3a), u linear in t, with a^2/2 and the sum
// carried as exact head + tail so the large exponent does not amplify rounding. The polynomials
// are minimax fits with float32 coefficients (csrc/simd/fit_math_coeffs.py regenerates them).
//
// Accuracy, as max error against a float64 reference on all three ISA paths (tests/kernels/
// test_math_ulp.py checks every 4099th float plus every float near the range boundaries; sweeps
// of every 32nd float of the whole range gave the same maxima):
//   exp <= 1 ulp, exp2 <= 1, expm1 <= 2, log <= 1, log2 <= 2, log10 <= 2.5, log1p <= 2,
//   tanh <= 2, sigmoid <= 3, softplus <= 3, x * normal_cdf(x) (exact GELU) <= 8 (9 on the generic
//   path, which has no FMA), relative also in the far lower tail down to |result| ~ 1e-36, below
//   which FTZ may flush an intermediate.
// Denormals: kernels run with FTZ/DAZ (runtime/threading.h). A result below FLT_MIN (2^-126) is
// therefore flushed to +-0 (exp(x) for x < -87.34, sigmoid(x) for x < -87.34, ...), and a denormal
// input reads as +-0 (log(denormal) = -inf, exp(denormal) = 1). Without FTZ the same code returns
// the correctly rounded denormal to within the bounds above.
#include <cfloat>
#include <cmath>

#include "simd/vec.h"

namespace pyk::simd::PYK_ISA_NS {

namespace math_constants {
constexpr float kLog2e = 1.44269504088896341f;
// ln 2 = kLn2Hi + kLn2Lo; kLn2Hi has 9 significant bits so n * kLn2Hi is exact for |n| < 2^15.
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440054690583e-4f;
// exp(x) is +inf above 88.7228... and rounds to 0 below -103.98 (half the smallest denormal);
// clamping to [-104, 89] keeps n = round(x log2 e) within what ldexp handles, without changing
// those results.
constexpr float kExpClampLo = -104.0f;
constexpr float kExpClampHi = 89.0f;
constexpr float kSqrt2 = 1.41421356237309505f;
constexpr float kInvSqrt2Pi = 0.398942280401432678f;

// e^r = 1 + r + r^2 P(r), |r| <= ln2/2 (fit error 0.03 ulp).
constexpr float kExpP[] = {0.4999999403953552f, 0.1666652113199234f, 0.04166838899254799f,
                           0.008368710055947304f, 0.001381461275741458f};
// log(1 + f) = f - f^2/2 + f^3 P(f), f in [sqrt(1/2) - 1, sqrt(2) - 1] (fit error 0.07 ulp).
constexpr float kLogP[] = {0.3333333134651184f,   -0.250008225440979f,   0.20001226663589478f,
                           -0.16623356938362122f, 0.14201758801937103f,  -0.13160182535648346f,
                           0.12761574983596802f,  -0.07634492963552475f};
// tanh(x) = x + x^3 P(x^2), |x| <= 1 (fit error 0.07 ulp).
constexpr float kTanhP[] = {-0.33333295583724976f, 0.13332344591617584f, -0.05387980490922928f,
                            0.021486658602952957f, -0.007946106605231762f, 0.0023013646714389324f,
                            -0.00035845203092321754f};
constexpr float kTanhSmall = 1.0f;  // polynomial range
// Phi(-a) = t exp(-a^2/2 + P(u)), t = 1/(1 + kPhiT a), u = t kPhiU1 - kPhiU0 in [-1, 1] for
// a in [0, kPhiMaxA] (fit error 0.4 ulp). Beyond kPhiMaxA, Phi(-a) < 1e-44 is taken as 0.
constexpr float kPhiT = 0.3f;
constexpr float kPhiU1 = 2.4761905670166016f;
constexpr float kPhiU0 = 1.476190447807312f;
constexpr float kPhiMaxA = 14.0f;
constexpr float kPhiP[] = {-1.3585991859436035f,     0.6315900087356567f,     0.06143701821565628f,
                           -0.02299118973314762f,    -0.007499168626964092f,  0.0023165384773164988f,
                           0.001024117460474372f,    -0.00034345686435699463f, -0.0001372314727632329f,
                           4.238381370669231e-05f,   1.2951950338901952e-05f};
}  // namespace math_constants

// c[0] + x (c[1] + x (c[2] + ...)).
template <int N>
inline VecF horner(VecF x, const float (&c)[N]) {
  VecF acc = set1(c[N - 1]);
  for (int i = N - 2; i >= 0; --i) acc = fmadd(acc, x, set1(c[i]));
  return acc;
}

// hi + lo = a * b exactly. With FMA the tail is one fused operation; without it, Veltkamp's split
// into 12-bit halves makes every partial product exact.
inline void two_prod(VecF a, VecF b, VecF* hi, VecF* lo) {
  *hi = a * b;
#if PYK_ISA_LEVEL >= 1
  *lo = fmsub(a, b, *hi);
#else
  const VecF split = set1(4097.0f);  // 2^12 + 1
  const VecF ca = a * split, cb = b * split;
  const VecF ah = ca - (ca - a), bh = cb - (cb - b);
  const VecF al = a - ah, bl = b - bh;
  *lo = ((ah * bh - *hi) + ah * bl + al * bh) + al * bl;
#endif
}

// s + err = a + b exactly (Knuth's two-sum; no ordering requirement).
inline void two_sum(VecF a, VecF b, VecF* s, VecF* err) {
  *s = a + b;
  const VecF bb = *s - a;
  *err = (a - (*s - bb)) + (b - bb);
}

// Shared range reduction of exp/expm1: x = n ln2 + r, |r| <= ln2/2; returns e^r - 1 = r + r^2 P(r).
inline VecF exp_reduce(VecF x, VecF* n) {
  using namespace math_constants;
  x = min(set1(kExpClampHi), max(set1(kExpClampLo), x));  // operand order keeps NaN
  *n = round_nearest(x * set1(kLog2e));
  VecF r = fnmadd(*n, set1(kLn2Hi), x);
  r = fnmadd(*n, set1(kLn2Lo), r);
  // P(r) by Estrin's scheme (depth 3 instead of 4): exp sits on the critical path of softmax.
  const VecF r2 = r * r;
  const VecF p01 = fmadd(set1(kExpP[1]), r, set1(kExpP[0]));
  const VecF p23 = fmadd(set1(kExpP[3]), r, set1(kExpP[2]));
  const VecF p = fmadd(fmadd(set1(kExpP[4]), r2, p23), r2, p01);
  return fmadd(r2, p, r);
}

inline VecF exp(VecF x) {
  VecF n;
  const VecF em1 = exp_reduce(x, &n);
  return ldexp(em1 + set1(1.0f), n);
}

// e^x - 1 = 2^n (u + 1) - 1 = 2^n u + (2^n - 1), exact in its last step for n <= 24 and
// equal to exp(x) in float32 beyond. 2^n is formed for n <= 127; n = 128 (x > 88.38) doubles.
inline VecF expm1(VecF x) {
  VecF n;
  const VecF u = exp_reduce(x, &n);
  const VecF p = ldexp(set1(1.0f), min(n, set1(127.0f)));
  const VecF y = fmadd(p, u, p - set1(1.0f));
  return select(cmp_gt(n, set1(127.0f)), y + y, y);
}

// Splits a positive normal float as x = m 2^e, m in [sqrt(1/2), sqrt(2)), and returns
// q = log(m) = f - f^2/2 + f^3 P(f), f = m - 1 (exact), plus `extra` (log1p's correction).
inline VecF log_split(VecF x, VecF extra, VecF* e) {
  using namespace math_constants;
  VecF m = split_exponent(x, e);
  const MaskF above = cmp_gt(m, set1(kSqrt2));
  m = select(above, m * set1(0.5f), m);
  *e = select(above, *e + set1(1.0f), *e);
  const VecF f = m - set1(1.0f);
  return fmadd(f * f, fmadd(f, horner(f, kLogP), set1(-0.5f)), f) + extra;
}

// log(x) = e ln2 + q, with e ln2 as an exact head plus a small tail.
inline VecF log_core(VecF x, VecF extra) {
  using namespace math_constants;
  VecF e;
  const VecF q = log_split(x, extra, &e);
  return fmadd(e, set1(kLn2Hi), fmadd(e, set1(kLn2Lo), q));
}

// log of the special inputs: NaN -> NaN, x < 0 -> NaN, +-0 and denormals -> -inf, +inf -> +inf.
inline VecF log_specials(VecF x, VecF y) {
  y = select(cmp_lt(x, set1(FLT_MIN)), set1(-INFINITY), y);
  y = select(cmp_lt(x, zero()), set1(NAN), y);
  y = select(cmp_eq(x, set1(INFINITY)), x, y);
  return select(is_nan(x), x, y);
}

inline VecF log(VecF x) { return log_specials(x, log_core(x, zero())); }

// log2(x) = e + q log2(e), the constant split in two so the product keeps ~30 bits.
inline VecF log2(VecF x) {
  VecF e;
  const VecF q = log_split(x, zero(), &e);
  const VecF t = fmadd(q, set1(1.44269502162933349609375f), q * set1(1.92596298909109e-8f));
  return log_specials(x, e + t);
}

// log10(x) = e log10(2) + q log10(e), both constants split into a short head and a tail.
inline VecF log10(VecF x) {
  VecF e;
  const VecF q = log_split(x, zero(), &e);
  // log10(2) = 0.30102999566... = head (12 bits, so e * head is exact) + tail.
  const VecF head = set1(0.30102539062500000000f), tail = set1(4.6050389811980175e-6f);
  const VecF t = fmadd(q, set1(0.434294481903251828f), e * tail);
  return log_specials(x, fmadd(e, head, t));
}

inline VecF log1p(VecF x) {
  const VecF one = set1(1.0f);
  const VecF u = x + one;
  // u = 1 + x rounded; log(1 + x) = log(u) + (x - (u - 1)) / u to first order.
  const VecF correction = (x - (u - one)) / u;
  return log_specials(u, log_core(u, correction));
}

inline VecF tanh(VecF x) {
  using namespace math_constants;
  const VecF one = set1(1.0f);
  const VecF a = abs(x);
  const VecF z = x * x;
  const VecF small = fmadd(x * z, horner(z, kTanhP), x);
  const VecF e = exp(-(a + a));
  const VecF large = copysign(one - (e + e) / (one + e), x);
  return select(cmp_le(a, set1(kTanhSmall)), small, large);
}

inline VecF sigmoid(VecF x) {
  const VecF one = set1(1.0f);
  const VecF e = exp(-abs(x));
  return select(cmp_ge(x, zero()), one, e) / (one + e);
}

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|).
inline VecF softplus(VecF x) { return log1p(exp(-abs(x))) + max(x, zero()); }

// Phi(-a) = t * g for a >= 0 (the lower tail of the standard normal CDF, accurate relative to
// its value), returned as its two factors so that callers can scale t first: x Phi(x) then stays
// a normal float (not flushed to zero) for as long as the true product is one.
inline VecF normal_cdf_lower_parts(VecF a, VecF* t) {
  using namespace math_constants;
  const VecF ac = min(set1(kPhiMaxA), a);  // keeps NaN
  *t = set1(1.0f) / fmadd(ac, set1(kPhiT), set1(1.0f));
  // Estrin's scheme: the same polynomial with a dependency chain of depth 5 instead of 10.
  const VecF u = fmsub(*t, set1(kPhiU1), set1(kPhiU0));
  const VecF u2 = u * u, u4 = u2 * u2;
  auto pair = [&](int k) { return fmadd(set1(kPhiP[k + 1]), u, set1(kPhiP[k])); };
  const VecF q0 = fmadd(pair(2), u2, pair(0));
  const VecF q1 = fmadd(pair(6), u2, pair(4));
  const VecF q2 = fmadd(set1(kPhiP[10]), u2, pair(8));
  const VecF p = fmadd(fmadd(q2, u4, q1), u4, q0);
  VecF sq_hi, sq_lo, s, s_err;
  two_prod(ac, ac, &sq_hi, &sq_lo);  // a^2 exactly; halving is exact too
  two_sum(p, sq_hi * set1(-0.5f), &s, &s_err);
  const VecF e = exp(s);
  // e (1 + c), not fmadd(e, c, e): without FMA the product e c would be flushed by FTZ in the tail.
  const VecF g = e * (set1(1.0f) + fnmadd(sq_lo, set1(0.5f), s_err));
  return select(cmp_ge(a, set1(kPhiMaxA)), zero(), g);
}

// Standard normal CDF.
inline VecF normal_cdf(VecF x) {
  VecF t;
  const VecF g = normal_cdf_lower_parts(abs(x), &t);
  const VecF lower = t * g;
  return select(cmp_gt(x, zero()), set1(1.0f) - lower, lower);
}

// x Phi(x) (the exact GELU).
inline VecF x_normal_cdf(VecF x) {
  VecF t;
  const VecF g = normal_cdf_lower_parts(abs(x), &t);
  return select(cmp_gt(x, zero()), x * fnmadd(t, g, set1(1.0f)), (x * t) * g);
}

// Standard normal density exp(-x^2/2) / sqrt(2 pi), with x^2/2 carried exactly; 0 beyond
// |x| = kPhiMaxA (the density is then below 1e-43).
inline VecF normal_pdf(VecF x) {
  using namespace math_constants;
  const VecF a = min(set1(kPhiMaxA), abs(x));  // keeps NaN
  VecF sq_hi, sq_lo;
  two_prod(a, a, &sq_hi, &sq_lo);
  const VecF e = exp(sq_hi * set1(-0.5f));
  const VecF y = e * fnmadd(sq_lo, set1(0.5f), set1(1.0f)) * set1(kInvSqrt2Pi);
  return select(cmp_ge(a, set1(kPhiMaxA)), zero(), y);
}

// 2^x: x = n + f, |f| <= 1/2, 2^f = e^r with r = f ln2.
inline VecF exp2(VecF x) {
  using namespace math_constants;
  // 2^x is +inf above 128 and rounds to 0 below -150.
  x = min(set1(129.0f), max(set1(-151.0f), x));
  const VecF n = round_nearest(x);
  const VecF r = (x - n) * set1(0.693147180559945309f);
  const VecF em1 = fmadd(r * r, horner(r, kExpP), r);
  return ldexp(em1 + set1(1.0f), n);
}

}  // namespace pyk::simd::PYK_ISA_NS
