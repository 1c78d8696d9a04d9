// The elementwise pieces of the convolution family: the fused activation applied to stored
// values (the codes not applied in registers), the gradient of a fused activation computed from
// its output, the bias gradient (a column sum over pixels, in fixed partitions), and this ISA's
// dispatch table. The activations, forward and backward, are the elementwise family's
// (kernels/eltwise/activation_ops.h): a fused activation and its gradient give what the same
// activation gives on its own in pykeras._core.eltwise.
#include "kernels/conv/conv_common.h"
#include "kernels/eltwise/eltwise.h"
#include "runtime/threading.h"

namespace pyk::conv::PYK_ISA_NS {

void act_rows(float* p, int64_t ld, int64_t rows, int64_t n, Activation act, float alpha) {
  if (act == Activation::linear) return;
  eltwise::PYK_ISA_NS::activation_rows(act, eltwise::PYK_ISA_NS::fused_params(alpha), p, ld, rows, n);
}

// The elementwise family's streaming backward, from y (the binding has checked that the
// activation's derivative follows from its output, activation_grad_from_output).
void activation_backward(const float* y, const float* dy, float* dz, int64_t n, Activation act, float alpha) {
  eltwise::PYK_ISA_NS::unary_backward(eltwise::activation_op(act), eltwise::PYK_ISA_NS::fused_params(alpha), nullptr, y,
                                      dy, dz, n);
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
