/* batchnorm.c - BatchNorm2d forward/backward (see batchnorm.h). */
#include "batchnorm.h"

#include <math.h>
#include <stddef.h>

/* Batch mean and biased variance of channel c, two passes in double. */
static void channel_stats(const float *inp, int c, const struct nsid_bn_dims *d,
                          double *mean, double *var)
{
    size_t plane = (size_t)d->HW, M = (size_t)d->N * plane;
    double s = 0.0;
    for (int n = 0; n < d->N; n++) {
        const float *x = inp + ((size_t)n * d->C + c) * plane;
        for (size_t i = 0; i < plane; i++) s += (double)x[i];
    }
    double m = s / (double)M, ss = 0.0;
    for (int n = 0; n < d->N; n++) {
        const float *x = inp + ((size_t)n * d->C + c) * plane;
        for (size_t i = 0; i < plane; i++) {
            double t = (double)x[i] - m;
            ss += t * t;
        }
    }
    *mean = m;
    *var = ss / (double)M;
}

void nsid_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                            float *running_var, const float *inp, const float *gamma,
                            const float *beta, const struct nsid_bn_dims *d, bool training)
{
    size_t plane = (size_t)d->HW, M = (size_t)d->N * plane;
    for (int c = 0; c < d->C; c++) {
        double m, v;
        if (training) {
            channel_stats(inp, c, d, &m, &v);
            double unbiased = M > 1 ? v * (double)M / (double)(M - 1) : v;
            running_mean[c] = (float)((1.0 - d->momentum) * (double)running_mean[c] + d->momentum * m);
            running_var[c] = (float)((1.0 - d->momentum) * (double)running_var[c] + d->momentum * unbiased);
        } else {
            m = (double)running_mean[c];
            v = (double)running_var[c];
        }
        double r = 1.0 / sqrt(v + d->eps);
        mean[c] = (float)m;
        rstd[c] = (float)r;
        /* y = (x - mean) * rstd * gamma + beta = x * scale + shift */
        double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
        float scale = (float)(g * r), shift = (float)(b - m * g * r);
        for (int n = 0; n < d->N; n++) {
            size_t off = ((size_t)n * d->C + c) * plane;
            const float *x = inp + off;
            float *y = out + off;
            for (size_t i = 0; i < plane; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void nsid_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *rstd,
                             const float *gamma, const struct nsid_bn_dims *d, bool training)
{
    size_t plane = (size_t)d->HW, M = (size_t)d->N * plane;
    for (int c = 0; c < d->C; c++) {
        float m = mean[c], r = rstd[c];
        /* sums of dy and dy*xhat, xhat = (x - mean) * rstd */
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < d->N; n++) {
            size_t off = ((size_t)n * d->C + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                double dy = (double)dout[off + i];
                sdy += dy;
                sdyx += dy * (double)((inp[off + i] - m) * r);
            }
        }
        if (dgamma) dgamma[c] += (float)sdyx;  /* forward: y = xhat * gamma + beta */
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dinp) continue;
        double g = gamma ? (double)gamma[c] : 1.0;
        float gr = (float)(g * (double)r);
        /*
         * Training: mean and var depend on x, so
         * dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat)); evaluation: gamma*rstd*dy.
         */
        float a = training ? (float)(sdy / (double)M) : 0.0f;
        float b = training ? (float)(sdyx / (double)M) : 0.0f;
        for (int n = 0; n < d->N; n++) {
            size_t off = ((size_t)n * d->C + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                float xhat = (inp[off + i] - m) * r;
                dinp[off + i] += gr * (dout[off + i] - a - xhat * b);
            }
        }
    }
}
