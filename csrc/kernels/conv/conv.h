#pragma once
// Convolution kernels on channels_last float32 data with Keras's kernel layouts.
//
// Every problem is expressed in three spatial dimensions (D, H, W); 1-d and 2-d convolutions set
// the leading sizes to 1. Arrays are C-contiguous:
//   x       (batch, in[0], in[1], in[2], cin)
//   y / dy  (batch, out[0], out[1], out[2], cout)
//   kernel  (k[0], k[1], k[2], cin / groups, cout)          Keras Conv kernel (HWIO)
// Output channel o belongs to group o / (cout / groups) and reads input channels of that group.
// A depthwise convolution is the case groups == cin, cout = cin * multiplier: Keras's depthwise
// kernel (k..., cin, multiplier) has exactly the bytes of (k..., 1, cin * multiplier), so the same
// entry points take it and dispatch to the dedicated depthwise kernels.
// Padding is given as the count of implicit zeros before the data in each dimension; the
// padding after is whatever the output size implies (TensorFlow 'same' puts the odd one there).
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/eltwise/eltwise.h"
#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::conv {

struct Shape {
  int64_t batch = 1;
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};  // zeros before the data
  int64_t cin = 1, cout = 1, groups = 1;
};

struct Table {
  // y = act(conv(x, kernel) + bias). bias (cout values) may be null.
  void (*forward)(const Shape& s, const float* x, const float* kernel, const float* bias, Activation act,
                  float act_alpha, float* y);
  // dx = gradient of the convolution with respect to x, given dy; every element of dx is written.
  // With bias (cin values) and act it is also the transposed convolution:
  // dx = act(conv_transpose(dy, kernel) + bias).
  void (*backward_data)(const Shape& s, const float* dy, const float* kernel, const float* bias,
                        Activation act, float act_alpha, float* dx);
  // dkernel (Keras layout) and, when dbias is not null, dbias (cout values) from x and dy.
  // Deterministic: partial sums are combined in an order fixed by the shape alone.
  void (*backward_filter)(const Shape& s, const float* x, const float* dy, float* dkernel, float* dbias);
  // Both gradients (dx may be null): for depthwise problems in one pass over dy.
  void (*backward)(const Shape& s, const float* x, const float* kernel, const float* dy, float* dx, float* dkernel,
                   float* dbias);
  // Separable convolution: s describes the depthwise stage (groups == cin, cout = cin * mult);
  // pointwise kernel (cin * mult, pw_out); y = act(pointwise(depthwise(x)) + bias).
  void (*separable_forward)(const Shape& s, int64_t pw_out, const float* x, const float* dw_kernel,
                            const float* pw_kernel, const float* bias, Activation act, float act_alpha,
                            float* y);
  // Gradients of the separable convolution (pre-activation dy). dx may be null (not needed);
  // dbias may be null.
  void (*separable_backward)(const Shape& s, int64_t pw_out, const float* x, const float* dw_kernel,
                             const float* pw_kernel, const float* dy, float* dx, float* d_dw_kernel,
                             float* d_pw_kernel, float* dbias);
  // dz = dy * act'(z), computed from the activation's output y = act(z) (n elements), by the
  // elementwise family's backward. Defined for the activations whose derivative is a function of
  // their output (see activation_backward_supported).
  void (*activation_backward)(const float* y, const float* dy, float* dz, int64_t n, Activation act,
                              float act_alpha);
  // db[c] = sum over pixels of dy[pixel, c] (deterministic for any thread count).
  void (*bias_backward)(const float* dy, int64_t pixels, int64_t channels, float* db);
};

// Activations whose derivative can be recovered from their output, for this alpha: the
// elementwise family's rule (eltwise::activation_grad_from_output), as its functors implement it.
inline bool activation_backward_supported(Activation a, float alpha) {
  eltwise::UnaryParams p;
  p.alpha = alpha;
  return eltwise::activation_grad_from_output(a, p);
}

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::conv
