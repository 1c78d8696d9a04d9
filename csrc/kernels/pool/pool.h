#pragma once
// Pooling on channels-last tensors (NWC, NHWC, NDHWC), forward and backward.
//
// Every windowed pooling is described as 3-D: x is (n, in[0], in[1], in[2], c) and y is
// (n, out[0], out[1], out[2], c); a 1-D or 2-D pooling sets the leading spatial sizes to 1 with
// pool 1, stride 1, pad 0. pad[] is the number of (virtual) elements before the first real one,
// as TensorFlow/Keras place them ('same': pad_total // 2); windows are clipped to the real
// elements, so padding never enters a max and an average divides by the count of real elements.
// Global pooling sees x as (n, s, c) with s the product of the spatial sizes.
//
// Max-pooling backward recomputes the window maxima from x rather than saving argmax indices:
// the forward writes nothing but y (inference pays nothing, no int32 buffer lives on the tape),
// and the backward re-reads x, which is hot in cache right after the forward in a training step.
// Ties go to the first maximal element in scan order (depth, then height, then width), per
// channel. Max pooling skips NaN elements (a window holding only NaNs gives -inf).
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::pool {

struct Window {
  int64_t n = 0, c = 0;
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t pool[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};
};

struct Table {
  void (*max_forward)(const Window& w, const float* x, float* y);
  void (*avg_forward)(const Window& w, const float* x, float* y);
  // dx (shape of x) = gradient of sum(dy * max_pool(x)); dx is fully written.
  void (*max_backward)(const Window& w, const float* x, const float* dy, float* dx);
  // dx (shape of x) = gradient of sum(dy * avg_pool(x)); dx is fully written.
  void (*avg_backward)(const Window& w, const float* dy, float* dx);

  // x (n, s, c) -> y (n, c).
  void (*global_max_forward)(int64_t n, int64_t s, int64_t c, const float* x, float* y);
  void (*global_avg_forward)(int64_t n, int64_t s, int64_t c, const float* x, float* y);
  void (*global_max_backward)(int64_t n, int64_t s, int64_t c, const float* x, const float* dy, float* dx);
  void (*global_avg_backward)(int64_t n, int64_t s, int64_t c, const float* dy, float* dx);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::pool
