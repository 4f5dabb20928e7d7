/*
 * core.h - the shared CNN core: neuralpredictors v0.0.3 SE2dCore (docs/paper.md §1).
 *
 *   layer0:    conv K0 x K0 (Cin -> C, padding K0/2 if pad_input else 0) -> BN -> ELU
 *   layer1..:  depth_separable: conv 1x1 -> depthwise Kh x Kh (pad Kh/2) -> conv 1x1
 *              otherwise:       conv Kh x Kh (pad Kh/2)
 *              -> BN -> ELU
 * Hidden padding Kh/2 is neuralpredictors' ((Kh-1)*dilation+1)//2: 'same' for odd Kh; an
 * even Kh grows the map by one pixel per layer, as in PyTorch.
 * No biases; BatchNorm2d(C, momentum, eps 1e-5, affine); ELU after every layer
 * including the last. The output is the last layer's (N, C, OH, OW); the paper's
 * configuration (nsid_core_config_default) maps a 36x64 image to (N,64,22,50) with
 * 71,936 trainable parameters. Regulariser: gamma_input * LaplaceL2norm(layer0 weight).
 *
 * Lifecycle (docs/design.md):
 *
 *     struct nsid_core_config cfg; nsid_core_config_default(&cfg);
 *     struct nsid_core core;                            // must not move after init
 *     nsid_core_init(&core, &cfg, 36, 64, &ps, "core", &err);   // registers tensors
 *     nsid_params_alloc(&ps, &err);
 *     nsid_core_reset_parameters(&core, &init_rng);
 *     nsid_alloc_arena_measure(&a); nsid_core_bind_state(&core, &a, B, &err);
 *     nsid_alloc_arena_init(&a, a.used, &err); nsid_core_bind_state(&core, &a, B, &err);
 *     nsid_core_forward(&core, x, n, true);             // core.out (n, C, OH, OW)
 *     nsid_core_backward(&core, NULL, dout, n);         // += into the core's gradients
 *     loss += nsid_core_regularizer(&core); nsid_core_regularizer_backward(&core, 1.0);
 *     nsid_core_free(&core);
 *
 * Tensors are registered in PyTorch's state_dict order under "<prefix>." +
 *     _input_weights_regularizer.laplace.filter        (1,1,3,3) buffer, the Laplace filter
 *     features.layer0.conv.weight                       (C,Cin,K0,K0)
 *     features.layerK.norm.{weight,bias}                (C) weights
 *     features.layerK.norm.{running_mean,running_var}   (C) buffers
 *     features.layerK.ds_conv.in_depth_conv.weight      (C,C,1,1)   (depth-separable)
 *     features.layerK.ds_conv.spatial_conv.weight       (C,1,Kh,Kh)
 *     features.layerK.ds_conv.out_depth_conv.weight     (C,C,1,1)
 *     features.layerK.conv.weight                       (C,C,Kh,Kh) (not depth-separable)
 * so the core's weights form one contiguous range of the table when it is
 * registered first. num_batches_tracked (int64, not in the float table) is kept
 * per layer in layer[k].num_batches_tracked for the checkpoint.
 *
 * Initialisation (nsid_core_reset_parameters): every conv weight is Xavier-normal,
 * w = std * N(0,1) with std = sqrt(2 / (fan_in + fan_out)), PyTorch's fans:
 * fan_in = size(1)*K*K, fan_out = size(0)*K*K (depthwise (C,1,K,K): K*K and C*K*K).
 * RNG draws, in this order, one nsid_rng_normal per element in row-major order:
 *     layer0.conv.weight, then for k = 1..layers-1:
 *     in_depth_conv, spatial_conv, out_depth_conv weights (or conv.weight).
 * BN: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0
 * (no draws). The Laplace filter buffer gets [[0,-1,0],[-1,4,-1],[0,-1,0]].
 *
 * Computation (docs/speed.md). Inside the core, activations are channel-blocked
 * (kern.h: (N, C/vb, H, W, vb), vb = the kernel set's vector width), so every
 * depthwise tap and every pointwise product is a SIMD FMA; only x and out are
 * NCHW. Each layer stores pre (its conv output) and, depth-separable, a_in and
 * a_sp; ELU(BN(pre)) is recomputed where needed (saves a tensor per layer).
 * The kernel set (AVX-512, AVX2, portable) is chosen at run time
 * (nsid_core_set_kernels, else the best the CPU has; a model passes its configured set).
 *
 * Threads (nsid_core_set_pool): images are split statically over the pool's
 * threads in chunks of NSID_CORE_CHUNK; BatchNorm statistics are per-image sums
 * and weight gradients per-chunk partials, both reduced in a fixed order in
 * double, so forward and backward are bit-identical for ANY thread count (for
 * one kernel set). Forward and backward each run as one pool task with a
 * barrier per BatchNorm (it needs the whole batch). Weights are repacked into
 * the kernels' layouts at every forward (and backward), so they may change
 * freely between calls (Adam).
 */
#ifndef NSID_CORE_H
#define NSID_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/rng.h"
#include "base/pool.h"
#include "nn/batchnorm.h"
#include "nn/checkpoint.h"
#include "nn/conv.h"
#include "nn/kern.h"
#include "nn/params.h"

#define NSID_CORE_MAX_LAYERS 16
#define NSID_CORE_CHUNK 4    /* images per weight-gradient partial (see "Threads" above) */

struct nsid_core_config {
    int input_channels;   /* image channels (paper 1) */
    int layers;           /* conv layers including layer0, 1..NSID_CORE_MAX_LAYERS (4) */
    int hidden_channels;  /* channels of every layer (64) */
    int input_kern;       /* layer0 kernel size (15) */
    int hidden_kern;      /* hidden layers' spatial kernel size (13) */
    bool pad_input;       /* layer0 padding input_kern/2 (false: valid) */
    bool depth_separable; /* hidden = 1x1 -> depthwise -> 1x1 (true) or one full conv */
    double bn_momentum;   /* BatchNorm momentum, PyTorch convention (0.9) */
    double bn_eps;        /* BatchNorm eps (1e-5) */
    double gamma_input;   /* weight of the Laplace L2-norm penalty on layer0 (1.0) */
};

struct nsid_core_layer {
    struct nsid_conv_dims conv;  /* spatial conv sizes, N = 0 (set per call) */
    int C_in;                    /* input channels */
    int H_in, W_in;              /* input height, width */
    int H, W;                    /* output height, width */
    bool ds;                     /* depth-separable block */
    /* parameters: views into the table (weights, gradients) */
    float *w, *dw;               /* conv.weight (C,C_in,K,K) (layer0 / full hidden conv) */
    float *w_in, *dw_in;         /* ds_conv.in_depth_conv.weight (C,C_in,1,1) */
    float *w_sp, *dw_sp;         /* ds_conv.spatial_conv.weight (C,1,K,K) */
    float *w_out, *dw_out;       /* ds_conv.out_depth_conv.weight (C,C,1,1) */
    float *gamma, *dgamma;       /* norm.weight (C) */
    float *beta, *dbeta;         /* norm.bias (C) */
    float *running_mean;         /* norm.running_mean (C), buffer */
    float *running_var;          /* norm.running_var (C), buffer */
    int64_t num_batches_tracked; /* norm.num_batches_tracked: training forwards seen */
    /* kernel-layout sizes (set by nsid_core_bind_state; channel-blocked, kern.h) */
    int nbi, nbo;                /* channel blocks of the input and output (vb each) */
    size_t in_floats;            /* floats of one blocked input image: nbi * vb * H_in * W_in */
    size_t out_floats;           /* floats of one blocked output image: nbo * vb * H * W */
    int kw;                      /* full conv: im2col columns per kernel row, K or K rounded up to 8
                                    when that costs no extra columns (see layer_layout) */
    int kc;                      /* full conv: im2col columns C_in*K*kw rounded up to vb */
    struct nsid_kdw dwf, dwb;    /* ds: depthwise forward and input-gradient sizes */
    size_t grad_floats;          /* floats of the layer's packed weight gradient (chunk partial) */
    int32_t *gmap;               /* (grad_floats) packed gradient element -> offset in its parameter's
                                    gradient (dw, or dw_in / dw_sp / dw_out by segment), -1 = padding */
    /* activations for batches up to B (arena), channel-blocked */
    float *a_in;                 /* (B,nbo,dwf.Hp,dwf.Wp,vb) in_depth_conv output (ds only), zero-bordered
                                    by pad as the depthwise forward reads it */
    float *a_sp;                 /* (B,nbo,H,W,vb) spatial_conv output (ds only) */
    float *pre;                  /* (B,nbo,H,W,vb) conv output = BN input */
    float *act;                  /* (B,nbo,H,W,vb) the layer output ELU(BN(pre)), stored by a forward
                                    that keeps state, as the next layer's input for the backward
                                    (not the last layer: its output is the core output) */
    float *bn_mean, *bn_rstd;    /* (C) statistics of the last forward (batch or running) */
    double *st0, *st1;           /* (B,nbo*vb) per-image BN sums: forward mean, squared deviations;
                                    backward sum dy, sum dy*xhat */
    float *mean_v, *rstd_v;      /* (nbo*vb) bn_mean, bn_rstd with zero padding lanes */
    float *scale, *shift;        /* (nbo*vb) BN as y = pre * scale + shift (latest forward) */
    float *gr, *ga, *gb;         /* (nbo*vb) BN backward: dpre = gr * (dbn - ga - xhat * gb) */
    /* packed weights (arena), refreshed by every forward (*_t by every backward) */
    float *pk_in, *pk_in_t;      /* ds: (nbi*vb, nbo*vb) in_depth_conv^T and (nbo*vb, nbi*vb) */
    float *pk_sp, *pk_sp_flip;   /* ds: (nbo,K,K,vb) spatial_conv and its 180-degree rotation */
    float *pk_out, *pk_out_t;    /* ds: (nbo*vb, nbo*vb) out_depth_conv^T and as is */
    float *pk_w, *pk_w_t;        /* full conv: (kc, nbo*vb) weight^T and (nbo*vb, kc) */
};

/* Offsets (floats) of one thread's scratch buffers inside nsid_core.scratch. */
struct nsid_core_scratch {
    size_t act;                  /* (max blocked image) a layer input ELU(BN(pre)) */
    size_t dpre;                 /* (max blocked image) gradient of pre */
    size_t t;                    /* (max blocked image) a_sp without a backward to follow; da_in */
    size_t dout;                 /* (max blocked image) the caller's dout, blocked */
    size_t col;                  /* (col_floats) im2col matrix (full convs) */
    size_t pad[NSID_CORE_MAX_LAYERS][2]; /* ds: zero-bordered a_in without a backward to follow,
                                            and da_sp, of layer k */
    size_t total;                /* floats per thread */
};

struct nsid_core {
    struct nsid_core_config cfg;
    int in_c, in_h, in_w;        /* input (N, in_c, in_h, in_w) */
    int out_c, out_h, out_w;     /* output (N, out_c, out_h, out_w) */
    struct nsid_core_layer layer[NSID_CORE_MAX_LAYERS];
    float *laplace_filter;       /* (1,1,3,3) buffer: the Laplace filter (state_dict entry) */
    const struct nsid_kern *kern; /* kernel set (nsid_core_set_kernels, else auto at bind) */
    struct nsid_pool *pool;      /* borrowed thread pool (nsid_core_set_pool), NULL = caller only */
    int nt;                      /* threads the state was bound for */
    int out_vb;                  /* layout of out and dout: 1 = NCHW (default), kern->vb =
                                    channel-blocked (nsid_core_set_output_layout) */
    int B;                       /* batch bound of the bound state, 0 = unbound */
    size_t max_img;              /* floats of the largest blocked image of any layer */
    size_t col_floats;           /* im2col floats per thread (largest full conv), 0 if none */
    size_t max_grad;             /* largest grad_floats of a layer */
    struct nsid_core_scratch so; /* per-thread scratch layout */
    /* state from the arena (nsid_core_bind_state) */
    float *x;                    /* (B,in_c,in_h,in_w) copy of the forward input (for dW0) */
    float *g;                    /* (B, max_img) gradient flowing between layers, blocked */
    float *part;                 /* (ceil(B/NSID_CORE_CHUNK), max_grad) per-chunk weight gradients */
    float *scratch;              /* (nt, so.total) per-thread scratch */
    float *out;                  /* (B,out_c,out_h,out_w) the core output, NCHW, or channel-blocked
                                    (B,ceil(out_c/vb),out_h,out_w,vb) when out_vb > 1 */
    bool last_training;          /* mode of the last forward (its backward uses the same) */
    bool grad_ready;             /* the last forward kept the backward's state (nsid_core_forward) */
};

/*
 * A model's core as a pluggable part (in the spirit of sqlite3_io_methods): the model
 * (nn/model.h) allocates ops->size zeroed bytes, owns them, and drives the core only
 * through this table. Two implementations: nsid_core_se2d_ops (this file's SE2dCore, the
 * paper's) and nsid_vgg16_core_ops (nn/vgg16.h, the frozen task-driven core of
 * docs/paper.md §7.5). Every call gets the implementation's struct as `core`.
 */
struct nsid_core_ops {
    const char *name;            /* "se2d", "vgg16" */
    size_t size;                 /* bytes of the implementation's struct */
    bool trainable;              /* false: always frozen (no backward, no regulariser, no dfeat) */
    bool serial_loss;            /* the model sums the batch's Poisson loss in one pass over (B, N)
                                    rather than per image (the task-driven model's recorded losses,
                                    kept bit for bit) */
    const char *arch_format;     /* the architecture JSON's "format" */
    bool arch_model_parts;       /* the architecture records image, readout, shifter, modulator, seed */
    /* Validate cfg for in_h x in_w images (cfg->input_channels channels), register the tensors under
       "<prefix>." in ps (core first: the model's weight range [0, core_end)), set out[3] = C, H, W. */
    int (*init)(void *core, const struct nsid_core_config *cfg, int in_h, int in_w, struct nsid_params *ps,
                const char *prefix, int out[3], struct nsid_err *err);
    /* PyTorch's initialisation from rng (after the table is allocated); counters to 0. */
    void (*reset)(void *core, struct nsid_rng *rng);
    /* Kernel set and borrowed pool (both may be ignored); vb > 1: give the output channel-blocked
       (only when blocked_output). Before bind_state. */
    int (*set_compute)(void *core, const struct nsid_kern *kern, struct nsid_pool *pool, int vb,
                       struct nsid_err *err);
    bool blocked_output;         /* set_compute accepts vb > 1 */
    size_t (*out_floats)(const void *core); /* floats of one image's output in its layout */
    int (*bind_state)(void *core, struct nsid_arena *a, int B, struct nsid_err *err);
    /* The output (B, C, H, W) of images x. keep_grad: a backward follows (trainable cores only).
       trials (NULL: none) are the images' trial indices in scan `scan`, for a feature cache. */
    const float *(*forward)(void *core, const float *x, int B, bool training, bool keep_grad, int scan,
                            const int64_t *trials);
    void (*backward)(void *core, const float *dout, int B);       /* += weight gradients */
    double (*regularizer)(const void *core);                       /* NULL: none */
    void (*regularizer_backward)(void *core, double scale);
    /* The int64 checkpoint entries (BN num_batches_tracked) under "<prefix>.": fills e (may be NULL)
       and returns their count. */
    int (*ints)(void *core, const char *prefix, struct nsid_checkpoint_i64 *e);
    /* The core's architecture object ("{...}") into buf (n bytes); returns the length needed. */
    int (*arch_json)(const void *core, char *buf, size_t n);
    /* Weights from a file of the core's own format (NULL: an nsid checkpoint's "<prefix>." entries,
       loaded by the model); what receives a short description of the format. */
    int (*load)(void *core, const char *path, char *what, size_t n, struct nsid_err *err);
    /* Keep the features of every trial once computed, if they fit in max_bytes (NULL: no cache):
       n_trials[s] trials in scan s; *bytes what was allocated (0: none). Bit-identical results. */
    int (*set_cache)(void *core, int n_scans, const int64_t *n_trials, size_t max_bytes, size_t *bytes,
                     struct nsid_err *err);
    void (*free)(void *core);    /* release what the core owns (not the struct itself) */
};

/* The SE2d core (struct nsid_core) as a model's core. */
extern const struct nsid_core_ops nsid_core_se2d_ops;

/* The paper's configuration (docs/paper.md §1.1). */
void nsid_core_config_default(struct nsid_core_config *cfg);

/*
 * Validate cfg for an in_h x in_w input, compute the shapes and register every
 * tensor in ps under "<prefix>.<state_dict name>" (prefix "" or NULL: no prefix).
 * On error (a bad config value or input size, named with its key and value; a
 * table error) returns < 0 with err set; c is then zeroed, and the table, which may
 * hold some of the core's entries, is to be discarded. No large allocation.
 */
int nsid_core_init(struct nsid_core *c, const struct nsid_core_config *cfg, int in_h, int in_w,
                   struct nsid_params *ps, const char *prefix, struct nsid_err *err);

/* After nsid_params_alloc: Xavier-normal convs, BN defaults (order in the file comment). */
void nsid_core_reset_parameters(struct nsid_core *c, struct nsid_rng *rng);

/*
 * Borrow a thread pool (NULL: run in the caller's thread). Call before
 * nsid_core_bind_state, which sizes per-thread scratch for the pool's threads;
 * the pool must outlive the core's use, and a bound core only runs with a pool
 * of at most that many threads.
 */
void nsid_core_set_pool(struct nsid_core *c, struct nsid_pool *pool);

/*
 * Use the kernel set `name` (kern.h: "auto", "avx512", "avx2", "generic",
 * "generic16"). Call before nsid_core_bind_state (the layout depends on the
 * set's vector width). Without it, bind_state takes "auto".
 * Fails with NSID_EINVAL if the set is unknown or unsupported here.
 */
int nsid_core_set_kernels(struct nsid_core *c, const char *name, struct nsid_err *err);

/*
 * Give the output (and take the backward's dout) channel-blocked with block
 * width vb instead of NCHW: (N, ceil(out_c/vb), out_h, out_w, vb), padding
 * lanes zero. vb must be 1 (NCHW, the default) or the kernel set's width
 * (the set is chosen here if not yet). Saves two transpositions per image when
 * the consumer reads that layout (nsid_readout_set_input_layout). Before bind.
 */
int nsid_core_set_output_layout(struct nsid_core *c, int vb, struct nsid_err *err);

/* Floats of one image of c->out in the chosen layout (after the layout is set). */
size_t nsid_core_out_floats(const struct nsid_core *c);

/*
 * Take activations, gradient scratch and per-thread scratch for batches up to B
 * from the arena (works in measuring mode); picks the kernel set if none was set.
 * Returns < 0 with err set when the arena is full.
 */
int nsid_core_bind_state(struct nsid_core *c, struct nsid_arena *a, int B, struct nsid_err *err);

/*
 * c->out (N,out_c,out_h,out_w) = core(x (N,in_c,in_h,in_w)), N <= B. training: BN
 * uses batch statistics and updates the running statistics and num_batches_tracked;
 * otherwise running statistics. x is copied (the caller may reuse it).
 */
void nsid_core_forward(struct nsid_core *c, const float *x, int N, bool training);

/*
 * The same forward (identical results) without keeping what nsid_core_backward
 * needs, which must not follow: for evaluation and a frozen core. training as in
 * nsid_core_forward (batch statistics, running statistics updated). Evaluation
 * (training = false) needs no batch statistics, so each image runs through all
 * layers at once in thread scratch: no barriers, nothing stored but c->out.
 */
void nsid_core_forward_nograd(struct nsid_core *c, const float *x, int N, bool training);

/*
 * Backpropagate dout (N,out_c,out_h,out_w) through the last forward (same N):
 * += into every weight gradient of the core and into dx (N,in_c,in_h,in_w) if
 * not NULL. Uses the BN mode of that forward.
 */
void nsid_core_backward(struct nsid_core *c, float *dx, const float *dout, int N);

/* gamma_input * LaplaceL2norm(layer0 conv weight). */
double nsid_core_regularizer(const struct nsid_core *c);
/* layer0 dweight += scale * d(regularizer)/dW0. */
void nsid_core_regularizer_backward(struct nsid_core *c, double scale);

/* Trainable floats the core registered (71,936 for the paper's configuration). */
size_t nsid_core_num_weights(const struct nsid_core *c);

/* Forget the views into the table and arena (which own the memory); safe on a zeroed struct. */
void nsid_core_free(struct nsid_core *c);

#endif
