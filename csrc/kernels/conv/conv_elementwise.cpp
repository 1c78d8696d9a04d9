// The elementwise pieces of the convolution family: activations for the epilogues (the scalar
// forms of those without a vector form), the gradient of a fused activation computed from its
// output, the bias gradient (a column sum over pixels, in fixed partitions), and this ISA's
// dispatch table.
#include <cmath>

#include "kernels/conv/conv_common.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

namespace {
constexpr float kSeluScale = 1.0507009873554805f;
constexpr float kSeluAlpha = 1.6732632423543772f;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
// softplus(x) = x to float precision beyond this.
constexpr float kSoftplusLinear = 20.0f;
// Elements per thread chunk of the elementwise gradient (~20 us of memory traffic).
constexpr int64_t kGrain = 32768;
}  // namespace

float act_scalar(float x, Activation act, float alpha) {
  switch (act) {
    case Activation::linear: return x;
    case Activation::relu: return x < 0.0f ? 0.0f : x;
    case Activation::relu6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case Activation::leaky_relu: return x < 0.0f ? alpha * x : x;
    case Activation::elu: return x > 0.0f ? x : alpha * std::expm1(x);
    case Activation::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
    case Activation::hard_sigmoid: {
      const float y = 0.2f * x + 0.5f;
      return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
    case Activation::swish: return x / (1.0f + std::exp(-x));
    case Activation::gelu:
      if (alpha != 0.0f) return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
      return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
    case Activation::softplus: return x > kSoftplusLinear ? x : std::log1p(std::exp(x));
    case Activation::selu: return kSeluScale * (x > 0.0f ? x : kSeluAlpha * std::expm1(x));
    case Activation::exponential: return std::exp(x);
    case Activation::softsign: return x / (1.0f + std::fabs(x));
  }
  return x;
}

void act_apply(float* p, int64_t n, Activation act, float alpha) {
  if (act == Activation::linear) return;
  for (int64_t i = 0; i < n; ++i) p[i] = act_scalar(p[i], act, alpha);
}

namespace {

// d act / dz expressed through y = act(z).
float act_grad_from_output(float y, Activation act, float alpha) {
  switch (act) {
    case Activation::relu: return y > 0.0f ? 1.0f : 0.0f;
    case Activation::relu6: return y > 0.0f && y < 6.0f ? 1.0f : 0.0f;
    case Activation::leaky_relu: return y > 0.0f ? 1.0f : alpha;
    case Activation::elu: return y > 0.0f ? 1.0f : y + alpha;
    case Activation::sigmoid: return y * (1.0f - y);
    case Activation::tanh: return 1.0f - y * y;
    case Activation::hard_sigmoid: return y > 0.0f && y < 1.0f ? 0.2f : 0.0f;
    case Activation::exponential: return y;
    case Activation::selu: return y > 0.0f ? kSeluScale : y + kSeluScale * kSeluAlpha;
    case Activation::softsign: {
      const float t = 1.0f - std::fabs(y);
      return t * t;
    }
    case Activation::softplus: return -std::expm1(-y);  // sigmoid(z) = 1 - exp(-softplus(z))
    default: return 1.0f;
  }
}

}  // namespace

void activation_backward(const float* y, const float* dy, float* dz, int64_t n, Activation act, float alpha) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    if (act == Activation::linear) {
      if (dz != dy) std::memcpy(dz + lo, dy + lo, sizeof(float) * (hi - lo));
      return;
    }
    if (act == Activation::relu || act == Activation::relu6 || act == Activation::leaky_relu) {
      const VecF six = set1(act == Activation::relu6 ? 6.0f : INFINITY);
      const VecF slope = set1(act == Activation::leaky_relu ? alpha : 0.0f);
      for (int64_t i = lo; i < hi; i += kWidth) {
        const int m = static_cast<int>(min64(kWidth, hi - i));
        const VecF yv = load_partial(y + i, m), g = load_partial(dy + i, m);
        const VecF inside = select(cmp_gt(yv, zero()), select(cmp_lt(yv, six), g, zero()), g * slope);
        store_partial(dz + i, inside, m);
      }
      return;
    }
    for (int64_t i = lo; i < hi; ++i) dz[i] = dy[i] * act_grad_from_output(y[i], act, alpha);
  });
}

void bias_backward(const float* dy, int64_t pixels, int64_t channels, float* db) {
  // Fixed partitions of pixels (from the shape only), summed in partition order.
  constexpr int64_t kMaxParts = 8, kPixelsPerPart = 1024;
  const int64_t P = max64(1, min64(kMaxParts, pixels / kPixelsPerPart));
  AlignedBuffer<float> partial(static_cast<size_t>(P * channels));
  parallel_for(0, P, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      float* acc = partial.data() + p * channels;
      std::memset(acc, 0, sizeof(float) * channels);
      for (int64_t i = p * pixels / P; i < (p + 1) * pixels / P; ++i) {
        for (int64_t c = 0; c < channels; c += kWidth) {
          const int m = static_cast<int>(min64(kWidth, channels - c));
          store_partial(acc + c, load_partial(acc + c, m) + load_partial(dy + i * channels + c, m), m);
        }
      }
    }
  });
  for (int64_t c = 0; c < channels; ++c) {
    float s = partial.data()[c];
    for (int64_t p = 1; p < P; ++p) s += partial.data()[p * channels + c];
    db[c] = s;
  }
}

}  // namespace pyk::conv::PYK_ISA_NS

namespace pyk::conv {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {&isa::forward,           &isa::backward_data,      &isa::backward_filter,
                                &isa::backward,
                                &isa::separable_forward, &isa::separable_backward, &isa::activation_backward,
                                &isa::bias_backward};
}  // namespace pyk::conv
