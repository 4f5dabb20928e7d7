/*
 * kern_avx2.c - the "avx2" kernel set: AVX2 + FMA intrinsics, vb 8 (one
 * 256-bit register per channel block). Compiled for that target by pragma
 * (the rest of the build keeps the baseline ISA); nsid_kern_select only hands
 * it out when the CPU has AVX2 and FMA. Without x86 or a GCC-compatible
 * compiler the table is empty (name NULL).
 */
#include "nn/kern.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

/* ELU(z) with expm1 as in kern_generic.c's elu_scalar (range reduction + degree-7 Taylor). */
static inline __m256 a2_elu(__m256 z)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    /* min/max return their second operand on NaN: NaN flows through */
    __m256 x = _mm256_max_ps(_mm256_set1_ps(-88.0f), _mm256_min_ps(zero, z));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 5040.0f), r, _mm256_set1_ps(1.0f / 720.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 120.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 24.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 6.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.5f));
    __m256 p = _mm256_fmadd_ps(_mm256_mul_ps(r, r), q, r);
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    __m256 t = _mm256_castsi256_ps(e);
    __m256 em1 = _mm256_fmadd_ps(t, p, _mm256_sub_ps(t, one));
    return _mm256_blendv_ps(em1, z, _mm256_cmp_ps(z, zero, _CMP_GT_OQ));
}

static inline __m256 a2_elu_grad(__m256 d, __m256 y)
{
    __m256 g = _mm256_mul_ps(d, _mm256_add_ps(y, _mm256_set1_ps(1.0f)));
    return _mm256_blendv_ps(g, d, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* 8 lanes in double: two 4-double registers */
struct a2_kvd {
    __m256d lo, hi;
};

static inline struct a2_kvd a2d_zero(void)
{
    return (struct a2_kvd){_mm256_setzero_pd(), _mm256_setzero_pd()};
}
static inline void a2d_store(double *p, struct a2_kvd v)
{
    _mm256_storeu_pd(p, v.lo);
    _mm256_storeu_pd(p + 4, v.hi);
}
static inline __m256d a2_lo(__m256 x) { return _mm256_cvtps_pd(_mm256_castps256_ps128(x)); }
static inline __m256d a2_hi(__m256 x) { return _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)); }
static inline struct a2_kvd a2d_addf(struct a2_kvd a, __m256 x)
{
    return (struct a2_kvd){_mm256_add_pd(a.lo, a2_lo(x)), _mm256_add_pd(a.hi, a2_hi(x))};
}
static inline struct a2_kvd a2d_fmaff(struct a2_kvd a, __m256 x, __m256 y)
{
    return (struct a2_kvd){_mm256_fmadd_pd(a2_lo(x), a2_lo(y), a.lo), _mm256_fmadd_pd(a2_hi(x), a2_hi(y), a.hi)};
}
static inline struct a2_kvd a2d_sqdev(struct a2_kvd a, __m256 x, struct a2_kvd m)
{
    __m256d tl = _mm256_sub_pd(a2_lo(x), m.lo), th = _mm256_sub_pd(a2_hi(x), m.hi);
    return (struct a2_kvd){_mm256_fmadd_pd(tl, tl, a.lo), _mm256_fmadd_pd(th, th, a.hi)};
}
static inline struct a2_kvd a2d_scale(struct a2_kvd a, double s)
{
    __m256d v = _mm256_set1_pd(s);
    return (struct a2_kvd){_mm256_mul_pd(a.lo, v), _mm256_mul_pd(a.hi, v)};
}

static inline float a2_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define KVB 8
#define kv __m256
#define KN(n) n##_avx2
#define kv_zero _mm256_setzero_ps
#define kv_load _mm256_loadu_ps
#define kv_store _mm256_storeu_ps
#define kv_bcast _mm256_broadcast_ss
#define kv_fma _mm256_fmadd_ps
#define kv_add _mm256_add_ps
#define kv_mul _mm256_mul_ps
#define kv_elu a2_elu
#define kv_sub _mm256_sub_ps
#define kv_elu_grad a2_elu_grad
#define kv_hsum a2_hsum
#define kvd struct a2_kvd
#define kvd_zero a2d_zero
#define kvd_store a2d_store
#define kvd_addf a2d_addf
#define kvd_fmaff a2d_fmaff
#define kvd_sqdev a2d_sqdev
#define kvd_scale a2d_scale
#define KDW_RX 5    /* 2 x 5 accumulators + 2 weights + 1 input of 16 registers */
#define KDWG_KXB 7
#define KDWG_XS 4
#define KPW_RP 6    /* the classic 6 x 16 AVX2 GEMM tile */
#define KPW_OB 2
#define KPWG_RC 6
#define KPWG_OB 2
#include "nn/kern_tmpl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const struct nsid_kern nsid__kern_avx2 = {
    .name = "avx2", .vb = 8,
    .dw_forward = dw_forward_avx2, .dw_wgrad = dw_wgrad_avx2,
    .pw_forward = pw_forward_avx2, .pw_wgrad = pw_wgrad_avx2,
    .bn_elu = bn_elu_avx2, .bn_stats = bn_stats_avx2,
    .bn_bwd_sums = bn_bwd_sums_avx2, .bn_bwd_apply = bn_bwd_apply_avx2,
    .gs_setup = gs_setup_avx2, .gs_dot4 = gs_dot4_avx2, .gs_backward = gs_backward_avx2, .gs_wgrad = gs_wgrad_avx2,
    .fma_loop = fma_loop_avx2,
    .pw_tile_loop = pw_tile_loop_avx2, .pw_tile_flops = pw_tile_flops_avx2,
};

#else
const struct nsid_kern nsid__kern_avx2 = {.name = NULL, .vb = 8};
#endif
