#pragma once
// This ISA's optimizer functions (for optim_table.cpp) and the loop helpers their sources share.
#include <algorithm>
#include <cstdint>

#include "kernels/optim/optim.h"
#include "kernels/pool/channel_tiles.h"
#include "runtime/threading.h"
#include "simd/vec.h"

namespace pyk::optim::PYK_ISA_NS {

void sgd_update(const TensorList& l, const Hyper& h);
void rmsprop_update(const TensorList& l, const Hyper& h);
void adagrad_update(const TensorList& l, const Hyper& h);
void adadelta_update(const TensorList& l, const Hyper& h);
void adam_update(const TensorList& l, const Hyper& h);
void adamax_update(const TensorList& l, const Hyper& h);
void nadam_update(const TensorList& l, const Hyper& h);
void sum_squares(const ArrayList& a, double* out);
void scale(const ArrayList& a, const float* factor);
void clip(const ArrayList& a, float lo, float hi);

// Elements per chunk grain: an Adam step touches 28 bytes per element, so 16K elements are
// ~450 KB of traffic, tens of microseconds: worth a thread.
constexpr int64_t kGrain = 16384;

// f(i, lanes) over [0, n) in whole vectors (FullTile<1>), then one masked vector (PartialTile).
template <class F>
inline void for_vectors(int64_t n, F&& f) {
  using pool::PYK_ISA_NS::FullTile;
  using pool::PYK_ISA_NS::PartialTile;
  using simd::PYK_ISA_NS::kWidth;
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) f(i, FullTile<1>{});
  if (i < n) f(i, PartialTile{static_cast<int>(n - i)});
}

// Splits the flat index space of a list (offset[0 .. count]) over threads in whole kGrain
// chunks and runs seg(t, first, n) for each tensor segment of each chunk. A chunk boundary
// inside a tensor is moved up to the next multiple of the vector width (counted from the
// tensor's start), so every element is computed by the same code path (whole vector or the
// tensor's final masked vector) for any thread count: the compiler may fuse multiply-adds
// differently in the two paths.
template <class List, class Seg>
void for_segments(const List& l, Seg&& seg) {
  using simd::PYK_ISA_NS::kWidth;
  const int64_t* offset = l.offset;
  const int64_t count = l.count;
  parallel_for(0, offset[count], kGrain, [&](int64_t lo, int64_t hi) {
    auto snap = [&](int64_t t, int64_t flat) {  // local index of a boundary in tensor t
      const int64_t size = offset[t + 1] - offset[t];
      return std::min(size, (flat - offset[t] + kWidth - 1) / kWidth * kWidth);
    };
    int64_t t = std::upper_bound(offset, offset + count + 1, lo) - offset - 1;
    while (lo < hi) {
      const int64_t end = std::min(hi, offset[t + 1]);
      const int64_t first = snap(t, lo), last = snap(t, end);
      if (last > first) seg(t, first, last - first);
      lo = end;
      ++t;
    }
  });
}

}  // namespace pyk::optim::PYK_ISA_NS
