// Fused multiply-add on 4-lane SIMD vectors for the Swift kernels' gate math.
//
// Swift's generic SIMD `addingProduct` is a loop over lanes of scalar fma calls, which LLVM's
// SLP vectoriser sometimes splits (3 + 1 lanes) or leaves scalar. These inline functions are one
// vector `a * b + c` with floating-point contraction on, which Clang lowers to
// `llvm.fmuladd` on the whole vector: one vfmadd instruction when the target has FMA, a vector
// multiply and add otherwise (never a libm call). Clang's ext_vector_type(n) imports into Swift as
// SIMDn, so the functions take and return Swift SIMD values directly and inline into the caller.
#ifndef PARARNN_CVECTORMATH_H
#define PARARNN_CVECTORMATH_H

typedef float pararnn_float4 __attribute__((ext_vector_type(4)));
typedef double pararnn_double4 __attribute__((ext_vector_type(4)));
typedef float pararnn_float8 __attribute__((ext_vector_type(8)));
typedef double pararnn_double8 __attribute__((ext_vector_type(8)));

#pragma clang fp contract(fast)

static inline __attribute__((always_inline)) pararnn_float4
pararnn_fma_float4(pararnn_float4 a, pararnn_float4 b, pararnn_float4 c) { return a * b + c; }

static inline __attribute__((always_inline)) pararnn_double4
pararnn_fma_double4(pararnn_double4 a, pararnn_double4 b, pararnn_double4 c) { return a * b + c; }

// 8 lanes: the gate math of the fused rollouts (one AVX register of Float, two of Double).
static inline __attribute__((always_inline)) pararnn_float8
pararnn_fma_float8(pararnn_float8 a, pararnn_float8 b, pararnn_float8 c) { return a * b + c; }

static inline __attribute__((always_inline)) pararnn_double8
pararnn_fma_double8(pararnn_double8 a, pararnn_double8 b, pararnn_double8 c) { return a * b + c; }

// x clamped to [lo, hi] lane-wise with NaN kept (a comparison with NaN is false, so NaN lanes
// take neither bound), as one vector compare and bitwise blend per bound. The same operation in
// generic Swift SIMD code (`x .< low` and a blend through the mask storage) was lowered by the SLP
// vectoriser to one scalar compare and branch per lane in some inlined copies (the GRU rollout's
// second and third gates), which cost more than the exponential it guards.
typedef int pararnn_int4 __attribute__((ext_vector_type(4)));
typedef int pararnn_int8 __attribute__((ext_vector_type(8)));
typedef long pararnn_long4 __attribute__((ext_vector_type(4)));
typedef long pararnn_long8 __attribute__((ext_vector_type(8)));

#define PARARNN_CLAMP(NAME, VEC, SCALAR, MASK)                                                   \
    static inline __attribute__((always_inline)) VEC NAME(VEC x, SCALAR lo, SCALAR hi) {         \
        VEC low = (VEC)(lo);                                                                     \
        VEC high = (VEC)(hi);                                                                    \
        MASK below = x < low;                                                                    \
        MASK above = x > high;                                                                   \
        MASK bits = ((MASK)x & ~below) | ((MASK)low & below);                                    \
        bits = (bits & ~above) | ((MASK)high & above);                                           \
        return (VEC)bits;                                                                        \
    }
PARARNN_CLAMP(pararnn_clamp_float4, pararnn_float4, float, pararnn_int4)
PARARNN_CLAMP(pararnn_clamp_float8, pararnn_float8, float, pararnn_int8)
PARARNN_CLAMP(pararnn_clamp_double4, pararnn_double4, double, pararnn_long4)
PARARNN_CLAMP(pararnn_clamp_double8, pararnn_double8, double, pararnn_long8)
#undef PARARNN_CLAMP

// Subnormal flushing for the parallel passes (see ParallelScan's `withSubnormalsFlushed`).
// Composed prefix products of contractive Jacobians fall through the subnormal range on their way
// to zero; on Intel cores each operation with a subnormal operand or result takes a microcode
// assist (≈ 100+ cycles), which made the Newton passes' chunk reductions 2.5× the cost of the
// linearisation on a 16-core Xeon. Setting FTZ (bit 15) and DAZ (bit 6) of MXCSR, or FZ (bit
// 24) of AArch64's FPCR, for the duration of a pass turns those operations into plain zeros.
// `begin` returns the previous control word; `end` restores it.
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline __attribute__((always_inline)) unsigned long pararnn_flush_subnormals_begin(void) {
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u);
    return saved;
}
static inline __attribute__((always_inline)) void pararnn_flush_subnormals_end(unsigned long saved) {
    _mm_setcsr((unsigned int)saved);
}
#elif defined(__aarch64__)
static inline __attribute__((always_inline)) unsigned long pararnn_flush_subnormals_begin(void) {
    unsigned long saved;
    __asm__ volatile("mrs %0, fpcr" : "=r"(saved));
    __asm__ volatile("msr fpcr, %0" : : "r"(saved | (1ul << 24)));
    return saved;
}
static inline __attribute__((always_inline)) void pararnn_flush_subnormals_end(unsigned long saved) {
    __asm__ volatile("msr fpcr, %0" : : "r"(saved));
}
#else
static inline unsigned long pararnn_flush_subnormals_begin(void) { return 0; }
static inline void pararnn_flush_subnormals_end(unsigned long saved) { (void)saved; }
#endif

// Hints for spin-waits and short streams (the pipelined pLSTM wavefront). `spin_pause` is PAUSE
// on x86 (a spinning thread leaves its hyperthread sibling the core and skips the memory-order
// flush when the awaited line changes) and YIELD on AArch64. `prefetch` asks for the line holding
// `p` in every cache level ahead of use (PREFETCHT0), for row segments too short for the
// hardware prefetcher to pick up; `prefetch_write` asks for it to be written (PREFETCHW
// where the target has it).
static inline __attribute__((always_inline)) void pararnn_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}
static inline __attribute__((always_inline)) void pararnn_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline __attribute__((always_inline)) void pararnn_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

#endif
