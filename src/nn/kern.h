/*
 * kern.h - the core's compute kernels on channel-blocked images, one table per
 * instruction set, chosen at run time (internal to src/nn: the core uses it;
 * tests and the benchmark check and time it).
 *
 * Layout. One image of C channels and H x W pixels is stored "channel-blocked"
 * with block width vb (the kernel table's vector width, 8 or 16 floats):
 *
 *     element (c, y, x) at ((c / vb) * H * W + y * W + x) * vb + c % vb
 *
 * i.e. nb = ceil(C / vb) blocks of (H, W, vb), PyTorch's NCHW being vb = 1.
 * Lanes of channels >= C (the last block's padding) hold zeros and stay zero,
 * because every kernel maps zero inputs and zero-padded weights to zero.
 * A block row of one pixel is one SIMD vector, so a depthwise tap is one
 * vector FMA and a pointwise conv is a small GEMM whose A operand is broadcast.
 *
 * Kernels (each works on ONE image, runs on the calling thread, allocates
 * nothing; output never aliases input):
 *   dw_forward  depthwise K x K correlation of a zero-padded input
 *   dw_wgrad    its weight gradient (+= into a per-chunk float partial)
 *   pw_forward  out (P, O) = in (P, Ci) @ wp (Ci, O): 1x1 conv, im2col GEMM
 *   pw_wgrad    wp gradient: dwp (Ci, O) += in^T @ dy
 *   bn_elu      out = ELU(in * scale + shift) per channel (vectorised expm1)
 *   bn_stats, bn_bwd_sums, bn_bwd_apply: BatchNorm statistics and backward
 *               pieces in double, per image (see the struct comments)
 *   gs_*        the Gaussian readout's bilinear taps on a channels-last map
 *
 * Instruction sets (nsid_kern_select): "avx512" (AVX-512F, vb 16), "avx2"
 * (AVX2 + FMA, vb 8), "generic" (portable C, vb 8; the compiler's default
 * vectorisation) and "generic16" (portable C with vb 16 and AVX-512's tile
 * sizes, so the AVX-512 kernels' index arithmetic is tested on any machine).
 * All share one source (kern_tmpl.h); only the vector primitives differ.
 * Results agree to float rounding across sets (FMA vs mul+add, summation order
 * of vector lanes) and are bit-identical run to run for one set.
 */
#ifndef NSID_KERN_H
#define NSID_KERN_H

#include <stddef.h>

#include "base/err.h"
#include "nn/gridsample.h"

/* Sizes of a depthwise correlation of one image. */
struct nsid_kdw {
    int nb;      /* channel blocks */
    int OH, OW;  /* output height, width */
    int K;       /* kernel size (K x K) */
    int Hp, Wp;  /* padded input height, width: OH + K - 1, OW + K - 1 */
    int r0, r1;  /* padded input rows [r0, r1) that may be non-zero (others are skipped) */
    size_t gbs, grs; /* dw_wgrad: dy's block and row strides in floats, for a dy inside a larger
                        (zero-bordered) buffer; 0 = dense, OH * OW * vb and OW * vb */
};

/*
 * Sizes and strides of a pointwise product over P pixels:
 * input element (p, c) at inp[(c / vb) * in_bs + p * in_ps + c % vb]
 * (blocked image: in_bs = P * vb, in_ps = vb; a row-major (P, Ci) im2col
 * matrix: in_bs = vb, in_ps = Ci); output vector (p, block ob) at
 * out[ob * out_bs + p * out_ps]; weights wp row-major (ci, ldw), ldw = nbo * vb.
 */
struct nsid_kpw {
    int P;          /* pixels */
    int ci;         /* input channels, a multiple of vb (padding rows of wp are zero) */
    int nbo;        /* output channel blocks */
    int ldw;        /* row stride of wp: nbo * vb */
    size_t in_bs;   /* input block stride, floats */
    size_t in_ps;   /* input pixel stride, floats */
    size_t out_bs;  /* output block stride, floats */
    size_t out_ps;  /* output pixel stride, floats */
    int accumulate; /* pw_forward: 1 adds to out, 0 overwrites */
    int row_w;      /* pw_forward: > 0 places the pixels in rows of row_w inside a larger image,
                       output pixel p at out[(p / row_w) * out_rs + (p % row_w) * out_ps + ...];
                       0 = pixel p at out[p * out_ps + ...] (pw_wgrad's dy: always 0) */
    size_t out_rs;  /* pw_forward with row_w > 0: output row stride, floats */
};

struct nsid_kern {
    const char *name; /* "avx512", "avx2", "generic", "generic16" */
    int vb;           /* floats per vector = channel block width */
    /*
     * out (nb, OH, OW, vb) = correlation of inp (nb, Hp, Wp, vb) with
     * wt (nb, K, K, vb): out[y][x] = sum_{ky,kx} wt[ky][kx] * inp[y+ky][x+kx].
     */
    void (*dw_forward)(float *out, const float *inp, const float *wt, const struct nsid_kdw *d);
    /* dwt (nb, K, K, vb) += sum_{y,x} dy[y][x] * inp[y+ky][x+kx]; dy (nb, OH, OW, vb), or with
     * the strides gbs, grs of d. */
    void (*dw_wgrad)(float *dwt, const float *dy, const float *inp, const struct nsid_kdw *d);
    /* out (P, nbo*vb) (=|+=) inp (P, ci) @ wp (ci, nbo*vb), strides in d. */
    void (*pw_forward)(float *out, const float *inp, const float *wp, const struct nsid_kpw *d);
    /* dwp (ci, nbo*vb) += inp^T (ci, P) @ dy (P, nbo*vb); dy addressed like pw_forward's out. */
    void (*pw_wgrad)(float *dwp, const float *inp, const float *dy, const struct nsid_kpw *d);
    /* out (nb, P, vb) = ELU(inp * scale + shift), scale/shift (nb*vb); out may equal inp. */
    void (*bn_elu)(float *out, const float *inp, const float *scale, const float *shift, int nb,
                   int P);
    /*
     * Per-channel mean (nb*vb) and sum of squared deviations from it, m2 (nb*vb),
     * of one blocked image inp (nb, P, vb), in double (two passes).
     */
    void (*bn_stats)(double *mean, double *m2, const float *inp, int nb, int P);
    /*
     * BatchNorm + ELU backward, first half, one image: dbn = dact * ELU'(act)
     * (act = the forward's ELU output; dbn may equal dact) and, with
     * xhat = (pre - mean) * rstd (float), sdy (nb*vb) = sum dbn and
     * sdyx (nb*vb) = sum dbn * xhat (double, overwritten).
     */
    void (*bn_bwd_sums)(double *sdy, double *sdyx, float *dbn, const float *dact, const float *act,
                        const float *pre, const float *mean, const float *rstd, int nb, int P);
    /*
     * Second half: dpre (nb, P, vb) = gr * (dbn - a - xhat * b) per channel
     * (gr, a, b (nb*vb)); a = b = 0 is the evaluation-mode BatchNorm backward.
     */
    void (*bn_bwd_apply)(float *dpre, const float *dbn, const float *pre, const float *mean,
                         const float *rstd, const float *gr, const float *a, const float *b, int nb,
                         int P);
    /*
     * Gaussian readout, one bilinear point bl on one image's map of nb channel
     * blocks, (pixel p, block cb) at feat + p * ps + cb * bs (channels-last:
     * ps = nb*vb, bs = vb; channel-blocked: ps = vb, bs = H*W*vb), padding lanes
     * zero, and a neuron's feature vector wn (nb*vb, contiguous):
     *   gs_setup     bl[i] = nsid_gridsample_bilinear_setup(pos[2i], pos[2i+1]) for i < n (same results)
     *   gs_dot4      returns sum_k w_k <feat[idx_k], wn>  (the readout's y - bias)
     *   gs_backward  D[k] = <feat[idx_k], wn> (0 outside); dfeat[idx_k] += g w_k wn
     *                (dfeat addressed like feat, may be NULL)
     *   gs_wgrad     dwn (nb*vb) += g sum_k w_k feat[idx_k]
     * The channel blocks are visited in order in either layout, so both give
     * bit-identical results.
     */
    void (*gs_setup)(struct nsid_bilinear *bl, const float *pos, int n, int H, int W);
    float (*gs_dot4)(const float *feat, const float *wn, const struct nsid_bilinear *bl, int nb, size_t ps,
                     size_t bs);
    void (*gs_backward)(float *dfeat, float *D, const float *feat, const float *wn,
                        const struct nsid_bilinear *bl, float g, int nb, size_t ps, size_t bs);
    void (*gs_wgrad)(float *dwn, const float *feat, const struct nsid_bilinear *bl, float g, int nb, size_t ps,
                     size_t bs);
    /* n iterations of 12 independent vector FMA chains (24 * vb FLOPs each): the FMA ceiling. */
    float (*fma_loop)(long n);
    /*
     * n iterations of the pointwise tile's inner step alone, on L1-resident operands
     * (pw_tile_flops FLOPs each): the most a pointwise kernel of this set can reach.
     */
    float (*pw_tile_loop)(long n);
    int pw_tile_flops;
};

/* The tables (kern_generic.c, kern_avx2.c, kern_avx512.c); an ISA table is NULL-named when
 * the compiler cannot build it. */
extern const struct nsid_kern nsid__kern_generic;
extern const struct nsid_kern nsid__kern_generic16;
extern const struct nsid_kern nsid__kern_avx2;
extern const struct nsid_kern nsid__kern_avx512;

/*
 * The kernel table for `want`: "auto" (or NULL or "") picks the best the CPU
 * supports (avx512 > avx2 > generic); a name asks for that set and fails with
 * NSID_EINVAL (key "NSID_ISA") if it is unknown or the CPU (or compiler) lacks it.
 */
const struct nsid_kern *nsid_kern_select(const char *want, struct nsid_err *err);

/* True if the CPU and the build support the named set. */
int nsid_kern_available(const char *name);

#endif
