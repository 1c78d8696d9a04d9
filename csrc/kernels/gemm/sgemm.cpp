// SGEMM driver: C = act(alpha * op(A) @ op(B) + beta * C + bias), row-major with leading
// dimensions, on the register-tile micro-kernels of ukernel.h (14 x 32 on AVX-512, 6 x 16 on AVX2,
// 4 x 4 generic).
//
// Blocking (loops from outside in, caches of the target core: L1d 48 KiB, L2 1 MiB, L3 shared):
//   pc: k in ranges of kc <= kKC, so that one A micro-panel (kMR x kc) stays in L1 while it
//       sweeps a B block; consecutive k-ranges accumulate into C (epilogue beta = 1).
//   ic: rows in blocks of kMC, the A block that is packed at once (when A is packed).
//   jc: columns in blocks of kNC, so that the B block (kc x kNC) stays in L2 across the row tiles.
//   ir, jr: register tiles; for one A micro-panel (held in L1) the kernel walks every B panel.
// Two ways to feed the kernels, chosen per operand by size (the "small-matrix path" is simply
// both operands read in place):
//   - packed: B in zero-padded kNR-column panels (contiguous, 64-byte aligned); A as a row copy
//     with a padded row stride (row-major A) or in kMR-row k-major panels (transposed A). Packing
//     turns power-of-two leading dimensions, which map many rows onto the same cache sets, into
//     contiguous blocks, and pays when each packed element is reused by many tiles.
//   - in place: the kernels read row-major B and either layout of A directly. Deep-learning
//     shapes (a few hundred rows, tall-skinny products with 32-64 columns) reuse each element of
//     one operand only a few times, so copying it costs more than it saves.
// Packing is a pure copy and every element is summed in the same order whichever way the tiles
// are fed (ukernel.h), so the choice never changes the result.
//
// Threads split the rows (or, when there are more column tiles than row tiles, the columns) of C
// into contiguous ranges of whole register tiles, one per thread; k is never split, so 1 and 2
// threads give identical bits. Each thread packs into its own buffers. Products below
// kMinParallelFmas run on one thread.
#include <algorithm>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/pack.h"
#include "kernels/gemm/ukernel.h"
#include "runtime/aligned.h"
#include "runtime/threading.h"

namespace pyk::gemm::PYK_ISA_NS {

namespace {

// k-range: A micro-panel 14 x 384 floats = 21 KiB, under half of L1d, leaving room for the B
// panel lines streaming through. Narrower ISAs use the same depth.
constexpr int64_t kKC = 384;
// Columns per B block: 384 x 384 floats = 576 KiB of the 1 MiB L2, the rest for A panels and C.
constexpr int64_t kNC = 384;
// Rows of A packed at once: an A block of 1008 x 384 floats (1.5 MiB) lives in L2/L3; B is
// re-packed once per row block, so larger blocks pack B less often.
constexpr int64_t kMC = (1008 / kMR) * kMR;
// Extra floats in the row stride of a packed A block, so that consecutive rows start in
// different cache sets even when kc is a multiple of 1 KiB.
constexpr int64_t kRowPad = 16;
// Pack A only when each micro-panel feeds more than this many column tiles; pack a row-major B
// only when more than this many row tiles read each panel.
constexpr int64_t kPackAMinTiles = 4;
constexpr int64_t kPackBMinTiles = 2;
// About 2-3 microseconds of single-core work: below this, waking a second thread costs more
// than it saves.
constexpr int64_t kMinParallelFmas = int64_t(1) << 18;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Equal k-ranges of at most kKC: a depth of 392 is two ranges of 392 rather than 384 + 8.
int64_t k_range(int64_t k) { return k <= kKC ? k : ceil_div(k, ceil_div(k, kKC)); }

// How one block of C is computed.
struct Plan {
  bool pack_a = false, pack_b = false;
  int64_t kc = 0;
};

Plan make_plan(const Problem& p, int64_t rows, int64_t cols) {
  Plan plan;
  plan.kc = k_range(p.k);
  plan.pack_a = ceil_div(cols, kNR) > kPackAMinTiles && p.k > 0;
  plan.pack_b = p.trans_b || (ceil_div(rows, kMR) > kPackBMinTiles && p.k > 0);
  return plan;
}

// Per-thread packing buffers, kept between calls (pool threads live as long as the process).
pyk::PYK_ISA_NS::AlignedBuffer<float>& a_buffer() {
  static thread_local pyk::PYK_ISA_NS::AlignedBuffer<float> buf;
  return buf;
}
pyk::PYK_ISA_NS::AlignedBuffer<float>& b_buffer() {
  static thread_local pyk::PYK_ISA_NS::AlignedBuffer<float> buf;
  return buf;
}

// C[m0:m1, n0:n1] on the calling thread.
void run_block(const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const Plan plan = make_plan(p, m1 - m0, n1 - n0);
  const KernelSet& kernels = pyk::gemm::PYK_ISA_NS::kernels();
  const int64_t kc_max = plan.kc;
  const int64_t ldd = round_up(kc_max, 16) + kRowPad;  // row stride of a packed row-major A block
  float* abuf = nullptr;
  float* bbuf = nullptr;
  if (plan.pack_a) {
    const int64_t need = p.trans_a ? round_up(kMC, kMR) * kc_max : kMC * ldd;
    a_buffer().reserve(need);
    abuf = a_buffer().data();
  }
  if (plan.pack_b) {
    b_buffer().reserve(round_up(std::min(kNC, n1 - n0), kNR) * kc_max);
    bbuf = b_buffer().data();
  }
  const int64_t k = p.k;
  for (int64_t pc = 0; pc == 0 || pc < k; pc += kc_max) {
    const int64_t kc = std::min(kc_max, k - pc);
    const bool first = pc == 0, last = pc + kc >= k;
    Epilogue ep;
    ep.alpha = p.alpha;
    ep.beta = first ? p.beta : 1.0f;
    ep.act = last ? p.act : Activation::linear;
    ep.act_alpha = p.act_alpha;
    for (int64_t ic = m0; ic < m1; ic += kMC) {
      const int64_t mc = plan.pack_a ? std::min(kMC, m1 - ic) : m1 - ic;
      // A source for rows ic.., depth pc..: element (r, kk) at a_blk[r * a_rs + kk * a_ks]; the
      // micro-panel of rows ir.. starts at a_blk + ir * a_row_step.
      const float* a_blk;
      int64_t a_rs, a_ks, a_row_step;
      if (!p.trans_a) {
        const float* src = p.a + ic * p.lda + pc;
        if (plan.pack_a) {
          pack_a_rows(src, p.lda, mc, kc, abuf, ldd);
          a_blk = abuf; a_rs = ldd;
        } else {
          a_blk = src; a_rs = p.lda;
        }
        a_ks = 1; a_row_step = a_rs;
      } else {
        const float* src = p.a + pc * p.lda + ic;
        if (plan.pack_a) {
          pack_a_kmajor(src, p.lda, mc, kc, abuf);
          a_blk = abuf; a_ks = kMR; a_row_step = kc;
        } else {
          a_blk = src; a_ks = p.lda; a_row_step = 1;
        }
        a_rs = 1;
      }
      const int a_row = a_ks == 1 ? 1 : 0;

      for (int64_t jc = n0; jc < n1; jc += kNC) {
        const int64_t nc = std::min(kNC, n1 - jc);
        // B source: element (kk, j) of tile column jr at b_blk[jr * b_col_step + kk * b_ks + j].
        const float* b_blk;
        int64_t b_ks, b_col_step;
        if (plan.pack_b) {
          const float* src = p.trans_b ? p.b + jc * p.ldb + pc : p.b + pc * p.ldb + jc;
          pack_b(src, p.ldb, p.trans_b, kc, nc, bbuf);
          b_blk = bbuf; b_ks = kNR; b_col_step = kc;
        } else {
          b_blk = p.b + pc * p.ldb + jc; b_ks = p.ldb; b_col_step = 1;
        }

        for (int64_t ir = 0; ir < mc; ir += kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - ir));
          Tile t;
          t.k = kc;
          t.a = a_blk + ir * a_row_step;
          t.a_rs = a_rs; t.a_ks = a_ks;
          t.b_ks = b_ks;
          t.ldc = p.ldc;
          t.ep = ep;
          float* c_row = p.c + (ic + ir) * p.ldc + jc;
          for (int64_t jr = 0; jr < nc; jr += kNR) {
            const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - jr));
            const int nv = static_cast<int>(ceil_div(nr, kVecWidth));
            const int mask_b = !plan.pack_b && nr != nv * kVecWidth ? 1 : 0;
            t.b = b_blk + jr * b_col_step;
            t.c = c_row + jr;
            t.nr = nr;
            t.ep.bias = last && p.bias ? p.bias + jc + jr : nullptr;
            kernels.fn[a_row][mask_b][nv - 1][mr - 1](t);
          }
        }
      }
    }
  }
}

}  // namespace

void sgemm(const Problem& p) {
  const int64_t m = p.m, n = p.n;
  if (m <= 0 || n <= 0) return;
  const int64_t tiles_m = ceil_div(m, kMR), tiles_n = ceil_div(n, kNR);
  const bool tiny = m * n * std::max<int64_t>(p.k, 1) < kMinParallelFmas;
  if (p.single_thread || tiny || num_threads() == 1) {
    FlushDenormalsScope ftz;
    run_block(p, 0, m, 0, n);
    return;
  }
  // One contiguous range of whole tiles per thread along the dimension with more tiles.
  const int64_t threads = num_threads();
  if (tiles_m >= tiles_n) {
    parallel_for(0, tiles_m, ceil_div(tiles_m, threads), [&](int64_t lo, int64_t hi) {
      run_block(p, lo * kMR, std::min(m, hi * kMR), 0, n);
    });
  } else {
    parallel_for(0, tiles_n, ceil_div(tiles_n, threads), [&](int64_t lo, int64_t hi) {
      run_block(p, 0, m, lo * kNR, std::min(n, hi * kNR));
    });
  }
}

}  // namespace pyk::gemm::PYK_ISA_NS

namespace pyk::gemm {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {&isa::sgemm};
}  // namespace pyk::gemm
