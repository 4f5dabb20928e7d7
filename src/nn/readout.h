/*
 * readout.h - per-scan readouts: core feature map (B,C,H,W) -> responses (B,N).
 *
 * One struct nsid_readout wraps the three readouts of the paper (docs/paper.md §2),
 * with neuralpredictors v0.0.3 semantics and state_dict names:
 *
 *   NSID_READOUT_GAUSSIAN    FullGaussian2d: per neuron a feature vector, a 2x2
 *                            matrix S and a mean mu; training samples the position
 *                            clamp(S z + mu, -1, 1), z ~ N(0, I), per image and
 *                            neuron; evaluation uses clamp(mu, -1, 1). mu is free or
 *                            predicted from cortical coordinates (grid-mean predictor).
 *   NSID_READOUT_FACTORIZED  FullSXF (Klindt 2017): spatial mask (N,H,W) x features (N,C).
 *   NSID_READOUT_POINTPOOLED PointPooled2d (Sinz 2018): a point per neuron sampled on
 *                            the map and on pool_steps average-pooled copies of it.
 *
 * The output is the linear readout y = w . F(pos) + bias, BEFORE the model's
 * ELU+1; the regulariser is gamma_readout times the paper's L1 form.
 *
 * Lifecycle (docs/design.md):
 *
 *     struct nsid_readout_config cfg;
 *     nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);       // the paper's configuration
 *     nsid_readout_init(&ro, &cfg, C, H, W, N, coords, NULL, NULL, &ps, "readout.20457-5-9-0", &err);
 *     nsid_params_alloc(&ps, &err);
 *     nsid_readout_reset_parameters(&ro, &init_rng);                  // also fills source_grid
 *     nsid_readout_set_bias(&ro, mean_of_first_batch);
 *     nsid_readout_bind_state(&ro, &arena, B, &err);                   // measuring, then real
 *     nsid_readout_forward(&ro, feat, B, true, &sample_rng, NULL, NULL);   // ro.out (B,N)
 *     nsid_readout_backward(&ro, dfeat, NULL, dout, feat, B);           // grads +=
 *     loss += nsid_readout_regularizer(&ro); nsid_readout_regularizer_backward(&ro, 1.0);
 *     nsid_readout_free(&ro);
 *
 * Registered tensors ("<prefix>." + name; shapes as PyTorch's state_dict):
 *   Gaussian, free mu:     _mu (1,N,1,2), sigma (1,N,2,2), _features (1,C,1,N), bias (N)
 *   Gaussian, predictor:   sigma, _features, bias; buffer source_grid (N,2);
 *                          mu_transform.<i>.weight/bias as a torch Sequential
 *                          (paper: mu_transform.0.weight (2,2), mu_transform.0.bias (2))
 *   Factorized:            _features (N,C), spatial (N,H,W), bias (N)
 *   Point-pooled:          grid (1,N,1,2), features (1,C*(pool_steps+1),1,N), bias (N)
 *   Feature sharing (Gaussian, factorized; share_features with match ids): the
 *   first scan's readout (the owner) holds _features with n_ids = number of
 *   distinct match ids in place of N ((1,C,1,n_ids) or (n_ids,C)); every scan
 *   has scales ((1,1,1,N) or (N,1)).
 *   Two state_dict entries of a sharing readout are not in the (float) table;
 *   the model adds them to its checkpoint (nn/checkpoint.h):
 *     "<prefix>.feature_sharing_index": int64 (N), data r->share_idx, fixed
 *         (derived from the match ids);
 *     "<prefix>._features" of a non-owner: an alias of "<owner prefix>._features"
 *         (PyTorch lists the shared tensor under every scan).
 *
 * Dimension letters: B batch, N neurons, C channels, H x W core output map.
 */
#ifndef NSID_READOUT_H
#define NSID_READOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/pool.h"
#include "base/rng.h"
#include "nn/gridsample.h"
#include "nn/kern.h"
#include "nn/params.h"
#include "nn/shifter.h"

enum nsid_readout_kind {
    NSID_READOUT_GAUSSIAN = 0,    /* FullGaussian2d */
    NSID_READOUT_FACTORIZED = 1,  /* FullSXF */
    NSID_READOUT_POINTPOOLED = 2, /* PointPooled2d */
};

#define NSID_READOUT_MAX_POOL_STEPS 8

struct nsid_readout_config {
    int kind;                    /* enum nsid_readout_kind */
    double gamma_readout;        /* weight of the L1 regulariser, >= 0 */
    double init_noise;           /* std of the N(0, .) initialisations: 1e-3 (Gaussian),
                                    4.1232e-05 (factorized) */
    bool share_features;         /* share feature vectors across scans by match id
                                    (Gaussian, factorized) */
    /* Gaussian */
    double init_mu_range;        /* free mu ~ U(-r, r), 0 < r <= 1; 0.55 */
    double init_sigma;           /* entries of S ~ U(-s, s), s > 0; 0.4 */
    bool grid_mean_predictor;    /* mu = MLP(cortical x, y); true ("cortex") */
    int gmp_hidden_layers;       /* hidden layers of the predictor, 0..7; 0 (affine map) */
    int gmp_hidden_features;     /* their width (used when gmp_hidden_layers > 0) */
    bool gmp_final_tanh;         /* Tanh after the predictor; false */
    double init_transform_scale; /* affine predictor A = scale * random orthogonal; 0.2 */
    /* Factorized */
    bool normalize;              /* divide each spatial mask by its L2 norm; false */
    /* Point-pooled */
    int pool_steps;              /* pooled copies of the map, 0..NSID_READOUT_MAX_POOL_STEPS; 2 */
    int pool_kern;               /* average-pool kernel = stride, >= 1; 3 */
    double init_range;           /* grid ~ U(-r, r), 0 < r <= 1; 0.2 */
};

struct nsid_readout_ops;

struct nsid_readout {
    struct nsid_readout_config cfg;
    int kind;                    /* cfg.kind */
    const struct nsid_readout_ops *ops; /* the kind's operations (readout_int.h), static */
    char prefix[NSID_PARAM_NAME_MAX]; /* state_dict prefix, e.g. "readout.20457-5-9-0" */
    int C, H, W, N;              /* core output shape and neurons */
    bool shared;                 /* feature sharing on */
    int n_ids;                   /* distinct match ids (shared), else 0 */
    int64_t *ids;                /* (n_ids) sorted distinct match ids, owned (shared only) */
    int64_t *share_idx;          /* (N) feature_sharing_index: rank of each neuron's match id
                                    among the sorted distinct ids, owned (shared only) */
    struct nsid_readout *owner;  /* the readout holding _features (itself unless a non-owner) */
    float *src_grid;             /* (N,2) normalised cortical x, y, owned (predictor only) */

    /* parameters: views into the parameter table (NULL when absent) */
    float *features, *dfeatures; /* _features (Gaussian (C,Nf), factorized (Nf,C), Nf = N or
                                    n_ids) or point-pooled features (C*(steps+1), N) */
    float *scales, *dscales;     /* (N) per-neuron feature scale (shared only) */
    float *bias, *dbias;         /* (N) */
    float *sigma, *dsigma;       /* (N,2,2) Gaussian S */
    float *mu, *dmu;             /* (N,2) free Gaussian mean _mu */
    float *spatial, *dspatial;   /* (N,H,W) factorized mask */
    float *grid, *dgrid;         /* (N,2) point-pooled position */
    float *source_grid;          /* buffer (N,2) predictor input */
    struct nsid_mlp gmp;         /* grid-mean predictor "mu_transform" (predictor only) */

    /* state bound by nsid_readout_bind_state (arena) */
    int max_batch;               /* B bound */
    int last_B;                  /* batch of the latest forward */
    bool last_training;          /* mode of the latest forward */
    float *out;                  /* (B,N) linear readout of the latest forward */
    float *z;                    /* (B,N,2) Gaussian noise used (0 in evaluation) */
    float *pre;                  /* (B,N,2) Gaussian S z + mu before the clamp */
    float *pos;                  /* (B,N,2) sampling positions (after clamp and shift) */
    float *mu_cur, *dmu_cur;     /* (N,2) Gaussian mean of the latest forward, its gradient */
    float *dpos;                 /* (N,2) position gradients of one image (scratch) */
    struct nsid_bilinear *bl;    /* (N) bilinear set-up of one image's positions (scratch) */
    float *weff, *dweff;         /* effective features (Gaussian (C,N), factorized (N,C)) and
                                    their gradient, when shared */
    float *t;                    /* factorized (B*C, N): sum_hw x u (forward), then its gradient */
    float *ueff, *dueff;         /* factorized (N,H*W) normalised mask and its gradient (normalize) */
    float *unorm;                /* factorized (N) mask norms + 1e-6 (normalize) */
    float *level[NSID_READOUT_MAX_POOL_STEPS + 1];  /* point-pooled (B,C,h_l,w_l), l >= 1 */
    float *dlevel[NSID_READOUT_MAX_POOL_STEPS + 1]; /* their gradients */
    int lh[NSID_READOUT_MAX_POOL_STEPS + 1], lw[NSID_READOUT_MAX_POOL_STEPS + 1]; /* level sizes */

    /* speed (Gaussian readout): threads and SIMD kernels on a channels-last map */
    struct nsid_pool *pool;      /* borrowed thread pool (nsid_readout_set_pool), NULL = caller only */
    const struct nsid_kern *kern; /* kernel set (nsid_readout_set_kernels, else auto at bind) */
    int nt;                      /* threads the state was bound for */
    int cp;                      /* C rounded up to the kernels' vector width */
    int in_vb;                   /* layout of feat/dfeat: 1 = (B,C,H,W); kern->vb = the core's
                                    channel-blocked (B,cp/vb,H,W,vb) (nsid_readout_set_input_layout) */
    float *wT, *dwT;             /* (N, cp) effective features channels-last, and their gradient */
    float *gdpos;                /* (B, N, 2) Gaussian position gradients of the latest backward */
    float *scratch;              /* (nt, 2, H*W, cp) per thread: a channels-last feature map and gradient */
    struct nsid_bilinear *blrow; /* (nt, N) per thread: the bilinear points of one image */
};

/* The kind's name: "gaussian", "factorized", "pointpooled" ("unknown" for another value). */
const char *nsid_readout_kind_name(int kind);

/* Fill cfg with the paper's configuration of that kind (defaults above). */
void nsid_readout_config_default(struct nsid_readout_config *cfg, int kind);

/*
 * Validate cfg (errors name the config key and the bad value) and the shapes,
 * and register the tensors under "<prefix>.<name>" (see the list above).
 * coords (N,3) are cell_motor_coordinates in µm (only x, y are used; required
 * with the grid-mean predictor, normalised here: subtract the column means,
 * divide by the largest |value| over both columns). match_ids (N) are the
 * multi_match_ids (required with share_features); share_owner is the first
 * scan's readout when sharing (NULL for the first scan itself), and must have
 * the same kind, C and set of match ids, and must outlive r (a non-owner reads
 * and writes the owner's _features and its gradient). r must not move after init. Small
 * allocations only (O(N)); on failure everything taken is released.
 */
int nsid_readout_init(struct nsid_readout *r, const struct nsid_readout_config *cfg,
                      int C, int H, int W, int N, const double *coords, const int64_t *match_ids,
                      struct nsid_readout *share_owner, struct nsid_params *ps, const char *prefix,
                      struct nsid_err *err);

/*
 * After nsid_params_alloc: initialise as PyTorch does and fill the buffers
 * (source_grid, nsid_readout_fill_buffers). Draw order:
 *   Gaussian:     _mu U(-init_mu_range, .) (free only, row-major); sigma U(-init_sigma, .);
 *                 _features N(0, init_noise^2) (owner only); predictor layers in order: weight
 *                 (a single Linear: init_transform_scale * orthogonal from 4 normals, QR with
 *                 positive diagonal as scipy's ortho_group; otherwise PyTorch's default
 *                 U(+-1/sqrt(in))), bias N(0, init_noise^2); scales N(1, init_noise^2) (shared);
 *                 bias N(0, init_noise^2).
 *   Factorized:   spatial N(0, init_noise^2); _features N(0, init_noise^2) (owner only);
 *                 scales 1 (shared); bias 0.
 *   Point-pooled: grid U(-init_range, init_range); features 1/C; bias 0.
 * The bias is then usually overwritten by nsid_readout_set_bias.
 */
void nsid_readout_reset_parameters(struct nsid_readout *r, struct nsid_rng *rng);

/*
 * Write the buffer source_grid (the normalised coordinates init computed; a
 * checkpoint load overwrites it with the saved values).
 */
void nsid_readout_fill_buffers(struct nsid_readout *r);

/* bias = mean (N): the mean response of the first training batch (docs/paper.md §2.1). */
void nsid_readout_set_bias(struct nsid_readout *r, const float *mean);

/*
 * Borrow a thread pool for the Gaussian readout's forward and backward (NULL:
 * the caller's thread). Call before nsid_readout_bind_state (per-thread
 * scratch); results do not depend on the pool's thread count.
 */
void nsid_readout_set_pool(struct nsid_readout *r, struct nsid_pool *pool);

/* Kernel set for the Gaussian readout (kern.h names); before bind. NSID_EINVAL if unavailable. */
int nsid_readout_set_kernels(struct nsid_readout *r, const char *name, struct nsid_err *err);

/*
 * Take feat and give dfeat in a channel-blocked layout of block width vb
 * (kern.h: (B, ceil(C/vb), H, W, vb), padding lanes zero) instead of NCHW: the
 * core's own layout (nsid_core_set_output_layout), so no transposition is
 * needed between them. vb 1 means NCHW (the default). Gaussian readout only;
 * vb must be 1 or the readout's kernel vector width (chosen here if not yet
 * set). Call before bind. NSID_EINVAL otherwise.
 */
int nsid_readout_set_input_layout(struct nsid_readout *r, int vb, struct nsid_err *err);

/*
 * Take the state for batches up to B from the arena (works in measuring
 * mode). Fails with NSID_ENOMEM when the arena is full.
 */
int nsid_readout_bind_state(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err);

/*
 * r->out (B,N) = readout of feat (B,C,H,W), B <= the bound batch.
 * Gaussian: training draws z (B,N,2) unless z is given: one nsid_rng_u64 of
 * sample_rng seeds a stream per image (nsid_rng_init(&s_b, that value, b)),
 * from which z[b, n, :] is drawn for n = 0..N-1 as a Box-Muller pair
 * (u1, u2 uniforms: r = sqrt(-2 log(1 - u1)), z = (r cos 2 pi u2, r sin 2 pi u2)),
 * so images can be drawn in parallel and the result does not depend on the
 * thread count; evaluation (training = false) uses z = 0 and ignores sample_rng.
 * shift (B,2) or NULL is added to every position after the clamp. A free _mu
 * (Gaussian) and the point-pooled grid are clamped to [-1, 1] in place, and the
 * factorized spatial mask is projected onto u >= 0 in place, as PyTorch does.
 */
void nsid_readout_forward(struct nsid_readout *r, const float *feat, int B, bool training,
                          struct nsid_rng *sample_rng, const float *z, const float *shift);

/*
 * Backward of the latest forward (called once per forward): parameter
 * gradients += (with sharing, the owner's _features gradient too), dfeat
 * (B,C,H,W) += unless NULL, dshift (B,2) += unless NULL, from dout (B,N).
 * feat is the forward's input.
 */
void nsid_readout_backward(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout,
                           const float *feat, int B);

/*
 * gamma_readout times the paper's L1 term:
 *   Gaussian:     sum |_features| (owner only; a non-owner returns 0; scales are free)
 *   Factorized:   (sum_{n,h,w} |u|) * (sum_{n,c} |v|), the product of the global L1 norms
 *                 that FullSXF.l1 computes (v = effective features, u = the projected and
 *                 possibly normalised mask); a non-owner returns gamma * sum |u|
 *   Point-pooled: sum |features|
 */
double nsid_readout_regularizer(const struct nsid_readout *r);

/* Parameter gradients += scale * d(regulariser)/d(parameter). */
void nsid_readout_regularizer_backward(struct nsid_readout *r, double scale);

/*
 * Evaluation positions (N,2) in normalised grid units (x, y): clamp(mu) for
 * the Gaussian (mu predicted from source_grid or free), clamp(grid) for the
 * point-pooled readout. The factorized readout has none: NSID_EINVAL.
 */
int nsid_readout_positions(const struct nsid_readout *r, float *pos, struct nsid_err *err);

/* Release what init took; safe on a zeroed struct. */
void nsid_readout_free(struct nsid_readout *r);

#endif
