// SGEMM driver: C = act(alpha * op(A) @ op(B) + beta * C + bias), row-major with leading
// dimensions, on the register-tile micro-kernels of ukernel.h (14 x 32 on AVX-512, 6 x 16 on AVX2,
// 4 x 4 generic).
//
// Blocking (loops from outside in, caches of the target core: L1d 48 KiB, L2 1 MiB, L3 shared):
//   pc: k in ranges of kc <= kKC, so that one A micro-panel (kMR x kc) stays in L1 while it
//       sweeps a B block; consecutive k-ranges accumulate into C (epilogue beta = 1).
//   jc: columns in blocks of kNC; the packed B block (kc x kNC) stays in L2 across the rows.
//   ic: rows in blocks of kMCTrans when a transposed A is packed (a block at a time); otherwise
//       one block.
//   ir: one A micro-panel (kMR rows), packed just before use when A is packed row-major, so the
//       copy is still in L1 when the kernels read it.
//   jr: register tiles along the B block.
// Two ways to feed the kernels, chosen per operand by its reuse (the "small-matrix path" is
// simply both operands read in place):
//   - packed: B in zero-padded kNR-column panels (contiguous, 64-byte aligned); A as a row copy
//     with a padded row stride (row-major A) or in kMR-row k-major panels (transposed A). Packing
//     turns leading dimensions that map many rows onto the same cache sets into contiguous
//     blocks, and pays when each packed element is reused by many tiles.
//   - in place: the kernels read row-major B and either layout of A directly (an in-place A
//     micro-panel prefetches the next one). Deep-learning shapes (a few hundred rows, tall-skinny
//     products with 32-64 columns) reuse each element of one operand only a few times, so
//     copying it costs more than it saves.
// Packing is a pure copy and every element is summed in the same order whichever way the tiles
// are fed (ukernel.h), so the choice never changes the result.
//
// Threads split the rows (or, when there are more column tiles than row tiles, the columns) of C
// into contiguous ranges of whole register tiles, one per thread; k is never split, so 1 and 2
// threads give identical bits. Each thread packs into its own buffers (kept per thread between
// calls). Products below kMinParallelFmas run on one thread. A strided batch gives each thread
// whole products when it has at least as many products as threads.
#include <algorithm>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/pack.h"
#include "kernels/gemm/ukernel.h"
#include "runtime/aligned.h"
#include "runtime/threading.h"

namespace pyk::gemm::PYK_ISA_NS {

namespace {

// k-range: A micro-panel 14 x 512 floats = 28 KiB of the 48 KiB L1d, leaving room for the B
// panel lines streaming through. Fewer k-ranges mean fewer passes over C: 512 measured 1-3%
// faster than 384 on 1024^3 and 2048^3. The AVX2 (6 x 16) and generic (4 x 4) tiles use the
// same depths: their smaller panels only leave more room.
constexpr int64_t kKC = 512;
// Deepest k-range for products with at most kNarrowTiles column tiles: their A micro-panel is
// read straight from A and reused by only a few tiles, so a longer contiguous run of each row
// (14 x 640 floats = 35 KiB, still within L1d) streams better than two passes over C.
constexpr int64_t kKCNarrow = 640;
constexpr int64_t kNarrowTiles = 2;
// Columns per B block: 512 x 384 floats = 768 KiB of the 1 MiB L2, the rest for A panels and C.
constexpr int64_t kNC = 384;
// Rows of a transposed A packed at once: for each kk one contiguous run of 168 floats is read
// (rather than 14 floats at a stride of lda); the 168 x 512 block (336 KiB) is read back from
// L2/L3 one micro-panel at a time.
constexpr int64_t kMCTrans = 12 * kMR;
// Extra floats in the row stride of a packed A micro-panel, so that consecutive rows start in
// different cache sets even when kc is a multiple of 1 KiB.
constexpr int64_t kRowPad = 16;
// Pack A only when each micro-panel feeds more than this many column tiles; pack a row-major B
// only when more than this many row tiles read each panel. The B block streams from L2 either
// way (the A micro-panel is the L1 operand), so packing B buys only contiguous lines and costs a
// copy of the block per call: for Dense-sized products (M = 128: 10 row tiles) the copy was 8%
// of the time and reading B in place 8% faster; from ~40 row tiles on (M ~ 560) the copy is
// repaid (1024^3: packed 8% faster, 512^3 even).
constexpr int64_t kPackAMinTiles = 4;
constexpr int64_t kPackBMinTiles = 40;
// A is packed whatever its reuse when reading it in place would thrash a cache: the 14 rows
// of a row-major A whose stride is a multiple of 2 KiB (512 floats) fall into one or two L1
// sets (64 sets of 64 bytes, 12 ways); the up to 640 kk-rows of a transposed A whose stride is
// a multiple of 4 KiB (1024 floats) fall into at most 16 of the 1024 L2 sets (16 ways). The
// same holds for the kk-rows of a row-major B read in place, which is then packed too.
constexpr int64_t kRowAliasing = 512;
constexpr int64_t kKRowAliasing = 1024;
// About 3-4 microseconds of single-core work (twice a 64^3 product): below this, waking a
// second thread costs more than it saves.
constexpr int64_t kMinParallelFmas = int64_t(1) << 19;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Equal k-ranges of at most kKC (kKCNarrow for narrow products): a depth of 520 is two ranges
// of 260 rather than 512 + 8. Depends on the problem's shape only, never on the thread split,
// so every thread count sums each element in the same ranges.
int64_t k_range(const Problem& p) {
  const int64_t limit = ceil_div(p.n, kNR) <= kNarrowTiles ? kKCNarrow : kKC;
  return p.k <= limit ? p.k : ceil_div(p.k, ceil_div(p.k, limit));
}

// How one block of C is computed.
struct Plan {
  bool pack_a = false, pack_b = false;
  int64_t kc = 0;
};

Plan make_plan(const Problem& p, int64_t rows, int64_t cols) {
  Plan plan;
  plan.kc = k_range(p);
  // (A micro-panel that feeds a single column tile is read once: aliasing cannot evict it.)
  const int64_t col_tiles = ceil_div(cols, kNR);
  const bool thrashes = col_tiles > 1 && p.lda % (p.trans_a ? kKRowAliasing : kRowAliasing) == 0;
  plan.pack_a = (col_tiles > kPackAMinTiles || thrashes) && p.k > 0;
  const bool b_thrashes = p.ldb % kKRowAliasing == 0;
  plan.pack_b = p.trans_b || ((ceil_div(rows, kMR) > kPackBMinTiles || b_thrashes) && p.k > 0);
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
  // Row stride of a packed row-major A micro-panel.
  const int64_t ldd = round_up(kc_max, 16) + kRowPad;
  float* abuf = nullptr;
  float* bbuf = nullptr;
  if (plan.pack_a) {
    a_buffer().reserve(p.trans_a ? kMCTrans * kc_max : kMR * ldd);
    abuf = a_buffer().data();
  }
  if (plan.pack_b) {
    b_buffer().reserve(round_up(std::min(kNC, n1 - n0), kNR) * kc_max);
    bbuf = b_buffer().data();
  }
  // Rows per A block: a transposed A is packed kMCTrans rows at a time; otherwise A is read in
  // place or packed one micro-panel at a time, and needs no row blocks.
  const int64_t mc_max = plan.pack_a && p.trans_a ? kMCTrans : m1 - m0;
  const int64_t k = p.k;
  // k == 0 still runs one (empty) k-range: C = act(beta * C + bias).
  for (int64_t pc = 0; pc == 0 || pc < k; pc += std::max<int64_t>(kc_max, 1)) {
    const int64_t kc = std::min(kc_max, k - pc);
    const bool first = pc == 0, last = pc + kc >= k;
    Epilogue ep;
    ep.alpha = p.alpha;
    ep.beta = first ? p.beta : 1.0f;
    ep.act = last ? p.act : Activation::linear;
    ep.act_alpha = p.act_alpha;
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

      for (int64_t ic = m0; ic < m1; ic += mc_max) {
        const int64_t mc = std::min(mc_max, m1 - ic);
        if (plan.pack_a && p.trans_a) pack_a_kmajor(p.a + pc * p.lda + ic, p.lda, mc, kc, abuf);
        for (int64_t ir = 0; ir < mc; ir += kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - ir));
          // The A micro-panel: rows ic + ir.., depth pc.., element (r, kk) at
          // t.a[r * t.a_rs + kk * t.a_ks].
          Tile t;
          if (!p.trans_a) {
            const float* src = p.a + (ic + ir) * p.lda + pc;
            if (plan.pack_a) {
              pack_a_rows(src, p.lda, mr, kc, abuf, ldd);
              t.a = abuf; t.a_rs = ldd;
            } else {
              t.a = src; t.a_rs = p.lda;
            }
            t.a_ks = 1;
          } else {
            if (plan.pack_a) {
              t.a = abuf + ir * kc; t.a_ks = kMR;
            } else {
              t.a = p.a + pc * p.lda + ic + ir; t.a_ks = p.lda;
            }
            t.a_rs = 1;
          }
          const int a_row = p.trans_a ? 0 : 1;
          // Distance between consecutive in-place micro-panels, per row.
          const int64_t a_panel_step = p.trans_a ? 1 : p.lda;
          t.k = kc;
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
            // The first column tile of a micro-panel fetches the next one: into L1 when A is
            // read in place, into L2 when its rows will be packed (a row copy that would
            // otherwise wait on L3 or memory for every line: ~7% of a 1024^3 product).
            t.a_next = nullptr;
            if (jr == 0 && ir + kMR < mc && !(plan.pack_a && p.trans_a)) {
              t.a_next = plan.pack_a ? p.a + (ic + ir + kMR) * p.lda + pc : t.a + kMR * a_panel_step;
              t.a_next_rs = plan.pack_a ? p.lda : t.a_rs;
              t.a_next_l2 = plan.pack_a;
            }
            kernels.fn[a_row][mask_b][nv - 1][mr - 1](t);
          }
        }
      }
    }
  }
}

// One product of the batch on the threads (see the file comment).
void sgemm_one(const Problem& p, bool parallel) {
  const int64_t m = p.m, n = p.n;
  const int64_t tiles_m = ceil_div(m, kMR), tiles_n = ceil_div(n, kNR);
  if (!parallel) {
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

Problem batch_item(const Problem& p, int64_t i) {
  Problem q = p;
  q.a = p.a + i * p.stride_a;
  q.b = p.b + i * p.stride_b;
  q.c = p.c + i * p.stride_c;
  q.batch = 1;
  return q;
}

}  // namespace

// A batch with at least as many products as threads gives each thread whole products (fewer,
// larger pieces of work); otherwise each product in turn is split over the threads. Either way
// every element is computed by the same kernel calls, so the bits do not change.
void sgemm(const Problem& p) {
  const int64_t m = p.m, n = p.n, batch = std::max<int64_t>(p.batch, 1);
  if (m <= 0 || n <= 0) return;
  const bool tiny = batch * m * n * std::max<int64_t>(p.k, 1) < kMinParallelFmas;
  if (p.single_thread || tiny || num_threads() == 1) {
    FlushDenormalsScope ftz;
    for (int64_t i = 0; i < batch; ++i) sgemm_one(batch_item(p, i), false);
    return;
  }
  if (batch >= num_threads()) {
    parallel_for(0, batch, ceil_div(batch, num_threads()), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) sgemm_one(batch_item(p, i), false);
    });
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    const Problem q = batch_item(p, i);
    const bool big = m * n * std::max<int64_t>(p.k, 1) >= kMinParallelFmas;
    if (big) {
      sgemm_one(q, true);
    } else {
      FlushDenormalsScope ftz;
      sgemm_one(q, false);
    }
  }
}

void ukernel_tile(int64_t k, const float* a, const float* b, float* c, int64_t ldc) {
  Tile t;
  t.k = k;
  t.a = a; t.a_rs = 1; t.a_ks = kMR;
  t.b = b; t.b_ks = kNR;
  t.c = c; t.ldc = ldc;
  t.nr = kNR;
  kernels().fn[0][0][kNV - 1][kMR - 1](t);
}

}  // namespace pyk::gemm::PYK_ISA_NS

namespace pyk::gemm {
namespace isa = PYK_ISA_NS;
extern const Table PYK_TABLE(table);
const Table PYK_TABLE(table) = {&isa::sgemm, &isa::ukernel_tile, isa::kMR, isa::kNR};
}  // namespace pyk::gemm
