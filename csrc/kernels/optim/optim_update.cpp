// Fused optimizer updates (formulas in optim.h). The tensors of a list share one flat index
// space; parallel_for splits it into chunks of whole kGrain elements (chunks may span
// tensors), and each chunk walks its tensors' segments with one vector loop per segment
// (masked last vector). Every element's update depends only on that element, and chunk
// boundaries inside a tensor snap to the vector width (optim_impl.h) so that each element
// takes the same code path whatever the partition: the same bits for any thread count.
// Step-dependent scalars (bias corrections) are computed once per call in double and rounded
// to float, as Keras computes them once per step.
//
// The per-segment loops are functions with by-value pointer parameters: vector stores may
// alias anything (the intrinsic types are may_alias), so pointers read through captures
// would be reloaded after every store.

// GCC 12 reports a false -Wmaybe-uninitialized inside some AVX-512 intrinsics (their
// pass-through operand is deliberately undefined); the warning is not about this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <algorithm>
#include <cmath>

#include "kernels/optim/optim_impl.h"

namespace pyk::optim::PYK_ISA_NS {
namespace {

using namespace pyk::simd::PYK_ISA_NS;

// p * (weight_decay * lr) for tensor t, or 0.
inline float decay_of(const TensorList& l, int64_t t, float lr) {
  return l.weight_decay ? l.weight_decay[t] * lr : 0.0f;
}

// Decoupled weight decay, applied before the update (Keras's order).
inline VecF decayed(VecF p, VecF decay, bool on) { return on ? p - p * decay : p; }

// ------------------------------------------------------------------------------------ SGD
void sgd_segment(float* p, const float* g, float* m, int64_t n, float decay, float lr, float mom, bool nesterov) {
  const VecF vlr = set1(lr), vmom = set1(mom), vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    if (m == nullptr) {
      pv = pv - gv * vlr;
    } else {
      const VecF mv = vmom * t.load(m + i, 0) - gv * vlr;
      t.store(m + i, 0, mv);
      pv = nesterov ? pv + (mv * vmom - gv * vlr) : pv + mv;
    }
    t.store(p + i, 0, pv);
  });
}

void sgd(const TensorList& l, const Hyper& h) {
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    float* m = l.slot[0] ? l.slot[0][t] + b : nullptr;
    sgd_segment(l.param[t] + b, l.grad[t] + b, m, n, decay_of(l, t, h.learning_rate), h.learning_rate, h.momentum,
                h.nesterov);
  });
}

// ------------------------------------------------------------------------------------ RMSprop
void rmsprop_segment(float* p, const float* g, float* v, float* m, float* a, int64_t n, float decay, const Hyper& h) {
  const VecF vlr = set1(h.learning_rate), rho = set1(h.rho), one_minus_rho = set1(1.0f - h.rho);
  const VecF eps = set1(h.epsilon), vmom = set1(h.momentum), vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    const VecF vv = rho * t.load(v + i, 0) + one_minus_rho * (gv * gv);
    t.store(v + i, 0, vv);
    VecF denom;
    if (a != nullptr) {
      const VecF av = rho * t.load(a + i, 0) + one_minus_rho * gv;
      t.store(a + i, 0, av);
      denom = vv - av * av + eps;
    } else {
      denom = vv + eps;
    }
    const VecF inc = (vlr * gv) / sqrt(denom);
    if (m != nullptr) {
      const VecF mv = vmom * t.load(m + i, 0) + inc;
      t.store(m + i, 0, mv);
      pv = pv - mv;
    } else {
      pv = pv - inc;
    }
    t.store(p + i, 0, pv);
  });
}

void rmsprop(const TensorList& l, const Hyper& h) {
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    float* m = l.slot[1] ? l.slot[1][t] + b : nullptr;
    float* a = l.slot[2] ? l.slot[2][t] + b : nullptr;
    rmsprop_segment(l.param[t] + b, l.grad[t] + b, l.slot[0][t] + b, m, a, n, decay_of(l, t, h.learning_rate), h);
  });
}

// ------------------------------------------------------------------------------------ Adagrad
void adagrad_segment(float* p, const float* g, float* acc, int64_t n, float decay, float lr, float epsilon) {
  const VecF vlr = set1(lr), eps = set1(epsilon), vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    const VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    const VecF av = t.load(acc + i, 0) + gv * gv;
    t.store(acc + i, 0, av);
    t.store(p + i, 0, pv - (vlr * gv) / sqrt(av + eps));
  });
}

void adagrad(const TensorList& l, const Hyper& h) {
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    adagrad_segment(l.param[t] + b, l.grad[t] + b, l.slot[0][t] + b, n, decay_of(l, t, h.learning_rate),
                    h.learning_rate, h.epsilon);
  });
}

// ------------------------------------------------------------------------------------ Adadelta
void adadelta_segment(float* p, const float* g, float* ag, float* adv, int64_t n, float decay, const Hyper& h) {
  const VecF vlr = set1(h.learning_rate), rho = set1(h.rho), one_minus_rho = set1(1.0f - h.rho);
  const VecF eps = set1(h.epsilon), vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    const VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    const VecF agv = rho * t.load(ag + i, 0) + one_minus_rho * (gv * gv);
    t.store(ag + i, 0, agv);
    const VecF advv = t.load(adv + i, 0);
    const VecF delta = -((sqrt(advv + eps) * gv) / sqrt(agv + eps));
    t.store(adv + i, 0, rho * advv + one_minus_rho * (delta * delta));
    t.store(p + i, 0, pv + vlr * delta);
  });
}

void adadelta(const TensorList& l, const Hyper& h) {
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    adadelta_segment(l.param[t] + b, l.grad[t] + b, l.slot[0][t] + b, l.slot[1][t] + b, n,
                     decay_of(l, t, h.learning_rate), h);
  });
}

// ------------------------------------------------------------------------------------ Adam
struct AdamCoef {
  float one_minus_b1, one_minus_b2, alpha, epsilon;
};

void adam_segment(float* p, const float* g, float* m, float* v, float* vh, int64_t n, float decay, AdamCoef c) {
  const VecF c1 = set1(c.one_minus_b1), c2 = set1(c.one_minus_b2), alpha = set1(c.alpha), eps = set1(c.epsilon);
  const VecF vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    const VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    VecF mv = t.load(m + i, 0);
    mv = mv + (gv - mv) * c1;
    VecF vv = t.load(v + i, 0);
    vv = vv + (gv * gv - vv) * c2;
    t.store(m + i, 0, mv);
    t.store(v + i, 0, vv);
    if (vh != nullptr) {
      vv = max(t.load(vh + i, 0), vv);
      t.store(vh + i, 0, vv);
    }
    t.store(p + i, 0, pv - (mv * alpha) / (sqrt(vv) + eps));
  });
}

void adam(const TensorList& l, const Hyper& h) {
  const double step = static_cast<double>(h.step);
  const double b1p = std::pow(static_cast<double>(h.beta_1), step);
  const double b2p = std::pow(static_cast<double>(h.beta_2), step);
  const AdamCoef c{1.0f - h.beta_1, 1.0f - h.beta_2,
                   static_cast<float>(h.learning_rate * std::sqrt(1.0 - b2p) / (1.0 - b1p)), h.epsilon};
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    float* vh = l.slot[2] ? l.slot[2][t] + b : nullptr;
    adam_segment(l.param[t] + b, l.grad[t] + b, l.slot[0][t] + b, l.slot[1][t] + b, vh, n,
                 decay_of(l, t, h.learning_rate), c);
  });
}

// ------------------------------------------------------------------------------------ Adamax
void adamax_segment(float* p, const float* g, float* m, float* u, int64_t n, float decay, const Hyper& h,
                    float bias) {
  const VecF vlr = set1(h.learning_rate), c1 = set1(1.0f - h.beta_1), b2 = set1(h.beta_2);
  const VecF eps = set1(h.epsilon), vbias = set1(bias), vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    const VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    VecF mv = t.load(m + i, 0);
    mv = mv + (gv - mv) * c1;
    const VecF uv = max(b2 * t.load(u + i, 0), abs(gv));
    t.store(m + i, 0, mv);
    t.store(u + i, 0, uv);
    t.store(p + i, 0, pv - (vlr * mv) / (vbias * (uv + eps)));
  });
}

void adamax(const TensorList& l, const Hyper& h) {
  const float bias = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta_1), static_cast<double>(h.step)));
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    adamax_segment(l.param[t] + b, l.grad[t] + b, l.slot[0][t] + b, l.slot[1][t] + b, n,
                   decay_of(l, t, h.learning_rate), h, bias);
  });
}

// ------------------------------------------------------------------------------------ Nadam
struct NadamCoef {
  float one_minus_b1, one_minus_b2, m_coef, g_coef, v_coef, lr, epsilon;
};

void nadam_segment(float* p, const float* g, float* m, float* v, int64_t n, float decay, NadamCoef c) {
  const VecF c1 = set1(c.one_minus_b1), c2 = set1(c.one_minus_b2), cm = set1(c.m_coef), cg = set1(c.g_coef);
  const VecF cv = set1(c.v_coef), vlr = set1(c.lr), eps = set1(c.epsilon), vdec = set1(decay);
  const bool dec = decay != 0.0f;
  for_vectors(n, [&](int64_t i, auto t) {
    const VecF gv = t.load(g + i, 0);
    const VecF pv = decayed(t.load(p + i, 0), vdec, dec);
    VecF mv = t.load(m + i, 0);
    mv = mv + (gv - mv) * c1;
    VecF vv = t.load(v + i, 0);
    vv = vv + (gv * gv - vv) * c2;
    t.store(m + i, 0, mv);
    t.store(v + i, 0, vv);
    const VecF m_hat = cm * mv + cg * gv;
    t.store(p + i, 0, pv - (m_hat * vlr) / (sqrt(vv * cv) + eps));
  });
}

// Keras's running product of the momentum schedule, prod_{i=1..t} b1 * (1 - 0.5 * 0.96^i).
// After kScheduleSteps steps 0.96^i is below 1e-35 and every further factor is b1 in double.
double nadam_momentum_product(double b1, int64_t t) {
  constexpr int64_t kScheduleSteps = 2000;
  double product = 1.0, decay_power = 1.0;
  const int64_t direct = std::min(t, kScheduleSteps);
  for (int64_t i = 1; i <= direct; ++i) {
    decay_power *= 0.96;
    product *= b1 * (1.0 - 0.5 * decay_power);
  }
  if (t > direct) product *= std::pow(b1, static_cast<double>(t - direct));
  return product;
}

void nadam(const TensorList& l, const Hyper& h) {
  const double b1 = h.beta_1, step = static_cast<double>(h.step);
  const double mu_t = b1 * (1.0 - 0.5 * std::pow(0.96, step));
  const double mu_next = b1 * (1.0 - 0.5 * std::pow(0.96, step + 1.0));
  const double prod_t = nadam_momentum_product(b1, h.step);
  const double prod_next = prod_t * mu_next;
  const NadamCoef c{1.0f - h.beta_1,
                    1.0f - h.beta_2,
                    static_cast<float>(mu_next / (1.0 - prod_next)),
                    static_cast<float>((1.0 - mu_t) / (1.0 - prod_t)),
                    static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(h.beta_2), step))),
                    h.learning_rate,
                    h.epsilon};
  for_segments(l, [&](int64_t t, int64_t b, int64_t n) {
    nadam_segment(l.param[t] + b, l.grad[t] + b, l.slot[0][t] + b, l.slot[1][t] + b, n,
                  decay_of(l, t, h.learning_rate), c);
  });
}

}  // namespace

void sgd_update(const TensorList& l, const Hyper& h) { sgd(l, h); }
void rmsprop_update(const TensorList& l, const Hyper& h) { rmsprop(l, h); }
void adagrad_update(const TensorList& l, const Hyper& h) { adagrad(l, h); }
void adadelta_update(const TensorList& l, const Hyper& h) { adadelta(l, h); }
void adam_update(const TensorList& l, const Hyper& h) { adam(l, h); }
void adamax_update(const TensorList& l, const Hyper& h) { adamax(l, h); }
void nadam_update(const TensorList& l, const Hyper& h) { nadam(l, h); }

}  // namespace pyk::optim::PYK_ISA_NS
