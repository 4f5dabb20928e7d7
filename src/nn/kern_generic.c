/*
 * kern_generic.c - the portable kernel sets: "generic" (vb 8, the tiles of
 * the AVX2 set) and "generic16" (vb 16, the tiles of the AVX-512 set). A vector
 * is a GCC/clang vector-extension type (vector_size), which the compiler
 * lowers to whatever the build targets (SSE2 on baseline x86-64, NEON on arm64,
 * scalar code elsewhere); no intrinsics, no target pragmas.
 * generic16 exists so that the AVX-512 set's tile arithmetic is tested on
 * machines without AVX-512 (tests/test_kern.c compares every set).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn/kern.h"


/*
 * ELU(z) = z > 0 ? z : expm1(z), with expm1 as in the SIMD sets:
 * z = k ln2 + r, |r| <= ln2/2, expm1(r) by its Taylor polynomial to r^7
 * (truncation below 2e-8 relative), then expm1(z) = 2^k expm1(r) + (2^k - 1).
 * Within 2 ulp of expm1f on (-inf, 0]; NaN propagates.
 */
static inline float elu_scalar(float z)
{
    if (z > 0.0f) return z;
    if (z != z) return z;
    float x = z < -88.0f ? -88.0f : z;
    float k = floorf(x * 1.44269504f + 0.5f);
    float r = x - k * 0.693145751953125f;
    r = r - k * 1.42860677e-6f;
    float q = (1.0f / 5040.0f) * r + (1.0f / 720.0f);
    q = q * r + (1.0f / 120.0f);
    q = q * r + (1.0f / 24.0f);
    q = q * r + (1.0f / 6.0f);
    q = q * r + 0.5f;
    float p = (r * r) * q + r;
    uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
    float t;
    memcpy(&t, &bits, sizeof t);
    return t * p + (t - 1.0f);
}

/* ------------------------------------------------------------ primitives */

/*
 * A vector of W lanes (struct pv<W>) is W/4 native 4-float vectors (16 bytes:
 * SSE2, NEON); its double lanes (struct pvd<W>) W/2 native 2-double vectors.
 * PORTABLE_VOCABULARY(W) defines the template's primitives for them as inline
 * functions g<W>_* and gd<W>_*; GCC and clang keep the structs in registers
 * once the tiles are inlined.
 */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef double v2d __attribute__((vector_size(16)));

#define PORTABLE_VOCABULARY(W)                                                                          \
    struct pv##W {                                                                                      \
        v4f q[(W) / 4];                                                                                 \
    };                                                                                                  \
    struct pvd##W {                                                                                     \
        v2d d[(W) / 2];                                                                                 \
    };                                                                                                  \
    static inline struct pv##W g##W##_zero(void) { struct pv##W r = {{{0}}}; return r; }              \
    static inline struct pv##W g##W##_load(const float *p)                                              \
    {                                                                                                   \
        struct pv##W r;                                                                                 \
        memcpy(&r, p, sizeof r);                                                                        \
        return r;                                                                                       \
    }                                                                                                   \
    static inline void g##W##_store(float *p, struct pv##W v) { memcpy(p, &v, sizeof v); }             \
    static inline struct pv##W g##W##_bcast(const float *p)                                             \
    {                                                                                                   \
        struct pv##W r;                                                                                 \
        float b = *p;                                                                                   \
        for (int i = 0; i < (W) / 4; i++) r.q[i] = (v4f){b, b, b, b};                                   \
        return r;                                                                                       \
    }                                                                                                   \
    static inline struct pv##W g##W##_fma(struct pv##W a, struct pv##W b, struct pv##W c)               \
    {                                                                                                   \
        for (int i = 0; i < (W) / 4; i++) c.q[i] += a.q[i] * b.q[i];                                    \
        return c;                                                                                       \
    }                                                                                                   \
    static inline struct pv##W g##W##_add(struct pv##W a, struct pv##W b)                              \
    {                                                                                                   \
        for (int i = 0; i < (W) / 4; i++) a.q[i] += b.q[i];                                             \
        return a;                                                                                       \
    }                                                                                                   \
    static inline struct pv##W g##W##_sub(struct pv##W a, struct pv##W b)                              \
    {                                                                                                   \
        for (int i = 0; i < (W) / 4; i++) a.q[i] -= b.q[i];                                             \
        return a;                                                                                       \
    }                                                                                                   \
    static inline struct pv##W g##W##_mul(struct pv##W a, struct pv##W b)                              \
    {                                                                                                   \
        for (int i = 0; i < (W) / 4; i++) a.q[i] *= b.q[i];                                             \
        return a;                                                                                       \
    }                                                                                                   \
    static inline struct pv##W g##W##_elu(struct pv##W a)                                               \
    {                                                                                                   \
        for (int i = 0; i < (W) / 4; i++)                                                               \
            for (int l = 0; l < 4; l++) a.q[i][l] = elu_scalar(a.q[i][l]);                              \
        return a;                                                                                       \
    }                                                                                                   \
    static inline float g##W##_hsum(struct pv##W v)                                                   \
    {                                                                                                   \
        v4f t = v.q[0];                                                                                 \
        for (int i = 1; i < (W) / 4; i++) t += v.q[i];                                                  \
        return (t[0] + t[2]) + (t[1] + t[3]);                                                           \
    }                                                                                                   \
    static inline struct pv##W g##W##_elu_grad(struct pv##W d, struct pv##W y)                          \
    {                                                                                                   \
        for (int i = 0; i < (W) / 4; i++) {                                                             \
            v4i m = y.q[i] > 0.0f; /* -1 where y > 0 */                                                 \
            v4f g = d.q[i] * (y.q[i] + 1.0f);                                                           \
            d.q[i] = (v4f)(((v4i)d.q[i] & m) | ((v4i)g & ~m));                                          \
        }                                                                                               \
        return d;                                                                                       \
    }                                                                                                   \
    /* double lanes 2i, 2i+1 <- float lanes 2i, 2i+1 */                                                 \
    static inline v2d gd##W##_cvt(struct pv##W x, int i)                                                \
    {                                                                                                   \
        return (v2d){(double)x.q[i / 2][2 * (i % 2)], (double)x.q[i / 2][2 * (i % 2) + 1]};              \
    }                                                                                                   \
    static inline struct pvd##W gd##W##_zero(void) { struct pvd##W r = {{{0}}}; return r; }            \
    static inline void gd##W##_store(double *p, struct pvd##W v) { memcpy(p, &v, sizeof v); }          \
    static inline struct pvd##W gd##W##_addf(struct pvd##W a, struct pv##W x)                          \
    {                                                                                                   \
        for (int i = 0; i < (W) / 2; i++) a.d[i] += gd##W##_cvt(x, i);                                  \
        return a;                                                                                       \
    }                                                                                                   \
    static inline struct pvd##W gd##W##_fmaff(struct pvd##W a, struct pv##W x, struct pv##W y)         \
    {                                                                                                   \
        for (int i = 0; i < (W) / 2; i++) a.d[i] += gd##W##_cvt(x, i) * gd##W##_cvt(y, i);              \
        return a;                                                                                       \
    }                                                                                                   \
    static inline struct pvd##W gd##W##_sqdev(struct pvd##W a, struct pv##W x, struct pvd##W m)        \
    {                                                                                                   \
        for (int i = 0; i < (W) / 2; i++) {                                                             \
            v2d t = gd##W##_cvt(x, i) - m.d[i];                                                         \
            a.d[i] += t * t;                                                                            \
        }                                                                                               \
        return a;                                                                                       \
    }                                                                                                   \
    static inline struct pvd##W gd##W##_scale(struct pvd##W a, double s)                                \
    {                                                                                                   \
        for (int i = 0; i < (W) / 2; i++) a.d[i] *= s;                                                  \
        return a;                                                                                       \
    }

PORTABLE_VOCABULARY(8)
PORTABLE_VOCABULARY(16)

/* The template's names for the current width W (KW). */
#define KCAT2(a, b) a##b
#define KCAT(a, b) KCAT2(a, b)
#define kv_zero KCAT(KW, _zero)
#define kv_load KCAT(KW, _load)
#define kv_store KCAT(KW, _store)
#define kv_bcast KCAT(KW, _bcast)
#define kv_fma KCAT(KW, _fma)
#define kv_add KCAT(KW, _add)
#define kv_sub KCAT(KW, _sub)
#define kv_mul KCAT(KW, _mul)
#define kv_elu KCAT(KW, _elu)
#define kv_elu_grad KCAT(KW, _elu_grad)
#define kv_hsum KCAT(KW, _hsum)
#define kvd_zero KCAT(KWD, _zero)
#define kvd_store KCAT(KWD, _store)
#define kvd_addf KCAT(KWD, _addf)
#define kvd_fmaff KCAT(KWD, _fmaff)
#define kvd_sqdev KCAT(KWD, _sqdev)
#define kvd_scale KCAT(KWD, _scale)

/* ------------------------------------------------------------ generic, vb 8 */

#define KVB 8
#define kv struct pv8
#define kvd struct pvd8
#define KW g8
#define KWD gd8
#define KN(n) n##_g8
#define KDW_RX 5
#define KDWG_KXB 7
#define KDWG_XS 4
#define KPW_RP 6
#define KPW_OB 2
#define KPWG_RC 6
#define KPWG_OB 2
#include "nn/kern_tmpl.h"
#undef KVB
#undef kv
#undef kvd
#undef KW
#undef KWD
#undef KN
#undef KDW_RX
#undef KDWG_KXB
#undef KDWG_XS
#undef KPW_RP
#undef KPW_OB
#undef KPWG_RC
#undef KPWG_OB

const struct nsid_kern nsid__kern_generic = {
    .name = "generic", .vb = 8,
    .dw_forward = dw_forward_g8, .dw_wgrad = dw_wgrad_g8,
    .pw_forward = pw_forward_g8, .pw_wgrad = pw_wgrad_g8,
    .bn_elu = bn_elu_g8, .bn_stats = bn_stats_g8,
    .bn_bwd_sums = bn_bwd_sums_g8, .bn_bwd_apply = bn_bwd_apply_g8,
    .gs_setup = gs_setup_g8, .gs_dot4 = gs_dot4_g8, .gs_backward = gs_backward_g8, .gs_wgrad = gs_wgrad_g8,
    .fma_loop = fma_loop_g8,
    .pw_tile_loop = pw_tile_loop_g8, .pw_tile_flops = pw_tile_flops_g8,
};

/* ----------------------------------------------------------- generic, vb 16 */

#define KVB 16
#define kv struct pv16
#define kvd struct pvd16
#define KW g16
#define KWD gd16
#define KN(n) n##_g16
#include "nn/kern_avx512_tiles.h"
#include "nn/kern_tmpl.h"

const struct nsid_kern nsid__kern_generic16 = {
    .name = "generic16", .vb = 16,
    .dw_forward = dw_forward_g16, .dw_wgrad = dw_wgrad_g16,
    .pw_forward = pw_forward_g16, .pw_wgrad = pw_wgrad_g16,
    .bn_elu = bn_elu_g16, .bn_stats = bn_stats_g16,
    .bn_bwd_sums = bn_bwd_sums_g16, .bn_bwd_apply = bn_bwd_apply_g16,
    .gs_setup = gs_setup_g16, .gs_dot4 = gs_dot4_g16, .gs_backward = gs_backward_g16, .gs_wgrad = gs_wgrad_g16,
    .fma_loop = fma_loop_g16,
    .pw_tile_loop = pw_tile_loop_g16, .pw_tile_flops = pw_tile_flops_g16,
};
