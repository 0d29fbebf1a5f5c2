/*
 * gemm_cuda.cu: the GEMM contract on an NVIDIA GPU. Two variants, numbered as in SGEMM_CUDA / llm.c:
 *
 * cuda_v1  tiled shared-memory SGEMM: a 16x16 thread block computes a 16x16 tile of C, staging 16x16 tiles
 *          of A and B through shared memory (each global element loaded once per tile instead of 16 times).
 *          Any strides (loads go through a_rs/a_cs, b_rs/b_cs, so a transpose costs only coalescing), every
 *          edge bounds-checked on load (zero fill) and on store, batch over blockIdx.z (grid-stride, so any
 *          batch count) with per-operand batch strides (0 = broadcast), alpha, beta (beta == 0: C not read),
 *          bias. The textbook second step, not a fast kernel: it is here as the correctness-checked baseline
 *          of the CUDA column and as the kernel the CPU emulator (tests/cuda/) runs.
 * cublas   peer: cublasSgemmStridedBatched, where the layout allows it: every operand with a unit stride in
 *          one of its two matrix dims, a leading dimension cuBLAS accepts, the batch dims collapsible to one
 *          stride per operand (0 = broadcast is fine), no bias. Anything else: MB_ENOTSUP (the caller falls
 *          back). One cuBLAS handle per call (correct, not fast: a harness measuring it pays cublasCreate).
 *
 * Contract (both): mb_gemm's pointers are HOST pointers. The launcher copies each operand's extent (the span
 *          from its first to its last element) to the device, runs, and copies C's extent back; C is always
 *          copied in, so gaps inside C's extent (padded rows) come back unchanged. Negative strides: MB_ENOTSUP.
 *          Synchronous: returns after the result is in host memory. x->stream, when set, is the stream used.
 *          No device or a CUDA error: MB_EDEVICE. mb_cuda_available() (cudaGetDeviceCount: any error OR count
 *          0 means no GPU) is what the registry asks before offering a MB_NEED_GPU variant.
 *
 * Builds: nvcc (the Makefile, when nvcc exists; NO_CUDA=1 turns it off) and, for GPU-less CI, g++ -x c++
 *          -DMB_CUDA_EMU with tests/cuda/cuda_emu.h (fibers per CUDA thread; scripts/test-cuda-emu.sh). Under
 *          emulation only cuda_v1 and the launch plumbing exist (no cuBLAS).
 *
 * Verdict: cuda_v1 passes the emulator's sweep (odd sizes, transposes, broadcast batch, bias, beta) in forward
 *          and reverse thread order; neither variant has run on a GPU (none here): unmeasured.
 */
#include "mb.h"

#ifdef MB_CUDA_EMU
#include "cuda_emu.h"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

#include <stdint.h>

#define TILE 16

/* The batch geometry, passed by value to the kernel. */
struct batch_geom {
    int n;
    int64_t size[MB_MAX_BATCH], a[MB_MAX_BATCH], b[MB_MAX_BATCH], c[MB_MAX_BATCH];
};

// ---------------------------------------------------------------------------------------------------------------------
// cuda_v1 kernel

__global__ void __launch_bounds__(TILE *TILE)
    gemm_tiled(int64_t M, int64_t N, int64_t K, int64_t nb, struct batch_geom g, const float *A, int64_t a_rs,
               int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs, float *C, int64_t c_rs, int64_t c_cs,
               float alpha, float beta, const float *bias, int64_t bias_s)
{
    __shared__ float As[TILE][TILE];     /* As[row][k] */
    __shared__ float Bs[TILE][TILE + 1]; /* Bs[k][col]; +1: the column reads of a transposed B avoid bank conflicts */
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t row = (int64_t)blockIdx.y * TILE + ty, col = (int64_t)blockIdx.x * TILE + tx;
    for (int64_t b = blockIdx.z; b < nb; b += gridDim.z) { /* uniform over the block: barriers stay legal */
        int64_t oa = 0, ob = 0, oc = 0, rem = b;
        for (int i = g.n - 1; i >= 0; i--) {
            const int64_t idx = rem % g.size[i];
            rem /= g.size[i];
            oa += idx * g.a[i], ob += idx * g.b[i], oc += idx * g.c[i];
        }
        float acc = 0.0f;
        for (int64_t k0 = 0; k0 < K; k0 += TILE) {
            /* every thread loads (zero outside the matrices) and reaches both barriers */
            As[ty][tx] = row < M && k0 + tx < K ? A[oa + row * a_rs + (k0 + tx) * a_cs] : 0.0f;
            Bs[ty][tx] = k0 + ty < K && col < N ? B[ob + (k0 + ty) * b_rs + col * b_cs] : 0.0f;
            __syncthreads();
            for (int k = 0; k < TILE; k++) acc += As[ty][k] * Bs[k][tx];
            __syncthreads(); /* before the next tile overwrites As / Bs */
        }
        if (row < M && col < N) {
            float *c = C + oc + row * c_rs + col * c_cs;
            float r = alpha * acc;
            if (beta != 0.0f) r += beta * *c;
            if (bias) r += bias[col * bias_s];
            *c = r;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// host side: extents and copies

/* Elements from an operand's first to its last (strides >= 0); 0 if some dim is empty. -1: negative stride. */
static int64_t extent(int n, const int64_t *bsize, const int64_t *bs, int64_t rows, int64_t rs, int64_t cols,
                      int64_t cs)
{
    if (rs < 0 || cs < 0) return -1;
    if (rows == 0 || cols == 0) return 0;
    int64_t e = 1 + (rows - 1) * rs + (cols - 1) * cs;
    for (int i = 0; i < n; i++) {
        if (bs[i] < 0) return -1;
        if (bsize[i] == 0) return 0;
        e += (bsize[i] - 1) * bs[i];
    }
    return e;
}

struct device_operands {
    float *A, *B, *C, *bias;
    int64_t ea, eb, ec, ebias;
};

static void device_free(struct device_operands *d)
{
    cudaFree(d->A), cudaFree(d->B), cudaFree(d->C), cudaFree(d->bias);
}

/* Copy A, B, C (always: its gaps must survive the copy back) and bias to the device. */
static enum mb_status device_in(const struct mb_gemm *p, struct device_operands *d)
{
    *d = device_operands{};
    d->ea = extent(p->nbatch, p->batch, p->a_bs, p->M, p->a_rs, p->K, p->a_cs);
    d->eb = extent(p->nbatch, p->batch, p->b_bs, p->K, p->b_rs, p->N, p->b_cs);
    d->ec = extent(p->nbatch, p->batch, p->c_bs, p->M, p->c_rs, p->N, p->c_cs);
    d->ebias = p->bias ? 1 + (p->N - 1) * p->bias_s : 0;
    if (d->ea < 0 || d->eb < 0 || d->ec < 0 || p->bias_s < 0) return MB_ENOTSUP;
    const size_t f = sizeof(float);
    if ((d->ea && cudaMalloc((void **)&d->A, (size_t)d->ea * f) != cudaSuccess) ||
        (d->eb && cudaMalloc((void **)&d->B, (size_t)d->eb * f) != cudaSuccess) ||
        (d->ec && cudaMalloc((void **)&d->C, (size_t)d->ec * f) != cudaSuccess) ||
        (d->ebias && cudaMalloc((void **)&d->bias, (size_t)d->ebias * f) != cudaSuccess) ||
        (d->ea && cudaMemcpy(d->A, p->A, (size_t)d->ea * f, cudaMemcpyHostToDevice) != cudaSuccess) ||
        (d->eb && cudaMemcpy(d->B, p->B, (size_t)d->eb * f, cudaMemcpyHostToDevice) != cudaSuccess) ||
        (d->ec && cudaMemcpy(d->C, p->C, (size_t)d->ec * f, cudaMemcpyHostToDevice) != cudaSuccess) ||
        (d->ebias && cudaMemcpy(d->bias, p->bias, (size_t)d->ebias * f, cudaMemcpyHostToDevice) != cudaSuccess)) {
        device_free(d);
        return MB_EDEVICE;
    }
    return MB_OK;
}

static enum mb_status device_out(const struct mb_gemm *p, struct device_operands *d)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess && d->ec) e = cudaMemcpy(p->C, d->C, (size_t)d->ec * sizeof(float), cudaMemcpyDeviceToHost);
    device_free(d);
    return e == cudaSuccess ? MB_OK : MB_EDEVICE;
}

// ---------------------------------------------------------------------------------------------------------------------
// entry points

extern "C" int mb_cuda_available(void)
{
    int count = 0; /* with no driver cudaGetDeviceCount fails (cudaErrorInsufficientDriver) and leaves it unset */
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) (void)cudaGetLastError(); /* clear the sticky error for later callers */
    return e == cudaSuccess && count > 0;
}

extern "C" enum mb_status mb_gemm_cuda_v1(const struct mb_gemm *p, const struct mb_exec *x)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH || p->M < 0 || p->N < 0 || p->K < 0) return MB_EINVAL;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    if (nb <= 0 || p->M == 0 || p->N == 0) return MB_OK;
    const int64_t gx = (p->N + TILE - 1) / TILE, gy = (p->M + TILE - 1) / TILE;
    if (gx > INT32_MAX || gy > 65535) return MB_ENOTSUP;
    struct device_operands d;
    enum mb_status s = device_in(p, &d);
    if (s != MB_OK) return s;
    struct batch_geom g = {p->nbatch, {0}, {0}, {0}, {0}};
    for (int i = 0; i < p->nbatch; i++)
        g.size[i] = p->batch[i], g.a[i] = p->a_bs[i], g.b[i] = p->b_bs[i], g.c[i] = p->c_bs[i];
    const dim3 grid((unsigned)gx, (unsigned)gy, (unsigned)(nb < 65535 ? nb : 65535)), block(TILE, TILE);
    cudaStream_t stream = (cudaStream_t)x->stream;
    LAUNCH(gemm_tiled, grid, block, stream, p->M, p->N, p->K, nb, g, d.A, p->a_rs, p->a_cs, d.B, p->b_rs, p->b_cs,
           d.C, p->c_rs, p->c_cs, p->alpha, p->beta, d.bias, p->bias_s);
    if (cudaGetLastError() != cudaSuccess) {
        device_free(&d);
        return MB_EDEVICE;
    }
    return device_out(p, &d);
}

#ifndef MB_CUDA_EMU
/* One operand as cuBLAS sees it. cuBLAS is column-major; we compute C^T = B^T A^T when C is row-major
 * (c_cs == 1), or C = A B when C is column-major (c_rs == 1). An operand X (rows x cols, strides rs, cs) is a
 * column-major matrix with ld = cs when rs == 1 (op N), or the transpose of one with ld = rs when cs == 1. */
static bool cublas_view(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool want_transposed,
                        cublasOperation_t *op, int64_t *ld)
{
    /* in the column-major product we need X itself (want_transposed false) or X^T */
    const int64_t r = want_transposed ? cols : rows, c = want_transposed ? rows : cols;
    const int64_t srs = want_transposed ? cs : rs, scs = want_transposed ? rs : cs;
    if (srs == 1 && scs >= (r > 1 ? r : 1)) { /* column-major as is */
        *op = CUBLAS_OP_N, *ld = scs;
        return true;
    }
    if (scs == 1 && srs >= (c > 1 ? c : 1)) { /* row-major: cuBLAS transposes it */
        *op = CUBLAS_OP_T, *ld = srs;
        return true;
    }
    if (r == 1 && c == 1) {
        *op = CUBLAS_OP_N, *ld = 1;
        return true;
    }
    return false;
}

/* One stride per operand over all batch dims (row-major flattening), or false. */
static bool collapse_batch(const struct mb_gemm *p, const int64_t *bs, int64_t *stride)
{
    int64_t s = 0;
    bool have = false;
    for (int i = p->nbatch - 1; i >= 0; i--) {
        if (p->batch[i] == 1) continue;
        if (!have) {
            s = bs[i], have = true;
            continue;
        }
        /* dim i must continue dims i+1.. : bs[i] == s * (product of the inner sizes) */
        int64_t inner = 1;
        for (int j = i + 1; j < p->nbatch; j++) inner *= p->batch[j];
        if (bs[i] != s * inner) return false;
    }
    *stride = have ? s : 0;
    return true;
}

extern "C" enum mb_status mb_gemm_cublas(const struct mb_gemm *p, const struct mb_exec *x)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH || p->M < 0 || p->N < 0 || p->K < 0) return MB_EINVAL;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    if (nb <= 0 || p->M == 0 || p->N == 0) return MB_OK;
    if (p->bias || p->K == 0) return MB_ENOTSUP;
    int64_t sa, sb, sc;
    if (!collapse_batch(p, p->a_bs, &sa) || !collapse_batch(p, p->b_bs, &sb) || !collapse_batch(p, p->c_bs, &sc))
        return MB_ENOTSUP;
    const bool c_row = p->c_cs == 1 && p->c_rs >= (p->N > 1 ? p->N : 1);
    const bool c_col = !c_row && p->c_rs == 1 && p->c_cs >= (p->M > 1 ? p->M : 1);
    if (!c_row && !c_col) return MB_ENOTSUP;
    /* c_row: C^T (N x M) = B^T (N x K) A^T (K x M); c_col: C (M x N) = A (M x K) B (K x N) */
    cublasOperation_t opa, opb;
    int64_t lda, ldb;
    if (!cublas_view(p->M, p->K, p->a_rs, p->a_cs, c_row, &opa, &lda) ||
        !cublas_view(p->K, p->N, p->b_rs, p->b_cs, c_row, &opb, &ldb))
        return MB_ENOTSUP;
    const int64_t ldc = c_row ? p->c_rs : p->c_cs;
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX || nb > INT32_MAX || lda > INT32_MAX ||
        ldb > INT32_MAX || ldc > INT32_MAX)
        return MB_ENOTSUP;
    struct device_operands d;
    enum mb_status s = device_in(p, &d);
    if (s != MB_OK) return s;
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        device_free(&d);
        return MB_EDEVICE;
    }
    cublasSetStream(h, (cudaStream_t)x->stream);
    cublasStatus_t st;
    if (c_row)
        st = cublasSgemmStridedBatched(h, opb, opa, (int)p->N, (int)p->M, (int)p->K, &p->alpha, d.B, (int)ldb, sb,
                                       d.A, (int)lda, sa, &p->beta, d.C, (int)ldc, sc, (int)nb);
    else
        st = cublasSgemmStridedBatched(h, opa, opb, (int)p->M, (int)p->N, (int)p->K, &p->alpha, d.A, (int)lda, sa,
                                       d.B, (int)ldb, sb, &p->beta, d.C, (int)ldc, sc, (int)nb);
    cublasDestroy(h);
    if (st != CUBLAS_STATUS_SUCCESS) {
        device_free(&d);
        return MB_EDEVICE;
    }
    return device_out(p, &d);
}
#endif // MB_CUDA_EMU
