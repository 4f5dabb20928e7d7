/*
 * kern_generic.c - the portable kernel sets: "generic" (vb 8, the tiles of
 * the AVX2 set) and "generic16" (vb 16, the tiles of the AVX-512 set). A vector
 * is a struct of floats and every operation a fixed-length loop, which the
 * compiler vectorises with whatever the build targets (SSE2 by default).
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

/* ------------------------------------------------------------ generic, vb 8 */

typedef struct {
    float f[8];
} kv_g8;

static inline kv_g8 g8_zero(void) { kv_g8 v = {{0}}; return v; }
static inline kv_g8 g8_load(const float *p) { kv_g8 v; memcpy(v.f, p, sizeof v.f); return v; }
static inline void g8_store(float *p, kv_g8 v) { memcpy(p, v.f, sizeof v.f); }
static inline kv_g8 g8_bcast(const float *p) { kv_g8 v; for (int l = 0; l < 8; l++) v.f[l] = *p; return v; }
static inline kv_g8 g8_fma(kv_g8 a, kv_g8 b, kv_g8 c)
{
    for (int l = 0; l < 8; l++) c.f[l] += a.f[l] * b.f[l];
    return c;
}
static inline kv_g8 g8_add(kv_g8 a, kv_g8 b) { for (int l = 0; l < 8; l++) a.f[l] += b.f[l]; return a; }
static inline kv_g8 g8_mul(kv_g8 a, kv_g8 b) { for (int l = 0; l < 8; l++) a.f[l] *= b.f[l]; return a; }
static inline kv_g8 g8_elu(kv_g8 a) { for (int l = 0; l < 8; l++) a.f[l] = elu_scalar(a.f[l]); return a; }
static inline kv_g8 g8_sub(kv_g8 a, kv_g8 b) { for (int l = 0; l < 8; l++) a.f[l] -= b.f[l]; return a; }
static inline kv_g8 g8_elu_grad(kv_g8 d, kv_g8 y)
{
    for (int l = 0; l < 8; l++) d.f[l] = y.f[l] > 0.0f ? d.f[l] : d.f[l] * (y.f[l] + 1.0f);
    return d;
}

typedef struct {
    double d[8];
} kvd_g8;

static inline kvd_g8 gd8_zero(void) { kvd_g8 v = {{0}}; return v; }
static inline void gd8_store(double *p, kvd_g8 v) { memcpy(p, v.d, sizeof v.d); }
static inline kvd_g8 gd8_addf(kvd_g8 a, kv_g8 x) { for (int l = 0; l < 8; l++) a.d[l] += (double)x.f[l]; return a; }
static inline kvd_g8 gd8_fmaff(kvd_g8 a, kv_g8 x, kv_g8 y)
{
    for (int l = 0; l < 8; l++) a.d[l] += (double)x.f[l] * (double)y.f[l];
    return a;
}
static inline kvd_g8 gd8_sqdev(kvd_g8 a, kv_g8 x, kvd_g8 m)
{
    for (int l = 0; l < 8; l++) {
        double t = (double)x.f[l] - m.d[l];
        a.d[l] += t * t;
    }
    return a;
}
static inline kvd_g8 gd8_scale(kvd_g8 a, double s) { for (int l = 0; l < 8; l++) a.d[l] *= s; return a; }

#define KVB 8
#define kv kv_g8
#define KN(n) n##_g8
#define kv_zero g8_zero
#define kv_load g8_load
#define kv_store g8_store
#define kv_bcast g8_bcast
#define kv_fma g8_fma
#define kv_add g8_add
#define kv_mul g8_mul
#define kv_elu g8_elu
#define kv_sub g8_sub
#define kv_elu_grad g8_elu_grad
#define kvd kvd_g8
#define kvd_zero gd8_zero
#define kvd_store gd8_store
#define kvd_addf gd8_addf
#define kvd_fmaff gd8_fmaff
#define kvd_sqdev gd8_sqdev
#define kvd_scale gd8_scale
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
#undef KN
#undef kv_zero
#undef kv_load
#undef kv_store
#undef kv_bcast
#undef kv_fma
#undef kv_add
#undef kv_mul
#undef kv_elu
#undef kv_sub
#undef kv_elu_grad
#undef kvd
#undef kvd_zero
#undef kvd_store
#undef kvd_addf
#undef kvd_fmaff
#undef kvd_sqdev
#undef kvd_scale
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
};

/* ----------------------------------------------------------- generic, vb 16 */

typedef struct {
    float f[16];
} kv_g16;

static inline kv_g16 g16_zero(void) { kv_g16 v = {{0}}; return v; }
static inline kv_g16 g16_load(const float *p) { kv_g16 v; memcpy(v.f, p, sizeof v.f); return v; }
static inline void g16_store(float *p, kv_g16 v) { memcpy(p, v.f, sizeof v.f); }
static inline kv_g16 g16_bcast(const float *p) { kv_g16 v; for (int l = 0; l < 16; l++) v.f[l] = *p; return v; }
static inline kv_g16 g16_fma(kv_g16 a, kv_g16 b, kv_g16 c)
{
    for (int l = 0; l < 16; l++) c.f[l] += a.f[l] * b.f[l];
    return c;
}
static inline kv_g16 g16_add(kv_g16 a, kv_g16 b) { for (int l = 0; l < 16; l++) a.f[l] += b.f[l]; return a; }
static inline kv_g16 g16_mul(kv_g16 a, kv_g16 b) { for (int l = 0; l < 16; l++) a.f[l] *= b.f[l]; return a; }
static inline kv_g16 g16_elu(kv_g16 a) { for (int l = 0; l < 16; l++) a.f[l] = elu_scalar(a.f[l]); return a; }
static inline kv_g16 g16_sub(kv_g16 a, kv_g16 b) { for (int l = 0; l < 16; l++) a.f[l] -= b.f[l]; return a; }
static inline kv_g16 g16_elu_grad(kv_g16 d, kv_g16 y)
{
    for (int l = 0; l < 16; l++) d.f[l] = y.f[l] > 0.0f ? d.f[l] : d.f[l] * (y.f[l] + 1.0f);
    return d;
}

typedef struct {
    double d[16];
} kvd_g16;

static inline kvd_g16 gd16_zero(void) { kvd_g16 v = {{0}}; return v; }
static inline void gd16_store(double *p, kvd_g16 v) { memcpy(p, v.d, sizeof v.d); }
static inline kvd_g16 gd16_addf(kvd_g16 a, kv_g16 x) { for (int l = 0; l < 16; l++) a.d[l] += (double)x.f[l]; return a; }
static inline kvd_g16 gd16_fmaff(kvd_g16 a, kv_g16 x, kv_g16 y)
{
    for (int l = 0; l < 16; l++) a.d[l] += (double)x.f[l] * (double)y.f[l];
    return a;
}
static inline kvd_g16 gd16_sqdev(kvd_g16 a, kv_g16 x, kvd_g16 m)
{
    for (int l = 0; l < 16; l++) {
        double t = (double)x.f[l] - m.d[l];
        a.d[l] += t * t;
    }
    return a;
}
static inline kvd_g16 gd16_scale(kvd_g16 a, double s) { for (int l = 0; l < 16; l++) a.d[l] *= s; return a; }

#define KVB 16
#define kv kv_g16
#define KN(n) n##_g16
#define kv_zero g16_zero
#define kv_load g16_load
#define kv_store g16_store
#define kv_bcast g16_bcast
#define kv_fma g16_fma
#define kv_add g16_add
#define kv_mul g16_mul
#define kv_elu g16_elu
#define kv_sub g16_sub
#define kv_elu_grad g16_elu_grad
#define kvd kvd_g16
#define kvd_zero gd16_zero
#define kvd_store gd16_store
#define kvd_addf gd16_addf
#define kvd_fmaff gd16_fmaff
#define kvd_sqdev gd16_sqdev
#define kvd_scale gd16_scale
#include "nn/kern_avx512_tiles.h"
#include "nn/kern_tmpl.h"

const struct nsid_kern nsid__kern_generic16 = {
    .name = "generic16", .vb = 16,
    .dw_forward = dw_forward_g16, .dw_wgrad = dw_wgrad_g16,
    .pw_forward = pw_forward_g16, .pw_wgrad = pw_wgrad_g16,
    .bn_elu = bn_elu_g16, .bn_stats = bn_stats_g16,
    .bn_bwd_sums = bn_bwd_sums_g16, .bn_bwd_apply = bn_bwd_apply_g16,
};
