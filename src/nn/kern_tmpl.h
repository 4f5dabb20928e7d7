/*
 * kern_tmpl.h - the kernels of kern.h, written once over a small vector
 * vocabulary. Included (no include guard, on purpose) by kern_generic.c,
 * kern_avx2.c and kern_avx512.c after they define:
 *
 *   KVB                 floats per vector = channel block width
 *   kv                  the vector type
 *   KN(name)            the instance's name of a kernel (name##_avx2, ...)
 *   kv_zero(), kv_load(p), kv_store(p, v), kv_bcast(p) (all lanes = *p),
 *   kv_fma(a, b, c) = a*b + c, kv_add(a, b), kv_sub(a, b), kv_mul(a, b), kv_elu(z),
 *   kv_elu_grad(d, y) = y > 0 ? d : d * (y + 1)   (ELU backward from its output y),
 *   kv_hsum(v) = the sum of v's lanes (a float; lane order fixed per set)
 *   kvd             KVB lanes in double (BatchNorm sums), with
 *   kvd_zero(), kvd_store(p, v) (KVB doubles), kvd_addf(acc, x) = acc + (double)x,
 *   kvd_fmaff(acc, a, b) = acc + (double)a * (double)b,
 *   kvd_sqdev(acc, x, m) = acc + ((double)x - m)^2, kvd_scale(v, s) = v * s
 *   KDW_RX              depthwise: output columns of a tile (2 rows x KDW_RX accumulators)
 *   KDWG_KXB, KDWG_XS   depthwise weight gradient: kernel columns per tile (accumulators),
 *                       output columns per step (loaded gradients; each input load serves
 *                       up to KDWG_XS taps)
 *   KPW_RP, KPW_OB      pointwise tile: pixels x output vectors (accumulators)
 *   KPWG_RC, KPWG_OB    pointwise weight-gradient tile: input channels x output vectors
 *
 * Register tiles: every accumulator of a tile lives in a register for the
 * whole reduction, so each FMA needs well under one load (the depthwise tile
 * reuses each input vector for two output rows; the GEMM tiles broadcast one
 * operand). Tiles at the right/bottom edge run the same code with a run-time
 * count (guards the compiler cannot remove there, but they are a small share).
 * Summation order is fixed by the loops (no dependence on threads or timing).
 */

#define KI static inline __attribute__((always_inline))
#if defined(__SANITIZE_ADDRESS__)  /* sanitizer builds check logic, not speed: unrolled tiles build slowly */
#define KUNROLL
#else
#define KUNROLL _Pragma("GCC unroll 32")
#endif

/* ------------------------------------------------------------ depthwise */

/*
 * Output rows oy (and oy + 1 when ry == 2), columns ox .. ox + rx - 1 of one
 * channel block: in (Hp, Wp, vb) padded input, wt (K, K, vb). Padded input
 * row iy feeds output row oy with kernel row iy - oy and row oy + 1 with
 * iy - oy - 1, so each loaded input vector is used twice.
 */
KI void KN(dw_tile)(float *out, const float *in, const float *wt, const struct nsid_kdw *d, int oy,
                    int ox, int ry, int rx)
{
    const int K = d->K;
    const size_t Wp = (size_t)d->Wp, OW = (size_t)d->OW;
    kv a[KDW_RX], b[KDW_RX];
    KUNROLL for (int j = 0; j < KDW_RX; j++) {
        a[j] = kv_zero();
        b[j] = kv_zero();
    }
    int lo = oy > d->r0 ? oy : d->r0;
    int hi = oy + ry - 1 + K < d->r1 ? oy + ry - 1 + K : d->r1;
    for (int iy = lo; iy < hi; iy++) {
        int ka = iy - oy, kb = iy - oy - 1;
        const float *ip = in + ((size_t)iy * Wp + (size_t)ox) * KVB;
        if (ka < K && ry == 2 && kb >= 0) {
            const float *wa = wt + (size_t)ka * K * KVB, *wb = wt + (size_t)kb * K * KVB;
            for (int kx = 0; kx < K; kx++) {
                kv w0 = kv_load(wa + (size_t)kx * KVB), w1 = kv_load(wb + (size_t)kx * KVB);
                KUNROLL for (int j = 0; j < KDW_RX; j++) {
                    if (j < rx) {
                        kv v = kv_load(ip + (size_t)(j + kx) * KVB);
                        a[j] = kv_fma(w0, v, a[j]);
                        b[j] = kv_fma(w1, v, b[j]);
                    }
                }
            }
        } else if (ka < K) {
            const float *wa = wt + (size_t)ka * K * KVB;
            for (int kx = 0; kx < K; kx++) {
                kv w0 = kv_load(wa + (size_t)kx * KVB);
                KUNROLL for (int j = 0; j < KDW_RX; j++)
                    if (j < rx) a[j] = kv_fma(w0, kv_load(ip + (size_t)(j + kx) * KVB), a[j]);
            }
        } else {
            const float *wb = wt + (size_t)kb * K * KVB;
            for (int kx = 0; kx < K; kx++) {
                kv w1 = kv_load(wb + (size_t)kx * KVB);
                KUNROLL for (int j = 0; j < KDW_RX; j++)
                    if (j < rx) b[j] = kv_fma(w1, kv_load(ip + (size_t)(j + kx) * KVB), b[j]);
            }
        }
    }
    float *o = out + ((size_t)oy * OW + (size_t)ox) * KVB;
    KUNROLL for (int j = 0; j < KDW_RX; j++) {
        if (j < rx) {
            kv_store(o + (size_t)j * KVB, a[j]);
            if (ry == 2) kv_store(o + (OW + (size_t)j) * KVB, b[j]);
        }
    }
}

static void KN(dw_forward)(float *out, const float *inp, const float *wt, const struct nsid_kdw *d)
{
    size_t in_sz = (size_t)d->Hp * d->Wp * KVB, out_sz = (size_t)d->OH * d->OW * KVB;
    size_t w_sz = (size_t)d->K * d->K * KVB;
    for (int cb = 0; cb < d->nb; cb++) {
        const float *in = inp + cb * in_sz, *w = wt + cb * w_sz;
        float *o = out + cb * out_sz;
        int oy = 0;
        for (; oy + 2 <= d->OH; oy += 2) {
            int ox = 0;
            for (; ox + KDW_RX <= d->OW; ox += KDW_RX) KN(dw_tile)(o, in, w, d, oy, ox, 2, KDW_RX);
            if (ox < d->OW) KN(dw_tile)(o, in, w, d, oy, ox, 2, d->OW - ox);
        }
        if (oy < d->OH)
            for (int ox = 0; ox < d->OW; ox += KDW_RX)
                KN(dw_tile)(o, in, w, d, oy, ox, 1, d->OW - ox < KDW_RX ? d->OW - ox : KDW_RX);
    }
}

/*
 * Kernel row ky, columns kx0 .. kx0 + kxn - 1 of one channel block's weight
 * gradient: sum over output pixels of dy[y][x] * in[y + ky][x + kx]. Steps of
 * KDWG_XS output columns: input vector m serves taps kx = m - s of the step's
 * gradients s, so each is loaded once per step.
 */
KI void KN(dwg_tile)(float *dw, const float *dy, const float *in, const struct nsid_kdw *d, int ky,
                     int kx0, int kxn)
{
    const size_t Wp = (size_t)d->Wp, grs = d->grs ? d->grs : (size_t)d->OW * KVB;
    kv acc[KDWG_KXB];
    KUNROLL for (int k = 0; k < KDWG_KXB; k++) acc[k] = kv_zero();
    int y0 = d->r0 - ky > 0 ? d->r0 - ky : 0, y1 = d->r1 - ky < d->OH ? d->r1 - ky : d->OH;
    for (int oy = y0; oy < y1; oy++) {
        const float *ip = in + ((size_t)(oy + ky) * Wp + (size_t)kx0) * KVB;
        const float *dp = dy + (size_t)oy * grs;
        int ox = 0;
        for (; ox + KDWG_XS <= d->OW; ox += KDWG_XS) {
            kv g[KDWG_XS];
            KUNROLL for (int s = 0; s < KDWG_XS; s++) g[s] = kv_load(dp + (size_t)(ox + s) * KVB);
            KUNROLL for (int m = 0; m < KDWG_KXB + KDWG_XS - 1; m++) {
                if (m < kxn + KDWG_XS - 1) {
                    kv v = kv_load(ip + (size_t)(ox + m) * KVB);
                    KUNROLL for (int s = 0; s < KDWG_XS; s++) {
                        int kx = m - s;
                        if (kx >= 0 && kx < KDWG_KXB && kx < kxn) acc[kx] = kv_fma(g[s], v, acc[kx]);
                    }
                }
            }
        }
        for (; ox < d->OW; ox++) {
            kv g = kv_load(dp + (size_t)ox * KVB);
            KUNROLL for (int k = 0; k < KDWG_KXB; k++)
                if (k < kxn) acc[k] = kv_fma(g, kv_load(ip + (size_t)(ox + k) * KVB), acc[k]);
        }
    }
    float *q = dw + ((size_t)ky * d->K + (size_t)kx0) * KVB;
    KUNROLL for (int k = 0; k < KDWG_KXB; k++)
        if (k < kxn) kv_store(q + (size_t)k * KVB, kv_add(kv_load(q + (size_t)k * KVB), acc[k]));
}

static void KN(dw_wgrad)(float *dwt, const float *dy, const float *inp, const struct nsid_kdw *d)
{
    size_t in_sz = (size_t)d->Hp * d->Wp * KVB, out_sz = d->gbs ? d->gbs : (size_t)d->OH * d->OW * KVB;
    size_t w_sz = (size_t)d->K * d->K * KVB;
    for (int cb = 0; cb < d->nb; cb++) {
        const float *in = inp + cb * in_sz, *g = dy + cb * out_sz;
        float *w = dwt + cb * w_sz;
        for (int ky = 0; ky < d->K; ky++) {
            int kx0 = 0;
            for (; kx0 + KDWG_KXB <= d->K; kx0 += KDWG_KXB) KN(dwg_tile)(w, g, in, d, ky, kx0, KDWG_KXB);
            if (kx0 < d->K) KN(dwg_tile)(w, g, in, d, ky, kx0, d->K - kx0);
        }
    }
}

/* ------------------------------------------------------------ pointwise */

/* Pixels p0 .. p0 + rp - 1, output vectors ob .. ob + obn - 1 of out = inp @ wp. */
KI void KN(pw_tile)(float *out, const float *inp, const float *wp, const struct nsid_kpw *d, int p0,
                    int rp, int ob, int obn)
{
    kv acc[KPW_RP][KPW_OB];
    KUNROLL for (int p = 0; p < KPW_RP; p++)
        KUNROLL for (int o = 0; o < KPW_OB; o++) acc[p][o] = kv_zero();
    const size_t ps = d->in_ps;
    for (int cb = 0; cb < d->ci / KVB; cb++) {
        const float *ib = inp + (size_t)cb * d->in_bs + (size_t)p0 * ps;
        const float *wb = wp + (size_t)cb * KVB * (size_t)d->ldw + (size_t)ob * KVB;
        for (int cc = 0; cc < KVB; cc++) {
            kv w[KPW_OB];
            KUNROLL for (int o = 0; o < KPW_OB; o++)
                w[o] = o < obn ? kv_load(wb + (size_t)cc * d->ldw + (size_t)o * KVB) : kv_zero();
            KUNROLL for (int p = 0; p < KPW_RP; p++) {
                if (p < rp) {
                    kv x = kv_bcast(ib + (size_t)p * ps + cc);
                    KUNROLL for (int o = 0; o < KPW_OB; o++)
                        if (o < obn) acc[p][o] = kv_fma(x, w[o], acc[p][o]);
                }
            }
        }
    }
    KUNROLL for (int p = 0; p < KPW_RP; p++) {
        if (p >= rp) continue;
        size_t po = d->row_w ? (size_t)((p0 + p) / d->row_w) * d->out_rs + (size_t)((p0 + p) % d->row_w) * d->out_ps
                             : (size_t)(p0 + p) * d->out_ps;
        KUNROLL for (int o = 0; o < KPW_OB; o++) {
            if (o < obn) {
                float *q = out + (size_t)(ob + o) * d->out_bs + po;
                kv_store(q, d->accumulate ? kv_add(kv_load(q), acc[p][o]) : acc[p][o]);
            }
        }
    }
}

/*
 * Prefetch the input footprint of pixels [p, p + n) unless inp is NULL and, if out,
 * the output's: the pointwise kernels read each image as several streams (one per
 * channel block), more than the hardware prefetchers follow. pw_forward prefetches
 * only its output: every input it is given was written just before (a layer's input
 * by BatchNorm + ELU, a_sp by the depthwise kernel, dpre, da_in, the im2col matrix)
 * and is still in cache, while its output is often a stored tensor last touched a
 * batch ago (measured: +3 % for the kernel alone, +1-2 % for a training step).
 */
KI void KN(pw_prefetch)(const float *inp, const float *out, const struct nsid_kpw *d, int p, int n)
{
    if (p >= d->P) return;
    if (p + n > d->P) n = d->P - p;
    if (inp && d->in_ps >= (size_t)d->ci) {  /* row-major (P, ci) input: n contiguous rows */
        const char *a = (const char *)(inp + (size_t)p * d->in_ps);
        for (size_t o = 0; o < (size_t)n * d->in_ps * sizeof(float); o += 64) __builtin_prefetch(a + o, 0, 3);
    } else if (inp) {
        for (int cb = 0; cb < d->ci / KVB; cb++) {
            const char *a = (const char *)(inp + (size_t)cb * d->in_bs + (size_t)p * d->in_ps);
            for (size_t o = 0; o < (size_t)n * d->in_ps * sizeof(float); o += 64) __builtin_prefetch(a + o, 0, 3);
        }
    }
    if (!out || d->out_ps != KVB || d->row_w) return;
    for (int ob = 0; ob < d->nbo; ob++) {
        const char *a = (const char *)(out + (size_t)ob * d->out_bs + (size_t)p * d->out_ps);
        for (size_t o = 0; o < (size_t)n * KVB * sizeof(float); o += 64) __builtin_prefetch(a + o, 1, 3);
    }
}

static void KN(pw_forward)(float *out, const float *inp, const float *wp, const struct nsid_kpw *d)
{
    for (int p0 = 0; p0 < d->P; p0 += KPW_RP) {
        int rp = d->P - p0 < KPW_RP ? d->P - p0 : KPW_RP;
        KN(pw_prefetch)(NULL, out, d, p0 + 4 * KPW_RP, KPW_RP);
        for (int ob = 0; ob < d->nbo; ob += KPW_OB) {
            int obn = d->nbo - ob < KPW_OB ? d->nbo - ob : KPW_OB;
            if (rp == KPW_RP && obn == KPW_OB)
                KN(pw_tile)(out, inp, wp, d, p0, KPW_RP, ob, KPW_OB);
            else
                KN(pw_tile)(out, inp, wp, d, p0, rp, ob, obn);
        }
    }
}

/* Input channels c0 .. c0 + rc - 1, output vectors ob .. ob + obn - 1 of dwp += inp^T @ dy. */
KI void KN(pwg_tile)(float *dwp, const float *inp, const float *dy, const struct nsid_kpw *d, int c0,
                     int rc, int ob, int obn)
{
    kv acc[KPWG_RC][KPWG_OB];
    const float *ic[KPWG_RC];
    KUNROLL for (int r = 0; r < KPWG_RC; r++) {
        int c = r < rc ? c0 + r : c0;
        ic[r] = inp + (size_t)(c / KVB) * d->in_bs + (size_t)(c % KVB);
        KUNROLL for (int o = 0; o < KPWG_OB; o++) acc[r][o] = kv_zero();
    }
    const float *gq = dy + (size_t)ob * d->out_bs;
    for (int p = 0; p < d->P; p++) {
        kv g[KPWG_OB];
        KUNROLL for (int o = 0; o < KPWG_OB; o++)
            g[o] = o < obn ? kv_load(gq + (size_t)o * d->out_bs + (size_t)p * d->out_ps) : kv_zero();
        KUNROLL for (int r = 0; r < KPWG_RC; r++) {
            if (r < rc) {
                kv x = kv_bcast(ic[r] + (size_t)p * d->in_ps);
                KUNROLL for (int o = 0; o < KPWG_OB; o++)
                    if (o < obn) acc[r][o] = kv_fma(x, g[o], acc[r][o]);
            }
        }
    }
    KUNROLL for (int r = 0; r < KPWG_RC; r++)
        KUNROLL for (int o = 0; o < KPWG_OB; o++) {
            if (r < rc && o < obn) {
                float *q = dwp + (size_t)(c0 + r) * d->ldw + (size_t)(ob + o) * KVB;
                kv_store(q, kv_add(kv_load(q), acc[r][o]));
            }
        }
}

static void KN(pw_wgrad)(float *dwp, const float *inp, const float *dy, const struct nsid_kpw *d)
{
    /* the reduction runs over all P pixels per tile: start the first pixels' streams early */
    KN(pw_prefetch)(inp, NULL, d, 0, 32);
    for (int c0 = 0; c0 < d->ci; c0 += KPWG_RC) {
        int rc = d->ci - c0 < KPWG_RC ? d->ci - c0 : KPWG_RC;
        for (int ob = 0; ob < d->nbo; ob += KPWG_OB) {
            int obn = d->nbo - ob < KPWG_OB ? d->nbo - ob : KPWG_OB;
            if (rc == KPWG_RC && obn == KPWG_OB)
                KN(pwg_tile)(dwp, inp, dy, d, c0, KPWG_RC, ob, KPWG_OB);
            else
                KN(pwg_tile)(dwp, inp, dy, d, c0, rc, ob, obn);
        }
    }
}

/* ---------------------------------------------------- BatchNorm and ELU */

static void KN(bn_elu)(float *out, const float *inp, const float *scale, const float *shift, int nb,
                       int P)
{
    for (int cb = 0; cb < nb; cb++) {
        kv s = kv_load(scale + (size_t)cb * KVB), t = kv_load(shift + (size_t)cb * KVB);
        const float *x = inp + (size_t)cb * P * KVB;
        float *y = out + (size_t)cb * P * KVB;
        /* as nsid_batchnorm_forward: x * scale + shift, two roundings (no FMA) */
        for (int p = 0; p < P; p++)
            kv_store(y + (size_t)p * KVB, kv_elu(kv_add(kv_mul(kv_load(x + (size_t)p * KVB), s), t)));
    }
}

static void KN(bn_stats)(double *mean, double *m2, const float *inp, int nb, int P)
{
    for (int cb = 0; cb < nb; cb++) {
        const float *x = inp + (size_t)cb * P * KVB;
        kvd s = kvd_zero(), q = kvd_zero();
        for (int p = 0; p < P; p++) s = kvd_addf(s, kv_load(x + (size_t)p * KVB));
        kvd m = kvd_scale(s, 1.0 / (double)P);
        for (int p = 0; p < P; p++) q = kvd_sqdev(q, kv_load(x + (size_t)p * KVB), m);
        kvd_store(mean + (size_t)cb * KVB, m);
        kvd_store(m2 + (size_t)cb * KVB, q);
    }
}

static void KN(bn_bwd_sums)(double *sdy, double *sdyx, float *dbn, const float *dact, const float *act,
                            const float *pre, const float *mean, const float *rstd, int nb, int P)
{
    for (int cb = 0; cb < nb; cb++) {
        size_t o = (size_t)cb * P * KVB;
        kv m = kv_load(mean + (size_t)cb * KVB), r = kv_load(rstd + (size_t)cb * KVB);
        kvd s = kvd_zero(), sx = kvd_zero();
        for (int p = 0; p < P; p++) {
            size_t i = o + (size_t)p * KVB;
            /* ELU backward from the output (nsid_act_elu_backward), then BN's sums */
            kv g = kv_elu_grad(kv_load(dact + i), kv_load(act + i));
            kv_store(dbn + i, g);
            s = kvd_addf(s, g);
            sx = kvd_fmaff(sx, g, kv_mul(kv_sub(kv_load(pre + i), m), r));
        }
        kvd_store(sdy + (size_t)cb * KVB, s);
        kvd_store(sdyx + (size_t)cb * KVB, sx);
    }
}

static void KN(bn_bwd_apply)(float *dpre, const float *dbn, const float *pre, const float *mean,
                             const float *rstd, const float *gr, const float *a, const float *b, int nb,
                             int P)
{
    for (int cb = 0; cb < nb; cb++) {
        size_t o = (size_t)cb * P * KVB, c = (size_t)cb * KVB;
        kv m = kv_load(mean + c), r = kv_load(rstd + c), g = kv_load(gr + c), va = kv_load(a + c),
           vb = kv_load(b + c);
        for (int p = 0; p < P; p++) {
            size_t i = o + (size_t)p * KVB;
            kv xhat = kv_mul(kv_sub(kv_load(pre + i), m), r);
            /* nsid_batchnorm_backward: gr * (dy - mean(dy) - xhat * mean(dy * xhat)) */
            kv_store(dpre + i, kv_mul(g, kv_sub(kv_sub(kv_load(dbn + i), va), kv_mul(xhat, vb))));
        }
    }
}

/* ------------------------------------------------------- Gaussian readout */

/*
 * Maps are addressed as (pixel p, channel block cb) -> feat + p * ps + cb * bs,
 * nb blocks of KVB channels (channels-last (H*W, nb*KVB): ps = nb*KVB, bs = KVB;
 * channel-blocked (nb, H*W, KVB): ps = KVB, bs = H*W*KVB). wn: nb*KVB contiguous.
 */

/* bl[i] = the bilinear setup of pos[2i], pos[2i+1] for i < n (nsid_gridsample_bilinear_setup, same results). */
static void KN(gs_setup)(struct nsid_bilinear *bl, const float *pos, int n, int H, int W)
{
    for (int i = 0; i < n; i++) nsid__bilinear_setup_inline(&bl[i], pos[2 * i], pos[2 * i + 1], H, W);
}

/* sum over valid taps k of w_k * <feat[idx_k], wn>. */
static float KN(gs_dot4)(const float *feat, const float *wn, const struct nsid_bilinear *bl, int nb, size_t ps,
                         size_t bs)
{
    kv acc = kv_zero();
    for (int cb = 0; cb < nb; cb++) {
        const float *fb = feat + (size_t)cb * bs;
        kv f = kv_zero();
        for (int k = 0; k < 4; k++)
            if (bl->idx[k] >= 0) f = kv_fma(kv_bcast(&bl->w[k]), kv_load(fb + (size_t)bl->idx[k] * ps), f);
        acc = kv_fma(f, kv_load(wn + (size_t)cb * KVB), acc);
    }
    return kv_hsum(acc);
}

/*
 * Backward of y = gs_dot4 for one gradient g: D[k] = <feat[idx_k], wn> (0 for
 * taps outside) and, unless dfeat is NULL, dfeat[idx_k] += g * w_k * wn
 * (dfeat addressed like feat).
 */
static void KN(gs_backward)(float *dfeat, float *D, const float *feat, const float *wn,
                            const struct nsid_bilinear *bl, float g, int nb, size_t ps, size_t bs)
{
    kv a[4];
    float gw[4];
    for (int k = 0; k < 4; k++) {
        a[k] = kv_zero();
        gw[k] = g * bl->w[k];
    }
    for (int cb = 0; cb < nb; cb++) {
        kv w = kv_load(wn + (size_t)cb * KVB);
        for (int k = 0; k < 4; k++) {
            if (bl->idx[k] < 0) continue;
            size_t o = (size_t)bl->idx[k] * ps + (size_t)cb * bs;
            a[k] = kv_fma(kv_load(feat + o), w, a[k]);
            if (dfeat) kv_store(dfeat + o, kv_fma(kv_bcast(&gw[k]), w, kv_load(dfeat + o)));
        }
    }
    for (int k = 0; k < 4; k++) D[k] = bl->idx[k] >= 0 ? kv_hsum(a[k]) : 0.0f;
}

/* Feature-vector gradient: dwn += g * sum_k w_k feat[idx_k]. */
static void KN(gs_wgrad)(float *dwn, const float *feat, const struct nsid_bilinear *bl, float g, int nb,
                         size_t ps, size_t bs)
{
    float gw[4];
    for (int k = 0; k < 4; k++) gw[k] = g * bl->w[k];
    for (int cb = 0; cb < nb; cb++) {
        const float *fb = feat + (size_t)cb * bs;
        kv f = kv_load(dwn + (size_t)cb * KVB);
        for (int k = 0; k < 4; k++)
            if (bl->idx[k] >= 0) f = kv_fma(kv_bcast(&gw[k]), kv_load(fb + (size_t)bl->idx[k] * ps), f);
        kv_store(dwn + (size_t)cb * KVB, f);
    }
}

/* ------------------------------------------------------------- FMA ceiling */

/*
 * n iterations of 12 independent FMA chains of one vector each (12 * KVB * 2
 * FLOPs per iteration): the machine's FMA throughput for this set. Returns a
 * lane sum so the work stays alive.
 */
static float KN(fma_loop)(long n)
{
    float mv = 0.99999f, cv = 1e-7f;
    kv a[12], m = kv_bcast(&mv), c = kv_bcast(&cv);
    float init[12];
    for (int i = 0; i < 12; i++) init[i] = (float)i;  /* distinct chains: the compiler cannot merge them */
    KUNROLL for (int i = 0; i < 12; i++) a[i] = kv_bcast(&init[i]);
    for (long it = 0; it < n; it++)
        KUNROLL for (int i = 0; i < 12; i++) a[i] = kv_fma(a[i], m, c);
    kv s = a[0];
    for (int i = 1; i < 12; i++) s = kv_add(s, a[i]);
    return kv_hsum(s);
}

/*
 * n iterations of the pointwise tile's inner step (KPW_OB weight vectors loaded,
 * KPW_RP inputs broadcast, KPW_RP * KPW_OB FMAs) on 16 steps' worth of L1-resident
 * operands, without the tile's set-up, stores or loop over pixels: the most a
 * pointwise kernel built of this tile can reach (KPW_RP * KPW_OB * KVB * 2 FLOPs an
 * iteration: pw_tile_flops). Returns a lane sum so the work stays alive.
 */
static float KN(pw_tile_loop)(long n)
{
    float x[16 * KPW_RP], w[16 * KPW_OB * KVB];
    for (int i = 0; i < 16 * KPW_RP; i++) x[i] = 1e-3f * (float)i;
    for (int i = 0; i < 16 * KPW_OB * KVB; i++) w[i] = 1e-4f * (float)(i % 97);
    kv acc[KPW_RP][KPW_OB];
    KUNROLL for (int p = 0; p < KPW_RP; p++)
        KUNROLL for (int o = 0; o < KPW_OB; o++) acc[p][o] = kv_zero();
    for (long it = 0; it < n; it++) {
        const float *xb = x + (it & 15) * KPW_RP, *wb = w + (it & 15) * KPW_OB * KVB;
        kv wv[KPW_OB];
        KUNROLL for (int o = 0; o < KPW_OB; o++) wv[o] = kv_load(wb + (size_t)o * KVB);
        KUNROLL for (int p = 0; p < KPW_RP; p++) {
            kv b = kv_bcast(xb + p);
            KUNROLL for (int o = 0; o < KPW_OB; o++) acc[p][o] = kv_fma(b, wv[o], acc[p][o]);
        }
    }
    kv s = kv_zero();
    KUNROLL for (int p = 0; p < KPW_RP; p++)
        KUNROLL for (int o = 0; o < KPW_OB; o++) s = kv_add(s, acc[p][o]);
    return kv_hsum(s);
}

/* FLOPs of one pw_tile_loop iteration. */
enum { KN(pw_tile_flops) = 2 * KPW_RP * KPW_OB * KVB };

#undef KI
#undef KUNROLL
