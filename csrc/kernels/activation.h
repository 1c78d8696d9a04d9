#pragma once
// Activations that kernels can fuse into their epilogue (GEMM, convolution) or apply on their own.
// The numbering is part of the binding interface (pykeras passes these as ints). One float
// parameter, `alpha`, travels with the code (the GEMM's act_alpha); its meaning is given per code.
// The elementwise family implements every code, forward and backward (kernels/eltwise).
#include <cstdint>

namespace pyk {

enum class Activation : int32_t {
  linear = 0,
  relu = 1,        // max(x, 0)
  relu6 = 2,       // min(max(x, 0), 6)
  leaky_relu = 3,  // x if x >= 0 else alpha * x
  elu = 4,         // x if x > 0 else alpha * (exp(x) - 1)
  sigmoid = 5,     // 1 / (1 + exp(-x))
  tanh = 6,
  hard_sigmoid = 7,  // clip(s * x + 0.5, 0, 1) with slope s = alpha, or Keras 2's s = 0.2 when
                     // alpha == 0. Keras 3's activations.hard_sigmoid is alpha = 1/6.
  swish = 8,       // x * sigmoid(x) (Keras 3: silu)
  gelu = 9,        // x * Phi(x), tanh approximation when alpha != 0, exact erf form otherwise
  softplus = 10,   // log(1 + exp(x))
  selu = 11,
  exponential = 12,
  softsign = 13,
  // Codes from kNumActivations on are implemented by the elementwise family only; a fusing
  // kernel that adds one should raise its own limit.
  hard_silu = 14,         // x * clip(x / 6 + 0.5, 0, 1) (Keras 3: hard_silu / hard_swish)
  thresholded_relu = 15,  // x if x > alpha else 0 (Keras 2's ThresholdedReLU, theta = alpha)
  mish = 16,              // x * tanh(softplus(x))
  log_sigmoid = 17,       // log(sigmoid(x)) = -softplus(-x)
};

// Codes [0, kNumActivations) are the ones every fusing kernel (GEMM/conv epilogues) accepts.
constexpr int32_t kNumActivations = 14;
// All codes; the elementwise kernels implement every one of them.
constexpr int32_t kNumActivationsAll = 18;

}  // namespace pyk
