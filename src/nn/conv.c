/* conv.c - 2-D convolutions: im2col + sgemm, pointwise sgemm, direct depthwise (see conv.h). */
#include "conv.h"

#include <string.h>

#include <cblas.h>

/* ---------------------------------------------------------------- sizes */

int nsid_conv_out_h(const struct nsid_conv_dims *d)
{
    return d->H + 2 * d->pad - d->K + 1;
}

int nsid_conv_out_w(const struct nsid_conv_dims *d)
{
    return d->W + 2 * d->pad - d->K + 1;
}

int nsid_conv_dims_check(const struct nsid_conv_dims *d, int depthwise, const char *name,
                         struct nsid_err *err)
{
    if (d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->O < 1 || d->K < 1 || d->pad < 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name,
                            "conv sizes N=%d C=%d H=%d W=%d O=%d K=%d pad=%d: all must be positive "
                            "(pad >= 0)", d->N, d->C, d->H, d->W, d->O, d->K, d->pad);
    if (nsid_conv_out_h(d) < 1 || nsid_conv_out_w(d) < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name,
                            "kernel %d with padding %d does not fit the %dx%d input (output %dx%d)",
                            d->K, d->pad, d->H, d->W, nsid_conv_out_h(d), nsid_conv_out_w(d));
    if (depthwise && d->O != d->C)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name,
                            "depthwise conv needs as many output channels as input channels "
                            "(O=%d, C=%d)", d->O, d->C);
    return 0;
}

static int is_plain_1x1(const struct nsid_conv_dims *d)
{
    return d->K == 1 && d->pad == 0;
}

size_t nsid_conv2d_workspace_floats(const struct nsid_conv_dims *d)
{
    if (is_plain_1x1(d)) return 0;
    return (size_t)d->C * d->K * d->K * (size_t)nsid_conv_out_h(d) * (size_t)nsid_conv_out_w(d);
}

/*
 * Output columns [lo, hi) whose input column ox + kx - pad lies inside [0, W):
 * the rest of the row reads zero padding.
 */
static void valid_cols(int kx, int pad, int W, int OW, int *lo, int *hi)
{
    int a = pad - kx, b = W + pad - kx;
    *lo = a > 0 ? a : 0;
    *hi = b < OW ? b : OW;
    if (*hi < *lo) *hi = *lo;
}

/* -------------------------------------------------------- im2col / col2im */

/* col (C*K*K, OH*OW): row (c,ky,kx) holds inp[c, oy+ky-pad, ox+kx-pad] (0 outside). */
static void im2col(float *col, const float *inp, const struct nsid_conv_dims *d)
{
    int K = d->K, H = d->H, W = d->W, OH = nsid_conv_out_h(d), OW = nsid_conv_out_w(d);
    for (int c = 0; c < d->C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * OH * OW;
                int lo, hi;
                valid_cols(kx, d->pad, W, OW, &lo, &hi);
                for (int oy = 0; oy < OH; oy++) {
                    float *dst = row + (size_t)oy * OW;
                    int iy = oy + ky - d->pad;
                    if (iy < 0 || iy >= H || lo == hi) {
                        memset(dst, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *src = inp + ((size_t)c * H + iy) * W + (lo + kx - d->pad);
                    memset(dst, 0, sizeof(float) * (size_t)lo);
                    memcpy(dst + lo, src, sizeof(float) * (size_t)(hi - lo));
                    memset(dst + hi, 0, sizeof(float) * (size_t)(OW - hi));
                }
            }
}

/* The adjoint of im2col: inp[c, oy+ky-pad, ox+kx-pad] += col[(c,ky,kx), oy, ox]. */
static void col2im_add(float *inp, const float *col, const struct nsid_conv_dims *d)
{
    int K = d->K, H = d->H, W = d->W, OH = nsid_conv_out_h(d), OW = nsid_conv_out_w(d);
    for (int c = 0; c < d->C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = col + ((size_t)(c * K + ky) * K + kx) * OH * OW;
                int lo, hi;
                valid_cols(kx, d->pad, W, OW, &lo, &hi);
                for (int oy = 0; oy < OH; oy++) {
                    int iy = oy + ky - d->pad;
                    if (iy < 0 || iy >= H) continue;
                    float *dst = inp + ((size_t)c * H + iy) * W + (lo + kx - d->pad);
                    const float *src = row + (size_t)oy * OW + lo;
                    for (int i = 0; i < hi - lo; i++) dst[i] += src[i];
                }
            }
}

/* ------------------------------------------------------------ conv2d */

void nsid_conv2d_forward(float *out, float *ws, const float *inp, const float *weight,
                         const float *bias, const struct nsid_conv_dims *d)
{
    int OP = nsid_conv_out_h(d) * nsid_conv_out_w(d);  /* output pixels */
    int CKK = d->C * d->K * d->K;
    size_t in_sz = (size_t)d->C * d->H * d->W, out_sz = (size_t)d->O * OP;
    for (int n = 0; n < d->N; n++) {
        const float *col = inp + n * in_sz;
        if (!is_plain_1x1(d)) {
            im2col(ws, col, d);
            col = ws;
        }
        float *y = out + n * out_sz;
        /* y (O,OP) = weight (O,CKK) @ col (CKK,OP) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->O, OP, CKK,
                    1.0f, weight, CKK, col, OP, 0.0f, y, OP);
        if (bias)
            for (int o = 0; o < d->O; o++)
                for (int p = 0; p < OP; p++) y[(size_t)o * OP + p] += bias[o];
    }
}

void nsid_conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                          const float *dout, const float *inp, const float *weight,
                          const struct nsid_conv_dims *d)
{
    int OP = nsid_conv_out_h(d) * nsid_conv_out_w(d);
    int CKK = d->C * d->K * d->K;
    size_t in_sz = (size_t)d->C * d->H * d->W, out_sz = (size_t)d->O * OP;
    for (int n = 0; n < d->N; n++) {
        const float *dy = dout + n * out_sz;
        if (dbias)  /* forward: y[o,p] += bias[o] */
            for (int o = 0; o < d->O; o++) {
                double s = 0.0;
                for (int p = 0; p < OP; p++) s += (double)dy[(size_t)o * OP + p];
                dbias[o] += (float)s;
            }
        if (dweight) {  /* forward: y = weight @ col, so dweight += dy @ col^T */
            const float *col = inp + n * in_sz;
            if (!is_plain_1x1(d)) {
                im2col(ws, col, d);
                col = ws;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->O, CKK, OP,
                        1.0f, dy, OP, col, OP, 1.0f, dweight, CKK);
        }
        if (dinp) {     /* dcol = weight^T @ dy, then col2im scatters it back */
            float *dx = dinp + n * in_sz;
            if (is_plain_1x1(d)) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, OP, d->O,
                            1.0f, weight, CKK, dy, OP, 1.0f, dx, OP);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, OP, d->O,
                            1.0f, weight, CKK, dy, OP, 0.0f, ws, OP);
                col2im_add(dx, ws, d);
            }
        }
    }
}

/* ----------------------------------------------------------- pointwise */

void nsid_conv1x1_forward(float *out, const float *inp, const float *weight,
                          const struct nsid_conv_dims *d)
{
    int P = d->H * d->W;
    for (int n = 0; n < d->N; n++)  /* out_n (O,P) = weight (O,C) @ inp_n (C,P) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->O, P, d->C, 1.0f, weight, d->C,
                    inp + (size_t)n * d->C * P, P, 0.0f, out + (size_t)n * d->O * P, P);
}

void nsid_conv1x1_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                           const float *weight, const struct nsid_conv_dims *d)
{
    int P = d->H * d->W;
    for (int n = 0; n < d->N; n++) {
        const float *dy = dout + (size_t)n * d->O * P;
        if (dweight)  /* dweight (O,C) += dy (O,P) @ inp_n^T (P,C) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->O, d->C, P, 1.0f, dy, P,
                        inp + (size_t)n * d->C * P, P, 1.0f, dweight, d->C);
        if (dinp)     /* dinp_n (C,P) += weight^T (C,O) @ dy (O,P) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->C, P, d->O, 1.0f, weight, d->C,
                        dy, P, 1.0f, dinp + (size_t)n * d->C * P, P);
    }
}

/* ----------------------------------------------------------- depthwise */

/*
 * y[i] += a * x[i]. Blocks of 8 with a fixed-length inner loop let GCC's SLP
 * vectoriser use SIMD at -O2, where its cost model skips loops of unknown length.
 */
static inline void axpy_row(float *restrict y, const float *restrict x, float a, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) y[i + j] += a * x[i + j];
    for (; i < n; i++) y[i] += a * x[i];
}

/* sum x[i]*y[i] with 8 independent partial sums (vectorisable, order fixed). */
static inline float dot_row(const float *restrict x, const float *restrict y, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += x[i + j] * y[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

/* One (n, c) plane: y (OH,OW) = x (H,W) cross-correlated with w (K,K). */
static void dw_plane_forward(float *y, const float *x, const float *w, const struct nsid_conv_dims *d)
{
    int K = d->K, H = d->H, W = d->W, OH = nsid_conv_out_h(d), OW = nsid_conv_out_w(d);
    memset(y, 0, sizeof(float) * (size_t)OH * OW);
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++) {
            int lo, hi;
            valid_cols(kx, d->pad, W, OW, &lo, &hi);
            if (lo == hi) continue;
            float wv = w[ky * K + kx];
            for (int oy = 0; oy < OH; oy++) {
                int iy = oy + ky - d->pad;
                if (iy < 0 || iy >= H) continue;
                axpy_row(y + (size_t)oy * OW + lo, x + (size_t)iy * W + lo + kx - d->pad, wv, hi - lo);
            }
        }
}

void nsid_dwconv2d_forward(float *out, const float *inp, const float *weight,
                           const struct nsid_conv_dims *d)
{
    size_t in_sz = (size_t)d->H * d->W;
    size_t out_sz = (size_t)nsid_conv_out_h(d) * nsid_conv_out_w(d);
    size_t KK = (size_t)d->K * d->K;
    for (int n = 0; n < d->N; n++)
        for (int c = 0; c < d->C; c++) {
            size_t nc = (size_t)n * d->C + c;
            dw_plane_forward(out + nc * out_sz, inp + nc * in_sz, weight + c * KK, d);
        }
}

/*
 * One plane's gradients. Forward: y[oy, ox] += w[ky,kx] * x[oy+ky-pad, ox+kx-pad], so
 * dx[iy, ix] += w * dy[oy, ox] and dw[ky,kx] += dy[oy, ox] * x[iy, ix].
 */
static void dw_plane_backward(float *dx, float *dw, const float *dy, const float *x,
                              const float *w, const struct nsid_conv_dims *d)
{
    int K = d->K, H = d->H, W = d->W, OH = nsid_conv_out_h(d), OW = nsid_conv_out_w(d);
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++) {
            int lo, hi;
            valid_cols(kx, d->pad, W, OW, &lo, &hi);
            if (lo == hi) continue;
            float wv = w[ky * K + kx];
            double s = 0.0;
            for (int oy = 0; oy < OH; oy++) {
                int iy = oy + ky - d->pad;
                if (iy < 0 || iy >= H) continue;
                size_t xo = (size_t)iy * W + lo + kx - d->pad, yo = (size_t)oy * OW + lo;
                if (dx) axpy_row(dx + xo, dy + yo, wv, hi - lo);
                if (dw) s += (double)dot_row(dy + yo, x + xo, hi - lo);
            }
            if (dw) dw[ky * K + kx] += (float)s;
        }
}

void nsid_dwconv2d_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                            const float *weight, const struct nsid_conv_dims *d)
{
    if (!dinp && !dweight) return;
    size_t in_sz = (size_t)d->H * d->W;
    size_t out_sz = (size_t)nsid_conv_out_h(d) * nsid_conv_out_w(d);
    size_t KK = (size_t)d->K * d->K;
    for (int n = 0; n < d->N; n++)
        for (int c = 0; c < d->C; c++) {
            size_t nc = (size_t)n * d->C + c;
            dw_plane_backward(dinp ? dinp + nc * in_sz : NULL, dweight ? dweight + c * KK : NULL,
                              dout + nc * out_sz, inp + nc * in_sz, weight + c * KK, d);
        }
}
