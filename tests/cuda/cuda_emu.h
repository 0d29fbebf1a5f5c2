/*
 * cuda_emu.h: run CUDA kernels on the CPU, for GPU-less CI (design: CUDA-EMULATION.md of the design notes).
 * The same .cu file compiles with nvcc and with `g++ -x c++ -DMB_CUDA_EMU -Itests/cuda`; under nvcc this
 * header is not included (the .cu defines LAUNCH as <<<>>>).
 *
 * Model: every CUDA thread of a block is a user-level fiber (64 KiB mmap'd stack with a PROT_NONE guard page,
 * stacks reused for every block of a launch) switched by a 13-instruction x86-64 context switch (callee-saved
 * registers, MXCSR, x87 control word). Blocks run one after another on the calling thread; __shared__ is
 * `static`, which is correct exactly because of that (one block alive at a time, all its fibers on one thread).
 * __syncthreads() is a block barrier: the last fiber to arrive releases the others and keeps running.
 * Checks a GPU does not give: deadlock (no fiber can run, not all finished: report and abort), a thread that
 * exits while others wait at a barrier (warning; abort with CUEMU_STRICT=1), a launch over 1024 threads or with
 * an empty grid (cudaErrorInvalidConfiguration from cudaGetLastError). CUEMU_ORDER=rev resumes fibers in reverse
 * order, which exposes a missing barrier before a shared-memory broadcast that forward order hides.
 *
 * Not emulated: warp intrinsics (shuffles, votes), atomics, streams (all synchronous), textures, dynamic shared
 * memory, inline PTX, tensor cores; no ASan fiber annotations (build the emulated tests without ASan). The
 * emulator checks indexing and synchronisation, not nvcc's code generation or GPU rounding (no FMA contraction).
 */
#pragma once
#if !defined(__x86_64__)
#error "cuda_emu.h: the fiber context switch is x86-64 SysV only"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <utility>
#include <vector>

// ---- the CUDA surface the kernels use ---------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint3 {
    unsigned x, y, z;
};
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

typedef void *cudaStream_t;
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
};
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };

namespace cuemu {
inline thread_local cudaError_t last_error = cudaSuccess;

// ---- fibers -------------------------------------------------------------------------------------------------------
/* Save the callee-saved state on the current stack, store rsp in *from, load `to`, restore, return into it. */
__attribute__((naked, noinline)) inline void switch_to(void ** /* from: rdi */, void * /* to: rsi */)
{
    __asm__ volatile("pushq %rbp\n\t"
                     "pushq %rbx\n\t"
                     "pushq %r12\n\t"
                     "pushq %r13\n\t"
                     "pushq %r14\n\t"
                     "pushq %r15\n\t"
                     "subq $8, %rsp\n\t"
                     "stmxcsr (%rsp)\n\t"
                     "fnstcw 4(%rsp)\n\t"
                     "movq %rsp, (%rdi)\n\t"
                     "movq %rsi, %rsp\n\t"
                     "ldmxcsr (%rsp)\n\t"
                     "fldcw 4(%rsp)\n\t"
                     "addq $8, %rsp\n\t"
                     "popq %r15\n\t"
                     "popq %r14\n\t"
                     "popq %r13\n\t"
                     "popq %r12\n\t"
                     "popq %rbx\n\t"
                     "popq %rbp\n\t"
                     "ret\n\t");
}
/* A new fiber's first switch "returns" here with r12 = argument, rbx = function, rsp 16-byte aligned. */
__attribute__((naked, noinline)) inline void trampoline()
{
    __asm__ volatile("movq %r12, %rdi\n\t"
                     "callq *%rbx\n\t"
                     "ud2\n\t");
}

enum fstate { RUNNABLE, WAITING, DONE };
struct fiber {
    void *sp;
    char *stack; /* mmap base (guard page first) */
    fstate state;
    unsigned long gen; /* barrier generation it waits for to pass */
    uint3 tid;
};

struct block_sched {
    std::vector<fiber> f;
    void *sched_sp = nullptr;
    int current = -1, alive = 0, arrived = 0;
    unsigned long gen = 0;
    void (*body)(void *) = nullptr;
    void *ctx = nullptr;
    size_t stack_bytes = 0;
    bool strict = false;
};
inline thread_local block_sched *sched = nullptr;

inline void die(const char *what)
{
    fprintf(stderr, "cuda_emu: %s\n", what);
    abort();
}

inline void fiber_main(void *)
{
    block_sched *s = sched;
    s->body(s->ctx);
    fiber &me = s->f[(size_t)s->current];
    me.state = DONE;
    s->alive--;
    if (s->arrived > 0) {
        fprintf(stderr, "cuda_emu: thread (%u,%u,%u) of block (%u,%u,%u) exited while %d threads wait at "
                        "__syncthreads (undefined behaviour on a GPU)\n",
                me.tid.x, me.tid.y, me.tid.z, blockIdx.x, blockIdx.y, blockIdx.z, s->arrived);
        if (s->strict) die("CUEMU_STRICT: barrier divergence");
        if (s->arrived == s->alive) { /* release, as the hardware usually does */
            s->gen++, s->arrived = 0;
            for (fiber &o : s->f)
                if (o.state == WAITING) o.state = RUNNABLE;
        }
    }
    switch_to(&me.sp, s->sched_sp);
    die("finished fiber resumed");
}

inline void fiber_reset(block_sched *s, fiber &f)
{
    uint64_t *top = (uint64_t *)(f.stack + s->stack_bytes);
    top -= 2;                       /* 16-byte aligned slack */
    *--top = (uint64_t)&trampoline; /* return address of the first switch */
    *--top = 0;                     /* rbp */
    *--top = (uint64_t)&fiber_main; /* rbx: function */
    *--top = 0;                     /* r12: argument */
    *--top = 0, *--top = 0, *--top = 0; /* r13 r14 r15 */
    uint32_t csr[2] = {0x1f80, 0x037f};  /* MXCSR default, x87 control word default */
    memcpy(--top, csr, 8);
    f.sp = top;
    f.state = RUNNABLE;
}

} // namespace cuemu

inline void __syncthreads()
{
    cuemu::block_sched *s = cuemu::sched;
    cuemu::fiber &me = s->f[(size_t)s->current];
    if (++s->arrived == s->alive) { /* last to arrive: release everyone, keep running */
        s->gen++, s->arrived = 0;
        for (cuemu::fiber &o : s->f)
            if (o.state == cuemu::WAITING) o.state = cuemu::RUNNABLE;
        return;
    }
    me.state = cuemu::WAITING;
    me.gen = s->gen;
    cuemu::switch_to(&me.sp, s->sched_sp);
    threadIdx = me.tid; /* the scheduler set it before resuming us; reload for clarity */
}

namespace cuemu {

template <class F> void call(void *p) { (*(F *)p)(); }

/* Run `kernel(args...)` over grid x block. */
template <class K, class... A> void launch(dim3 grid, dim3 block, K kernel, A... args)
{
    const unsigned long nthreads = (unsigned long)block.x * block.y * block.z;
    if (nthreads == 0 || nthreads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.y > 65535 || grid.z > 65535) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    auto body = [&]() { kernel(args...); };
    block_sched s;
    s.body = &call<decltype(body)>;
    s.ctx = &body;
    const char *kb = getenv("CUEMU_STACK_KB");
    s.stack_bytes = (size_t)(kb && atoi(kb) > 0 ? atoi(kb) : 64) << 10;
    const char *st = getenv("CUEMU_STRICT");
    s.strict = st && *st == '1';
    const char *ord = getenv("CUEMU_ORDER");
    const bool rev = ord && !strcmp(ord, "rev");
    const size_t page = 4096;
    s.f.resize(nthreads);
    for (unsigned long i = 0; i < nthreads; i++) {
        void *m = mmap(nullptr, s.stack_bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) die("cannot mmap a fiber stack");
        mprotect(m, page, PROT_NONE); /* overflow: a clean SIGSEGV, not silent corruption */
        s.f[i].stack = (char *)m + page;
        s.f[i].tid = uint3{(unsigned)(i % block.x), (unsigned)(i / block.x % block.y),
                           (unsigned)(i / block.x / block.y)};
    }
    block_sched *saved = sched;
    sched = &s;
    blockDim = block, gridDim = grid;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                blockIdx = uint3{bx, by, bz};
                for (fiber &f : s.f) fiber_reset(&s, f);
                s.alive = (int)nthreads, s.arrived = 0, s.gen = 0;
                while (s.alive > 0) {
                    bool ran = false;
                    for (unsigned long k = 0; k < nthreads; k++) {
                        const unsigned long i = rev ? nthreads - 1 - k : k;
                        fiber &f = s.f[i];
                        if (f.state != RUNNABLE) continue;
                        s.current = (int)i;
                        threadIdx = f.tid;
                        switch_to(&s.sched_sp, f.sp);
                        ran = true;
                    }
                    if (!ran && s.alive > 0) {
                        fprintf(stderr, "cuda_emu: deadlock in block (%u,%u,%u): %d threads alive, %d at a barrier, "
                                        "none can run\n", bx, by, bz, s.alive, s.arrived);
                        die("deadlock");
                    }
                }
            }
    sched = saved;
    for (fiber &f : s.f) munmap(f.stack - page, s.stack_bytes + page);
}

} // namespace cuemu

#define LAUNCH(kernel, grid, block, stream, ...) ((void)(stream), cuemu::launch((grid), (block), kernel, __VA_ARGS__))

// ---- host API shim: "device" memory is host memory of the exact size (ASan / valgrind see overruns) -------------
inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = malloc(n ? n : 1);
    return *p ? cudaSuccess : (cuemu::last_error = cudaErrorMemoryAllocation);
}
inline cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind)
{
    memcpy(d, s, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemset(void *d, int v, size_t n)
{
    memset(d, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
inline cudaError_t cudaGetLastError()
{
    cudaError_t e = cuemu::last_error;
    cuemu::last_error = cudaSuccess;
    return e;
}
inline const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    }
    return "unknown error";
}
