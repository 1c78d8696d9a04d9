#pragma once
// Activations that kernels can fuse into their epilogue (GEMM, convolution) or apply on their own.
// The numbering is part of the binding interface (pykeras passes these as ints).
#include <cstdint>

namespace pyk {

enum class Activation : int32_t {
  linear = 0,
  relu = 1,        // max(x, 0)
  relu6 = 2,       // min(max(x, 0), 6)
  leaky_relu = 3,  // x if x > 0 else alpha * x
  elu = 4,         // x if x > 0 else alpha * (exp(x) - 1)
  sigmoid = 5,     // 1 / (1 + exp(-x))
  tanh = 6,
  hard_sigmoid = 7,  // clip(0.2 * x + 0.5, 0, 1), Keras 2's definition
  swish = 8,       // x * sigmoid(x)
  gelu = 9,        // x * Phi(x), tanh approximation when alpha != 0, exact erf form otherwise
  softplus = 10,   // log(1 + exp(x))
  selu = 11,
  exponential = 12,
  softsign = 13,
};

constexpr int32_t kNumActivations = 14;

}  // namespace pyk
