/* loss.c - Poisson loss, L1 penalty, Laplace L2-norm regulariser (see loss.h). */
#include "loss.h"

#include <math.h>

#include "base/err.h"

double nsid_loss_poisson_forward(const float *rhat, const float *r, size_t n, double scale)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double p = rhat[i];
        s += p - (double)r[i] * log(p + NSID_POISSON_EPS);
    }
    return scale * s;
}

void nsid_loss_poisson_backward(float *drhat, const float *rhat, const float *r, size_t n,
                                double scale)
{
    for (size_t i = 0; i < n; i++)
        drhat[i] += (float)(scale * (1.0 - (double)r[i] / ((double)rhat[i] + NSID_POISSON_EPS)));
}

double nsid_loss_l1_forward(const float *w, size_t n, double gamma)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs((double)w[i]);
    return gamma * s;
}

void nsid_loss_l1_backward(float *dw, const float *w, size_t n, double gamma)
{
    float g = (float)gamma;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0.0f) dw[i] += g;
        else if (w[i] < 0.0f) dw[i] -= g;
}

/*
 * (L * x)[y, x] for one KH x KW kernel with zero padding 1, in double:
 * 4 x[y,x] - x[y-1,x] - x[y+1,x] - x[y,x-1] - x[y,x+1].
 */
static double laplace_at(const float *k, int KH, int KW, int y, int x)
{
    double v = 4.0 * (double)k[y * KW + x];
    if (y > 0) v -= (double)k[(y - 1) * KW + x];
    if (y + 1 < KH) v -= (double)k[(y + 1) * KW + x];
    if (x > 0) v -= (double)k[y * KW + x - 1];
    if (x + 1 < KW) v -= (double)k[y * KW + x + 1];
    return v;
}

/* Numerator sum (L*W)^2 and denominator sum W^2 over all kernels. */
static void laplace_sums(const float *w, int n_kernels, int KH, int KW, double *num, double *den)
{
    double a = 0.0, b = 0.0;
    for (int k = 0; k < n_kernels; k++) {
        const float *wk = w + (size_t)k * KH * KW;
        for (int y = 0; y < KH; y++)
            for (int x = 0; x < KW; x++) {
                double l = laplace_at(wk, KH, KW, y, x), v = wk[y * KW + x];
                a += l * l;
                b += v * v;
            }
    }
    *num = a;
    *den = b;
}

double nsid_loss_laplace_l2norm_forward(const float *w, int n_kernels, int KH, int KW)
{
    double num, den;
    laplace_sums(w, n_kernels, KH, KW, &num, &den);
    return den > 0.0 ? num / den : 0.0;
}

/* Row y of L * wk (KW doubles), or zeros outside the kernel (the zero padding of L^T). */
static void laplace_row(double *out, const float *wk, int KH, int KW, int y)
{
    for (int x = 0; x < KW; x++) out[x] = y >= 0 && y < KH ? laplace_at(wk, KH, KW, y, x) : 0.0;
}

void nsid_loss_laplace_l2norm_backward(float *dw, const float *w, int n_kernels, int KH, int KW,
                                  double scale)
{
    NSID_ASSERT(KW >= 1 && KW <= NSID_LAPLACE_MAX_KW);
    double num, den;
    laplace_sums(w, n_kernels, KH, KW, &num, &den);
    if (!(den > 0.0)) return;
    double R = num / den;
    double rows[3][NSID_LAPLACE_MAX_KW];  /* L W at rows y-1, y, y+1 (rolling) */
    for (int k = 0; k < n_kernels; k++) {
        const float *wk = w + (size_t)k * KH * KW;
        float *dk = dw + (size_t)k * KH * KW;
        double *up = rows[0], *mid = rows[1], *dn = rows[2];
        laplace_row(mid, wk, KH, KW, 0);
        for (int y = 0; y < KH; y++) {
            laplace_row(dn, wk, KH, KW, y + 1);
            for (int x = 0; x < KW; x++) {
                /* L^T (L W) at (y,x): L is symmetric and zero-padded, so apply it again to LW */
                double lt = 4.0 * mid[x];
                if (y > 0) lt -= up[x];
                if (y + 1 < KH) lt -= dn[x];
                if (x > 0) lt -= mid[x - 1];
                if (x + 1 < KW) lt -= mid[x + 1];
                double g = 2.0 * lt / den - 2.0 * R * (double)wk[y * KW + x] / den;
                dk[y * KW + x] += (float)(scale * g);
            }
            double *t = up;
            up = mid;
            mid = dn;
            dn = t;
        }
    }
}
