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

void nsid_adam_step(float *w, float *m, float *v, const float *g, size_t n, int64_t step,
                    const struct nsid_adam_config *c)
{
    /* Scalars as PyTorch computes them: Python floats (double), cast to float when
     * they meet a float tensor. */
    double bc1 = 1.0 - pow(c->beta1, (double)step);
    double bc2 = 1.0 - pow(c->beta2, (double)step);
    float neg_step = (float)(-(c->lr / bc1));
    float bc2_sqrt = (float)sqrt(bc2);
    float b1 = (float)c->beta1, one_b1 = (float)(1.0 - c->beta1);
    float b2 = (float)c->beta2, one_b2 = (float)(1.0 - c->beta2);
    float eps = (float)c->eps;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = fmaf(one_b1, gi, m[i] * b1);
        float vi = fmaf(one_b2 * gi, gi, v[i] * b2);
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] + (neg_step * mi) / denom;
    }
}
