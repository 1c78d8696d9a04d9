// Batch normalization, training and inference forward and backward, on a tensor seen as
// (outer, channels, inner) (norm.h). Every operation is one or two streaming passes:
//   training forward   statistics pass (mean, variance)    + normalise pass (x -> y)
//   inference forward                                        normalise pass
//   backward           sums pass (sum dy, sum dy*(x-mean)) + apply pass (dy, x -> dx)
// with the per-channel scalar algebra (means, variances, coefficients) done in double
// between the passes.
//
// Two layouts. inner == 1 (channels-last, Keras's default): rows of `channels` contiguous
// floats, vectorised over channels in register tiles (kernels/pool/channel_tiles.h).
// inner > 1: contiguous runs of `inner` floats of one channel, vectorised along the run.
//
// Deterministic, accurate sums: the rows (outer indices for inner > 1) are cut into blocks
// of ~16K elements whose size depends only on the shape; threads take whole (block, channel
// group) items. Within an item, float partial sums over at most kFlushRows rows (kFlushVecs
// vectors) are added into double accumulators. The statistics make two passes over each
// block (its mean, then squared deviations from it; the second pass reads the block from
// cache) and the blocks are merged in order with Chan et al.'s pairwise formula, so the
// variance stays accurate whatever the mean; backward sums are added block by block in order.
// No partition depends on the thread count, so results are bitwise identical for any.

// GCC 12 reports a false -Wmaybe-uninitialized inside some AVX-512 intrinsics (their
// pass-through operand is deliberately undefined); the warning is not about this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <algorithm>
#include <cmath>

#include "kernels/norm/double_sum.h"
#include "kernels/norm/norm.h"
#include "kernels/pool/channel_tiles.h"
#include "runtime/aligned.h"
#include "runtime/threading.h"
#include "simd/vec.h"

namespace pyk::norm::PYK_ISA_NS {
namespace {

using namespace pyk::simd::PYK_ISA_NS;
using pyk::pool::PYK_ISA_NS::for_channel_tiles;
using pyk::pool::PYK_ISA_NS::kTileChannels;
using pyk::PYK_ISA_NS::AlignedBuffer;

// Elements per reduction block / per thread grain: ~16K floats is a few microseconds.
constexpr int64_t kBlockElements = 16384;
// Float partial sums cover at most this many rows (channels-last) or vectors (runs) before
// they are added into double accumulators: the float rounding stays near 1e-7 relative.
constexpr int64_t kFlushRows = 16;
constexpr int64_t kFlushVecs = 16;

// Per-channel sums of two terms over a part of the tensor:
//   kGrad = false:  a = x - center,  b = (x - center)^2
//   kGrad = true:   a = dy,          b = dy * (x - center)
template <bool kGrad>
struct Sums {
  const BatchNormShape& s;
  const float* x;
  const float* dy;

  // Channels-last: rows [r0, r1), channels [c0, c1) (c1 - c0 <= kTileChannels); cen, acc_a and
  // acc_b are indexed from c0 and the sums are added into acc_a/acc_b.
  void rows(int64_t r0, int64_t r1, int64_t c0, int64_t c1, const float* cen, double* acc_a, double* acc_b) const {
    const int64_t C = s.channels;
    for_channel_tiles(c0, c1, [&](int64_t cs, auto tile) {
      constexpr int NV = decltype(tile)::kVecs;
      VecF center[NV];
      for (int j = 0; j < NV; ++j) center[j] = tile.load(cen + (cs - c0), j);
      for (int64_t r = r0; r < r1; r += kFlushRows) {
        VecF a[NV], b[NV];
        for (int j = 0; j < NV; ++j) a[j] = b[j] = zero();
        const int64_t rend = std::min(r1, r + kFlushRows);
        for (int64_t rr = r; rr < rend; ++rr) {
          const float* xp = x + rr * C + cs;
          for (int j = 0; j < NV; ++j) {
            const VecF d = tile.load(xp, j) - center[j];
            if (kGrad) {
              const VecF g = tile.load(dy + rr * C + cs, j);
              a[j] = a[j] + g;
              b[j] = fmadd(g, d, b[j]);
            } else {
              a[j] = a[j] + d;
              b[j] = fmadd(d, d, b[j]);
            }
          }
        }
        for (int j = 0; j < NV; ++j) {
          add_to_double(a[j], acc_a + (cs - c0) + j * kWidth);
          add_to_double(b[j], acc_b + (cs - c0) + j * kWidth);
        }
      }
    });
  }

  // inner > 1: the runs of channel c for outer indices [o0, o1), added into sa/sb. Whole vectors
  // first, then the last few elements of each run in scalar code.
  void runs(int64_t o0, int64_t o1, int64_t c, float cen, double& sa, double& sb) const {
    const int64_t len = s.inner, full = len - len % kWidth;
    const VecF center = set1(cen);
    for (int64_t o = o0; o < o1; ++o) {
      const int64_t base = (o * s.channels + c) * len;
      const float* xp = x + base;
      const float* gp = kGrad ? dy + base : nullptr;
      int64_t i = 0;
      while (i < full) {
        VecF a = zero(), b = zero();
        const int64_t end = std::min(full, i + kFlushVecs * kWidth);
        for (; i < end; i += kWidth) {
          const VecF d = load(xp + i) - center;
          if (kGrad) {
            const VecF g = load(gp + i);
            a = a + g;
            b = fmadd(g, d, b);
          } else {
            a = a + d;
            b = fmadd(d, d, b);
          }
        }
        sa += static_cast<double>(hsum(a));
        sb += static_cast<double>(hsum(b));
      }
      for (; i < len; ++i) {
        const float d = xp[i] - cen;
        const float g = kGrad ? gp[i] : d;
        sa += static_cast<double>(g);
        sb += static_cast<double>(g * d);
      }
    }
  }
};

// The fixed partition of a reduction: blocks of rows (channels-last) or of outer indices
// (inner > 1), each split into channel groups: kTileChannels channels for channels-last, one
// channel otherwise. Sizes depend only on the shape (and the ISA's tile width).
struct Partition {
  bool channels_last;
  int64_t block;   // rows / outer indices per block
  int64_t blocks;
  int64_t groups;  // channel groups per block

  explicit Partition(const BatchNormShape& s) : channels_last(s.inner == 1) {
    if (channels_last) {
      block = std::max<int64_t>(kFlushRows, kBlockElements / std::max<int64_t>(1, std::min<int64_t>(s.channels, kTileChannels)));
      groups = (s.channels + kTileChannels - 1) / kTileChannels;
    } else {
      block = std::max<int64_t>(1, kBlockElements / s.inner);
      groups = s.channels;
    }
    blocks = (s.outer + block - 1) / block;
  }

  // Runs f(block index, first row/outer index, end, c0, c1) for every item, split over threads
  // in grains of about kBlockElements elements (several items when the tensor is small).
  template <class F>
  void for_items(const BatchNormShape& s, F&& f) const {
    const int64_t outer = s.outer, C = s.channels, width = channels_last ? kTileChannels : 1;
    const int64_t item = std::min(outer, block) * (channels_last ? std::min<int64_t>(C, kTileChannels) : s.inner);
    const int64_t grain = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(1, item));
    parallel_for(0, blocks * groups, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t it = lo; it < hi; ++it) {
        const int64_t b = it / groups, c0 = (it % groups) * width;
        f(b, b * block, std::min(outer, (b + 1) * block), c0, std::min(C, c0 + width));
      }
    });
  }
};

// Per-channel batch mean and biased variance (double). Each item computes its block's mean
// and sum of squared deviations with two passes over the block (the second pass reads from
// cache), and the blocks are merged in order with Chan et al.'s pairwise update.
void batch_moments(const BatchNormShape& s, const float* x, double* mean, double* var) {
  const int64_t C = s.channels;
  const Partition part(s);
  AlignedBuffer<double> buf(static_cast<size_t>(std::max<int64_t>(1, 2 * part.blocks * C)));
  double* block_mean = buf.data();
  double* block_m2 = block_mean + part.blocks * C;
  const Sums<false> sums{s, x, nullptr};
  part.for_items(s, [&](int64_t b, int64_t o0, int64_t o1, int64_t c0, int64_t c1) {
    const double n = static_cast<double>(o1 - o0) * static_cast<double>(s.inner);
    double sa[kTileChannels] = {}, sb[kTileChannels] = {};
    alignas(64) float cen[kTileChannels] = {};
    if (part.channels_last) {
      sums.rows(o0, o1, c0, c1, cen, sa, sb);  // pass 1: plain sums
    } else {
      sums.runs(o0, o1, c0, 0.0f, sa[0], sb[0]);
    }
    for (int64_t c = c0; c < c1; ++c) {
      cen[c - c0] = static_cast<float>(sa[c - c0] / n);
      sa[c - c0] = sb[c - c0] = 0.0;
    }
    if (part.channels_last) {
      sums.rows(o0, o1, c0, c1, cen, sa, sb);  // pass 2: around the block mean
    } else {
      sums.runs(o0, o1, c0, cen[0], sa[0], sb[0]);
    }
    for (int64_t c = c0; c < c1; ++c) {
      // sa is the (small) sum of deviations from the rounded float center: correct for it.
      const double e = sa[c - c0];
      block_mean[b * C + c] = static_cast<double>(cen[c - c0]) + e / n;
      block_m2[b * C + c] = std::max(sb[c - c0] - e * e / n, 0.0);
    }
  });
  const double total = static_cast<double>(s.outer) * static_cast<double>(s.inner);
  for (int64_t c = 0; c < C; ++c) {
    double m = 0.0, m2 = 0.0, count = 0.0;
    for (int64_t b = 0; b < part.blocks; ++b) {
      const double nb = static_cast<double>(std::min(s.outer, (b + 1) * part.block) - b * part.block) *
                        static_cast<double>(s.inner);
      const double delta = block_mean[b * C + c] - m;
      const double merged = count + nb;
      m += delta * (nb / merged);
      m2 += block_m2[b * C + c] + delta * delta * (count * nb / merged);
      count = merged;
    }
    mean[c] = m;
    var[c] = m2 / total;
  }
}

// Per-channel sum(dy) and sum(dy * (x - mean)) (double), blocks added in order.
void grad_sums(const BatchNormShape& s, const float* x, const float* dy, const float* mean, double* sum_dy,
               double* sum_dy_xc) {
  const int64_t C = s.channels;
  const Partition part(s);
  AlignedBuffer<double> buf(static_cast<size_t>(std::max<int64_t>(1, 2 * part.blocks * C)));
  double* pa = buf.data();
  double* pb = pa + part.blocks * C;
  const Sums<true> sums{s, x, dy};
  part.for_items(s, [&](int64_t b, int64_t o0, int64_t o1, int64_t c0, int64_t c1) {
    double sa[kTileChannels] = {}, sb[kTileChannels] = {};
    if (part.channels_last) {
      sums.rows(o0, o1, c0, c1, mean + c0, sa, sb);
    } else {
      sums.runs(o0, o1, c0, mean[c0], sa[0], sb[0]);
    }
    for (int64_t c = c0; c < c1; ++c) {
      pa[b * C + c] = sa[c - c0];
      pb[b * C + c] = sb[c - c0];
    }
  });
  for (int64_t c = 0; c < C; ++c) sum_dy[c] = sum_dy_xc[c] = 0.0;
  for (int64_t b = 0; b < part.blocks; ++b) {
    for (int64_t c = 0; c < C; ++c) {
      sum_dy[c] += pa[b * C + c];
      sum_dy_xc[c] += pb[b * C + c];
    }
  }
}

// The streaming passes below run their loops in functions whose pointers and sizes are plain
// parameters: vector stores may alias anything (the intrinsic types are may_alias), so values
// read through a lambda's captures would be reloaded from memory after every store.

// Channels-last rows [r0, r1): y = (x - center[c]) * scale[c] + offset[c]. y may alias x.
void normalize_rows(const float* x, float* y, int64_t C, int64_t r0, int64_t r1, const float* center,
                    const float* scale, const float* offset) {
  for_channel_tiles(0, C, [&](int64_t c0, auto tile) {
    constexpr int NV = decltype(tile)::kVecs;
    VecF cen[NV], sc[NV], off[NV];
    for (int j = 0; j < NV; ++j) {
      cen[j] = tile.load(center + c0, j);
      sc[j] = tile.load(scale + c0, j);
      off[j] = tile.load(offset + c0, j);
    }
    const float* xp = x + r0 * C + c0;
    float* yp = y + r0 * C + c0;
    for (int64_t r = r0; r < r1; ++r, xp += C, yp += C) {
      for (int j = 0; j < NV; ++j) tile.store(yp, j, fmadd(tile.load(xp, j) - cen[j], sc[j], off[j]));
    }
  });
}

// One contiguous run of n floats of a single channel (inner > 1 layout).
void normalize_run(const float* x, float* y, int64_t n, float center, float scale, float offset) {
  const VecF cen = set1(center), sc = set1(scale), off = set1(offset);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) store(y + i, fmadd(load(x + i) - cen, sc, off));
  if (i < n) {
    const int m = static_cast<int>(n - i);
    store_partial(y + i, fmadd(load_partial(x + i, m) - cen, sc, off), m);
  }
}

// Channels-last rows [r0, r1): dx = a[c] * dy + b[c] * (x - center[c]) + k[c].
void apply_rows(const float* dy, const float* x, float* dx, int64_t C, int64_t r0, int64_t r1, const float* center,
                const float* a, const float* b, const float* k) {
  for_channel_tiles(0, C, [&](int64_t c0, auto tile) {
    constexpr int NV = decltype(tile)::kVecs;
    VecF cen[NV], va[NV], vb[NV], vk[NV];
    for (int j = 0; j < NV; ++j) {
      cen[j] = tile.load(center + c0, j);
      va[j] = tile.load(a + c0, j);
      vb[j] = tile.load(b + c0, j);
      vk[j] = tile.load(k + c0, j);
    }
    const int64_t first = r0 * C + c0;
    const float* xp = x + first;
    const float* gp = dy + first;
    float* out = dx + first;
    for (int64_t r = r0; r < r1; ++r, xp += C, gp += C, out += C) {
      for (int j = 0; j < NV; ++j) {
        const VecF d = tile.load(xp, j) - cen[j];
        tile.store(out, j, fmadd(vb[j], d, fmadd(va[j], tile.load(gp, j), vk[j])));
      }
    }
  });
}

void apply_run(const float* dy, const float* x, float* dx, int64_t n, float center, float a, float b, float k) {
  const VecF cen = set1(center), va = set1(a), vb = set1(b), vk = set1(k);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    const VecF d = load(x + i) - cen;
    store(dx + i, fmadd(vb, d, fmadd(va, load(dy + i), vk)));
  }
  if (i < n) {
    const int m = static_cast<int>(n - i);
    const VecF d = load_partial(x + i, m) - cen;
    store_partial(dx + i, fmadd(vb, d, fmadd(va, load_partial(dy + i, m), vk)), m);
  }
}

// Threads split rows (channels-last) or (outer, channel) runs in grains of ~kBlockElements.
void normalize(const BatchNormShape& s, const float* x, const float* center, const float* scale,
               const float* offset, float* y) {
  const int64_t C = s.channels, inner = s.inner;
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(1, C));
    parallel_for(0, s.outer, grain, [=](int64_t lo, int64_t hi) {
      normalize_rows(x, y, C, lo, hi, center, scale, offset);
    });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kBlockElements / inner);
  parallel_for(0, s.outer * C, grain, [=](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t c = it % C;
      normalize_run(x + it * inner, y + it * inner, inner, center[c], scale[c], offset[c]);
    }
  });
}

void apply_backward(const BatchNormShape& s, const float* dy, const float* x, const float* center, const float* a,
                    const float* b, const float* k, float* dx) {
  const int64_t C = s.channels, inner = s.inner;
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(1, C));
    parallel_for(0, s.outer, grain, [=](int64_t lo, int64_t hi) {
      apply_rows(dy, x, dx, C, lo, hi, center, a, b, k);
    });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kBlockElements / inner);
  parallel_for(0, s.outer * C, grain, [=](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t c = it % C, off = it * inner;
      apply_run(dy + off, x + off, dx + off, inner, center[c], a[c], b[c], k[c]);
    }
  });
}

// Per-channel scratch of n floats/doubles, grouped in one allocation.
struct Scratch {
  AlignedBuffer<double> d;
  AlignedBuffer<float> f;
  Scratch(int64_t channels, int nd, int nf)
      : d(static_cast<size_t>(std::max<int64_t>(1, channels * nd))), f(static_cast<size_t>(std::max<int64_t>(1, channels * nf))) {}
};

}  // namespace

void train_forward(const BatchNormTrain& a) {
  const BatchNormShape& s = a.shape;
  const int64_t C = s.channels;
  if (C == 0) return;  // (the binding rejects an empty batch when there are channels)
  Scratch scratch(C, 2, 2);
  double* mean = scratch.d.data();
  double* var = mean + C;
  float* scale = scratch.f.data();
  float* offset = scale + C;
  batch_moments(s, a.x, mean, var);
  const double momentum = a.momentum;
  for (int64_t c = 0; c < C; ++c) {
    const double inv_std = 1.0 / std::sqrt(var[c] + static_cast<double>(a.epsilon));
    a.mean[c] = static_cast<float>(mean[c]);
    a.inv_std[c] = static_cast<float>(inv_std);
    const double gamma = a.gamma ? a.gamma[c] : 1.0;
    scale[c] = static_cast<float>(gamma * inv_std);
    offset[c] = a.beta ? a.beta[c] : 0.0f;
    if (a.moving_mean) {
      a.moving_mean[c] = static_cast<float>(a.moving_mean[c] * momentum + mean[c] * (1.0 - momentum));
      a.moving_var[c] = static_cast<float>(a.moving_var[c] * momentum + var[c] * (1.0 - momentum));
    }
  }
  normalize(s, a.x, a.mean, scale, offset, a.y);
}

void inference_forward(const BatchNormInference& a) {
  const int64_t C = a.shape.channels;
  if (C * a.shape.outer * a.shape.inner == 0) return;
  Scratch scratch(C, 0, 2);
  float* scale = scratch.f.data();
  float* offset = scale + C;
  for (int64_t c = 0; c < C; ++c) {
    const double gamma = a.gamma ? a.gamma[c] : 1.0;
    scale[c] = static_cast<float>(gamma / std::sqrt(static_cast<double>(a.moving_var[c]) + a.epsilon));
    offset[c] = a.beta ? a.beta[c] : 0.0f;
  }
  normalize(a.shape, a.x, a.moving_mean, scale, offset, a.y);
}

void backward(const BatchNormBackward& a) {
  const BatchNormShape& s = a.shape;
  const int64_t C = s.channels;
  const double count = static_cast<double>(s.outer) * static_cast<double>(s.inner);
  if (count == 0) {
    for (int64_t c = 0; c < C; ++c) a.dgamma[c] = a.dbeta[c] = 0.0f;
    return;
  }
  Scratch scratch(C, 2, 3);
  double* sum_dy = scratch.d.data();
  double* sum_dy_xc = sum_dy + C;
  float* ca = scratch.f.data();
  float* cb = ca + C;
  float* ck = cb + C;
  grad_sums(s, a.x, a.dy, a.mean, sum_dy, sum_dy_xc);
  for (int64_t c = 0; c < C; ++c) {
    const double inv_std = a.inv_std[c];
    const double gamma = a.gamma ? a.gamma[c] : 1.0;
    a.dbeta[c] = static_cast<float>(sum_dy[c]);
    a.dgamma[c] = static_cast<float>(sum_dy_xc[c] * inv_std);
    const double scale = gamma * inv_std;
    ca[c] = static_cast<float>(scale);
    if (a.training) {
      // dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = (x - mean) * inv_std.
      cb[c] = static_cast<float>(-scale * inv_std * inv_std * sum_dy_xc[c] / count);
      ck[c] = static_cast<float>(-scale * sum_dy[c] / count);
    } else {
      cb[c] = 0.0f;
      ck[c] = 0.0f;
    }
  }
  apply_backward(s, a.dy, a.x, a.mean, ca, cb, ck, a.dx);
}

}  // namespace pyk::norm::PYK_ISA_NS

namespace pyk::norm {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {&isa::train_forward, &isa::inference_forward, &isa::backward};
}  // namespace pyk::norm
