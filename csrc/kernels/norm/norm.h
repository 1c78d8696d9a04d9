#pragma once
// Batch normalization over one axis of a float32 tensor, seen as (outer, channels, inner):
// the statistics of channel c are taken over all outer and inner indices. Keras's default
// (axis=-1, channels-last) is inner == 1; axis=1 on NCHW-like data has inner = H*W.
//
// Formulas (Keras 3): training uses the batch mean and the biased batch variance,
//   y = gamma * (x - mean) / sqrt(var + epsilon) + beta,
// and updates the moving statistics in place with that same (biased) variance:
//   moving = moving * momentum + batch * (1 - momentum).
// Inference uses the moving statistics (a per-channel affine map).
// Sums are accumulated in double over a fixed partition of the rows (independent of the thread
// count) and combined in order, so results are bitwise identical for any number of threads; the
// variance is taken around a per-channel shift (the channel's first value), so it stays
// accurate when the mean is large compared to the spread.
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::norm {

struct BatchNormShape {
  int64_t outer = 1, channels = 0, inner = 1;
};

struct BatchNormTrain {
  BatchNormShape shape;
  const float* x = nullptr;
  const float* gamma = nullptr;  // null: scale=False (gamma = 1)
  const float* beta = nullptr;   // null: center=False (beta = 0)
  float epsilon = 1e-3f;
  float momentum = 0.99f;
  float* moving_mean = nullptr;  // both null: no moving-statistics update
  float* moving_var = nullptr;
  float* y = nullptr;
  float* mean = nullptr;     // out: batch mean per channel
  float* inv_std = nullptr;  // out: 1 / sqrt(batch variance + epsilon) per channel
};

struct BatchNormInference {
  BatchNormShape shape;
  const float* x = nullptr;
  const float* gamma = nullptr;  // nullable
  const float* beta = nullptr;   // nullable
  const float* moving_mean = nullptr;
  const float* moving_var = nullptr;
  float epsilon = 1e-3f;
  float* y = nullptr;
};

// Gradients of y = gamma * (x - mean) * inv_std + beta. training: mean and inv_std are the batch
// statistics of x (functions of x); otherwise they are constants (moving statistics).
struct BatchNormBackward {
  BatchNormShape shape;
  const float* dy = nullptr;
  const float* x = nullptr;
  const float* mean = nullptr;
  const float* inv_std = nullptr;
  const float* gamma = nullptr;  // nullable
  bool training = true;
  float* dx = nullptr;
  float* dgamma = nullptr;  // sum(dy * (x - mean) * inv_std) per channel
  float* dbeta = nullptr;   // sum(dy) per channel
};

struct Table {
  void (*train_forward)(const BatchNormTrain& a);
  void (*inference_forward)(const BatchNormInference& a);
  void (*backward)(const BatchNormBackward& a);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::norm
