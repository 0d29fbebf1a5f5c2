/*
 * emu_main.cpp: the CUDA GEMM kernels (kernels/cuda/gemm_cuda.cu) run through the CPU emulator
 * (tests/cuda/cuda_emu.h) and checked against an fp64 reference: odd sizes that are no multiple of the 16x16
 * tile, K < tile, 1 x 1 x 1, batch 3 with broadcast A, two batch dims with broadcast B, every transposed
 * layout, a strided C whose gaps and guard zones must survive, beta == 0 over NaN, beta != 0, bias, K == 0.
 * Also two checks of the emulator itself: a shared-memory tree reduction (barrier semantics) and a launch
 * with 2048 threads per block (must report cudaErrorInvalidConfiguration).
 * Built by scripts/test-cuda-emu.sh:  g++ -x c++ -DMB_CUDA_EMU ... kernels/cuda/gemm_cuda.cu tests/cuda/emu_main.cpp
 * Prints a FAIL line per failed check and ends with `N passed, N failed` (exit 1 on failures).
 */
#include "cuda_emu.h"
#include "mb.h"

#include <math.h>
#include <stdarg.h>

static int n_pass, n_fail;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        return;
    }
    n_fail++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand()
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1p-52 - 1.0);
}

static const uint32_t SENTINEL = 0x7fa5a5a5u;
static bool is_sentinel(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u == SENTINEL;
}

struct layout {
    int64_t rs, cs;
};
/* row-major, column-major, or strided (column stride 2, padded rows) */
static layout make_layout(int kind, int64_t rows, int64_t cols)
{
    if (kind == 0) return {cols + 1, 1};
    if (kind == 1) return {1, rows + 2};
    return {2 * cols + 3, 2};
}

struct gcase {
    int64_t M, N, K;
    int nbatch;
    int64_t batch[2];
    bool bcast_a, bcast_b; /* A broadcast over batch dim 0, B over the last batch dim */
    int la, lb, lc;
    float alpha, beta;
    bool bias;
};

static void gemm_case(const gcase &c)
{
    char name[200];
    snprintf(name, sizeof name, "cuda_v1 %lldx%lldx%lld nbatch=%d [%lld,%lld] bcast=%d/%d layouts=%d/%d/%d beta=%g bias=%d",
             (long long)c.M, (long long)c.N, (long long)c.K, c.nbatch, (long long)c.batch[0], (long long)c.batch[1],
             c.bcast_a, c.bcast_b, c.la, c.lb, c.lc, c.beta, c.bias);
    mb_gemm p;
    memset(&p, 0, sizeof p);
    p.M = c.M, p.N = c.N, p.K = c.K, p.nbatch = c.nbatch;
    const layout a = make_layout(c.la, c.M, c.K), b = make_layout(c.lb, c.K, c.N), l = make_layout(c.lc, c.M, c.N);
    p.a_rs = a.rs, p.a_cs = a.cs, p.b_rs = b.rs, p.b_cs = b.cs, p.c_rs = l.rs, p.c_cs = l.cs;
    const int64_t ma = c.M * a.rs + c.K * a.cs + 1, mb = c.K * b.rs + c.N * b.cs + 1, mc = c.M * l.rs + c.N * l.cs + 1;
    int64_t sa = ma, sb = mb, sc = mc;
    for (int i = c.nbatch - 1; i >= 0; i--) {
        p.batch[i] = c.batch[i];
        p.a_bs[i] = c.bcast_a && i == 0 ? 0 : sa;
        p.b_bs[i] = c.bcast_b && i == c.nbatch - 1 ? 0 : sb;
        p.c_bs[i] = sc;
        if (p.a_bs[i]) sa *= c.batch[i];
        if (p.b_bs[i]) sb *= c.batch[i];
        sc *= c.batch[i];
    }
    std::vector<float> A((size_t)sa), B((size_t)sb), bias((size_t)c.N + 1), C((size_t)sc + 128);
    for (float &v : A) v = frand();
    for (float &v : B) v = frand();
    for (float &v : bias) v = frand();
    for (float &v : C) memcpy(&v, &SENTINEL, 4);
    std::vector<char> valid(C.size());
    const int64_t nb = mb_batch_count(c.nbatch, c.batch);
    float *C0 = C.data() + 64;
    for (int64_t bi = 0; bi < nb; bi++)
        for (int64_t m = 0; m < c.M; m++)
            for (int64_t n = 0; n < c.N; n++) {
                const int64_t o = mb_batch_offset(c.nbatch, c.batch, p.c_bs, bi) + m * p.c_rs + n * p.c_cs;
                C0[o] = c.beta == 0.0f ? NAN : frand();
                valid[(size_t)(o + 64)] = 1;
            }
    const std::vector<float> Cin = C;
    p.A = A.data(), p.B = B.data(), p.C = C0, p.alpha = c.alpha, p.beta = c.beta;
    p.bias = c.bias ? bias.data() : nullptr, p.bias_s = 1;
    mb_exec x;
    memset(&x, 0, sizeof x);
    x.nthreads = 1;
    const mb_status st = mb_gemm_cuda_v1(&p, &x);
    check(st == MB_OK, "%s: status %d", name, (int)st);
    int64_t bad = 0, clobbered = 0;
    for (size_t i = 0; i < C.size(); i++)
        if (!valid[i] && !is_sentinel(C[i])) clobbered++;
    for (int64_t bi = 0; bi < nb && st == MB_OK; bi++) {
        const float *Ab = A.data() + mb_batch_offset(c.nbatch, c.batch, p.a_bs, bi);
        const float *Bb = B.data() + mb_batch_offset(c.nbatch, c.batch, p.b_bs, bi);
        const int64_t oc = 64 + mb_batch_offset(c.nbatch, c.batch, p.c_bs, bi);
        for (int64_t m = 0; m < c.M; m++)
            for (int64_t n = 0; n < c.N; n++) {
                double acc = 0, mag = 0;
                for (int64_t k = 0; k < c.K; k++) {
                    const double t = (double)Ab[m * p.a_rs + k * p.a_cs] * Bb[k * p.b_rs + n * p.b_cs];
                    acc += t, mag += fabs(t);
                }
                const size_t o = (size_t)(oc + m * p.c_rs + n * p.c_cs);
                double ref = c.alpha * acc, scale = fabs(c.alpha) * mag;
                if (c.beta != 0.0f) ref += c.beta * Cin[o], scale += fabs(c.beta * Cin[o]);
                if (c.bias) ref += bias[(size_t)n], scale += fabs(bias[(size_t)n]);
                /* fp32 dot product bound; a GPU build contracts to FMA, which only tightens it */
                const double tol = 2.0 * (double)(c.K + 4) * 0x1p-24 * scale + 1e-30;
                if (!(fabs(C[o] - ref) <= tol)) {
                    if (!bad) printf("  %s: first bad C[%lld][%lld][%lld] = %.9g, want %.9g\n", name, (long long)bi,
                                     (long long)m, (long long)n, C[o], ref);
                    bad++;
                }
            }
    }
    check(bad == 0, "%s: %lld elements outside tolerance", name, (long long)bad);
    check(clobbered == 0, "%s: %lld elements outside C's valid region changed", name, (long long)clobbered);
}

// ---- checks of the emulator itself --------------------------------------------------------------------------------
__global__ void block_sum(const float *x, float *out, int n)
{
    __shared__ float s[256];
    const unsigned t = threadIdx.x;
    const unsigned i = blockIdx.x * blockDim.x + t;
    s[t] = (int)i < n ? x[i] : 0.0f;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
        if (t < h) s[t] += s[t + h];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

static void emulator_checks()
{
    const int n = 1000, blocks = (n + 255) / 256;
    std::vector<float> x((size_t)n), out((size_t)blocks);
    for (int i = 0; i < n; i++) x[(size_t)i] = (float)(i % 7);
    LAUNCH(block_sum, dim3((unsigned)blocks), dim3(256), nullptr, x.data(), out.data(), n);
    check(cudaGetLastError() == cudaSuccess, "emulator: block_sum launch failed");
    bool ok = true;
    for (int b = 0; b < blocks; b++) {
        double want = 0;
        for (int i = b * 256; i < n && i < (b + 1) * 256; i++) want += i % 7;
        ok = ok && out[(size_t)b] == (float)want;
    }
    check(ok, "emulator: shared-memory tree reduction with __syncthreads gives wrong sums");
    LAUNCH(block_sum, dim3(1), dim3(2048), nullptr, x.data(), out.data(), n);
    check(cudaGetLastError() == cudaErrorInvalidConfiguration, "emulator: 2048 threads per block not rejected");
}

int main()
{
    emulator_checks();
    gcase base = {};
    base.alpha = 1.0f;
    /* odd sizes, none a multiple of 16; beta == 0 over NaN */
    const int64_t sizes[][3] = {{67, 45, 33}, {1, 1, 1}, {16, 16, 16}, {17, 15, 5}, {1, 130, 17}, {130, 1, 40},
                                {33, 31, 70}};
    for (const auto &s : sizes) {
        gcase c = base;
        c.M = s[0], c.N = s[1], c.K = s[2];
        gemm_case(c);
    }
    /* every layout of A, B, C with alpha, beta, bias */
    for (int la = 0; la < 3; la++)
        for (int lb = 0; lb < 3; lb++)
            for (int lc = 0; lc < 3; lc++) {
                gcase c = base;
                c.M = 37, c.N = 21, c.K = 19, c.la = la, c.lb = lb, c.lc = lc;
                c.alpha = -0.5f, c.beta = 1.5f, c.bias = true;
                gemm_case(c);
            }
    /* batch 3 with broadcast A; two batch dims with broadcast B; plain batch */
    gcase bc = base;
    bc.M = 67, bc.N = 45, bc.K = 33, bc.nbatch = 1, bc.batch[0] = 3, bc.bcast_a = true, bc.bias = true;
    gemm_case(bc);
    bc.bcast_a = false, bc.bcast_b = true, bc.beta = 0.25f, bc.lb = 1;
    gemm_case(bc);
    bc.nbatch = 2, bc.batch[0] = 2, bc.batch[1] = 3, bc.M = 10, bc.N = 8, bc.K = 5, bc.la = 2;
    gemm_case(bc);
    bc.bcast_a = true, bc.bcast_b = false;
    gemm_case(bc);
    /* K == 0: C = beta*C + bias */
    gcase k0 = base;
    k0.M = 5, k0.N = 7, k0.K = 0, k0.beta = 2.0f, k0.bias = true;
    gemm_case(k0);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
