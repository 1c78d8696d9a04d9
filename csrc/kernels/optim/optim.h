#pragma once
// Fused optimizer updates over a whole list of parameters, and gradient-clipping helpers.
//
// One call updates every parameter of a model: the tensors of a list are laid end to end in
// one index space (offset[t] .. offset[t+1] for tensor t) and a single parallel loop walks it
// in chunks that may span tensors. All updates are elementwise, so the result never depends on
// the thread count. Formulas and their order of operations follow Keras 3 (float32
// arithmetic; step-dependent scalars computed once per call in double):
//   weight decay (decoupled, before the update): p -= p * (weight_decay * learning_rate)
//   SGD      m = momentum*m - lr*g;  p += m  (nesterov: p += momentum*m - lr*g);  no m: p -= lr*g
//   RMSprop  v = rho*v + (1-rho)*g^2;  centered: a = rho*a + (1-rho)*g, d = v - a^2 + eps,
//            else d = v + eps;  inc = lr*g / sqrt(d);  momentum: m = momentum*m + inc, p -= m;
//            else p -= inc
//   Adagrad  acc += g^2;  p -= lr*g / sqrt(acc + eps)
//   Adadelta ag = rho*ag + (1-rho)*g^2;  dv = -sqrt(adv + eps)*g / sqrt(ag + eps);
//            adv = rho*adv + (1-rho)*dv^2;  p += lr*dv
//   Adam     m += (g-m)*(1-b1);  v += (g^2-v)*(1-b2);  amsgrad: vh = max(vh, v), v = vh;
//            p -= m * lr*sqrt(1-b2^t)/(1-b1^t) / (sqrt(v) + eps)
//   Adamax   m += (g-m)*(1-b1);  u = max(b2*u, |g|);  p -= lr*m / ((1-b1^t) * (u + eps))
//   Nadam    m, v as Adam;  mu_t = b1*(1 - 0.5*0.96^t), mu_{t+1} likewise, P_t = prod mu_1..mu_t;
//            m_hat = mu_{t+1}*m/(1 - P_t*mu_{t+1}) + (1-mu_t)*g/(1 - P_t);  v_hat = v/(1-b2^t);
//            p -= lr*m_hat / (sqrt(v_hat) + eps)
// t is the 1-based number of this update (Keras's iterations + 1).
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/isa_namespace.h"

namespace pyk::optim {

constexpr int kMaxSlots = 3;

// Tensors updated together. Tensor t has offset[t+1] - offset[t] elements at param[t], grad[t]
// and, for each optimizer state variable k in use, slot[k][t].
struct TensorList {
  int64_t count = 0;
  const int64_t* offset = nullptr;  // count + 1 entries, offset[0] = 0
  float* const* param = nullptr;
  const float* const* grad = nullptr;
  float* const* slot[kMaxSlots] = {nullptr, nullptr, nullptr};
  const float* weight_decay = nullptr;  // per tensor, or null: no decay
};

struct Hyper {
  float learning_rate = 0.001f;
  float momentum = 0.0f;
  float rho = 0.9f;
  float beta_1 = 0.9f, beta_2 = 0.999f;
  float epsilon = 1e-7f;
  bool nesterov = false, centered = false, amsgrad = false;
  int64_t step = 1;
};

// Arrays modified in place by the clipping helpers (same layout as TensorList).
struct ArrayList {
  int64_t count = 0;
  const int64_t* offset = nullptr;
  float* const* data = nullptr;
};

struct Table {
  // Slots: SGD {momentum}; RMSprop {velocity, momentum, average_gradient}; Adagrad
  // {accumulator}; Adadelta {accumulated_grad, accumulated_delta_var}; Adam {momentum, velocity,
  // velocity_hat}; Adamax {momentum, norm}; Nadam {momentum, velocity}. Unused slots are null.
  void (*sgd)(const TensorList& l, const Hyper& h);
  void (*rmsprop)(const TensorList& l, const Hyper& h);
  void (*adagrad)(const TensorList& l, const Hyper& h);
  void (*adadelta)(const TensorList& l, const Hyper& h);
  void (*adam)(const TensorList& l, const Hyper& h);
  void (*adamax)(const TensorList& l, const Hyper& h);
  void (*nadam)(const TensorList& l, const Hyper& h);

  // Per-array sums of squares (double), deterministic for any thread count.
  void (*sum_squares)(const ArrayList& a, double* out);
  // a[t] *= factor[t].
  void (*scale)(const ArrayList& a, const float* factor);
  // a = min(max(a, lo), hi); NaN stays NaN.
  void (*clip)(const ArrayList& a, float lo, float hi);
};

extern const Table table_generic, table_avx2, table_avx512;
static inline const Table& table() { return select_table(table_generic, table_avx2, table_avx512); }

}  // namespace pyk::optim
