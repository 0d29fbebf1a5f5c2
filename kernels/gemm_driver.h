/*
 * gemm_driver.h: the ONE BLIS-style GEMM driver, parameterised by a micro-kernel and its MR x NR.
 * Used by kernels/tiled/gemm_tiled.c (portable C), kernels/simd/gemm_avx2.c, gemm_avx512.c (and NEON).
 * Each of those files includes this header, so the driver is compiled with that file's ISA flags
 * (static functions: one private copy per translation unit, nothing exported).
 *
 * The five loops (BLIS, "Anatomy of High-Performance Matrix Multiplication"):
 *     jc over N in NC   -- B panel KC x NC packed into NR-wide slivers   (L3 / L2 resident)
 *      pc over K in KC  -- first KC pass applies beta, last pass adds the bias
 *       ic over M in MC -- A block MC x KC packed into MR-tall slivers   (L2 resident)
 *        jr over NC in NR, ir over MC in MR -- micro-kernel on an MR x NR tile of C (B sliver in L1)
 *        or ir then jr (A sliver in L1, the B panel streamed from L2): consecutive tiles then share
 *        C's rows and pages. Which wins depends on the core: on the Xeon SPR-class VM of earlier rounds
 *        AVX-512 14x32 ran 3-6 % faster ir outer; on Zen 5 (1 MiB L2) ir outer caps NC at half of L2,
 *        so A is repacked N / 512 times (pack_a 4.5 % of an n = 2048 run), and jr outer with NC = N
 *        (A and B each packed once; C prefetched into L2, mb_gemm_prefetch_c) ran 0.92-0.95 ->
 *        0.95-0.98x oneDNN at n = 512..2064, so AVX-512 and AVX2 (.jr_outer = 1) are always jr outer;
 *        tiled / NEON take ir outer when the B panel outgrows L2.
 * Packing reads A and B through their (rs, cs) strides, so transposes and any strides cost nothing
 * extra; packed slivers are zero-padded to MR / NR, so the micro-kernel always computes a full tile
 * and only its store looks at mr / nr. Row-major A into 6- or 14-tall slivers (AVX2 / AVX-512) goes
 * through 8x8 ymm transposes (mb_gemm_pack_a_rm); row-major B is copied with whole-vector moves.
 * With jr outer and a .packed_copy_b kernel (AVX-512, AVX2) row-major B has no packing pass at all: in
 * the first MC block the first tile of each full sliver reads it in place (prefetching MB_GEMM_COPY_B_PF
 * rows ahead) and stores each row into the packed panel as it goes, so the copy, 2.5-3 % of the time as
 * a pass of its own (the panel from L3, RFO on its writes), runs under that tile's FMAs; the tiles after
 * it, and later MC blocks, read the packed sliver. Zen 5, 1 thread, interleaved with oneDNN / OpenBLAS
 * (3 alternations of 8 repetitions): AVX-512 0.96 -> 0.98-1.0x oneDNN at n = 512, +1-2 % at 1024, level
 * at 2048 (rows 8 KiB apart, one page each); AVX2 +2-3 % at 256 / 512, level at 1024 / 2048. The same
 * for A (column 0's tiles reading A's rows in place through the direct kernel, storing each broadcast
 * into the packed sliver; pack_a is ~2 % of the time at n = 512 / 1024) was 1-2 % slower at 512 / 1024
 * and level at 2048: 14 rows 2-8 KiB apart share L1 sets, the aliasing that keeps A packed.
 *
 * Micro-kernel contract (struct mb_gemm_ukr), for i < mr, j < nr:
 *     C[i][j] = alpha * sum_p A(i,p) B(p,j) + beta * C[i][j] (+ bias[j])
 *   packed: A(i,p) = a[p*MR + i], B(p,j) = b[p*NR + j], zero-padded slivers (always a full MR x NR);
 *   direct (optional, NULL if absent): A(i,p) = a[i*a_rs + p*a_cs], B(p,j) = b[p*b_rs + j], unpacked;
 *     it must not read A rows >= mr nor B columns >= nr (clamped rows, masked loads).
 *   packed_copy_b (optional): A packed, B(p,j) = b[p*b_rs + j] with nr == NR, and bp[p*NR + j] = B(p,j).
 *   alpha, beta by pointer, read after the k loop (as values they would hold two vector registers
 *   through it and push an accumulator to the stack);
 *   C via (c_rs, c_cs); beta == 0: C is not read; bias NULL or contiguous (nr valid entries).
 *   A micro-kernel never touches C outside the mr x nr tile.
 *
 * Block sizes from the caches in mb_exec (defaults 32 KiB / 1 MiB / 8 MiB when unknown):
 *   KC: the B sliver (KC x NR floats) fills 2/3 of L1d (4/3 when the ISA is always jr outer), at most
 *   .kc_max or 384 (AVX-512 NR = 32, 48 KiB: 512; the 2/3 rule's 256 was best with ir outer); K is
 *   then cut into equal passes of at most KC, multiples of 8 (512 = 256 + 256, not 384 + 128: +1-2 %);
 *   (KC = 384 / 512 measured 4-8 % slower for AVX-512 with ir outer);
 *   MC: the A block (MC x KC) a quarter of L2 (the B panel streams through L2 too; ~5 % better than
 *   half at n = 1024); NC: see mb_gemm_blocking (half of L2 with ir outer, else a quarter of L3).
 *   KC never depends on the thread count, so the k-order of every C element, hence every result bit,
 *   is the same for any nthreads.
 *
 * Threads (OpenMP, exactly x->nthreads, except one below 0.5 MFLOP of work): the problem is cut into
 * nthreads independent pieces, each run by the sequential driver with its own packing buffers (no
 * barriers, no shared writes, no split-K): whole batch items when there are enough of them, else an
 * M x N grid of each item (MR / NR aligned, the factorisation with the best balance). Results are
 * bitwise identical for any thread count. Workspace: N floats (bias) + per thread MC*KC + KC*NC
 * floats; NC then MC shrink if x->work is small, MB_ENOMEM only when even MR x KC + KC x NR does not
 * fit.
 *
 * Small problems (a .direct micro-kernel, B with unit column stride, K <= KC, M*N*K <= 96^3, 128^3 with
 * .pack_a): no
 * packing at all, the micro-kernel reads A and B in place (BLIS "sup"); on x86 items with N <= 8 and
 * K <= 16 (32 x (10x5 @ 5x8), 20x10 @ 10x5 broadcast weights) go to mb_gemm_tiny (B rows in ymm
 * registers, K unrolled, no per-item dispatch), else when every item is one tile .batch runs the
 * whole batch loop inside the ISA file, and whole items with NR < N <= .wide_max_n go to .wide (AVX-512:
 * 6 x 64 tiles, 64^3 batches). One thread never enters an OpenMP region (~0.25 us each).
 * Row-major A that fits in half of L2 is also read in place on the blocked path (only B packed), unless
 * the ISA file sets .pack_a (AVX2: its SIMD pack was ~10 % faster at n = 256 / 512). With A in place and
 * .direct_b set (AVX-512), row-major B within a quarter of L2 is read in place too: nothing packed, the
 * direct micro-kernel loads B's rows (row stride N) straight from L2 (n = 256: +6 %, 0.92 -> 0.98x
 * oneDNN; at n = 512, B = half of L2, it was not better, so packed there).
 */
#pragma once
#include "mb.h"

#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef void (*mb_gemm_ukr_packed_fn)(int64_t k, const float *a, const float *b, float *c, int64_t c_rs, int64_t c_cs,
                                      int mr, int nr, const float *alpha, const float *beta, const float *bias);
/* packed A sliver a; a full sliver of B (nr == NR) in place (unit column stride, row stride b_rs), each of
 * its k rows also copied into the packed sliver bp for the tiles after this one. The rows are strided
 * (4 KiB apart at n = 1024): the kernel prefetches MB_GEMM_COPY_B_PF rows ahead into L1. */
#define MB_GEMM_COPY_B_PF 16
typedef void (*mb_gemm_ukr_packed_copy_b_fn)(int64_t k, const float *a, const float *b, int64_t b_rs, float *bp,
                                             float *c, int64_t c_rs, int64_t c_cs, int mr, int nr, const float *alpha,
                                             const float *beta, const float *bias);
typedef void (*mb_gemm_ukr_direct_fn)(int64_t k, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                                      int64_t b_rs, float *c, int64_t c_rs, int64_t c_cs, int mr, int nr,
                                      const float *alpha, const float *beta, const float *bias);

/* Items [b0, b1) of a problem whose every item fits one direct call (M <= max_m, N <= NR, K <= KC,
 * b_cs == 1): the batch loop runs inside the ISA file, so the row-count dispatch, masks and constants
 * are set up once per call, not once per item. bias: contiguous or NULL. */
typedef void (*mb_gemm_ukr_batch_fn)(const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias);

/* Whole items [b0, b1) with nr < N <= wide_max_n on the direct path (b_cs == 1, K <= KC), tiles as wide
 * as C's rows; pf: prefetch the next item during the current one (mb_gemm_blk.pf_next). */
typedef void (*mb_gemm_ukr_wide_fn)(const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias, int pf);

struct mb_gemm_ukr {
    int mr, nr;                   /* register block */
    mb_gemm_ukr_packed_fn packed; /* on packed slivers */
    mb_gemm_ukr_direct_fn direct; /* on A / B in place, or NULL */
    mb_gemm_ukr_batch_fn batch;   /* tiny items, batch loop inside, or NULL */
    int batch_max_m;              /* largest M .batch takes */
    int jr_outer;                 /* 1: always jr outer; 0: ir outer when the jr-outer B panel outgrows half of L2 */
    int pack_a;                   /* 1: always pack A on the blocked path (no in-place A, mb_gemm_drive's direct_a) */
    mb_gemm_ukr_wide_fn wide;     /* direct path, whole items with nr < N <= wide_max_n, or NULL */
    int wide_max_n;
    int direct_b; /* 1: with A in place (direct_a), B too when it fits a quarter of L2: nothing packed */
    int kc_max;   /* largest KC (0: 384) */
    mb_gemm_ukr_packed_copy_b_fn packed_copy_b; /* jr outer, row-major B: packs B inside each sliver's first tile */
};

/* Store an MR x NR tile t (leading dimension ldt) into C with alpha / beta / bias: the generic edge
 * path of every micro-kernel (any c_cs, mr < MR, nr < NR). */
static inline void mb_gemm_store_tile(const float *t, int ldt, float *c, int64_t c_rs, int64_t c_cs, int mr, int nr,
                                      float alpha, float beta, const float *bias)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float *cij = &c[i * c_rs + j * c_cs];
            float r = alpha * t[i * ldt + j];
            if (beta != 0.0f) r += beta * *cij;
            if (bias) r += bias[j];
            *cij = r;
        }
}

/* Start the misses on C's tile (first and last element of each of its R rows; rows >= mr alias row 0)
 * before the k loop, which then hides them: C comes from L2 / L3 when the matrix is large. TO_L2 (a
 * constant): into L2 only. With jr outer each call's tile is R fresh rows, and at n = 2048 (rows 8 KiB
 * apart) all of them fall in the same two L1 sets: 28 lines of a 14-row tile in 12 ways evict each
 * other and the k loop's A and B before the epilogue reads them (AVX-512 on Zen 5, jr outer: 0.87-0.88
 * -> 0.94-0.95x oneDNN at n = 2048, level at 1024 / 2064; AVX2 6x16 level, so it keeps L1). */
static inline __attribute__((always_inline)) void mb_gemm_prefetch_c(const float *c, int64_t c_rs, int64_t c_cs,
                                                                     const int R, int mr, int nr, const int TO_L2)
{
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
        const float *ci = c + (i < mr ? i : 0) * c_rs;
        if (TO_L2) {
            __builtin_prefetch(ci, 0, 2);
            __builtin_prefetch(ci + (nr - 1) * c_cs, 0, 2);
        } else {
            __builtin_prefetch(ci, 0, 3);
            __builtin_prefetch(ci + (nr - 1) * c_cs, 0, 3);
        }
    }
}

/* 1 where the hardware prefetchers already stream a batch of direct-path items from L3, so prefetching
 * the next item (mb_gemm_blk.pf_next) only costs issue slots: AMD Zen 5, 1 thread, 32 / 64 / 256 x 64^3
 * (AVX-512 wide path), interleaved: 0.92-0.95 -> 0.98-1.01x LIBXSMM without it (AVX2 +2 %). On the
 * Xeon SPR-class VM of earlier rounds the same prefetches gained 5-7 %, so Intel keeps them. */
static inline int mb_gemm_hw_streams_batches(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_is("amd");
#else
    return 0;
#endif
}

struct mb_gemm_blk {
    int64_t mc, kc, nc;
    int direct_a; /* A read in place by the direct micro-kernel, only B packed */
    int direct_b; /* with direct_a: B read in place too (mb_gemm_ukr.direct_b), nothing packed */
    int pf_next;  /* direct path: prefetch the next batch item (the batch does not fit in L2) */
    int ir_outer; /* macro-kernel order, see mb_gemm_blocking; on the direct path, see mb_gemm_block_direct */
};

/* Rows of an MR-row sliver of A read in place (row stride rs_bytes) that share row 0's L1 set: L1s
 * of 64 sets of 64-byte lines (4 KiB a way: every AVX-512 and AVX2 core so far) map rows 4 KiB apart
 * onto one set, and 14 rows then overflow a 12-way set. */
static inline int mb_gemm_rows_per_set(int64_t rs_bytes, int mr)
{
    int n = 0;
    for (int i = 0; i < mr; i++) n += ((i * rs_bytes) & 4095) < 64;
    return n;
}

static inline int64_t mb_gemm_cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static inline int64_t mb_gemm_round_down(int64_t v, int64_t m, int64_t lo)
{
    v -= v % m;
    return v < lo ? lo : v;
}

static inline struct mb_gemm_blk mb_gemm_blocking(const struct mb_exec *x, const struct mb_gemm_ukr *u, int64_t N)
{
    int64_t l1 = x->l1d > 0 ? x->l1d : 32 << 10, l2 = x->l2 > 0 ? x->l2 : 1 << 20, l3 = x->l3 > 0 ? x->l3 : 8 << 20;
    struct mb_gemm_blk b;
    /* always jr outer (.jr_outer): the B sliver is the one L1 tenant reused across calls (A slivers
     * and C stream past it), so it may fill L1 and more, the rest streaming from L2. AVX-512 14x32 on
     * Zen 5 (48 KiB), interleaved against oneDNN: KC 256 -> 384 +2-4 % at n = 1024 / 2048 (0.93-0.96 ->
     * 0.96-1.0x), 384 -> 512 (.kc_max; B sliver 64 KiB) +2 % at n = 512 (one pass instead of two),
     * level to +2 % at 1024..2064; 768 level. AVX2 (NR 16) stays at 384: 512 / 768 were level there. */
    const int64_t kc_max = u->kc_max > 0 ? u->kc_max : 384;
    b.kc = mb_gemm_round_down(l1 * (u->jr_outer ? 4 : 2) / 3 / (u->nr * 4), 16, 64);
    if (b.kc > kc_max) b.kc = kc_max;
    b.mc = mb_gemm_round_down(l2 / 4 / (b.kc * 4), u->mr, u->mr);
    if (b.mc > 1024) b.mc = mb_gemm_round_down(1024, u->mr, u->mr);
    /* jr outer: the B panel is re-read once per A block, from L3 (a quarter of it, capped at 4096: the
     * earlier Intel VM reported its host's 480 MiB L3). ir outer: it is re-read for every A sliver, from
     * L2, so it gets half of L2. ir outer is taken, unless the ISA is always jr outer, when the jr-outer
     * panel would not fit in half of L2 (AVX2 n = 2048: 212 -> 177 ms, n = 1024 -3 %; at n <= 512,
     * where the panel fits, AVX2 was 8 % slower with ir outer). */
    b.nc = mb_gemm_round_down(l3 / 4 / (b.kc * 4), u->nr, u->nr);
    if (b.nc > 4096) b.nc = mb_gemm_round_down(4096, u->nr, u->nr);
    b.ir_outer = !u->jr_outer && (double)b.kc * (double)(N < b.nc ? N : b.nc) * 4 > (double)l2 / 2;
    if (b.ir_outer) b.nc = mb_gemm_round_down(l2 / 2 / (b.kc * 4), u->nr, u->nr);
    b.direct_a = 0;
    b.direct_b = 0;
    b.pf_next = 0;
    return b;
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
/* 8x8 transpose of r[0..8) in place (r[j] = column j of the input rows) */
static inline __attribute__((always_inline)) void mb_gemm_tr8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* One full MR-tall sliver (MR in 9..16 or 1..8, a constant), row-major A: 8 columns of every row at a
 * time, 8x8 transposes in ymm, the columns stored as 8-float pieces in increasing address order (each
 * overlaps the next column's start, which that column's store then overwrites; the sliver's last piece
 * is masked so nothing past it is written). */
static inline __attribute__((always_inline)) void mb_gemm_pack_a_rm(const int MR, int64_t kc, const float *s,
                                                                    int64_t rs, float *ap, const float *next)
{
    enum { H = 2 };
    const int nh = MR > 8 ? 2 : 1;
    const __m256i lastm =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(MR - 8 * (nh - 1)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 r[H][8];
        if ((p & 15) == 0 && next)
            for (int i = 0; i < MR; i++) __builtin_prefetch(next + i * rs + p, 0, 3);
#pragma GCC unroll 16
        for (int h = 0; h < nh; h++) {
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                r[h][i] = 8 * h + i < MR ? _mm256_loadu_ps(s + (8 * h + i) * rs + p) : _mm256_setzero_ps();
            mb_gemm_tr8(r[h]);
        }
        float *d = ap + p * MR;
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
#pragma GCC unroll 16
            for (int h = 0; h < nh; h++) {
                if (h == nh - 1 && j == 7 && p + 8 == kc)
                    _mm256_maskstore_ps(d + j * MR + 8 * h, lastm, r[h][j]);
                else
                    _mm256_storeu_ps(d + j * MR + 8 * h, r[h][j]);
            }
    }
    for (; p < kc; p++)
        for (int i = 0; i < MR; i++) ap[p * MR + i] = s[i * rs + p];
}
#endif

/* Pack rows [0, mc) x cols [0, kc) of A (strides rs, cs) into MR-tall slivers: ap[s][p][i], zero-padded. */
static void mb_gemm_pack_a(int MR, int64_t mc, int64_t kc, const float *a, int64_t rs, int64_t cs, float *ap)
{
#if defined(__AVX2__) && defined(__FMA__)
    if (cs == 1 && (MR == 6 || MR == 14)) {
        int64_t i0 = 0;
        for (; i0 + MR <= mc; i0 += MR, ap += MR * kc) {
            const float *nx = i0 + 2 * MR <= mc ? a + (i0 + MR) * rs : NULL;
            if (MR == 6)
                mb_gemm_pack_a_rm(6, kc, a + i0 * rs, rs, ap, nx);
            else
                mb_gemm_pack_a_rm(14, kc, a + i0 * rs, rs, ap, nx);
        }
        if (i0 == mc) return;
        a += i0 * rs, mc -= i0; /* the last, partial sliver: below */
    }
#endif
    /* p outer: contiguous writes and MR sequential read streams (a row-major A read row by row with
     * strided writes was 2x slower: pack_a 9.8 % -> 4.2 % of an AVX-512 n = 1024 run) */
    for (int64_t i0 = 0; i0 < mc; i0 += MR, ap += MR * kc) {
        int r = mc - i0 < MR ? (int)(mc - i0) : MR;
        const float *s = a + i0 * rs;
        /* row-major A: each row of a sliver is a short stream (kc floats) in its own page, too short for
         * the hardware prefetcher to catch up; fetch the next sliver's rows one line per row every 16 p */
        int rn = cs == 1 ? (mc - i0 - MR < MR ? (int)(mc - i0 - MR) : MR) : 0;
        for (int64_t p = 0; p < kc; p++) {
            if ((p & 15) == 0)
                for (int i = 0; i < rn; i++) __builtin_prefetch(s + (MR + i) * rs + p, 0, 3);
            for (int i = 0; i < r; i++) ap[p * MR + i] = s[i * rs + p * cs];
            for (int i = r; i < MR; i++) ap[p * MR + i] = 0.0f;
        }
    }
}

/* Pack rows [0, kc) x cols [0, nc) of B (strides rs, cs) into NR-wide slivers: bp[s][p][j], zero-padded. */
static void mb_gemm_pack_b(int NR, int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs, float *bp)
{
    if (cs == 1) {
        /* row-major B: p outer, so each row of B is read once, contiguously, front to back. Sliver by
         * sliver (128 B from each of kc rows 4 KiB apart at n = 1024) every read was in another page,
         * beyond the hardware prefetchers: pack_b took 5 % of an AVX-512 n = 1024 run at ~6 GB/s. Zen 5:
         * two slivers at a time (256 B of each row per pass, p inner) copied a panel 3x faster alone (KC 512,
         * n = 1024, B from L3: 115 -> 36 us, memcpy 31 us) but inside the GEMM's loops (pre-packed-panel
         * harness, 4 alternations) took 3.2-3.6 % of the time against this order's 2.5-2.6 %: kept. */
        const int64_t full = nc / NR * NR;
        for (int64_t p = 0; p < kc; p++) {
            const float *s = b + p * rs;
            float *d = bp + p * NR;
            for (int64_t j0 = 0; j0 < full; j0 += NR, d += NR * kc) {
#if defined(__AVX2__) && defined(__FMA__)
                /* whole-vector moves (gcc inlines the memcpy below as 16-byte moves) */
                if (NR == 16 || NR == 32) {
#if defined(__AVX512F__)
                    if (NR == 32) {
                        _mm512_storeu_ps(d, _mm512_loadu_ps(s + j0));
                        _mm512_storeu_ps(d + 16, _mm512_loadu_ps(s + j0 + 16));
                        continue;
                    }
#endif
                    for (int j = 0; j < NR; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j0 + j));
                    continue;
                }
#endif
                if (NR == 32) /* the AVX-512 and AVX2 shapes: a constant-size copy gcc inlines as vector moves */
                    memcpy(d, s + j0, 32 * sizeof(float));
                else if (NR == 16)
                    memcpy(d, s + j0, 16 * sizeof(float));
                else
                    for (int j = 0; j < NR; j++) d[j] = s[j0 + j];
            }
            if (full < nc) {
                int w = (int)(nc - full);
                for (int j = 0; j < w; j++) d[j] = s[full + j];
                for (int j = w; j < NR; j++) d[j] = 0.0f;
            }
        }
        return;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += NR, bp += NR * kc) {
        int w = nc - j0 < NR ? (int)(nc - j0) : NR;
        const float *s = b + j0 * cs;
        if (rs == 1) {
            for (int j = 0; j < w; j++)
                for (int64_t p = 0; p < kc; p++) bp[p * NR + j] = s[j * cs + p];
            for (int64_t p = 0; p < kc; p++)
                for (int j = w; j < NR; j++) bp[p * NR + j] = 0.0f;
        } else {
            for (int64_t p = 0; p < kc; p++) {
                for (int j = 0; j < w; j++) bp[p * NR + j] = s[p * rs + j * cs];
                for (int j = w; j < NR; j++) bp[p * NR + j] = 0.0f;
            }
        }
    }
}

/* One MR x NR tile (ir, jr) of the mc x nc block whose C corner is c: packed A sliver, or A in place. */
static inline __attribute__((always_inline)) void mb_gemm_tile(const struct mb_gemm *p, const struct mb_gemm_ukr *u,
                                                               int direct_a, int64_t kc, int64_t mc, int64_t nc,
                                                               int64_t ir, int64_t jr, const float *as, const float *ap,
                                                               const float *bp, int64_t bjs, int64_t brs, float *c,
                                                               const float *beta, const float *bi)
{
    const int MR = u->mr, NR = u->nr;
    int mr = mc - ir < MR ? (int)(mc - ir) : MR, nr = nc - jr < NR ? (int)(nc - jr) : NR;
    c += ir * p->c_rs + jr * p->c_cs;
    if (direct_a)
        u->direct(kc, as + ir * p->a_rs, p->a_rs, 1, bp + jr * bjs, brs, c, p->c_rs, p->c_cs, mr, nr, &p->alpha, beta,
                  bi ? bi + jr : NULL);
    else
        u->packed(kc, ap + ir * kc, bp + jr * kc, c, p->c_rs, p->c_cs, mr, nr, &p->alpha, beta, bi ? bi + jr : NULL);
}

/* One batch item, rows [m0, m1) x cols [n0, n1) of C, on the calling thread. ap / bp: this thread's
 * packing buffers (MC*KC and KC*NC floats); bias: contiguous over all N, or NULL. */
static void mb_gemm_block(const struct mb_gemm *p, const struct mb_gemm_ukr *u, struct mb_gemm_blk bk, const float *A,
                          const float *B, float *C, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const float *bias,
                          float *ap, float *bp)
{
    const int MR = u->mr, NR = u->nr;
    const int direct_a = bk.direct_a;
    /* jr outer with row-major B: no pack_b pass; the first MC block's first tile of each sliver reads the
     * sliver in place and packs it on the way (.packed_copy_b), so the copy runs under that tile's FMAs */
    const int copy_b = u->packed_copy_b && !direct_a && !bk.direct_b && !bk.ir_outer && p->b_cs == 1;
    /* K split into equal KC passes (multiples of 8, at most bk.kc): K = 512 with KC = 384 runs 256 + 256,
     * not 384 + 128 (a short last pass pays C's load and store for a third of the k steps) */
    const int64_t npc = mb_gemm_cdiv(p->K, bk.kc);
    int64_t kcb = mb_gemm_cdiv(mb_gemm_cdiv(p->K, npc), 8) * 8;
    if (kcb > bk.kc) kcb = bk.kc;
    for (int64_t jc = n0; jc < n1; jc += bk.nc) {
        int64_t nc = n1 - jc < bk.nc ? n1 - jc : bk.nc;
        for (int64_t pc = 0; pc < p->K; pc += kcb) {
            int64_t kc = p->K - pc < kcb ? p->K - pc : kcb;
            float beta = pc == 0 ? p->beta : 1.0f;
            const float *bi = bias && pc + kc >= p->K ? bias + jc : NULL;
            /* bpp + jr * bjs: the sliver at column jr, row stride brs (packed, or B in place) */
            const float *bpp = bp;
            int64_t bjs = kc, brs = NR;
            const float *bs = B + pc * p->b_rs + jc * p->b_cs;
            if (bk.direct_b)
                bpp = bs, bjs = 1, brs = p->b_rs;
            else if (!copy_b)
                mb_gemm_pack_b(NR, kc, nc, bs, p->b_rs, p->b_cs, bp);
            for (int64_t ic = m0; ic < m1; ic += bk.mc) {
                int64_t mc = m1 - ic < bk.mc ? m1 - ic : bk.mc;
                const float *as = A + ic * p->a_rs + pc * p->a_cs;
                if (!direct_a) mb_gemm_pack_a(MR, mc, kc, as, p->a_rs, p->a_cs, ap);
                if (bk.ir_outer) {
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        for (int64_t jr = 0; jr < nc; jr += NR)
                            mb_gemm_tile(p, u, direct_a, kc, mc, nc, ir, jr, as, ap, bpp, bjs, brs,
                                         C + ic * p->c_rs + jc * p->c_cs, &beta, bi);
                } else {
                    for (int64_t jr = 0; jr < nc; jr += NR) {
                        int64_t ir = 0;
                        if (copy_b && ic == m0 && nc - jr < NR) /* a partial last sliver: packed here */
                            mb_gemm_pack_b(NR, kc, nc - jr, bs + jr, p->b_rs, 1, bp + jr * kc);
                        else if (copy_b && ic == m0) { /* the sliver's first tile packs it */
                            u->packed_copy_b(kc, ap, bs + jr, p->b_rs, bp + jr * kc, C + ic * p->c_rs + (jc + jr) * p->c_cs,
                                             p->c_rs, p->c_cs, mc < MR ? (int)mc : MR, NR, &p->alpha, &beta,
                                             bi ? bi + jr : NULL);
                            ir = MR;
                        }
                        for (; ir < mc; ir += MR)
                            mb_gemm_tile(p, u, direct_a, kc, mc, nc, ir, jr, as, ap, bpp, bjs, brs,
                                         C + ic * p->c_rs + jc * p->c_cs, &beta, bi);
                    }
                }
            }
        }
    }
}

/* Unpacked path: the micro-kernel reads A and B in place (needs b_cs == 1 and K <= KC). nA / nB:
 * the next batch item's operands (NULL: none); after each tile a slice of them is prefetched, so a
 * batch that does not fit L2 (64 x 64^3 is 3 MiB) streams in under the arithmetic instead of one
 * demand miss at a time at the start of each item. */
static void mb_gemm_block_direct(const struct mb_gemm *p, const struct mb_gemm_ukr *u, const float *A, const float *B,
                                 float *C, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const float *bias,
                                 const float *nA, const float *nB, int ir_outer)
{
    const int MR = u->mr, NR = u->nr;
    const int64_t tiles = mb_gemm_cdiv(m1 - m0, MR) * mb_gemm_cdiv(n1 - n0, NR);
    const int64_t ra = mb_gemm_cdiv(m1 - m0, tiles), rk = mb_gemm_cdiv(p->K, tiles); /* per tile */
    const int64_t nj = mb_gemm_cdiv(n1 - n0, NR), ni = mb_gemm_cdiv(m1 - m0, MR);
    int64_t pr = m0, pk = 0; /* next rows of nA / nC, of nB to prefetch */
    for (int64_t to = 0; to < (ir_outer ? ni : nj); to++)
        for (int64_t ti = 0; ti < (ir_outer ? nj : ni); ti++) {
            const int64_t jr = n0 + (ir_outer ? ti : to) * NR, ir = m0 + (ir_outer ? to : ti) * MR;
            int nr = n1 - jr < NR ? (int)(n1 - jr) : NR;
            int mr = m1 - ir < MR ? (int)(m1 - ir) : MR;
            u->direct(p->K, A + ir * p->a_rs, p->a_rs, p->a_cs, B + jr, p->b_rs, C + ir * p->c_rs + jr * p->c_cs,
                      p->c_rs, p->c_cs, mr, nr, &p->alpha, &p->beta, bias ? bias + jr : NULL);
            if (!nB) continue;
            for (int64_t e = pr + ra < m1 ? pr + ra : m1; pr < e; pr++)
                if (p->a_cs == 1)
                    for (int64_t q = 0; q < p->K; q += 16) __builtin_prefetch(nA + pr * p->a_rs + q, 0, 2);
            for (int64_t e = pk + rk < p->K ? pk + rk : p->K; pk < e; pk++)
                for (int64_t q = n0; q < n1; q += 16) __builtin_prefetch(nB + pk * p->b_rs + q, 0, 2);
        }
}

/* Batch odometer: offsets of A, B, C for consecutive flat batch indices without divisions. */
struct mb_gemm_iter {
    int64_t idx[MB_MAX_BATCH];
    int64_t oa, ob, oc;
};

static inline void mb_gemm_iter_init(struct mb_gemm_iter *it, const struct mb_gemm *p, int64_t b)
{
    for (int i = p->nbatch - 1; i >= 0; i--) {
        it->idx[i] = b % p->batch[i];
        b /= p->batch[i];
    }
    it->oa = it->ob = it->oc = 0;
    for (int i = 0; i < p->nbatch; i++) {
        it->oa += it->idx[i] * p->a_bs[i];
        it->ob += it->idx[i] * p->b_bs[i];
        it->oc += it->idx[i] * p->c_bs[i];
    }
}

static inline void mb_gemm_iter_next(struct mb_gemm_iter *it, const struct mb_gemm *p)
{
    for (int i = p->nbatch - 1; i >= 0; i--) {
        it->oa += p->a_bs[i], it->ob += p->b_bs[i], it->oc += p->c_bs[i];
        if (++it->idx[i] < p->batch[i]) return;
        it->oa -= p->batch[i] * p->a_bs[i], it->ob -= p->batch[i] * p->b_bs[i], it->oc -= p->batch[i] * p->c_bs[i];
        it->idx[i] = 0;
    }
}

#if defined(__AVX2__) && defined(__FMA__)
#include "simd/store_part.h"
/* Tiny items for the x86 ISA files (compiled with their flags: ymm + FMA, so one copy serves AVX2 and
 * AVX-512): N <= 8, 1 <= K <= 16, unit column strides. Each item: the K rows of B in K ymm registers
 * (masked loads when N < 8), then per row of C one chain of K FMAs on broadcasts from A's row read
 * in place; rows are independent, so the out-of-order core overlaps the chains. K is a compile-time
 * constant (the k loop fully unrolled); the row loop stays a loop. 10x5 @ 5x8 costs ~70 instructions
 * per item against ~200 in the generic register-tile path (row-pointer clamps, zmm masks, odometer).
 * With AVX2's 16 ymm registers K > 12 spills B rows to the stack: they are then memory operands,
 * which is what a hand-written kernel would do anyway. Rows narrower than 8 are stored by mb_store_part
 * (not vmaskmovps: 1.7x on Zen 3); with broadcast weights B's rows are loaded once per call (+2-5 %). */
static inline __attribute__((always_inline)) void mb_gemm_tiny_k(const int K, const int FAST, const struct mb_gemm *p,
                                                                 int64_t b0, int64_t b1, const float *bias)
{
    const int64_t M = p->M, a_rs = p->a_rs, b_rs = p->b_rs, c_rs = p->c_rs;
    const int full = FAST || p->N == 8;
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)p->N), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const float alpha = p->alpha, beta = p->beta;
    const int plain = FAST || (alpha == 1.0f && beta == 0.0f && !bias);
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const __m256 vbias = bias ? _mm256_maskload_ps(bias, m) : _mm256_setzero_ps();
    /* one batch dim (the common case): plain pointer steps; else the odometer */
    const int flat = FAST || p->nbatch <= 1;
    const int64_t sa = flat && p->nbatch ? p->a_bs[0] : 0, sb = flat && p->nbatch ? p->b_bs[0] : 0,
                  sc = flat && p->nbatch ? p->c_bs[0] : 0;
    struct mb_gemm_iter it;
    mb_gemm_iter_init(&it, p, b0);
    const float *A = p->A + it.oa, *B = p->B + it.ob;
    float *C = p->C + it.oc;
    /* broadcast weights (B's batch stride 0): B's rows are loaded once for the whole batch */
    const int bfix = flat && sb == 0;
    __m256 bk[16];
#pragma GCC unroll 16
    for (int k = 0; k < K; k++) bk[k] = full ? _mm256_loadu_ps(B + k * b_rs) : _mm256_maskload_ps(B + k * b_rs, m);
    for (int64_t b = b0; b < b1; b++) {
        if (!bfix && b > b0)
#pragma GCC unroll 16
            for (int k = 0; k < K; k++)
                bk[k] = full ? _mm256_loadu_ps(B + k * b_rs) : _mm256_maskload_ps(B + k * b_rs, m);
        const float *a = A;
        float *c = C;
#pragma GCC unroll 2
        for (int64_t i = 0; i < M; i++, a += a_rs, c += c_rs) {
            __m256 acc = _mm256_mul_ps(_mm256_broadcast_ss(a), bk[0]);
#pragma GCC unroll 16
            for (int k = 1; k < K; k++) acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k), bk[k], acc);
            if (!plain) {
                acc = _mm256_mul_ps(acc, va);
                if (beta != 0.0f) acc = _mm256_fmadd_ps(vb, full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m), acc);
                acc = _mm256_add_ps(acc, vbias);
            }
            if (full)
                _mm256_storeu_ps(c, acc);
            else
                mb_store_part(c, acc, (int)p->N);
        }
        if (flat) {
            A += sa, B += sb, C += sc;
        } else {
            mb_gemm_iter_next(&it, p);
            A = p->A + it.oa, B = p->B + it.ob, C = p->C + it.oc;
        }
    }
}

/* 1 when taken (N <= 8, K <= 16, unit column strides), else 0 and nothing written */
static int mb_gemm_tiny(const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias)
{
    if (p->N > 8 || p->K > 16 || p->K < 1 || (p->a_cs != 1 && p->K > 1) || (p->b_cs != 1 && p->N > 1) ||
        (p->c_cs != 1 && p->N > 1))
        return 0;
    /* the common case without a branch per row: 8 columns, C = A @ B, one batch dim */
    const int fast = p->N == 8 && p->alpha == 1.0f && p->beta == 0.0f && !bias && p->nbatch <= 1;
    switch (p->K) {
#define MB_TINY_CASE(K)                                                                                                \
    case K:                                                                                                            \
        if (fast)                                                                                                      \
            mb_gemm_tiny_k(K, 1, p, b0, b1, bias);                                                                     \
        else                                                                                                           \
            mb_gemm_tiny_k(K, 0, p, b0, b1, bias);                                                                     \
        break;
        MB_TINY_CASE(1)
        MB_TINY_CASE(2)
        MB_TINY_CASE(3)
        MB_TINY_CASE(4)
        MB_TINY_CASE(5)
        MB_TINY_CASE(6)
        MB_TINY_CASE(7)
        MB_TINY_CASE(8)
        MB_TINY_CASE(9)
        MB_TINY_CASE(10)
        MB_TINY_CASE(11)
        MB_TINY_CASE(12)
        MB_TINY_CASE(13)
        MB_TINY_CASE(14)
        MB_TINY_CASE(15)
        MB_TINY_CASE(16)
#undef MB_TINY_CASE
    }
    return 1;
}
#endif

/* Run items [b0, b1), each restricted to rows [m0, m1) x cols [n0, n1), on the calling thread. */
static void mb_gemm_run(const struct mb_gemm *p, const struct mb_gemm_ukr *u, struct mb_gemm_blk bk, int direct,
                        int64_t b0, int64_t b1, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const float *bias,
                        float *ap, float *bp)
{
    if (m0 >= m1 || n0 >= n1) return;
#if defined(__AVX2__) && defined(__FMA__)
    if (direct && m0 == 0 && m1 == p->M && n0 == 0 && n1 == p->N && mb_gemm_tiny(p, b0, b1, bias)) return;
#endif
    if (direct && u->batch && m0 == 0 && m1 == p->M && p->M <= u->batch_max_m && n0 == 0 && n1 == p->N &&
        p->N <= u->nr) {
        u->batch(p, b0, b1, bias);
        return;
    }
    if (direct && u->wide && m0 == 0 && m1 == p->M && n0 == 0 && n1 == p->N && p->N > u->nr && p->N <= u->wide_max_n) {
        u->wide(p, b0, b1, bias, bk.pf_next);
        return;
    }
    struct mb_gemm_iter it;
    mb_gemm_iter_init(&it, p, b0);
    for (int64_t b = b0; b < b1; b++, mb_gemm_iter_next(&it, p)) {
        if (direct) {
            struct mb_gemm_iter nx = it;
            int pf = bk.pf_next && b + 1 < b1;
            if (pf) mb_gemm_iter_next(&nx, p);
            mb_gemm_block_direct(p, u, p->A + it.oa, p->B + it.ob, p->C + it.oc, m0, m1, n0, n1, bias,
                                 pf ? p->A + nx.oa : NULL, pf ? p->B + nx.ob : NULL, bk.ir_outer);
        } else
            mb_gemm_block(p, u, bk, p->A + it.oa, p->B + it.ob, p->C + it.oc, m0, m1, n0, n1, bias, ap, bp);
    }
}

/* K == 0: C = beta*C (+ bias), beta == 0 writes without reading. */
static void mb_gemm_k0(const struct mb_gemm *p, int64_t nb)
{
    struct mb_gemm_iter it;
    mb_gemm_iter_init(&it, p, 0);
    for (int64_t b = 0; b < nb; b++, mb_gemm_iter_next(&it, p))
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t n = 0; n < p->N; n++) {
                float *c = p->C + it.oc + m * p->c_rs + n * p->c_cs;
                float r = p->beta != 0.0f ? p->beta * *c : 0.0f;
                if (p->bias) r += p->bias[n * p->bias_s];
                *c = r;
            }
}

/* The entry point every blocked GEMM variant calls. */
static enum mb_status mb_gemm_drive(const struct mb_gemm *p, const struct mb_exec *x, const struct mb_gemm_ukr *u)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH || p->M < 0 || p->N < 0 || p->K < 0) return MB_EINVAL;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    if (nb <= 0 || p->M == 0 || p->N == 0) return MB_OK;
    if (p->K == 0) {
        mb_gemm_k0(p, nb);
        return MB_OK;
    }
    const int MR = u->mr, NR = u->nr;
    int nt = x->nthreads > 0 ? x->nthreads : 1;
    /* tiny work: on the calling thread (mb.h: MB_GEMM_MIN_PAR_MNK). Same bits either way. */
    if (mb_gemm_tiny_work(p, nb)) nt = 1;
    struct mb_gemm_blk bk = mb_gemm_blocking(x, u, p->N);
    /* direct (no packing) when packing would cost about as much as the arithmetic: up to 96^3, or 128^3
     * for an ISA whose blocked path always packs A (.pack_a: AVX2; AVX-512's reads A and B in place at
     * these sizes anyway). AVX2 on Zen 3, direct against packed (medians of 3, 3 rounds): 128^3 +7 %,
     * 8 / 64 x 128x128x64 +4-10 % (0.82-0.88 -> 0.92-0.97x LIBXSMM), 32x256x256, 64x64x384 and
     * 100x100x200 15-20 % faster (B's strided rows included), 16x1024x128 level. Up to 2^22: 160^3 and
     * 128x128x256 5-6 % faster, but 16x1024x256 and 32x1024x128 (B's rows 4 KiB apart, one L2 set in 64)
     * 15-45 % slower, 192^3 and 256x256x128 level: so 128^3. */
    const int64_t direct_max = u->pack_a ? (int64_t)128 * 128 * 128 : (int64_t)96 * 96 * 96;
    const int direct = u->direct != NULL && p->b_cs == 1 && p->K <= bk.kc && p->M <= 4096 && p->N <= 4096 &&
                       p->M * p->N * p->K <= direct_max;

    /* workspace: [bias: N floats][thread 0: A MC*KC, B KC*NC][thread 1] ... (64-byte aligned pieces) */
    const size_t al = 16; /* floats per 64 bytes */
    size_t nbias = p->bias ? ((size_t)p->N + al - 1) / al * al : 0;
    /* row-major A (unit column stride) small enough to stay in L2: the direct micro-kernel broadcasts
     * from A's rows in place (BLIS "sup" style) and only B is packed. Saves the A transpose-pack, a
     * fifth of the time at n = 256; measured slower once A outgrows L2 (n >= 1024), so packed there,
     * and when its rows alias in L1 (mb_gemm_rows_per_set; AVX-512, x oneDNN: M = 128, K = 1024
     * 0.82-0.85 -> 0.94-0.96; M = 64, K = 2048 0.72-0.76 -> 0.85-0.87). Up to all of L2 when K <= KC
     * was 1 % ahead at n = 512 but 1-5 % behind at 1024 x 1024 x 256, 768 x 512 x 320, 512 x 1024 x 512. */
    const double l2b = x->l2 > 0 ? (double)x->l2 : (double)(1 << 20);
    bk.direct_a = !u->pack_a && u->direct != NULL && p->a_cs == 1 &&
                  (double)p->M * (double)p->K * 4 <= l2b / 2 && mb_gemm_rows_per_set(p->a_rs * 4, MR) <= MR / 2;
    /* the batch's operands outgrow L2: prefetching the next item under the current one's tiles gained
     * 5-7 % at 64 / 256 x 64^3; when they stay in L2 the prefetches only cost (~4 % at 8 x 64^3; AVX-512
     * 32 x 64^3, 1.5 MiB of a 2 MiB L2: 164 -> 168 and 160 -> 170 GFLOP/s without them, threshold L2 / 2 -> L2) */
    bk.direct_b = bk.direct_a && u->direct_b && p->b_cs == 1 &&
                  (double)p->K * (double)p->N * 4 <= (x->l2 > 0 ? x->l2 : 1 << 20) / 4;
    bk.pf_next = direct && nb > 1 && !mb_gemm_hw_streams_batches() &&
                 (double)nb * (double)(p->M * p->K + p->K * p->N + p->M * p->N) * 4 > (x->l2 > 0 ? x->l2 : 1 << 20);
    /* direct path, B within half of L1: ir outer, so B stays in L1 while each A row tile is read once
     * and C is written row by row. jr outer (each B sliver against all of A) overfilled the sets that B's
     * and C's sliver columns share: AVX2 on Zen 3 (32 KiB L1d), 256 x 64^3: 285 K -> 198 K D1 misses
     * (callgrind; LIBXSMM 0.78 K per item, ours now 0.77 K), 0.87 -> 0.92x LIBXSMM (medians of 6 noisy
     * interleaved rounds; 32 x 64^3 0.90 -> 0.92x). AVX-512 64^3 batches take .wide, not this loop. */
    if (direct) bk.ir_outer = (double)p->K * (double)p->N * 4 <= (double)(x->l1d > 0 ? x->l1d : 32 << 10) / 2;
    if (p->K < bk.kc) bk.kc = mb_gemm_cdiv(p->K, 8) * 8; /* the one pass mb_gemm_block makes: no more workspace */
    if (p->M < bk.mc) bk.mc = mb_gemm_cdiv(p->M, MR) * MR;
    if (p->N < bk.nc) bk.nc = mb_gemm_cdiv(p->N, NR) * NR;
    size_t per = direct ? 0 : (size_t)(bk.mc * bk.kc + bk.kc * bk.nc);
    size_t avail = x->work ? x->work_size / sizeof(float) : 0;
    while (nbias + per * (size_t)nt > avail && !direct) {
        if (bk.nc > NR)
            bk.nc = mb_gemm_round_down(bk.nc / 2, NR, NR);
        else if (bk.mc > MR)
            bk.mc = mb_gemm_round_down(bk.mc / 2, MR, MR);
        else
            return MB_ENOMEM;
        per = (size_t)(bk.mc * bk.kc + bk.kc * bk.nc);
    }
    if (nbias > avail) return MB_ENOMEM;
    float *work = x->work;
    const float *bias = NULL;
    if (p->bias) {
        for (int64_t n = 0; n < p->N; n++) work[n] = p->bias[n * p->bias_s];
        bias = work;
    }

    /* partition: batch items, or an (pm x pn) grid of MR x NR aligned blocks of each item */
    int by_batch = nt == 1 || (nb >= nt && (nb % nt == 0 || nb >= 4 * nt));
    int pm = 1, pn = 1;
    if (!by_batch) {
        int64_t mp = mb_gemm_cdiv(p->M, MR), np = mb_gemm_cdiv(p->N, NR), best = INT64_MAX;
        for (int f = 1; f <= nt; f++) { /* f = threads along M; ties keep the N split (f = 1 first) */
            if (nt % f) continue;
            int64_t cell = mb_gemm_cdiv(mp, f) * MR * mb_gemm_cdiv(np, nt / f) * NR;
            if (cell < best) best = cell, pm = f, pn = nt / f;
        }
    }
    if (nt == 1) { /* no parallel region at all: even if (0) costs ~0.25 us (GOMP team setup), a third of
                    * a whole 32 x (10x5 @ 5x8) call */
        mb_gemm_run(p, u, bk, direct, 0, nb, 0, p->M, 0, p->N, bias, work + nbias, work + nbias + bk.mc * bk.kc);
        return MB_OK;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *ap = work + nbias + per * (size_t)t, *bp = ap + bk.mc * bk.kc;
        if (by_batch) {
            mb_gemm_run(p, u, bk, direct, nb * t / nt, nb * (t + 1) / nt, 0, p->M, 0, p->N, bias, ap, bp);
        } else {
            int64_t mp = mb_gemm_cdiv(p->M, MR), np = mb_gemm_cdiv(p->N, NR);
            int tm = t / pn, tn = t % pn;
            int64_t m0 = mp * tm / pm * MR, m1 = mp * (tm + 1) / pm * MR;
            int64_t n0 = np * tn / pn * NR, n1 = np * (tn + 1) / pn * NR;
            mb_gemm_run(p, u, bk, direct, 0, nb, m0, m1 < p->M ? m1 : p->M, n0, n1 < p->N ? n1 : p->N, bias, ap, bp);
        }
    }
    return MB_OK;
}
