#pragma once
// Channel tiles: the channel axis of a channels-last tensor is contiguous, so the pooling and
// normalisation kernels vectorise over it. A run of channels is covered by tiles of up to
// kTileVecs vectors, each tile kept in registers while the kernel walks the other axes; the last
// tile may be one masked vector for a channel count that is not a multiple of the width.
//
// for_channel_tiles(c_begin, c_end, f) calls f(c0, tile) where `tile` is a FullTile<NV> (NV
// whole vectors) or a PartialTile (one masked vector of n < kWidth lanes). The tile type is a
// compile-time parameter of f, so the loops over its vectors unroll and stay in registers.
#include <cstdint>

#include "simd/vec.h"

namespace pyk::pool::PYK_ISA_NS {

using simd::PYK_ISA_NS::kWidth;
using simd::PYK_ISA_NS::VecF;

// Four vectors (64 channels on AVX-512, 32 on AVX2): with one accumulator and one mask per
// vector a tile still fits the 16 AVX2 registers.
constexpr int kTileVecs = 4;
constexpr int kTileChannels = kTileVecs * kWidth;

template <int NV>
struct FullTile {
  static constexpr int kVecs = NV;
  VecF load(const float* p, int j) const { return simd::PYK_ISA_NS::load(p + j * kWidth); }
  void store(float* p, int j, VecF v) const { simd::PYK_ISA_NS::store(p + j * kWidth, v); }
};

struct PartialTile {
  static constexpr int kVecs = 1;
  int n;  // valid lanes, 0 < n < kWidth
  VecF load(const float* p, int) const { return simd::PYK_ISA_NS::load_partial(p, n); }
  void store(float* p, int, VecF v) const { simd::PYK_ISA_NS::store_partial(p, v, n); }
};

template <class F>
inline void for_channel_tiles(int64_t c_begin, int64_t c_end, F&& f) {
  int64_t c0 = c_begin;
  for (; c0 + kTileChannels <= c_end; c0 += kTileChannels) f(c0, FullTile<kTileVecs>{});
  const int full = static_cast<int>((c_end - c0) / kWidth);
  switch (full) {
    case 3: f(c0, FullTile<3>{}); break;
    case 2: f(c0, FullTile<2>{}); break;
    case 1: f(c0, FullTile<1>{}); break;
    default: break;
  }
  c0 += static_cast<int64_t>(full) * kWidth;
  if (c0 < c_end) f(c0, PartialTile{static_cast<int>(c_end - c0)});
}

}  // namespace pyk::pool::PYK_ISA_NS
