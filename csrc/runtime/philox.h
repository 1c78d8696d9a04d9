#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. The i-th random number is a pure function of (key, counter = i), so
// any thread can produce any slice of a random stream and the numbers do not depend on how the
// work was split: a seeded dropout mask or initializer is the same for every thread count.
//
// Counter layout used throughout pykeras: c0,c1 = 64-bit block index within one call,
// c2,c3 = 64-bit stream number (the caller's call counter, plus an attempt number where a
// sampler has to reject). The key is the 64-bit seed.
#include <cstdint>

#include "runtime/isa_namespace.h"

namespace pyk::PYK_ISA_NS {

struct Philox4x32 {
  uint32_t v[4];
};

inline Philox4x32 philox4x32(uint64_t seed, uint64_t index, uint64_t stream) {
  // Multipliers and Weyl key increments of the reference Philox4x32.
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(index), c1 = static_cast<uint32_t>(index >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform float in [0, 1) from the top 24 bits (every value is exactly representable).
inline float uniform01(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

}  // namespace pyk::PYK_ISA_NS
