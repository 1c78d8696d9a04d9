// Straightforward GEMM: rows of C split over threads, each row accumulated as a sum of rows of
// op(B) scaled by elements of op(A) (an axpy loop the compiler vectorises). Correct for every
// transpose, stride and epilogue; the packed, register-tiled kernels replace its inner loops.
#include <cmath>

#include "kernels/gemm/gemm.h"
#include "runtime/threading.h"

namespace pyk::gemm::PYK_ISA_NS {

namespace {

float apply_act(float x, Activation act, float alpha) {
  switch (act) {
    case Activation::linear: return x;
    case Activation::relu: return x > 0.0f ? x : 0.0f;
    case Activation::relu6: return x > 0.0f ? (x < 6.0f ? x : 6.0f) : 0.0f;
    case Activation::leaky_relu: return x > 0.0f ? x : alpha * x;
    case Activation::elu: return x > 0.0f ? x : alpha * std::expm1(x);
    case Activation::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
    case Activation::hard_sigmoid: { float y = 0.2f * x + 0.5f; return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y); }
    case Activation::swish: return x / (1.0f + std::exp(-x));
    case Activation::gelu:
      if (alpha != 0.0f) return 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
      return 0.5f * x * (1.0f + std::erf(x * 0.70710678118f));
    case Activation::softplus: return x > 20.0f ? x : std::log1p(std::exp(x));
    case Activation::selu: return 1.0507009873554805f * (x > 0.0f ? x : 1.6732632423543772f * std::expm1(x));
    case Activation::exponential: return std::exp(x);
    case Activation::softsign: return x / (1.0f + std::fabs(x));
  }
  return x;
}

}  // namespace

void sgemm(const Problem& p) {
  const int64_t m = p.m, n = p.n, k = p.k;
  if (m <= 0 || n <= 0) return;
  auto rows = [&](int64_t lo, int64_t hi) {
    float* acc = nullptr;
    for (int64_t i = lo; i < hi; ++i) {
      acc = p.c + i * p.ldc;
      // acc = beta * C (or 0), then += alpha * A[i, kk] * B[kk, :]
      for (int64_t j = 0; j < n; ++j) acc[j] = p.beta == 0.0f ? 0.0f : p.beta * acc[j];
      for (int64_t kk = 0; kk < k; ++kk) {
        const float aik = p.alpha * (p.trans_a ? p.a[kk * p.lda + i] : p.a[i * p.lda + kk]);
        if (p.trans_b) {
          for (int64_t j = 0; j < n; ++j) acc[j] += aik * p.b[j * p.ldb + kk];
        } else {
          const float* brow = p.b + kk * p.ldb;
          for (int64_t j = 0; j < n; ++j) acc[j] += aik * brow[j];
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        const float v = p.bias ? acc[j] + p.bias[j] : acc[j];
        acc[j] = apply_act(v, p.act, p.act_alpha);
      }
    }
  };
  if (p.single_thread) {
    rows(0, m);
  } else {
    // About 64K multiply-adds per grain keeps tiny products on one thread.
    const int64_t grain = k * n > 0 ? (65536 + k * n - 1) / (k * n) : m;
    parallel_for(0, m, grain, rows);
  }
}

}  // namespace pyk::gemm::PYK_ISA_NS

namespace pyk::gemm {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {&isa::sgemm};
}  // namespace pyk::gemm
