// Reductions over the middle axis of a contiguous [outer, len, inner] view (sum, mean, max, min,
// prod, var, std, logsumexp, argmax/argmin) and their backward. The bindings bring any set of axes
// to this form (adjacent reduced axes merge; interleaved ones are transposed together first).
//
// Determinism and accuracy: the reduced axis is cut into superblocks of a fixed size (kSuper
// elements for rows, the same amount of data for columns), fixed by the shape alone. Each
// superblock is reduced on its own: rows (inner == 1) in blocks of kBlock elements with kAcc
// vector accumulators, columns (inner > 1) in tiles of up to kColTile columns, row by row into an
// L1-resident accumulator folded every kColBlock rows; block results are folded in order. The superblock partials are then folded in
// order. Threads take whole superblocks (or whole rows), so the result is bitwise the same for any
// thread count, and summation error grows with the block sizes and the number of blocks rather
// than with len (float32 accumulation throughout).
//
// NaN: max/min/argmax/argmin propagate NaN (the first NaN is the arg), as numpy does.
// Backward tie rules: max/min split the gradient equally between all elements equal to the result
// (as JAX); prod's gradient is exact with zeros (product of the other elements); std's gradient is
// 0 where std is 0.
#include <cmath>

#include "kernels/eltwise/eltwise.h"
#include "runtime/aligned.h"
#include "runtime/threading.h"
#include "simd/math.h"
#include "simd/vec.h"

namespace pyk::eltwise::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;
using pyk::PYK_ISA_NS::AlignedBuffer;

namespace {

constexpr int64_t kBlock = 2048;     // row elements per accumulator block
constexpr int64_t kSuper = 32768;    // elements per superblock (a unit of parallel work, ~20 us)
constexpr int64_t kColBlock = 64;    // column rows per accumulator block
constexpr int64_t kGrain = 32768;    // elements per thread chunk in elementwise passes
constexpr int kAcc = 4;

// ------------------------------------------------------------------------- combine policies

struct SumC {
  static VecF id() { return zero(); }
  static float id1() { return 0.0f; }
  static VecF op(VecF acc, VecF v) { return acc + v; }
  static float op1(float a, float b) { return a + b; }
  static float h(VecF v) { return hsum(v); }
};

struct ProdC {
  static VecF id() { return set1(1.0f); }
  static float id1() { return 1.0f; }
  static VecF op(VecF acc, VecF v) { return acc * v; }
  static float op1(float a, float b) { return a * b; }
  static float h(VecF v) {
    alignas(64) float buf[kWidth];
    store(buf, v);
    float p = 1.0f;
    for (int i = 0; i < kWidth; ++i) p *= buf[i];
    return p;
  }
};

// NaN-sticky max/min: max(v, acc) keeps a NaN accumulator, the select brings a NaN input in.
template <bool kMax>
struct ExtremeC {
  static VecF id() { return set1(kMax ? -INFINITY : INFINITY); }
  static float id1() { return kMax ? -INFINITY : INFINITY; }
  static VecF op(VecF acc, VecF v) { return select(is_nan(v), v, kMax ? max(v, acc) : min(v, acc)); }
  static float op1(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return NAN;
    return kMax ? (a > b ? a : b) : (a < b ? a : b);
  }
  static float h(VecF v) {
    if (any(is_nan(v))) return NAN;
    return kMax ? hmax(v) : hmin(v);
  }
};

// ------------------------------------------------------------------------- load transforms
// t(v, s): the value reduced for input v, s being a per-output parameter (shift).

struct Plain { VecF operator()(VecF v, VecF) const { return v; } };
struct SqDev {
  VecF operator()(VecF v, VecF s) const {
    const VecF d = v - s;
    return d * d;
  }
};
// exp(v - s), with the limit for s = +-inf (the entries equal to s count 1, the others 0).
struct ExpShift {
  VecF operator()(VecF v, VecF s) const {
    return exp(select(is_inf(s), select(cmp_eq(v, s), zero(), set1(-INFINITY)), v - s));
  }
};
struct NonzeroOrOne { VecF operator()(VecF v, VecF) const { return select(cmp_eq(v, zero()), set1(1.0f), v); } };
struct IsZero { VecF operator()(VecF v, VecF) const { return select(cmp_eq(v, zero()), set1(1.0f), zero()); } };
// 1 where v equals s (NaN matching NaN).
struct Matches {
  VecF operator()(VecF v, VecF s) const {
    return select(cmp_eq(v, s) | (is_nan(v) & is_nan(s)), set1(1.0f), zero());
  }
};

// ------------------------------------------------------------------------- rows (inner == 1)

// Reduction of n contiguous elements (n <= kSuper) in blocks of kBlock.
template <class C, class T>
float reduce_contiguous(const float* p, int64_t n, const T& t, VecF s) {
  float total = C::id1();
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t end = std::min(n, b + kBlock);
    VecF acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = C::id();
    int64_t i = b;
    for (; i + kAcc * kWidth <= end; i += kAcc * kWidth) {
      for (int k = 0; k < kAcc; ++k) acc[k] = C::op(acc[k], t(load(p + i + k * kWidth), s));
    }
    for (int k = 0; i < end; i += kWidth, k = (k + 1) % kAcc) {
      const int w = static_cast<int>(std::min<int64_t>(kWidth, end - i));
      acc[k] = C::op(acc[k], select(first_lanes(w), t(load_partial(p + i, w), s), C::id()));
    }
    for (int step = 1; step < kAcc; step *= 2) {  // pairwise fold of the accumulators
      for (int k = 0; k + step < kAcc; k += 2 * step) acc[k] = C::op(acc[k], acc[k + step]);
    }
    total = C::op1(total, C::h(acc[0]));
  }
  return total;
}

template <class C, class T>
void reduce_rows(const ReduceShape& s, const float* x, const float* shift, float* y, const T& t) {
  const int64_t len = s.len, rows = s.outer;
  const int64_t supers = std::max<int64_t>(1, (len + kSuper - 1) / kSuper);
  auto shift_of = [&](int64_t r) { return set1(shift ? shift[r] : 0.0f); };
  if (supers == 1) {
    const int64_t grain = std::max<int64_t>(1, kSuper / std::max<int64_t>(1, len));
    parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) y[r] = reduce_contiguous<C>(x + r * len, len, t, shift_of(r));
    });
    return;
  }
  AlignedBuffer<float> partial(static_cast<size_t>(rows * supers));
  float* part = partial.data();
  parallel_for(0, rows * supers, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t r = it / supers, b = (it % supers) * kSuper;
      part[it] = reduce_contiguous<C>(x + r * len + b, std::min(kSuper, len - b), t, shift_of(r));
    }
  });
  for (int64_t r = 0; r < rows; ++r) {
    float v = part[r * supers];
    for (int64_t b = 1; b < supers; ++b) v = C::op1(v, part[r * supers + b]);
    y[r] = v;
  }
}

// ------------------------------------------------------------------------- columns (inner > 1)

// Columns are reduced in tiles of up to kColTile adjacent columns (4 KB of a row). A tile walks
// its rows in order, adding each row segment into a block accumulator kept in L1 (one vector
// operation per kWidth columns, streaming whole row segments from memory); every kColBlock rows
// the block accumulator is folded into the superblock's. Rows per superblock: about kSuper
// elements of the tile, a whole number of blocks.
constexpr int64_t kColTile = 1024;

int64_t column_tile(int64_t inner) { return std::min(inner, kColTile); }

int64_t column_super_rows(int64_t inner) {
  const int64_t rows = std::max<int64_t>(kColBlock, kSuper / std::max<int64_t>(1, column_tile(inner)));
  return rows / kColBlock * kColBlock;
}

// Reduces rows [r0, r1) of the `width` columns starting at x (row stride inner) into out[width];
// shift (may be null) holds the per-column transform parameter.
template <class C, class T>
void reduce_column_tile(const float* x, int64_t r0, int64_t r1, int64_t inner, int64_t width, const float* shift,
                        const T& t, float* out) {
  alignas(64) float total[kColTile];
  alignas(64) float block[kColTile];
  const int64_t vecs = (width + kWidth - 1) / kWidth;
  for (int64_t v = 0; v < vecs; ++v) store(total + v * kWidth, C::id());
  for (int64_t b = r0; b < r1; b += kColBlock) {
    for (int64_t v = 0; v < vecs; ++v) store(block + v * kWidth, C::id());
    const int64_t end = std::min(r1, b + kColBlock);
    const int64_t full = width / kWidth * kWidth;  // whole vectors; then one masked tail vector
    const int tail = static_cast<int>(width - full);
    int64_t l = b;
    // Four rows per pass over the accumulator: a quarter of its load/store traffic.
    for (; l + 4 <= end; l += 4) {
      const float* r0 = x + l * inner;
      const float* r1 = r0 + inner;
      const float* r2 = r1 + inner;
      const float* r3 = r2 + inner;
      for (int64_t c = 0; c < full; c += kWidth) {
        const VecF sh = shift ? load(shift + c) : zero();
        const VecF four = C::op(C::op(t(load(r0 + c), sh), t(load(r1 + c), sh)),
                                C::op(t(load(r2 + c), sh), t(load(r3 + c), sh)));
        store(block + c, C::op(load(block + c), four));
      }
      if (tail) {
        const VecF sh = shift ? load_partial(shift + full, tail) : zero();
        const float* rows[4] = {r0, r1, r2, r3};
        for (int q = 0; q < 4; ++q) {
          const VecF val = select(first_lanes(tail), t(load_partial(rows[q] + full, tail), sh), C::id());
          store(block + full, C::op(load(block + full), val));
        }
      }
    }
    for (; l < end; ++l) {
      const float* row = x + l * inner;
      if (shift) {
        for (int64_t c = 0; c < full; c += kWidth) {
          store(block + c, C::op(load(block + c), t(load(row + c), load(shift + c))));
        }
      } else {
        for (int64_t c = 0; c < full; c += kWidth) store(block + c, C::op(load(block + c), t(load(row + c), zero())));
      }
      if (tail) {
        const VecF sh = shift ? load_partial(shift + full, tail) : zero();
        const VecF val = select(first_lanes(tail), t(load_partial(row + full, tail), sh), C::id());
        store(block + full, C::op(load(block + full), val));
      }
    }
    for (int64_t v = 0; v < vecs; ++v) store(total + v * kWidth, C::op(load(total + v * kWidth), load(block + v * kWidth)));
  }
  for (int64_t c = 0; c < width; c += kWidth) {
    const int w = static_cast<int>(std::min<int64_t>(kWidth, width - c));
    store_partial(out + c, load(total + c), w);
  }
}

template <class C, class T>
void reduce_columns(const ReduceShape& s, const float* x, const float* shift, float* y, const T& t) {
  const int64_t len = s.len, inner = s.inner;
  const int64_t tile = column_tile(inner);
  const int64_t tiles = (inner + tile - 1) / tile;
  const int64_t super_rows = column_super_rows(inner);
  const int64_t supers = std::max<int64_t>(1, (len + super_rows - 1) / super_rows);
  AlignedBuffer<float> partial;
  float* part = y;  // [outer, supers, inner]; y itself when there is one superblock
  if (supers > 1) {
    partial.reserve(static_cast<size_t>(s.outer * supers * inner));
    part = partial.data();
  }
  const int64_t items = s.outer * supers * tiles;
  const int64_t grain = std::max<int64_t>(1, kSuper / std::max<int64_t>(1, std::min(len, super_rows) * tile));
  parallel_for(0, items, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t o = it / (supers * tiles), rest = it % (supers * tiles);
      const int64_t b = rest / tiles, c = (rest % tiles) * tile;
      const int64_t width = std::min(tile, inner - c);
      const int64_t r0 = b * super_rows, r1 = std::min(len, r0 + super_rows);
      reduce_column_tile<C>(x + o * len * inner + c, r0, r1, inner, width, shift ? shift + o * inner + c : nullptr,
                            t, part + (o * supers + b) * inner + c);
    }
  });
  if (supers == 1) return;
  parallel_for(0, s.outer, std::max<int64_t>(1, kSuper / std::max<int64_t>(1, supers * inner)), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      for (int64_t c = 0; c < inner; c += kWidth) {
        const int w = static_cast<int>(std::min<int64_t>(kWidth, inner - c));
        VecF v = load_partial(part + o * supers * inner + c, w);
        for (int64_t b = 1; b < supers; ++b) v = C::op(v, load_partial(part + (o * supers + b) * inner + c, w));
        store_partial(y + o * inner + c, v, w);
      }
    }
  });
}

template <class C, class T = Plain>
void reduce_with(const ReduceShape& s, const float* x, float* y, const float* shift = nullptr, const T& t = T{}) {
  if (s.outer * s.inner == 0) return;
  if (s.inner == 1) reduce_rows<C>(s, x, shift, y, t);
  else reduce_columns<C>(s, x, shift, y, t);
}

// y[i] = f(y[i]) over the outer * inner results.
template <class F>
void finish(const ReduceShape& s, float* y, F f) {
  const int64_t n = s.outer * s.inner;
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i += kWidth) {
      const int w = static_cast<int>(std::min<int64_t>(kWidth, hi - i));
      store_partial(y + i, f(load_partial(y + i, w)), w);
    }
  });
}

// Per-output temporaries [outer * inner].
AlignedBuffer<float> per_output(const ReduceShape& s) {
  return AlignedBuffer<float>(static_cast<size_t>(std::max<int64_t>(1, s.outer * s.inner)));
}

void mean_into(const ReduceShape& s, const float* x, float* m) {
  reduce_with<SumC>(s, x, m);
  const VecF n = set1(static_cast<float>(s.len));
  finish(s, m, [&](VecF v) { return v / n; });
}

// ------------------------------------------------------------------------- backward helper

// dx[o, l, k] = f(x[o, l, k], p1[o, k], p2[o, k], p3[o, k]) (the p's may be null: read as 0).
template <class F>
void map_with_outputs(const ReduceShape& s, const float* x, const float* p1, const float* p2, const float* p3,
                      float* dx, F f) {
  const int64_t len = s.len, inner = s.inner;
  auto at = [](const float* p, int64_t i, int w) { return p ? load_partial(p + i, w) : zero(); };
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, len));
    parallel_for(0, s.outer, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const VecF a = set1(p1 ? p1[r] : 0.0f), b = set1(p2 ? p2[r] : 0.0f), c = set1(p3 ? p3[r] : 0.0f);
        for (int64_t i = 0; i < len; i += kWidth) {
          const int w = static_cast<int>(std::min<int64_t>(kWidth, len - i));
          store_partial(dx + r * len + i, f(load_partial(x + r * len + i, w), a, b, c), w);
        }
      }
    });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kGrain / inner);
  parallel_for(0, s.outer * len, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t o = row / len;
      for (int64_t c = 0; c < inner; c += kWidth) {
        const int w = static_cast<int>(std::min<int64_t>(kWidth, inner - c));
        const int64_t po = o * inner + c;
        store_partial(dx + row * inner + c,
                      f(load_partial(x + row * inner + c, w), at(p1, po, w), at(p2, po, w), at(p3, po, w)), w);
      }
    }
  });
}

// ------------------------------------------------------------------------- arg reductions

// First index along len of the max (min) of w columns, NaN winning (first NaN).
template <bool kMax>
void arg_columns(const float* x, int64_t len, int64_t inner, int w, int64_t* out) {
  using C = ExtremeC<kMax>;
  VecF m = C::id();
  for (int64_t l = 0; l < len; ++l) m = C::op(m, load_partial(x + l * inner, w));
  const uint32_t all = w == 32 ? 0xffffffffu : ((1u << w) - 1u);
  uint32_t found = 0;
  for (int64_t l = 0; l < len && found != all; ++l) {
    const VecF v = load_partial(x + l * inner, w);
    const uint32_t hit = mask_bits(cmp_eq(v, m) | (is_nan(v) & is_nan(m))) & all & ~found;
    for (uint32_t bits = hit; bits; bits &= bits - 1) out[__builtin_ctz(bits)] = l;
    found |= hit;
  }
  for (int j = 0; j < w; ++j) {
    if (!((found >> j) & 1u)) out[j] = 0;  // len == 0 (the binding refuses it); defined anyway
  }
}

template <bool kMax>
int64_t arg_row(const float* x, int64_t len) {
  using C = ExtremeC<kMax>;
  const float m = reduce_contiguous<C>(x, std::min(len, kSuper), Plain{}, zero());
  float mm = m;
  for (int64_t b = kSuper; b < len; b += kSuper) mm = C::op1(mm, reduce_contiguous<C>(x + b, std::min(kSuper, len - b), Plain{}, zero()));
  const VecF target = set1(mm);
  const bool nan = std::isnan(mm);
  for (int64_t i = 0; i < len; i += kWidth) {
    const int w = static_cast<int>(std::min<int64_t>(kWidth, len - i));
    const VecF v = load_partial(x + i, w);
    const MaskF hit = (nan ? is_nan(v) : cmp_eq(v, target)) & first_lanes(w);
    const uint32_t bits = mask_bits(hit);
    if (bits) return i + __builtin_ctz(bits);
  }
  return 0;
}

template <bool kMax>
void arg_reduce_impl(const ReduceShape& s, const float* x, int64_t* idx) {
  if (s.inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kSuper / std::max<int64_t>(1, s.len));
    parallel_for(0, s.outer, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) idx[r] = arg_row<kMax>(x + r * s.len, s.len);
    });
    return;
  }
  const int64_t vecs = (s.inner + kWidth - 1) / kWidth;
  const int64_t grain = std::max<int64_t>(1, kSuper / std::max<int64_t>(1, s.len * kWidth));
  parallel_for(0, s.outer * vecs, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t o = it / vecs, c = (it % vecs) * kWidth;
      const int w = static_cast<int>(std::min<int64_t>(kWidth, s.inner - c));
      arg_columns<kMax>(x + o * s.len * s.inner + c, s.len, s.inner, w, idx + o * s.inner + c);
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const ReduceShape& s, const float* x, float* y) {
  const VecF n = set1(static_cast<float>(s.len));
  switch (op) {
    case ReduceOp::sum: return reduce_with<SumC>(s, x, y);
    case ReduceOp::mean: return mean_into(s, x, y);
    case ReduceOp::max: return reduce_with<ExtremeC<true>>(s, x, y);
    case ReduceOp::min: return reduce_with<ExtremeC<false>>(s, x, y);
    case ReduceOp::prod: return reduce_with<ProdC>(s, x, y);
    case ReduceOp::var:
    case ReduceOp::std: {
      // Two passes: the mean, then the mean squared deviation from it (population variance).
      AlignedBuffer<float> m = per_output(s);
      mean_into(s, x, m.data());
      reduce_with<SumC>(s, x, y, m.data(), SqDev{});
      if (op == ReduceOp::var) finish(s, y, [&](VecF v) { return v / n; });
      else finish(s, y, [&](VecF v) { return sqrt(v / n); });
      return;
    }
    case ReduceOp::logsumexp: {
      AlignedBuffer<float> m = per_output(s);
      reduce_with<ExtremeC<true>>(s, x, m.data());
      reduce_with<SumC>(s, x, y, m.data(), ExpShift{});
      const float* mp = m.data();
      parallel_for(0, s.outer * s.inner, kGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; i += kWidth) {
          const int w = static_cast<int>(std::min<int64_t>(kWidth, hi - i));
          store_partial(y + i, log(load_partial(y + i, w)) + load_partial(mp + i, w), w);
        }
      });
      return;
    }
    default: return;
  }
}

void arg_reduce(bool is_max, const ReduceShape& s, const float* x, int64_t* idx) {
  if (s.outer * s.inner == 0) return;
  if (is_max) arg_reduce_impl<true>(s, x, idx);
  else arg_reduce_impl<false>(s, x, idx);
}

void reduce_backward(ReduceOp op, const ReduceShape& s, const float* x, const float* y, const float* dy, float* dx) {
  if (s.outer * s.inner * s.len == 0) return;
  const float inv_n = 1.0f / static_cast<float>(s.len);
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::mean: {
      const VecF scale = set1(op == ReduceOp::mean ? inv_n : 1.0f);
      map_with_outputs(s, x, dy, nullptr, nullptr, dx, [&](VecF, VecF d, VecF, VecF) { return d * scale; });
      return;
    }
    case ReduceOp::max:
    case ReduceOp::min: {
      // dy / (number of elements equal to the result) to each of them.
      AlignedBuffer<float> g = per_output(s);
      reduce_with<SumC>(s, x, g.data(), y, Matches{});
      float* gp = g.data();
      for (int64_t i = 0; i < s.outer * s.inner; ++i) gp[i] = dy[i] / gp[i];
      map_with_outputs(s, x, y, gp, nullptr, dx, [](VecF v, VecF r, VecF share, VecF) {
        return select(cmp_eq(v, r) | (is_nan(v) & is_nan(r)), share, zero());
      });
      return;
    }
    case ReduceOp::prod: {
      // No zero: dy * y / x. One zero: dy * (product of the others) at the zero, 0 elsewhere.
      // More zeros: 0.
      AlignedBuffer<float> zeros = per_output(s), nonzero = per_output(s);
      reduce_with<SumC>(s, x, zeros.data(), nullptr, IsZero{});
      reduce_with<ProdC>(s, x, nonzero.data(), nullptr, NonzeroOrOne{});
      float* zp = zeros.data();
      float* np = nonzero.data();
      for (int64_t i = 0; i < s.outer * s.inner; ++i) {
        np[i] = zp[i] == 0.0f ? dy[i] * y[i] : (zp[i] == 1.0f ? dy[i] * np[i] : 0.0f);
      }
      map_with_outputs(s, x, zp, np, nullptr, dx, [](VecF v, VecF z, VecF g, VecF) {
        return select(cmp_eq(z, zero()), g / v, select(cmp_eq(v, zero()), g, zero()));
      });
      return;
    }
    case ReduceOp::var:
    case ReduceOp::std: {
      AlignedBuffer<float> m = per_output(s), g = per_output(s);
      mean_into(s, x, m.data());
      float* gp = g.data();
      for (int64_t i = 0; i < s.outer * s.inner; ++i) {
        if (op == ReduceOp::var) gp[i] = 2.0f * dy[i] * inv_n;
        else gp[i] = y[i] > 0.0f ? dy[i] * inv_n / y[i] : 0.0f;
      }
      map_with_outputs(s, x, m.data(), gp, nullptr, dx, [](VecF v, VecF mean, VecF gs, VecF) { return (v - mean) * gs; });
      return;
    }
    case ReduceOp::logsumexp: {
      // dy * softmax(x): exp(x - y). Where y = +-inf the limit: dy shared by the entries equal to y.
      AlignedBuffer<float> share = per_output(s);
      float* sp = share.data();
      bool any_inf = false;
      for (int64_t i = 0; i < s.outer * s.inner; ++i) any_inf |= std::isinf(y[i]);
      if (any_inf) {
        reduce_with<SumC>(s, x, sp, y, Matches{});
        for (int64_t i = 0; i < s.outer * s.inner; ++i) sp[i] = dy[i] / sp[i];
      }
      map_with_outputs(s, x, y, dy, any_inf ? sp : nullptr, dx, [](VecF v, VecF lse, VecF d, VecF sh) {
        return select(is_inf(lse), select(cmp_eq(v, lse), sh, zero()), d * exp(v - lse));
      });
      return;
    }
    default: return;
  }
}

}  // namespace pyk::eltwise::PYK_ISA_NS
