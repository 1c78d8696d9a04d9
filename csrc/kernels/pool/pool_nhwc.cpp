// Windowed max and average pooling on channels-last tensors (NWC/NHWC/NDHWC seen as NDHWC),
// forward and backward. Vectorised over the contiguous channel axis in tiles of up to
// kTileVecs vectors (channel_tiles.h): for one output position a tile's accumulators stay in
// registers while the kernel walks the window; channel counts that are not a multiple of the
// width end with one masked vector. Windows are clipped to the real input elements (the
// 'same' padding never enters a max, and an average divides by the count of real elements).
//
// Forward threads over output rows (n, od, oh), each row producing out[2] * c values.
//
// Backward is written as a scatter with ownership: threads split the *input* rows (n, id, ih)
// and each thread visits, in ascending output order, every window that touches its rows,
// writing only into the rows it owns. A window straddling two threads' rows is evaluated by
// both (only its owned part is written), so no element is written by two threads and every
// element receives its contributions in the same (ascending window) order whatever the thread
// count: the result is bitwise identical for any number of threads. When windows do not overlap
// (stride >= pool in every pooled dimension) each element gets at most one contribution and is
// stored directly; otherwise owned rows are zeroed just ahead of the windows that reach them
// (while still in cache) and contributions are accumulated. Max backward recomputes each
// window's maximum from x and routes dy to the first element equal to it in scan order.

// GCC 12 reports a false -Wmaybe-uninitialized inside _mm512_max_ps (its pass-through operand
// is deliberately undefined); the warning is about the intrinsic, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/pool/channel_tiles.h"
#include "kernels/pool/pool_impl.h"
#include "runtime/threading.h"

namespace pyk::pool::PYK_ISA_NS {
namespace {

using namespace pyk::simd::PYK_ISA_NS;

// Outputs (forward) or input elements (backward) per thread-chunk grain: ~16K floats is a few
// microseconds of work, enough to pay for waking a thread.
constexpr int64_t kGrainElements = 16384;

struct Range {
  int64_t lo, hi;
};

// Real input indices [lo, hi) covered by output index o along spatial dimension dim.
inline Range window_range(const Window& w, int dim, int64_t o) {
  const int64_t lo = o * w.stride[dim] - w.pad[dim];
  return {std::max<int64_t>(lo, 0), std::min<int64_t>(lo + w.pool[dim], w.in[dim])};
}

// The clipped window of one output position: its first element and its extents/strides.
struct WindowView {
  const float* first;
  int64_t nd, nh, nw;  // extents
  int64_t sd, sh, sw;  // strides in floats
};

template <bool kMax, class Tile>
inline void reduce_window(Tile t, WindowView v, float* out) {
  constexpr int NV = Tile::kVecs;
  VecF acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = kMax ? set1(-std::numeric_limits<float>::infinity()) : zero();
  for (int64_t d = 0; d < v.nd; ++d) {
    for (int64_t h = 0; h < v.nh; ++h) {
      const float* p = v.first + d * v.sd + h * v.sh;
      for (int64_t i = 0; i < v.nw; ++i, p += v.sw) {
        for (int j = 0; j < NV; ++j) acc[j] = kMax ? max(t.load(p, j), acc[j]) : acc[j] + t.load(p, j);
      }
    }
  }
  if (!kMax) {
    const VecF count = set1(static_cast<float>(v.nd * v.nh * v.nw));
    for (int j = 0; j < NV; ++j) acc[j] = acc[j] / count;
  }
  for (int j = 0; j < NV; ++j) t.store(out, j, acc[j]);
}

// Output rows [lo, hi) of the forward. Loop bodies take their geometry as by-value
// parameters: vector stores may alias anything (the intrinsic types are may_alias), so values
// read through a lambda's captures would be reloaded from memory after every store.
template <bool kMax>
void forward_rows(Window w, const float* x, float* y, int64_t lo, int64_t hi) {
  const int64_t C = w.c, H = w.in[1], W = w.in[2];
  const int64_t OD = w.out[0], OH = w.out[1], OW = w.out[2];
  const int64_t image = w.in[0] * H * W * C;
  for (int64_t r = lo; r < hi; ++r) {
    const int64_t oh = r % OH, od = (r / OH) % OD, n = r / (OH * OD);
    const Range rd = window_range(w, 0, od), rh = window_range(w, 1, oh);
    float* yrow = y + r * OW * C;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const Range rw = window_range(w, 2, ow);
      const WindowView v{x + n * image + ((rd.lo * H + rh.lo) * W + rw.lo) * C,
                         rd.hi - rd.lo, rh.hi - rh.lo, rw.hi - rw.lo, H * W * C, W * C, C};
      float* out = yrow + ow * C;
      for_channel_tiles(0, C, [&](int64_t c0, auto tile) {
        WindowView vc = v;
        vc.first += c0;
        reduce_window<kMax>(tile, vc, out + c0);
      });
    }
  }
}

template <bool kMax>
void pool_forward(const Window& w, const float* x, float* y) {
  const int64_t rows = w.n * w.out[0] * w.out[1];
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, w.out[2] * w.c));
  const Window wc = w;
  parallel_for(0, rows, grain, [=](int64_t lo, int64_t hi) { forward_rows<kMax>(wc, x, y, lo, hi); });
}

// The part of one window that a thread owns: input rows (flat index (n*D + d)*H + h) in
// [own_lo, own_hi). `row0` is the flat row of the window's first (d, h).
struct Ownership {
  int64_t own_lo, own_hi;
  int64_t row0, row_step_d;  // flat row of (d, h) = row0 + d * row_step_d + h
  bool owns(int64_t d, int64_t h) const {
    const int64_t r = row0 + d * row_step_d + h;
    return r >= own_lo && r < own_hi;
  }
};

// Writes (kStore) or adds the gradient of one window into the owned part of dx for one channel
// tile. Max: dy goes to the first element equal to the window maximum in scan order.
template <bool kMax, bool kStore, class Tile>
inline void scatter_window(Tile t, WindowView xv, const float* dyp, float* dx_first, Ownership own) {
  constexpr int NV = Tile::kVecs;
  VecF g[NV], m[NV];
  for (int j = 0; j < NV; ++j) {
    g[j] = t.load(dyp, j);
    m[j] = set1(-std::numeric_limits<float>::infinity());
  }
  if (kMax) {
    for (int64_t d = 0; d < xv.nd; ++d) {
      for (int64_t h = 0; h < xv.nh; ++h) {
        const float* p = xv.first + d * xv.sd + h * xv.sh;
        for (int64_t i = 0; i < xv.nw; ++i, p += xv.sw) {
          for (int j = 0; j < NV; ++j) m[j] = max(t.load(p, j), m[j]);
        }
      }
    }
  } else {
    const VecF count = set1(static_cast<float>(xv.nd * xv.nh * xv.nw));
    for (int j = 0; j < NV; ++j) g[j] = g[j] / count;
  }
  for (int64_t d = 0; d < xv.nd; ++d) {
    for (int64_t h = 0; h < xv.nh; ++h) {
      const bool owned = own.owns(d, h);
      // A row the thread does not own still has to be scanned for max (it may hold the
      // first maximum, which then must not be duplicated in an owned row).
      if (!owned && !kMax) continue;
      const int64_t off = d * xv.sd + h * xv.sh;
      const float* p = xv.first + off;
      float* q = dx_first + off;
      for (int64_t i = 0; i < xv.nw; ++i, p += xv.sw, q += xv.sw) {
        for (int j = 0; j < NV; ++j) {
          VecF val = g[j];
          if (kMax) {
            // Lanes whose first maximum has been found get their gradient and then a zero
            // gradient for any later tie.
            const MaskF eq = cmp_eq(t.load(p, j), m[j]);
            val = select(eq, g[j], zero());
            g[j] = select(eq, zero(), g[j]);
            if (!owned) continue;
            if (!kStore && !any(eq)) continue;
          }
          t.store(q, j, kStore ? val : t.load(q, j) + val);
        }
      }
    }
  }
}

// Input rows [lo, hi) of the backward: zeroes them where needed and applies every window
// that touches them, in ascending output order, writing only these rows.
template <bool kMax>
void backward_rows(Window w, bool overlap, bool need_zero, const float* x, const float* dy, float* dx, int64_t lo,
                   int64_t hi) {
  const int64_t C = w.c, D = w.in[0], H = w.in[1], W = w.in[2];
  const int64_t OD = w.out[0], OH = w.out[1], OW = w.out[2];
  const int64_t row_len = W * C;
  int64_t zeroed = lo;  // owned rows [lo, zeroed) have been zeroed
  auto zero_until = [&](int64_t end) {
    end = std::min(end, hi);
    if (need_zero && end > zeroed) {
      std::memset(dx + zeroed * row_len, 0, sizeof(float) * static_cast<size_t>((end - zeroed) * row_len));
      zeroed = end;
    }
  };
  const int64_t n_first = lo / (D * H), n_last = (hi - 1) / (D * H);
  for (int64_t n = n_first; n <= n_last; ++n) {
    for (int64_t od = 0; od < OD; ++od) {
      const Range rd = window_range(w, 0, od);
      if ((n * D + rd.hi) * H <= lo || (n * D + rd.lo) * H >= hi) continue;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const Range rh = window_range(w, 1, oh);
        const Ownership own{lo, hi, (n * D + rd.lo) * H + rh.lo, H};
        bool touches = false;
        for (int64_t d = 0; d < rd.hi - rd.lo && !touches; ++d) {
          const int64_t r0 = own.row0 + d * H, r1 = r0 + (rh.hi - rh.lo);
          touches = r0 < hi && r1 > lo;
        }
        if (!touches) continue;
        zero_until((n * D + rd.hi - 1) * H + rh.hi);
        const float* dyrow = dy + ((n * OD + od) * OH + oh) * OW * C;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Range rw = window_range(w, 2, ow);
          const int64_t first = (own.row0 * W + rw.lo) * C;
          const WindowView v{x + first, rd.hi - rd.lo, rh.hi - rh.lo, rw.hi - rw.lo, H * W * C, W * C, C};
          for_channel_tiles(0, C, [&](int64_t c0, auto tile) {
            WindowView vc = v;
            vc.first += c0;
            if (overlap) {
              scatter_window<kMax, false>(tile, vc, dyrow + ow * C + c0, dx + first + c0, own);
            } else {
              scatter_window<kMax, true>(tile, vc, dyrow + ow * C + c0, dx + first + c0, own);
            }
          });
        }
      }
    }
  }
  zero_until(hi);
}

template <bool kMax>
void pool_backward(const Window& w, const float* x, const float* dy, float* dx) {
  bool overlap = false, covers = true;
  for (int k = 0; k < 3; ++k) {
    if (w.out[k] > 1 && w.stride[k] < w.pool[k]) overlap = true;
    const bool no_gaps = w.out[k] == 1 || w.stride[k] <= w.pool[k];
    const bool reaches_end = (w.out[k] - 1) * w.stride[k] - w.pad[k] + w.pool[k] >= w.in[k];
    if (!no_gaps || !reaches_end) covers = false;
  }
  const bool need_zero = overlap || !covers;
  const int64_t rows = w.n * w.in[0] * w.in[1];
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, w.in[2] * w.c));
  const Window wc = w;
  parallel_for(0, rows, grain, [=](int64_t lo, int64_t hi) {
    backward_rows<kMax>(wc, overlap, need_zero, x, dy, dx, lo, hi);
  });
}

}  // namespace

void max_forward(const Window& w, const float* x, float* y) { pool_forward<true>(w, x, y); }
void avg_forward(const Window& w, const float* x, float* y) { pool_forward<false>(w, x, y); }
void max_backward(const Window& w, const float* x, const float* dy, float* dx) { pool_backward<true>(w, x, dy, dx); }
// Average backward never reads x; the window view's pointer only provides offsets.
void avg_backward(const Window& w, const float* dy, float* dx) { pool_backward<false>(w, dx, dy, dx); }

}  // namespace pyk::pool::PYK_ISA_NS
