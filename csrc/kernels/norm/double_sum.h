#pragma once
// Adding float vectors into double accumulators, for reductions that must stay accurate over
// millions of elements: kernels sum a few float vectors at a time and then widen.
#include "simd/vec.h"

namespace pyk::norm::PYK_ISA_NS {

// acc[0 .. kWidth) += the lanes of v, in double.
inline void add_to_double(simd::PYK_ISA_NS::VecF v, double* acc) {
#if PYK_ISA_LEVEL == 2
  const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v.v));
  const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v.v, 1));
  _mm512_storeu_pd(acc, _mm512_add_pd(_mm512_loadu_pd(acc), lo));
  _mm512_storeu_pd(acc + 8, _mm512_add_pd(_mm512_loadu_pd(acc + 8), hi));
#elif PYK_ISA_LEVEL == 1
  const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v.v));
  const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v.v, 1));
  _mm256_storeu_pd(acc, _mm256_add_pd(_mm256_loadu_pd(acc), lo));
  _mm256_storeu_pd(acc + 4, _mm256_add_pd(_mm256_loadu_pd(acc + 4), hi));
#else
  acc[0] += static_cast<double>(v.v);
#endif
}

}  // namespace pyk::norm::PYK_ISA_NS

namespace pyk::norm::PYK_ISA_NS {

// Sum of squares of float vectors, widened to double before squaring, in registers.
// total() adds the double lanes in a fixed order.
class SquareSum {
 public:
#if PYK_ISA_LEVEL == 2
  void add(simd::PYK_ISA_NS::VecF v) {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v.v));
    const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v.v, 1));
    lo_ = _mm512_fmadd_pd(lo, lo, lo_);
    hi_ = _mm512_fmadd_pd(hi, hi, hi_);
  }
  double total() const {
    alignas(64) double lanes[16];
    _mm512_store_pd(lanes, lo_);
    _mm512_store_pd(lanes + 8, hi_);
    return sum_lanes(lanes, 16);
  }

 private:
  __m512d lo_ = _mm512_setzero_pd(), hi_ = _mm512_setzero_pd();
#elif PYK_ISA_LEVEL == 1
  void add(simd::PYK_ISA_NS::VecF v) {
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v.v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v.v, 1));
    lo_ = _mm256_fmadd_pd(lo, lo, lo_);
    hi_ = _mm256_fmadd_pd(hi, hi, hi_);
  }
  double total() const {
    alignas(32) double lanes[8];
    _mm256_store_pd(lanes, lo_);
    _mm256_store_pd(lanes + 4, hi_);
    return sum_lanes(lanes, 8);
  }

 private:
  __m256d lo_ = _mm256_setzero_pd(), hi_ = _mm256_setzero_pd();
#else
  void add(simd::PYK_ISA_NS::VecF v) {
    const double d = v.v;
    acc_ += d * d;
  }
  double total() const { return acc_; }

 private:
  double acc_ = 0.0;
#endif
  static double sum_lanes(const double* lanes, int n) {
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += lanes[i];
    return s;
  }
};

}  // namespace pyk::norm::PYK_ISA_NS
