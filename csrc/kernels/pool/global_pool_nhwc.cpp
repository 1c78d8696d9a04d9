// Global max and average pooling over all spatial positions of a channels-last tensor seen as
// (n, s, c), forward and backward. Vectorised over channels in register tiles (channel_tiles.h).
//
// Threads split (image, channel block) pairs; a block is one full tile of kTileChannels
// channels, and each pair reduces its s rows in a fixed order, so results do not depend on
// the thread count (the spatial axis is never split: that would need a cross-thread reduction).
// Average sums run in two levels (float partial sums over kSumBlock rows added into a running
// float total), which keeps the rounding error near that of a pairwise sum for large s.
// The average backward is a broadcast of dy / s and threads over the (n, s) rows of dx.

// GCC 12 reports a false -Wmaybe-uninitialized inside _mm512_max_ps (its pass-through operand
// is deliberately undefined); the warning is about the intrinsic, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <algorithm>
#include <limits>

#include "kernels/pool/channel_tiles.h"
#include "kernels/pool/pool_impl.h"
#include "runtime/threading.h"

namespace pyk::pool::PYK_ISA_NS {
namespace {

using namespace pyk::simd::PYK_ISA_NS;

// Elements per thread-chunk grain (a few microseconds of work).
constexpr int64_t kGrainElements = 16384;
// Rows per float partial sum in the average.
constexpr int64_t kSumBlock = 64;

// Runs f(n, c_begin, c_end) over (image, channel block) pairs split across threads.
template <class F>
void for_image_channel_blocks(int64_t n, int64_t s, int64_t c, F&& f) {
  const int64_t blocks = (c + kTileChannels - 1) / kTileChannels;
  const int64_t work = std::max<int64_t>(1, s * std::min<int64_t>(c, kTileChannels));
  const int64_t grain = std::max<int64_t>(1, kGrainElements / work);
  parallel_for(0, n * blocks, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t img = it / blocks, c0 = (it % blocks) * kTileChannels;
      f(img, c0, std::min(c, c0 + kTileChannels));
    }
  });
}

template <class Tile>
inline void column_max(Tile t, const float* p, int64_t s, int64_t stride, VecF* m) {
  for (int j = 0; j < Tile::kVecs; ++j) m[j] = set1(-std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < s; ++r, p += stride) {
    for (int j = 0; j < Tile::kVecs; ++j) m[j] = max(t.load(p, j), m[j]);
  }
}

}  // namespace

void global_max_forward(int64_t n, int64_t s, int64_t c, const float* x, float* y) {
  for_image_channel_blocks(n, s, c, [&](int64_t img, int64_t cb, int64_t ce) {
    for_channel_tiles(cb, ce, [&](int64_t c0, auto tile) {
      VecF m[decltype(tile)::kVecs];
      column_max(tile, x + img * s * c + c0, s, c, m);
      for (int j = 0; j < decltype(tile)::kVecs; ++j) tile.store(y + img * c + c0, j, m[j]);
    });
  });
}

void global_avg_forward(int64_t n, int64_t s, int64_t c, const float* x, float* y) {
  const VecF count = set1(static_cast<float>(s));
  for_image_channel_blocks(n, s, c, [&](int64_t img, int64_t cb, int64_t ce) {
    for_channel_tiles(cb, ce, [&](int64_t c0, auto tile) {
      constexpr int NV = decltype(tile)::kVecs;
      VecF total[NV];
      for (int j = 0; j < NV; ++j) total[j] = zero();
      const float* p = x + img * s * c + c0;
      for (int64_t r0 = 0; r0 < s; r0 += kSumBlock) {
        VecF part[NV];
        for (int j = 0; j < NV; ++j) part[j] = zero();
        const int64_t r1 = std::min(s, r0 + kSumBlock);
        for (int64_t r = r0; r < r1; ++r, p += c) {
          for (int j = 0; j < NV; ++j) part[j] = part[j] + tile.load(p, j);
        }
        for (int j = 0; j < NV; ++j) total[j] = total[j] + part[j];
      }
      for (int j = 0; j < NV; ++j) tile.store(y + img * c + c0, j, total[j] / count);
    });
  });
}

namespace {

// One (image, channel tile) column of the max backward: dy goes to the first position (in scan
// order) holding the maximum. Pointers and sizes are by-value parameters so that they stay in
// registers across the stores (vector stores may alias anything).
template <class Tile>
void max_column_backward(Tile t, const float* xp, const float* g, float* dxp, int64_t s, int64_t stride) {
  constexpr int NV = Tile::kVecs;
  VecF m[NV], gv[NV];
  column_max(t, xp, s, stride, m);
  for (int j = 0; j < NV; ++j) gv[j] = t.load(g, j);
  for (int64_t r = 0; r < s; ++r, xp += stride, dxp += stride) {
    for (int j = 0; j < NV; ++j) {
      // A lane gets its gradient at the first maximum, zeros at later ties.
      const MaskF eq = cmp_eq(t.load(xp, j), m[j]);
      t.store(dxp, j, select(eq, gv[j], zero()));
      gv[j] = select(eq, zero(), gv[j]);
    }
  }
}

// dx rows [lo, hi) of the average backward: dy[image] / s broadcast over positions.
void avg_rows_backward(const float* dy, float* dx, int64_t s, int64_t c, int64_t lo, int64_t hi) {
  const VecF count = set1(static_cast<float>(s));
  for (int64_t r = lo; r < hi; ++r) {
    const float* g = dy + (r / s) * c;
    float* out = dx + r * c;
    for_channel_tiles(0, c, [&](int64_t c0, auto tile) {
      for (int j = 0; j < decltype(tile)::kVecs; ++j) tile.store(out + c0, j, tile.load(g + c0, j) / count);
    });
  }
}

}  // namespace

void global_max_backward(int64_t n, int64_t s, int64_t c, const float* x, const float* dy, float* dx) {
  for_image_channel_blocks(n, s, c, [=](int64_t img, int64_t cb, int64_t ce) {
    for_channel_tiles(cb, ce, [=](int64_t c0, auto tile) {
      max_column_backward(tile, x + img * s * c + c0, dy + img * c + c0, dx + img * s * c + c0, s, c);
    });
  });
}

void global_avg_backward(int64_t n, int64_t s, int64_t c, const float* dy, float* dx) {
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, c));
  parallel_for(0, n * s, grain, [=](int64_t lo, int64_t hi) { avg_rows_backward(dy, dx, s, c, lo, hi); });
}

}  // namespace pyk::pool::PYK_ISA_NS
