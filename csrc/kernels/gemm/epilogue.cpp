// Activations of the GEMM epilogue that are too costly to keep in the register tile (everything
// but linear/relu/relu6/leaky_relu, which the micro-kernels apply themselves). A micro-kernel
// stores its finished tile and calls apply_activation on it right away, while the at most
// 14 x 32 floats are still in L1. Rows are processed kWidth floats at a time with a masked
// tail. exp is a vector polynomial (Cody-Waite range reduction, degree-6 minimax polynomial,
// relative error ~2 ulp); the exact-erf GELU and softplus (log1p) use the C library per element.
#include <cmath>

#include "kernels/gemm/ukernel.h"
#include "simd/vec.h"

namespace pyk::gemm::PYK_ISA_NS {
namespace {

namespace simd = pyk::simd::PYK_ISA_NS;
using simd::VecF;

// exp(x): x = n ln2 + r with |r| <= ln2/2, exp(r) by a polynomial, scaled by 2^n. Inputs are
// clamped to [-104, 89]: below, the result flushes to 0; above, it overflows to +inf via ldexp.
VecF vexp(VecF x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln2 split so n*kLn2Hi is exact
  x = simd::min(simd::max(x, simd::set1(-104.0f)), simd::set1(89.0f));
  const VecF n = simd::round_nearest(x * simd::set1(kLog2e));
  VecF r = simd::fnmadd(n, simd::set1(kLn2Hi), x);
  r = simd::fnmadd(n, simd::set1(kLn2Lo), r);
  // Taylor-like coefficients 1/k! tuned for |r| <= ln2/2 (Cephes expf).
  VecF p = simd::set1(1.9875691500e-4f);
  p = simd::fmadd(p, r, simd::set1(1.3981999507e-3f));
  p = simd::fmadd(p, r, simd::set1(8.3334519073e-3f));
  p = simd::fmadd(p, r, simd::set1(4.1665795894e-2f));
  p = simd::fmadd(p, r, simd::set1(1.6666665459e-1f));
  p = simd::fmadd(p, r, simd::set1(5.0000001201e-1f));
  p = simd::fmadd(p, r * r, r + simd::set1(1.0f));
  return simd::ldexp(p, n);
}

VecF vsigmoid(VecF x) { return simd::set1(1.0f) / (simd::set1(1.0f) + vexp(-x)); }

// tanh(x) = sign(x) * (1 - 2 / (exp(2|x|) + 1)); small |x| uses x - x^3/3 + 2x^5/15 where the
// subtraction would cancel.
VecF vtanh(VecF x) {
  const VecF ax = simd::abs(x);
  const VecF big = simd::set1(1.0f) - simd::set1(2.0f) / (vexp(ax + ax) + simd::set1(1.0f));
  const VecF x2 = x * x;
  const VecF small = x * simd::fmadd(x2, simd::fmadd(x2, simd::set1(2.0f / 15.0f), simd::set1(-1.0f / 3.0f)),
                                     simd::set1(1.0f));
  const VecF signed_big = simd::select(simd::cmp_lt(x, simd::zero()), -big, big);
  return simd::select(simd::cmp_lt(ax, simd::set1(0.01f)), small, signed_big);
}

// exp(x) - 1 for x <= 0 (ELU/SELU negative branch); near 0 the series avoids cancellation.
VecF vexpm1_neg(VecF x) {
  const VecF series = x * simd::fmadd(x, simd::fmadd(x, simd::set1(1.0f / 6.0f), simd::set1(0.5f)), simd::set1(1.0f));
  return simd::select(simd::cmp_gt(x, simd::set1(-0.01f)), series, vexp(x) - simd::set1(1.0f));
}

VecF act_vec(VecF x, Activation act, float alpha) {
  const VecF zero = simd::zero(), one = simd::set1(1.0f);
  switch (act) {
    case Activation::elu:
      return simd::select(simd::cmp_gt(x, zero), x, simd::set1(alpha) * vexpm1_neg(simd::min(x, zero)));
    case Activation::sigmoid: return vsigmoid(x);
    case Activation::tanh: return vtanh(x);
    case Activation::hard_sigmoid:
      return simd::min(simd::max(simd::fmadd(x, simd::set1(0.2f), simd::set1(0.5f)), zero), one);
    case Activation::swish: return x * vsigmoid(x);
    case Activation::gelu: {  // tanh approximation (alpha != 0 selects it)
      const VecF inner = simd::set1(0.7978845608f) * simd::fmadd(simd::set1(0.044715f) * x, x * x, x);
      return simd::set1(0.5f) * x * (one + vtanh(inner));
    }
    case Activation::selu: {
      const VecF neg = simd::set1(1.6732632423543772f) * vexpm1_neg(simd::min(x, zero));
      return simd::set1(1.0507009873554805f) * simd::select(simd::cmp_gt(x, zero), x, neg);
    }
    case Activation::exponential: return vexp(x);
    case Activation::softsign: return x / (one + simd::abs(x));
    default: return x;  // register activations never get here
  }
}

float act_scalar(float x, Activation act, float alpha) {
  if (act == Activation::softplus) return x > 20.0f ? x : std::log1p(std::exp(x));
  // Exact GELU: x * Phi(x).
  return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
}

}  // namespace

void apply_activation(float* c, int64_t ldc, int rows, int cols, Activation act, float act_alpha) {
  constexpr int W = simd::kWidth;
  const bool scalar = act == Activation::softplus || (act == Activation::gelu && act_alpha == 0.0f);
  for (int r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    if (scalar) {
      for (int j = 0; j < cols; ++j) row[j] = act_scalar(row[j], act, act_alpha);
      continue;
    }
    int j = 0;
    for (; j + W <= cols; j += W) simd::store(row + j, act_vec(simd::load(row + j), act, act_alpha));
    if (j < cols) simd::store_partial(row + j, act_vec(simd::load_partial(row + j, cols - j), act, act_alpha), cols - j);
  }
}

}  // namespace pyk::gemm::PYK_ISA_NS
