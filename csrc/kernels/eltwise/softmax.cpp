// Softmax and log-softmax over the middle axis of a contiguous [outer, len, inner] view, forward
// and backward, and the fused softmax + cross-entropy losses over a class axis (rows: inner == 1;
// the binding moves any other class axis last).
//
// Rows (inner == 1), the common case (last axis): three passes over a row that stays in L1/L2
// between them: max, then exp(x - max) stored and summed, then a scale by 1/sum (one reciprocal
// per row; multiplying is far cheaper than dividing every element). Sums use kAcc independent
// vector accumulators (a fixed order), and rows are independent, so threads split whole rows
// (chunks of about kGrain elements) and the bits do not depend on the thread count.
// Columns (inner > 1): the same passes, one vector of kWidth adjacent columns at a time, walking
// len with stride inner; threads split (outer, column-vector) items.
//
// Numerics: max-subtraction keeps exp in range for any finite logits (+-1e30 included). A row
// whose max is +inf is treated as its limit (the +inf entries share the probability mass, the
// others get 0) instead of inf - inf = NaN; NaN anywhere in a row makes that row NaN.
#include <cmath>

#include "kernels/eltwise/eltwise.h"
#include "kernels/eltwise/stream.h"
#include "runtime/threading.h"
#include "simd/math.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

namespace {

constexpr int64_t kGrain = 16384;  // elements per thread chunk (~64 KB of a row block)
constexpr int kAcc = 4;            // independent accumulators in row reductions
constexpr int64_t kColBlock = 64;  // rows per partial sum in column reductions

int64_t rows_per_chunk(int64_t len) { return len > 0 ? std::max<int64_t>(1, kGrain / len) : 1; }

// ------------------------------------------------------------------------- row primitives

// Max over a row; NaN is ignored here (it reaches the result through the exp-sum).
float row_max(const float* x, int64_t n) {
  VecF acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = set1(-INFINITY);
  int64_t i = 0;
  for (; i + kAcc * kWidth <= n; i += kAcc * kWidth) {
    for (int k = 0; k < kAcc; ++k) acc[k] = max(acc[k], load(x + i + k * kWidth));
  }
  for (; i < n; i += kWidth) {
    const int w = static_cast<int>(std::min<int64_t>(kWidth, n - i));
    acc[0] = max(acc[0], select(first_lanes(w), load_partial(x + i, w), set1(-INFINITY)));
  }
  for (int k = 1; k < kAcc; ++k) acc[0] = max(acc[0], acc[k]);
  return hmax(acc[0]);
}

// The logit shifted by the row max: x - m, or for a row whose max is +inf, 0 for the +inf
// entries and -inf for the rest.
inline VecF shifted(VecF x, VecF m, bool inf_row) {
  if (inf_row) return select(cmp_eq(x, set1(INFINITY)), zero(), set1(-INFINITY));
  return x - m;
}

// Sum of a row of vectors produced by f(i, width) (partial lanes must come back as 0). Blocks of
// kSumBlock elements are summed with kAcc vector accumulators and the block sums added in order,
// so the rounding error grows like kSumBlock / (kAcc kWidth) + n / kSumBlock, not like n.
constexpr int64_t kSumBlock = 2048;

template <class F>
float row_sum(int64_t n, F f) {
  float total = 0.0f;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t end = std::min(n, b + kSumBlock);
    VecF acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = zero();
    int64_t i = b;
    for (; i + kAcc * kWidth <= end; i += kAcc * kWidth) {
      for (int k = 0; k < kAcc; ++k) acc[k] = acc[k] + f(i + k * kWidth, kWidth);
    }
    for (int k = 0; i < end; i += kWidth, k = (k + 1) % kAcc) {
      acc[k] = acc[k] + f(i, static_cast<int>(std::min<int64_t>(kWidth, end - i)));
    }
    total += hsum((acc[0] + acc[1]) + (acc[2] + acc[3]));
  }
  return total;
}

// Applies y[i..] = f(i, width) over a row (aligned stores, see stream.h).
template <class F>
void row_map(int64_t n, float* y, F f) {
  map_store(y, 0, n, false, f);
}

// Zeroes lanes >= w (the padding lanes of a partial step).
inline VecF keep_lanes(VecF v, int w) { return select(first_lanes(w), v, zero()); }

void softmax_row(bool log, const float* x, float* y, int64_t n) {
  const float mf = row_max(x, n);
  const bool inf_row = mf == INFINITY;
  const VecF m = set1(mf);
  if (log) {
    const float s = row_sum(n, [&](int64_t i, int w) {
      return keep_lanes(exp(shifted(load_partial(x + i, w), m, inf_row)), w);
    });
    const VecF ls = set1(std::log(s));
    row_map(n, y, [&](int64_t i, int w) { return shifted(load_partial(x + i, w), m, inf_row) - ls; });
    return;
  }
  // exp(x - max) stored, then summed from the row just written (still in L1).
  row_map(n, y, [&](int64_t i, int w) { return exp(shifted(load_n(x + i, w), m, inf_row)); });
  const float s = row_sum(n, [&](int64_t i, int w) { return load_partial(y + i, w); });
  const VecF r = set1(1.0f / s);
  row_map(n, y, [&](int64_t i, int w) { return load_n(y + i, w) * r; });
}

void softmax_backward_row(bool log, const float* y, const float* dy, float* dx, int64_t n) {
  if (log) {
    // dx = dy - exp(y) sum(dy)
    const VecF s = set1(row_sum(n, [&](int64_t i, int w) { return load_partial(dy + i, w); }));
    row_map(n, dx, [&](int64_t i, int w) { return fnmadd(exp(load_partial(y + i, w)), s, load_partial(dy + i, w)); });
    return;
  }
  // dx = y (dy - sum(dy y))
  const VecF s = set1(row_sum(n, [&](int64_t i, int w) { return load_partial(dy + i, w) * load_partial(y + i, w); }));
  row_map(n, dx, [&](int64_t i, int w) { return load_n(y + i, w) * (load_n(dy + i, w) - s); });
}

// ------------------------------------------------------------------------- column primitives

// One vector of w adjacent columns starting at x, rows at stride `inner`.
void softmax_cols(bool log, const float* x, float* y, int64_t len, int64_t inner, int w) {
  VecF m = set1(-INFINITY);
  for (int64_t l = 0; l < len; ++l) m = max(m, load_partial(x + l * inner, w));
  const MaskF inf_cols = cmp_eq(m, set1(INFINITY));
  auto shift = [&](VecF v) {
    return select(inf_cols, select(cmp_eq(v, set1(INFINITY)), zero(), set1(-INFINITY)), v - m);
  };
  // Blocks of kColBlock rows, summed into the total in order (see row_sum).
  VecF s = zero();
  for (int64_t b = 0; b < len; b += kColBlock) {
    VecF sb = zero();
    for (int64_t l = b; l < std::min(len, b + kColBlock); ++l) {
      const VecF e = exp(shift(load_partial(x + l * inner, w)));
      if (!log) store_partial(y + l * inner, e, w);
      sb = sb + e;
    }
    s = s + sb;
  }
  if (log) {
    const VecF ls = simd::PYK_ISA_NS::log(s);
    for (int64_t l = 0; l < len; ++l) store_partial(y + l * inner, shift(load_partial(x + l * inner, w)) - ls, w);
    return;
  }
  const VecF r = set1(1.0f) / s;
  for (int64_t l = 0; l < len; ++l) store_partial(y + l * inner, load_partial(y + l * inner, w) * r, w);
}

void softmax_backward_cols(bool log, const float* y, const float* dy, float* dx, int64_t len, int64_t inner, int w) {
  VecF s = zero();
  for (int64_t b = 0; b < len; b += kColBlock) {
    VecF sb = zero();
    for (int64_t l = b; l < std::min(len, b + kColBlock); ++l) {
      const VecF d = load_partial(dy + l * inner, w);
      sb = log ? sb + d : fmadd(d, load_partial(y + l * inner, w), sb);
    }
    s = s + sb;
  }
  for (int64_t l = 0; l < len; ++l) {
    const VecF yv = load_partial(y + l * inner, w), d = load_partial(dy + l * inner, w);
    store_partial(dx + l * inner, log ? fnmadd(exp(yv), s, d) : yv * (d - s), w);
  }
}

// Runs fn(o, col, width) for every (outer, column-vector) item of [outer, len, inner], in parallel.
template <class F>
void for_each_column_vector(const ReduceShape& s, F fn) {
  const int64_t vecs = (s.inner + kWidth - 1) / kWidth;
  const int64_t items = s.outer * vecs;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, s.len * kWidth));
  parallel_for(0, items, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t o = it / vecs, c = (it % vecs) * kWidth;
      fn(o, c, static_cast<int>(std::min<int64_t>(kWidth, s.inner - c)));
    }
  });
}

template <class F>
void for_each_row(const ReduceShape& s, F fn) {
  parallel_for(0, s.outer, rows_per_chunk(s.len), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) fn(r);
  });
}

// ------------------------------------------------------------------------- cross-entropy rows

// logsumexp pieces of one row: m (the max, or +inf), s = sum exp(shifted).
struct RowLse {
  float max;
  VecF m;
  bool inf_row;
  float log_s;
};

RowLse row_lse(const float* z, int64_t n) {
  RowLse r;
  r.max = row_max(z, n);
  r.inf_row = r.max == INFINITY;
  r.m = set1(r.max);
  const float s = row_sum(n, [&](int64_t i, int w) {
    return keep_lanes(exp(shifted(load_partial(z + i, w), r.m, r.inf_row)), w);
  });
  r.log_s = std::log(s);
  return r;
}

// Dense labels: loss = sum_c y_c (log_s - shifted_c) over y_c != 0 (0 * inf never happens);
// grad = (softmax * sum(y) - y) * dloss.
void xent_row(const float* z, const float* y, float dloss, float* loss, float* grad, int64_t n) {
  const RowLse r = row_lse(z, n);
  const VecF ls = set1(r.log_s);
  const float total = row_sum(n, [&](int64_t i, int w) {
    const VecF yv = load_partial(y + i, w);
    const VecF term = yv * (ls - shifted(load_partial(z + i, w), r.m, r.inf_row));
    return select(cmp_neq(yv, zero()), term, zero());
  });
  *loss = total;
  if (!grad) return;
  const float sum_y = row_sum(n, [&](int64_t i, int w) { return load_partial(y + i, w); });
  const VecF scale = set1(sum_y * dloss), d = set1(dloss);
  row_map(n, grad, [&](int64_t i, int w) {
    const VecF p = exp(shifted(load_partial(z + i, w), r.m, r.inf_row) - ls);
    return fmsub(p, scale, load_partial(y + i, w) * d);
  });
}

// Integer label: loss = log_s - shifted_label; grad = (softmax - onehot) * dloss.
void sparse_xent_row(const float* z, int64_t label, float dloss, float* loss, float* grad, int64_t n) {
  const RowLse r = row_lse(z, n);
  const float zl = z[label];
  const float shifted_label = r.inf_row ? (zl == INFINITY ? 0.0f : -INFINITY) : zl - r.max;
  *loss = r.log_s - shifted_label;
  if (!grad) return;
  const VecF ls = set1(r.log_s), d = set1(dloss);
  row_map(n, grad, [&](int64_t i, int w) {
    return exp(shifted(load_partial(z + i, w), r.m, r.inf_row) - ls) * d;
  });
  grad[label] -= dloss;
}

template <class Label>
void sparse_xent(const ReduceShape& s, const float* logits, const Label* labels, int64_t ignore, const float* dloss,
                 float* loss, float* grad) {
  const int64_t n = s.len;
  for_each_row(s, [&](int64_t row) {
    const int64_t label = static_cast<int64_t>(labels[row]);
    float* g = grad ? grad + row * n : nullptr;
    if (label == ignore) {
      loss[row] = 0.0f;
      if (g) row_map(n, g, [](int64_t, int) { return zero(); });
      return;
    }
    sparse_xent_row(logits + row * n, label, dloss ? dloss[row] : 1.0f, loss + row, g, n);
  });
}

}  // namespace

void softmax(bool log, const ReduceShape& s, const float* x, float* y) {
  if (s.inner == 1) {
    for_each_row(s, [&](int64_t r) { softmax_row(log, x + r * s.len, y + r * s.len, s.len); });
    return;
  }
  for_each_column_vector(s, [&](int64_t o, int64_t c, int w) {
    const int64_t off = o * s.len * s.inner + c;
    softmax_cols(log, x + off, y + off, s.len, s.inner, w);
  });
}

void softmax_backward(bool log, const ReduceShape& s, const float* y, const float* dy, float* dx) {
  if (s.inner == 1) {
    for_each_row(s, [&](int64_t r) {
      softmax_backward_row(log, y + r * s.len, dy + r * s.len, dx + r * s.len, s.len);
    });
    return;
  }
  for_each_column_vector(s, [&](int64_t o, int64_t c, int w) {
    const int64_t off = o * s.len * s.inner + c;
    softmax_backward_cols(log, y + off, dy + off, dx + off, s.len, s.inner, w);
  });
}

void softmax_xent(const ReduceShape& s, const float* logits, const float* labels, const float* dloss, float* loss,
                  float* grad) {
  const int64_t n = s.len;
  for_each_row(s, [&](int64_t r) {
    xent_row(logits + r * n, labels + r * n, dloss ? dloss[r] : 1.0f, loss + r, grad ? grad + r * n : nullptr, n);
  });
}

void sparse_softmax_xent_i32(const ReduceShape& s, const float* logits, const int32_t* labels, int64_t ignore,
                             const float* dloss, float* loss, float* grad) {
  sparse_xent(s, logits, labels, ignore, dloss, loss, grad);
}

void sparse_softmax_xent_i64(const ReduceShape& s, const float* logits, const int64_t* labels, int64_t ignore,
                             const float* dloss, float* loss, float* grad) {
  sparse_xent(s, logits, labels, ignore, dloss, loss, grad);
}

// loss = y softplus(-z) + (1 - y) softplus(z), each term skipped when its weight is 0 (so that
// z = +-inf with a matching label gives 0, not 0 * inf); softplus(+-z) = max(+-z, 0) + L with the
// shared L = log1p(exp(-|z|)). grad = (sigmoid(z) - y) dloss.
void sigmoid_xent(const float* logits, const float* labels, const float* dloss, float* loss, float* grad, int64_t n) {
  constexpr int64_t kXentGrain = 8192;
  parallel_for(0, n, kXentGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i += kWidth) {
      const int w = static_cast<int>(std::min<int64_t>(kWidth, hi - i));
      const VecF z = load_partial(logits + i, w), y = load_partial(labels + i, w);
      const VecF one = set1(1.0f);
      const VecF e = exp(-abs(z));
      const VecF l = log1p(e);
      const VecF not_y = one - y;
      const VecF pos = select(cmp_neq(y, zero()), y * (max(zero(), -z) + l), zero());
      const VecF neg = select(cmp_neq(not_y, zero()), not_y * (max(zero(), z) + l), zero());
      store_partial(loss + i, pos + neg, w);
      if (grad) {
        const VecF sig = select(cmp_ge(z, zero()), one, e) / (one + e);
        const VecF d = dloss ? load_partial(dloss + i, w) : one;
        store_partial(grad + i, (sig - y) * d, w);
      }
    }
  });
}

}  // namespace pyk::eltwise::PYK_ISA_NS
