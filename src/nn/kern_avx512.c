/*
 * kern_avx512.c - the "avx512" kernel set: AVX-512F intrinsics, vb 16 (one
 * 512-bit register per channel block; 32 registers allow the larger tiles of
 * kern_avx512_tiles.h). Compiled for that target by pragma; nsid_kern_select
 * only hands it out when the CPU (and OS) support AVX-512F. The same tiles run
 * in the portable "generic16" set, which the tests compare on every machine.
 */
#include "nn/kern.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#include <immintrin.h>

/* ELU(z) with expm1 as in kern_generic.c's elu_scalar (range reduction + degree-7 Taylor). */
static inline __m512 a5_elu(__m512 z)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    /* min/max return their second operand on NaN: NaN flows through */
    __m512 x = _mm512_max_ps(_mm512_set1_ps(-88.0f), _mm512_min_ps(zero, z));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040.0f), r, _mm512_set1_ps(1.0f / 720.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 120.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 24.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 6.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
    __m512 p = _mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r);
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    __m512 t = _mm512_castsi512_ps(e);
    __m512 em1 = _mm512_fmadd_ps(t, p, _mm512_sub_ps(t, one));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, zero, _CMP_GT_OQ), em1, z);
}

static inline __m512 a5_bcast(const float *p)
{
    return _mm512_set1_ps(*p);
}

static inline __m512 a5_elu_grad(__m512 d, __m512 y)
{
    __m512 g = _mm512_mul_ps(d, _mm512_add_ps(y, _mm512_set1_ps(1.0f)));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), g, d);
}

/* 16 lanes in double: two 8-double registers */
struct a5_kvd {
    __m512d lo, hi;
};

static inline struct a5_kvd a5d_zero(void)
{
    return (struct a5_kvd){_mm512_setzero_pd(), _mm512_setzero_pd()};
}
static inline void a5d_store(double *p, struct a5_kvd v)
{
    _mm512_storeu_pd(p, v.lo);
    _mm512_storeu_pd(p + 8, v.hi);
}
static inline __m512d a5_lo(__m512 x) { return _mm512_cvtps_pd(_mm512_castps512_ps256(x)); }
static inline __m512d a5_hi(__m512 x)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}
static inline struct a5_kvd a5d_addf(struct a5_kvd a, __m512 x)
{
    return (struct a5_kvd){_mm512_add_pd(a.lo, a5_lo(x)), _mm512_add_pd(a.hi, a5_hi(x))};
}
static inline struct a5_kvd a5d_fmaff(struct a5_kvd a, __m512 x, __m512 y)
{
    return (struct a5_kvd){_mm512_fmadd_pd(a5_lo(x), a5_lo(y), a.lo), _mm512_fmadd_pd(a5_hi(x), a5_hi(y), a.hi)};
}
static inline struct a5_kvd a5d_sqdev(struct a5_kvd a, __m512 x, struct a5_kvd m)
{
    __m512d tl = _mm512_sub_pd(a5_lo(x), m.lo), th = _mm512_sub_pd(a5_hi(x), m.hi);
    return (struct a5_kvd){_mm512_fmadd_pd(tl, tl, a.lo), _mm512_fmadd_pd(th, th, a.hi)};
}
static inline struct a5_kvd a5d_scale(struct a5_kvd a, double s)
{
    __m512d v = _mm512_set1_pd(s);
    return (struct a5_kvd){_mm512_mul_pd(a.lo, v), _mm512_mul_pd(a.hi, v)};
}

static inline float a5_hsum(__m512 v)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define KVB 16
#define kv __m512
#define KN(n) n##_avx512
#define kv_zero _mm512_setzero_ps
#define kv_load _mm512_loadu_ps
#define kv_store _mm512_storeu_ps
#define kv_bcast a5_bcast
#define kv_fma _mm512_fmadd_ps
#define kv_add _mm512_add_ps
#define kv_mul _mm512_mul_ps
#define kv_elu a5_elu
#define kv_sub _mm512_sub_ps
#define kv_elu_grad a5_elu_grad
#define kv_hsum a5_hsum
#define kvd struct a5_kvd
#define kvd_zero a5d_zero
#define kvd_store a5d_store
#define kvd_addf a5d_addf
#define kvd_fmaff a5d_fmaff
#define kvd_sqdev a5d_sqdev
#define kvd_scale a5d_scale
#include "nn/kern_avx512_tiles.h"
#include "nn/kern_tmpl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const struct nsid_kern nsid__kern_avx512 = {
    .name = "avx512", .vb = 16,
    .dw_forward = dw_forward_avx512, .dw_wgrad = dw_wgrad_avx512,
    .pw_forward = pw_forward_avx512, .pw_wgrad = pw_wgrad_avx512,
    .bn_elu = bn_elu_avx512, .bn_stats = bn_stats_avx512,
    .bn_bwd_sums = bn_bwd_sums_avx512, .bn_bwd_apply = bn_bwd_apply_avx512,
    .gs_setup = gs_setup_avx512, .gs_dot4 = gs_dot4_avx512, .gs_backward = gs_backward_avx512, .gs_wgrad = gs_wgrad_avx512,
    .fma_loop = fma_loop_avx512,
    .pw_tile_loop = pw_tile_loop_avx512, .pw_tile_flops = pw_tile_flops_avx512,
};

#else
const struct nsid_kern nsid__kern_avx512 = {.name = NULL, .vb = 16};
#endif
