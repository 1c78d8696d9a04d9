#pragma once
// Thin float vector wrappers, one per ISA, chosen by PYK_ISA_LEVEL:
//   2  AVX-512   VecF = 16 floats, MaskF = __mmask16
//   1  AVX2+FMA  VecF =  8 floats, MaskF = a __m256 of all-ones / all-zeros lanes
//   0  generic   VecF =  1 float,  MaskF = bool (plain C++; the compiler may still vectorise)
// Kernels are written once against this interface and compiled per ISA. Loops take kWidth
// elements at a time and finish with load_partial/store_partial, which never touch memory past
// the n valid elements (masked loads), so no kernel needs a scalar tail loop.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "runtime/isa_namespace.h"

#if PYK_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

namespace pyk::simd::PYK_ISA_NS {

#if PYK_ISA_LEVEL == 2
// ------------------------------------------------------------------------------------- AVX-512
constexpr int kWidth = 16;
struct VecF { __m512 v; };
struct MaskF { __mmask16 m; };

inline __mmask16 first_n(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline VecF set1(float x) { return {_mm512_set1_ps(x)}; }
inline VecF zero() { return {_mm512_setzero_ps()}; }
inline VecF load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline VecF load_partial(const float* p, int n) { return {_mm512_maskz_loadu_ps(first_n(n), p)}; }
inline void store(float* p, VecF a) { _mm512_storeu_ps(p, a.v); }
inline void store_partial(float* p, VecF a, int n) { _mm512_mask_storeu_ps(p, first_n(n), a.v); }

inline VecF operator+(VecF a, VecF b) { return {_mm512_add_ps(a.v, b.v)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm512_div_ps(a.v, b.v)}; }
inline VecF operator-(VecF a) { return {_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN)))}; }
inline VecF fmadd(VecF a, VecF b, VecF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline VecF fnmadd(VecF a, VecF b, VecF c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
inline VecF fmsub(VecF a, VecF b, VecF c) { return {_mm512_fmsub_ps(a.v, b.v, c.v)}; }
// max/min follow x86: if either input is NaN the second operand is returned.
inline VecF max(VecF a, VecF b) { return {_mm512_max_ps(a.v, b.v)}; }
inline VecF min(VecF a, VecF b) { return {_mm512_min_ps(a.v, b.v)}; }
inline VecF abs(VecF a) { return {_mm512_abs_ps(a.v)}; }
inline VecF sqrt(VecF a) { return {_mm512_sqrt_ps(a.v)}; }
inline VecF round_nearest(VecF a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline VecF floor(VecF a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)}; }
// a * 2^n for integral n (any range: scalef saturates to 0 / inf like ldexp).
inline VecF ldexp(VecF a, VecF n) { return {_mm512_scalef_ps(a.v, n.v)}; }

inline MaskF cmp_lt(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline MaskF cmp_le(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline MaskF cmp_gt(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline MaskF cmp_ge(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline MaskF cmp_eq(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline MaskF cmp_neq(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
inline MaskF is_nan(VecF a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline MaskF operator&(MaskF a, MaskF b) { return {static_cast<__mmask16>(a.m & b.m)}; }
inline MaskF operator|(MaskF a, MaskF b) { return {static_cast<__mmask16>(a.m | b.m)}; }
inline MaskF operator~(MaskF a) { return {static_cast<__mmask16>(~a.m)}; }
inline bool any(MaskF a) { return a.m != 0; }
// Lanes where mask is set take a, the others b.
inline VecF select(MaskF mask, VecF a, VecF b) { return {_mm512_mask_blend_ps(mask.m, b.v, a.v)}; }

inline float hsum(VecF a) { return _mm512_reduce_add_ps(a.v); }
inline float hmax(VecF a) { return _mm512_reduce_max_ps(a.v); }
inline float hmin(VecF a) { return _mm512_reduce_min_ps(a.v); }

// ---- additions for the math library and the reductions (csrc/simd/math.h, kernels/eltwise)
inline VecF ceil(VecF a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)}; }
inline VecF trunc(VecF a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)}; }
// Bitwise operations on the float bit patterns (sign manipulation).
inline VecF bit_and(VecF a, VecF b) { return {_mm512_and_ps(a.v, b.v)}; }
inline VecF bit_or(VecF a, VecF b) { return {_mm512_or_ps(a.v, b.v)}; }
inline VecF bit_xor(VecF a, VecF b) { return {_mm512_xor_ps(a.v, b.v)}; }
// |mag| with the sign bit of sgn.
inline VecF copysign(VecF mag, VecF sgn) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  return {_mm512_or_ps(_mm512_andnot_ps(sign, mag.v), _mm512_and_ps(sign, sgn.v))};
}
// For finite positive normal x: mantissa in [1, 2) and the unbiased exponent, x = m * 2^e.
inline VecF split_exponent(VecF x, VecF* e) {
  e->v = _mm512_getexp_ps(x.v);
  return {_mm512_getmant_ps(x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero)};
}
inline MaskF is_inf(VecF a) { return {_mm512_fpclass_ps_mask(a.v, 0x18)}; }  // +inf | -inf
// Bit i set when lane i of the mask is set.
inline uint32_t mask_bits(MaskF a) { return a.m; }
// The first n lanes (0 <= n <= kWidth).
inline MaskF first_lanes(int n) { return {first_n(n)}; }
// Store of a whole vector to a vector-aligned address, bypassing the caches (non-temporal);
// stream_fence() orders such stores before later ones (call it before other threads read).
inline void store_stream(float* p, VecF a) { _mm512_stream_ps(p, a.v); }
inline void stream_fence() { _mm_sfence(); }
// Writes the first n lanes of the mask as bytes 0 / 1 (numpy bool).
inline void store_mask_u8(uint8_t* p, MaskF a, int n) {
  const __m128i ones = _mm_maskz_set1_epi8(a.m, 1);
  _mm_mask_storeu_epi8(p, first_n(n), ones);
}
// The mask of the first n bytes at p (nonzero: lane set; lanes from n on clear); reads only n bytes.
inline MaskF load_mask_u8(const uint8_t* p, int n) {
  const __m128i b = _mm_maskz_loadu_epi8(first_n(n), p);
  return {_mm_test_epi8_mask(b, b)};
}

#elif PYK_ISA_LEVEL == 1
// ------------------------------------------------------------------------------------- AVX2
constexpr int kWidth = 8;
struct VecF { __m256 v; };
struct MaskF { __m256 m; };

// Lane mask with the first n lanes set, from a sliding window over 8 ones and 8 zeros.
inline __m256i first_n(int n) {
  static const int32_t window[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(window + 8 - n));
}
inline VecF set1(float x) { return {_mm256_set1_ps(x)}; }
inline VecF zero() { return {_mm256_setzero_ps()}; }
inline VecF load(const float* p) { return {_mm256_loadu_ps(p)}; }
inline VecF load_partial(const float* p, int n) { return {_mm256_maskload_ps(p, first_n(n))}; }
inline void store(float* p, VecF a) { _mm256_storeu_ps(p, a.v); }
inline void store_partial(float* p, VecF a, int n) { _mm256_maskstore_ps(p, first_n(n), a.v); }

inline VecF operator+(VecF a, VecF b) { return {_mm256_add_ps(a.v, b.v)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm256_div_ps(a.v, b.v)}; }
inline VecF operator-(VecF a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
inline VecF fmadd(VecF a, VecF b, VecF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline VecF fnmadd(VecF a, VecF b, VecF c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
inline VecF fmsub(VecF a, VecF b, VecF c) { return {_mm256_fmsub_ps(a.v, b.v, c.v)}; }
inline VecF max(VecF a, VecF b) { return {_mm256_max_ps(a.v, b.v)}; }
inline VecF min(VecF a, VecF b) { return {_mm256_min_ps(a.v, b.v)}; }
inline VecF abs(VecF a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline VecF sqrt(VecF a) { return {_mm256_sqrt_ps(a.v)}; }
inline VecF round_nearest(VecF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline VecF floor(VecF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)}; }
// a * 2^n for integral n. The power is built in two halves so that n in [-252, 254] stays exact
// where a single exponent field (range [-126, 127]) would overflow.
inline VecF ldexp(VecF a, VecF n) {
  n = min(max(n, set1(-252.0f)), set1(254.0f));
  const __m256i ni = _mm256_cvtps_epi32(n.v);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256i rest = _mm256_sub_epi32(ni, half);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, _mm256_set1_epi32(127)), 23));
  return {_mm256_mul_ps(_mm256_mul_ps(a.v, p1), p2)};
}

inline MaskF cmp_lt(VecF a, VecF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline MaskF cmp_le(VecF a, VecF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline MaskF cmp_gt(VecF a, VecF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline MaskF cmp_ge(VecF a, VecF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline MaskF cmp_eq(VecF a, VecF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline MaskF cmp_neq(VecF a, VecF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
inline MaskF is_nan(VecF a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline MaskF operator&(MaskF a, MaskF b) { return {_mm256_and_ps(a.m, b.m)}; }
inline MaskF operator|(MaskF a, MaskF b) { return {_mm256_or_ps(a.m, b.m)}; }
inline MaskF operator~(MaskF a) { return {_mm256_xor_ps(a.m, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))}; }
inline bool any(MaskF a) { return _mm256_movemask_ps(a.m) != 0; }
inline VecF select(MaskF mask, VecF a, VecF b) { return {_mm256_blendv_ps(b.v, a.v, mask.m)}; }

inline float hsum(VecF a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(VecF a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmin(VecF a) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- additions for the math library and the reductions (csrc/simd/math.h, kernels/eltwise)
inline VecF ceil(VecF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)}; }
inline VecF trunc(VecF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)}; }
inline VecF bit_and(VecF a, VecF b) { return {_mm256_and_ps(a.v, b.v)}; }
inline VecF bit_or(VecF a, VecF b) { return {_mm256_or_ps(a.v, b.v)}; }
inline VecF bit_xor(VecF a, VecF b) { return {_mm256_xor_ps(a.v, b.v)}; }
inline VecF copysign(VecF mag, VecF sgn) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return {_mm256_or_ps(_mm256_andnot_ps(sign, mag.v), _mm256_and_ps(sign, sgn.v))};
}
inline VecF split_exponent(VecF x, VecF* e) {
  const __m256i bits = _mm256_castps_si256(x.v);
  e->v = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(bits, 23)), _mm256_set1_ps(127.0f));
  const __m256i mant = _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                       _mm256_set1_epi32(0x3f800000));
  return {_mm256_castsi256_ps(mant)};
}
inline MaskF is_inf(VecF a) { return cmp_eq(abs(a), set1(INFINITY)); }
inline uint32_t mask_bits(MaskF a) { return static_cast<uint32_t>(_mm256_movemask_ps(a.m)); }
inline MaskF first_lanes(int n) { return {_mm256_castsi256_ps(first_n(n))}; }
inline void store_stream(float* p, VecF a) { _mm256_stream_ps(p, a.v); }
inline void stream_fence() { _mm_sfence(); }
inline void store_mask_u8(uint8_t* p, MaskF a, int n) {
  const uint32_t bits = mask_bits(a);
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>((bits >> i) & 1u);
}
inline MaskF load_mask_u8(const uint8_t* p, int n) {
  alignas(8) uint8_t part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const uint8_t* src = p;
  if (n < 8) {  // never read past the n bytes
    for (int i = 0; i < n; ++i) part[i] = p[i];
    src = part;
  }
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
  return {_mm256_castsi256_ps(_mm256_cmpgt_epi32(v, _mm256_setzero_si256()))};
}

#else
// ------------------------------------------------------------------------------------- generic
constexpr int kWidth = 1;
struct VecF { float v; };
struct MaskF { bool m; };

inline VecF set1(float x) { return {x}; }
inline VecF zero() { return {0.0f}; }
inline VecF load(const float* p) { return {*p}; }
inline VecF load_partial(const float* p, int n) { return {n > 0 ? *p : 0.0f}; }
inline void store(float* p, VecF a) { *p = a.v; }
inline void store_partial(float* p, VecF a, int n) { if (n > 0) *p = a.v; }

inline VecF operator+(VecF a, VecF b) { return {a.v + b.v}; }
inline VecF operator-(VecF a, VecF b) { return {a.v - b.v}; }
inline VecF operator*(VecF a, VecF b) { return {a.v * b.v}; }
inline VecF operator/(VecF a, VecF b) { return {a.v / b.v}; }
inline VecF operator-(VecF a) { return {-a.v}; }
// Plain multiply-add: a baseline x86-64 CPU has no FMA unit and std::fma would be a slow libm call.
inline VecF fmadd(VecF a, VecF b, VecF c) { return {a.v * b.v + c.v}; }
inline VecF fnmadd(VecF a, VecF b, VecF c) { return {c.v - a.v * b.v}; }
inline VecF fmsub(VecF a, VecF b, VecF c) { return {a.v * b.v - c.v}; }
// Same NaN rule as x86 max/min: if either input is NaN, the second operand is returned.
inline VecF max(VecF a, VecF b) { return {a.v > b.v ? a.v : b.v}; }
inline VecF min(VecF a, VecF b) { return {a.v < b.v ? a.v : b.v}; }
inline VecF abs(VecF a) { return {std::fabs(a.v)}; }
inline VecF sqrt(VecF a) { return {std::sqrt(a.v)}; }
inline VecF round_nearest(VecF a) { return {std::nearbyint(a.v)}; }
inline VecF floor(VecF a) { return {std::floor(a.v)}; }
inline VecF ldexp(VecF a, VecF n) {
  const float c = n.v < -300.0f ? -300.0f : (n.v > 300.0f ? 300.0f : n.v);
  return {std::ldexp(a.v, static_cast<int>(c))};
}

inline MaskF cmp_lt(VecF a, VecF b) { return {a.v < b.v}; }
inline MaskF cmp_le(VecF a, VecF b) { return {a.v <= b.v}; }
inline MaskF cmp_gt(VecF a, VecF b) { return {a.v > b.v}; }
inline MaskF cmp_ge(VecF a, VecF b) { return {a.v >= b.v}; }
inline MaskF cmp_eq(VecF a, VecF b) { return {a.v == b.v}; }
inline MaskF cmp_neq(VecF a, VecF b) { return {!(a.v == b.v)}; }
inline MaskF is_nan(VecF a) { return {a.v != a.v}; }
inline MaskF operator&(MaskF a, MaskF b) { return {a.m && b.m}; }
inline MaskF operator|(MaskF a, MaskF b) { return {a.m || b.m}; }
inline MaskF operator~(MaskF a) { return {!a.m}; }
inline bool any(MaskF a) { return a.m; }
inline VecF select(MaskF mask, VecF a, VecF b) { return {mask.m ? a.v : b.v}; }

inline float hsum(VecF a) { return a.v; }
inline float hmax(VecF a) { return a.v; }
inline float hmin(VecF a) { return a.v; }

// ---- additions for the math library and the reductions (csrc/simd/math.h, kernels/eltwise)
inline VecF ceil(VecF a) { return {std::ceil(a.v)}; }
inline VecF trunc(VecF a) { return {std::trunc(a.v)}; }
inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline VecF bit_and(VecF a, VecF b) { return {bits_float(float_bits(a.v) & float_bits(b.v))}; }
inline VecF bit_or(VecF a, VecF b) { return {bits_float(float_bits(a.v) | float_bits(b.v))}; }
inline VecF bit_xor(VecF a, VecF b) { return {bits_float(float_bits(a.v) ^ float_bits(b.v))}; }
inline VecF copysign(VecF mag, VecF sgn) { return {std::copysign(mag.v, sgn.v)}; }
inline VecF split_exponent(VecF x, VecF* e) {
  const uint32_t bits = float_bits(x.v);
  e->v = static_cast<float>(static_cast<int>(bits >> 23)) - 127.0f;
  return {bits_float((bits & 0x007fffffu) | 0x3f800000u)};
}
inline MaskF is_inf(VecF a) { return {std::fabs(a.v) == INFINITY}; }
inline uint32_t mask_bits(MaskF a) { return a.m ? 1u : 0u; }
inline MaskF first_lanes(int n) { return {n > 0}; }
inline void store_stream(float* p, VecF a) { *p = a.v; }
inline void stream_fence() {}
inline void store_mask_u8(uint8_t* p, MaskF a, int n) { if (n > 0) *p = a.m ? 1 : 0; }
inline MaskF load_mask_u8(const uint8_t* p, int n) { return {n > 0 && *p != 0}; }
#endif

}  // namespace pyk::simd::PYK_ISA_NS
