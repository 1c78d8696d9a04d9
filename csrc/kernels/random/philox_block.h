#pragma once
// Philox4x32-10 for 16 consecutive blocks at once: one block per SIMD lane (16 lanes of AVX-512,
// two passes of 8 AVX2 lanes, or 16 scalar calls on the generic path). All paths produce the same
// words; only the speed differs. The 32x32->64-bit products come from mul_epu32, which multiplies
// the even 32-bit lanes: the odd lanes are shifted down, multiplied separately and blended back.
#include <cstdint>

#include "runtime/isa_namespace.h"
#include "runtime/philox.h"

#if PYK_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

namespace pyk::random::PYK_ISA_NS {

constexpr int kBlocksPerGroup = 16;
constexpr int kWordsPerGroup = 4 * kBlocksPerGroup;

// Philox multipliers and Weyl key increments (as runtime/philox.h).
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

// words[j * 16 + l] = word j of block first_block + l, for l < 16 and j < 4.
inline void philox_group(uint64_t seed, uint64_t first_block, uint64_t stream, uint32_t* words) {
#if PYK_ISA_LEVEL == 2
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // 64-bit block index per lane: low words may wrap past 2^32 within the group.
  const __m512i lo_base = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(first_block)));
  __m512i c0 = _mm512_add_epi32(lo_base, lane);
  const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, lo_base);
  __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(first_block >> 32)), carry,
                                     _mm512_set1_epi32(static_cast<int32_t>(first_block >> 32)), _mm512_set1_epi32(1));
  __m512i c2 = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(stream)));
  __m512i c3 = _mm512_set1_epi32(static_cast<int32_t>(stream >> 32));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int32_t>(kM0)), m1 = _mm512_set1_epi32(static_cast<int32_t>(kM1));
  for (int round = 0; round < 10; ++round) {
    const __m512i e0 = _mm512_mul_epu32(c0, m0), o0 = _mm512_mul_epu32(_mm512_srli_epi64(c0, 32), m0);
    const __m512i e1 = _mm512_mul_epu32(c2, m1), o1 = _mm512_mul_epu32(_mm512_srli_epi64(c2, 32), m1);
    const __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, e0, _mm512_slli_epi64(o0, 32));
    const __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e0, 32), o0);
    const __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, e1, _mm512_slli_epi64(o1, 32));
    const __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e1, 32), o1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int32_t>(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int32_t>(k1)));
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  _mm512_storeu_si512(words + 0, c0);
  _mm512_storeu_si512(words + 16, c1);
  _mm512_storeu_si512(words + 32, c2);
  _mm512_storeu_si512(words + 48, c3);
#elif PYK_ISA_LEVEL == 1
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i sign = _mm256_set1_epi32(INT32_MIN);  // unsigned compare via signed compare of x ^ 2^31
  const __m256i m0 = _mm256_set1_epi32(static_cast<int32_t>(kM0)), m1 = _mm256_set1_epi32(static_cast<int32_t>(kM1));
  for (int half = 0; half < 2; ++half) {
    const uint64_t first = first_block + 8 * half;
    const __m256i lo_base = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(first)));
    __m256i c0 = _mm256_add_epi32(lo_base, lane);
    // carry = c0 < lo_base (unsigned): all-ones lanes, so subtracting adds 1.
    const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lo_base, sign), _mm256_xor_si256(c0, sign));
    __m256i c1 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(first >> 32)), carry);
    __m256i c2 = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(stream)));
    __m256i c3 = _mm256_set1_epi32(static_cast<int32_t>(stream >> 32));
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const __m256i e0 = _mm256_mul_epu32(c0, m0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), m0);
      const __m256i e1 = _mm256_mul_epu32(c2, m1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), m1);
      const __m256i lo0 = _mm256_blend_epi32(e0, _mm256_slli_epi64(o0, 32), 0xAA);
      const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
      const __m256i lo1 = _mm256_blend_epi32(e1, _mm256_slli_epi64(o1, 32), 0xAA);
      const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int32_t>(k0)));
      c1 = lo1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int32_t>(k1)));
      c3 = lo0;
      k0 += kW0;
      k1 += kW1;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words + 0 + 8 * half), c0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words + 16 + 8 * half), c1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words + 32 + 8 * half), c2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words + 48 + 8 * half), c3);
  }
#else
  for (int l = 0; l < kBlocksPerGroup; ++l) {
    const auto r = pyk::PYK_ISA_NS::philox4x32(seed, first_block + l, stream);
    for (int j = 0; j < 4; ++j) words[j * kBlocksPerGroup + l] = r.v[j];
  }
#endif
}

}  // namespace pyk::random::PYK_ISA_NS
