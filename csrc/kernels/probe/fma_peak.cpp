// FMA throughput probe. Modern x86 cores retire two vector FMAs per cycle with a latency of 4-5
// cycles, so at least ~10 independent accumulator chains are needed to keep both units busy;
// 16 chains leave headroom and still fit in the 16 (AVX2) or 32 (AVX-512) vector registers.
#include "kernels/probe/probe.h"

#include "simd/vec.h"

namespace pyk::probe::PYK_ISA_NS {
using namespace pyk::simd::PYK_ISA_NS;

double fma_loop(int64_t iters) {
  // AVX2 has 16 registers: 12 chains plus the two operands fit without spilling.
  constexpr int kChains = PYK_ISA_LEVEL == 1 ? 12 : 16;
  VecF acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = set1(0.001f * static_cast<float>(c));
  const VecF a = set1(0.999999f), b = set1(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = fmadd(acc[c], a, b);
  }
  // Keep the result observable so the loop is not removed.
  VecF sum = zero();
  for (int c = 0; c < kChains; ++c) sum = sum + acc[c];
  volatile float sink = hsum(sum);
  (void)sink;
  return 2.0 * kChains * kWidth * static_cast<double>(iters);
}

}  // namespace pyk::probe::PYK_ISA_NS

namespace pyk::probe {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {&isa::fma_loop, pyk::simd::PYK_ISA_NS::kWidth};
}  // namespace pyk::probe
