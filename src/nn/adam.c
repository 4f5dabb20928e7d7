/* adam.c - torch.optim.Adam's update on a flat range (see adam.h). */
#include "adam.h"

#include <math.h>

void nsid_adam_config_default(struct nsid_adam_config *c)
{
    c->lr = 0.005;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
}

/* The per-step float constants, from the double scalars as PyTorch computes them. */
struct adam_k {
    float neg_step, bc2_sqrt, b1, one_b1, b2, one_b2, eps;
};

static struct adam_k adam_constants(int64_t step, const struct nsid_adam_config *c)
{
    /* Python floats (double), cast to float when they meet the float32 tensors */
    double bc1 = 1.0 - pow(c->beta1, (double)step);
    double bc2 = 1.0 - pow(c->beta2, (double)step);
    return (struct adam_k){.neg_step = (float)(-(c->lr / bc1)), .bc2_sqrt = (float)sqrt(bc2),
                           .b1 = (float)c->beta1, .one_b1 = (float)(1.0 - c->beta1),
                           .b2 = (float)c->beta2, .one_b2 = (float)(1.0 - c->beta2),
                           .eps = (float)c->eps};
}

/* Elements [i, n), one at a time: the definition the vector paths reproduce bit for bit. */
static void adam_scalar(float *w, float *m, float *v, const float *g, size_t i, size_t n, const struct adam_k *k)
{
    for (; i < n; i++) {
        float gi = g[i];
        float mi = fmaf(k->one_b1, gi, m[i] * k->b1);
        float vi = fmaf(k->one_b2 * gi, gi, v[i] * k->b2);
        float denom = sqrtf(vi) / k->bc2_sqrt + k->eps;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] + (k->neg_step * mi) / denom;
    }
}

/*
 * The same operations 16 (AVX-512) or 8 (AVX2) elements at a time. Every one of them
 * (multiply, fused multiply-add, square root, divide, add) is correctly rounded in
 * IEEE single precision, so a lane gives the scalar loop's result exactly; which path
 * runs depends on the CPU only, never the result (tests/test_layers.c checks it).
 */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define ADAM_VEC(name, tgt, T, set1, load, store, mul, fmadd, sqrt_, div, add, W)                         \
    __attribute__((target(tgt))) static size_t name(float *w, float *m, float *v, const float *g, size_t n, \
                                                       const struct adam_k *k)                                \
    {                                                                                                         \
        const T b1 = set1(k->b1), ob1 = set1(k->one_b1), b2 = set1(k->b2), ob2 = set1(k->one_b2);             \
        const T bc = set1(k->bc2_sqrt), eps = set1(k->eps), ns = set1(k->neg_step);                          \
        size_t i = 0;                                                                                         \
        for (; i + W <= n; i += W) {                                                                          \
            T gi = load(g + i);                                                                               \
            T mi = fmadd(ob1, gi, mul(load(m + i), b1));                                                      \
            T vi = fmadd(mul(ob2, gi), gi, mul(load(v + i), b2));                                             \
            T denom = add(div(sqrt_(vi), bc), eps);                                                           \
            store(m + i, mi);                                                                                 \
            store(v + i, vi);                                                                                 \
            store(w + i, add(load(w + i), div(mul(ns, mi), denom)));                                          \
        }                                                                                                     \
        return i;                                                                                             \
    }

ADAM_VEC(adam_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_mul_ps,
         _mm512_fmadd_ps, _mm512_sqrt_ps, _mm512_div_ps, _mm512_add_ps, 16)
ADAM_VEC(adam_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_mul_ps,
         _mm256_fmadd_ps, _mm256_sqrt_ps, _mm256_div_ps, _mm256_add_ps, 8)

static size_t adam_vector(float *w, float *m, float *v, const float *g, size_t n, const struct adam_k *k,
                          int allow)
{
    if (allow >= 2 && __builtin_cpu_supports("avx512f")) return adam_avx512(w, m, v, g, n, k);
    if (allow >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return adam_avx2(w, m, v, g, n, k);
    return 0;
}
#else
static size_t adam_vector(float *w, float *m, float *v, const float *g, size_t n, const struct adam_k *k,
                          int allow)
{
    (void)w, (void)m, (void)v, (void)g, (void)n, (void)k, (void)allow;
    return 0;
}
#endif

void nsid__adam_step_path(float *w, float *m, float *v, const float *g, size_t n, int64_t step,
                          const struct nsid_adam_config *c, int allow)
{
    struct adam_k k = adam_constants(step, c);
    size_t i = adam_vector(w, m, v, g, n, &k, allow);
    adam_scalar(w, m, v, g, i, n, &k);
}

void nsid_adam_step(float *w, float *m, float *v, const float *g, size_t n, int64_t step,
                    const struct nsid_adam_config *c)
{
    nsid__adam_step_path(w, m, v, g, n, step, c, 2);
}
