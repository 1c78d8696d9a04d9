#pragma once
// Elementwise kernels on contiguous float32 arrays: activations and unary math (forward and
// backward), binary operations with numpy broadcasting, reductions over an axis group, softmax /
// log-softmax and the fused softmax + cross-entropy losses. Shapes arrive already simplified by
// the bindings (csrc/bindings/eltwise.cpp): a broadcast is a few collapsed dimensions with element
// strides, a reduction is one [outer, len, inner] view. Kernels trust their inputs.
//
// Every kernel splits its work with parallel_for into pieces fixed by the shape alone and combines
// partial results in a fixed order, so results are bitwise identical for any thread count.
#include <cmath>
#include <cstdint>

#include "kernels/activation.h"
#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::eltwise {

// Unary operations. Codes below kNumActivationsAll are the Activation codes (kernels/activation.h);
// the plain math functions follow from 64.
enum class UnaryOp : int32_t {
  exp = 64, exp2, expm1, log, log2, log10, log1p,
  sqrt, rsqrt, square, abs, sign, neg, reciprocal,
  floor, ceil, round, trunc, clip,
  // Scalar libm, lane by lane (no vector version here).
  sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, arcsinh, arccosh, arctanh, erf, erfc,
  last_
};
static constexpr UnaryOp activation_op(Activation a) { return static_cast<UnaryOp>(static_cast<int32_t>(a)); }

struct UnaryParams {
  float alpha = 0.0f;              // the activation's parameter (see activation.h); relu: negative slope
  float max_value = INFINITY;      // relu: upper clip (inf: none); clip: upper bound
  float threshold = 0.0f;          // relu: x <= threshold is damped
  float min_value = -INFINITY;     // clip: lower bound
};

enum class BinaryOp : int32_t {
  add, subtract, multiply, divide, maximum, minimum, power,
  prelu,  // a > 0 ? a : b * a (b is PReLU's learned alpha)
  // Comparisons write bytes 0 / 1 (numpy bool).
  equal, not_equal, less, less_equal, greater, greater_equal,
  last_
};
static constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::equal; }

// Iteration plan of out[i] = f(a[ia], b[ib]) for a contiguous output of the broadcast shape,
// collapsed to ndim dimensions (adjacent dimensions merged where both operands allow it).
// Element strides are 0 along broadcast dimensions.
constexpr int kMaxDims = 16;
struct Broadcast {
  int ndim = 1;
  int64_t shape[kMaxDims] = {0};
  int64_t stride_a[kMaxDims] = {0};
  int64_t stride_b[kMaxDims] = {0};
};

// A reduction over the middle axis of a contiguous [outer, len, inner] view; results are
// [outer, inner].
struct ReduceShape {
  int64_t outer = 1, len = 1, inner = 1;
};

enum class ReduceOp : int32_t { sum, mean, max, min, prod, var, std, logsumexp, last_ };

struct Table {
  // ---- unary (activations and math); y may be x
  void (*unary)(UnaryOp op, const UnaryParams& p, const float* x, float* y, int64_t n);
  // dx = dy * f'(.), from y when y != nullptr and the operation allows it, else from x.
  void (*unary_backward)(UnaryOp op, const UnaryParams& p, const float* x, const float* y, const float* dy,
                         float* dx, int64_t n);

  // ---- binary with broadcasting; out is float, or uint8 for comparisons
  void (*binary)(BinaryOp op, const Broadcast& bc, const float* a, const float* b, void* out);
  // Elementwise partial derivatives times dy over the broadcast (output) shape:
  // ga = dy * df/da, gb = dy * df/db (either may be nullptr). Reducing them to the operand shapes
  // is a separate sum reduction.
  void (*binary_backward)(BinaryOp op, const Broadcast& bc, const float* a, const float* b, const float* dy,
                          float* ga, float* gb);
  // out = scale * a broadcast to the output shape of bc (stride_a used, b ignored).
  void (*broadcast)(const Broadcast& bc, const float* a, float scale, float* out);

  // ---- reductions over the middle axis of [outer, len, inner]
  void (*reduce)(ReduceOp op, const ReduceShape& s, const float* x, float* y);
  // Index of the first maximum (minimum) along len; NaN counts as the maximum (minimum).
  void (*arg_reduce)(bool is_max, const ReduceShape& s, const float* x, int64_t* idx);
  // dx from x, the forward result y and dy (both [outer, inner]).
  void (*reduce_backward)(ReduceOp op, const ReduceShape& s, const float* x, const float* y, const float* dy,
                          float* dx);

  // ---- softmax over the middle axis of [outer, len, inner]
  void (*softmax)(bool log, const ReduceShape& s, const float* x, float* y);
  void (*softmax_backward)(bool log, const ReduceShape& s, const float* y, const float* dy, float* dx);

  // ---- fused softmax + cross-entropy over the class axis (middle of [outer, classes, inner]).
  // loss [outer, inner] = sum_c y_c (logsumexp(z) - z_c); grad (may be nullptr) =
  // (softmax(z) * sum_c y_c - y) * dloss, dloss [outer, inner] (nullptr: ones).
  void (*softmax_xent)(const ReduceShape& s, const float* logits, const float* labels, const float* dloss,
                       float* loss, float* grad);
  // Integer labels [outer, inner]; a label equal to `ignore` gives loss 0 and gradient 0.
  void (*sparse_softmax_xent_i32)(const ReduceShape& s, const float* logits, const int32_t* labels,
                                  int64_t ignore, const float* dloss, float* loss, float* grad);
  void (*sparse_softmax_xent_i64)(const ReduceShape& s, const float* logits, const int64_t* labels,
                                  int64_t ignore, const float* dloss, float* loss, float* grad);
  // Elementwise binary cross-entropy from logits: loss = softplus(z) - y z, computed without
  // overflow; grad (may be nullptr) = (sigmoid(z) - y) * dloss (dloss nullptr: ones).
  void (*sigmoid_xent)(const float* logits, const float* labels, const float* dloss, float* loss, float* grad,
                       int64_t n);

  // ---- the foundation's plain kernels (same-shape add, relu, relu_backward)
  void (*add)(const float* a, const float* b, float* y, int64_t n);
  void (*relu)(const float* x, float* y, int64_t n);
  // dx = dy where x > 0, else 0.
  void (*relu_backward)(const float* x, const float* dy, float* dx, int64_t n);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

// Same-ISA entry points for other kernel families.
namespace PYK_ISA_NS {
void unary(UnaryOp op, const UnaryParams& p, const float* x, float* y, int64_t n);
void unary_backward(UnaryOp op, const UnaryParams& p, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n);
void binary(BinaryOp op, const Broadcast& bc, const float* a, const float* b, void* out);
void binary_backward(BinaryOp op, const Broadcast& bc, const float* a, const float* b, const float* dy, float* ga,
                     float* gb);
void broadcast(const Broadcast& bc, const float* a, float scale, float* out);
void reduce(ReduceOp op, const ReduceShape& s, const float* x, float* y);
void arg_reduce(bool is_max, const ReduceShape& s, const float* x, int64_t* idx);
void reduce_backward(ReduceOp op, const ReduceShape& s, const float* x, const float* y, const float* dy, float* dx);
void softmax(bool log, const ReduceShape& s, const float* x, float* y);
void softmax_backward(bool log, const ReduceShape& s, const float* y, const float* dy, float* dx);
void softmax_xent(const ReduceShape& s, const float* logits, const float* labels, const float* dloss, float* loss,
                  float* grad);
void sparse_softmax_xent_i32(const ReduceShape& s, const float* logits, const int32_t* labels, int64_t ignore,
                             const float* dloss, float* loss, float* grad);
void sparse_softmax_xent_i64(const ReduceShape& s, const float* logits, const int64_t* labels, int64_t ignore,
                             const float* dloss, float* loss, float* grad);
void sigmoid_xent(const float* logits, const float* labels, const float* dloss, float* loss, float* grad, int64_t n);
void add(const float* a, const float* b, float* y, int64_t n);
void relu(const float* x, float* y, int64_t n);
void relu_backward(const float* x, const float* dy, float* dx, int64_t n);
}  // namespace PYK_ISA_NS

}  // namespace pyk::eltwise
