/*
 * vgg16.h - the task-driven core of docs/paper.md §7.5: VGG16 up to conv2_2, then BatchNorm and
 * ReLU, frozen (neuralpredictors' TransferLearningCore with torchvision's vgg16().features[:8]).
 *
 *   input (N,1,H,W) grey, repeated to 3 channels (input_.repeat(1, 3, 1, 1))
 *   features.TransferLearning.0  conv 3x3 pad 1, 3 -> 64, bias      conv1_1
 *                             1  ReLU
 *                             2  conv 3x3 pad 1, 64 -> 64, bias     conv1_2
 *                             3  ReLU
 *                             4  max-pool 2x2 stride 2 (floor)
 *                             5  conv 3x3 pad 1, 64 -> 128, bias    conv2_1
 *                             6  ReLU
 *                             7  conv 3x3 pad 1, 128 -> 128, bias   conv2_2 (cut before its ReLU)
 *   features.OutBatchNorm        BatchNorm2d(128, momentum 0.1, eps 1e-5), affine
 *   features.OutNonlin           ReLU
 *   output (N,128,H/2,W/2): 128 x 18 x 32 for a 36 x 64 image.
 *
 * The core is frozen (fine_tune=False and detach_core=True in the paper's runs): it has no
 * backward. Its convolutions never change; the BatchNorm runs in training mode during
 * training (batch statistics, running statistics re-estimated with momentum 0.1, docs/paper.md
 * §1.5) and its affine map stays at the identity (it gets no gradient through the detached
 * output). The conv2_2 bias is kept (neuralpredictors v0.0.x does not remove it).
 *
 * Weights come from an HDF5 file in one of two layouts (nsid_vgg16_load, detected by content):
 *   torchvision  a state_dict converted to HDF5: datasets "features.0.weight" (64,3,3,3),
 *                "features.0.bias" (64), ... "features.7.*" at the root (or nested as
 *                features/0/weight); other entries (deeper layers, classifier) are ignored.
 *   keras        vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5: one group per layer
 *                (block1_conv1, block1_conv2, block2_conv1, block2_conv2) whose attribute
 *                "weight_names" names the kernel (3,3,Cin,Cout) and the bias (Cout)
 *                ("block1_conv1_W_1:0" in the released file, "block1_conv1/kernel:0" in
 *                newer Keras files); kernels are transposed to PyTorch's (Cout,Cin,3,3).
 * Both are cross-correlations, so no kernel flip. A grey image repeated 3x is the same in
 * RGB and BGR order, so Keras' (Caffe-derived, BGR) weights need no channel swap.
 * Without a file, nsid_vgg16_reset_parameters gives torchvision's random initialisation
 * (kaiming_normal_, mode fan_out, ReLU gain: std = sqrt(2 / (Cout*9)); biases 0): the
 * "random VGG16" baseline.
 *
 *     struct nsid_vgg16 v;
 *     struct nsid_vgg16_config cfg; nsid_vgg16_config_default(&cfg);
 *     nsid_vgg16_init(&v, &cfg, 36, 64, &ps, "core", &err);     // registers tensors
 *     nsid_params_alloc(&ps, &err);
 *     nsid_vgg16_reset_parameters(&v, &rng);                  // random, or then:
 *     nsid_vgg16_load(&v, "vgg16_notop.h5", NULL, &err);       // ImageNet weights
 *     nsid_vgg16_bind_state(&v, &arena, B, &err);              // measuring, then real
 *     nsid_vgg16_forward(&v, x, n, true);                      // v.out (n,128,18,32)
 */
#ifndef NSID_VGG16_H
#define NSID_VGG16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/rng.h"
#include "nn/conv.h"
#include "nn/core.h"
#include "nn/params.h"

#define NSID_VGG16_CONVS 4 /* conv1_1, conv1_2, conv2_1, conv2_2 */

enum nsid_vgg16_layout {
    NSID_VGG16_LAYOUT_TORCHVISION = 0, /* features.<i>.weight / .bias */
    NSID_VGG16_LAYOUT_KERAS = 1,       /* block<b>_conv<c> groups, tf kernel order */
};

struct nsid_vgg16_config {
    int input_channels;  /* image channels: 1 (repeated to 3) or 3 */
    double bn_momentum;  /* OutBatchNorm momentum, PyTorch convention (0.1) */
    double bn_eps;       /* OutBatchNorm eps (1e-5) */
};

struct nsid_vgg16 {
    struct nsid_vgg16_config cfg;
    int in_h, in_w;                        /* input image size */
    int out_c, out_h, out_w;               /* output (N, 128, in_h/2, in_w/2) */
    struct nsid_conv_dims conv[NSID_VGG16_CONVS]; /* sizes of each conv (N set per call) */
    float *w[NSID_VGG16_CONVS];            /* conv weights (O,C,3,3), views into the table */
    float *b[NSID_VGG16_CONVS];            /* conv biases (O) */
    float *bn_gamma, *bn_beta;             /* OutBatchNorm weight, bias (128) */
    float *running_mean, *running_var;     /* OutBatchNorm buffers (128) */
    int64_t num_batches_tracked;           /* OutBatchNorm training forwards seen */
    size_t ws_floats;                      /* im2col workspace of the largest conv */
    /* state for batches up to B (nsid_vgg16_bind_state) */
    int B;
    float *x3;                             /* (B,3,H,W) the grey input repeated */
    float *buf[2];                         /* (B,64,H,W) ping-pong activations */
    float *ws;                             /* (ws_floats) im2col workspace */
    float *bn_mean, *bn_rstd;              /* (128) statistics of the last forward */
    float *out;                            /* (B,128,H/2,W/2) the core output */
    /* conv2_2 outputs per trial (the core ops' set_cache): the frozen convolutions of an image
       never change, so each is computed once; results are bit-identical to recomputing. Owned. */
    int n_cache;                           /* scans */
    float **cache;                         /* (n_cache) (n_trials, 128*H/2*W/2) */
    uint8_t **cached;                      /* (n_cache) (n_trials) 1 once computed */
};

/* The frozen VGG16 core as a model's core (core.h): the readouts' input, "nsid-taskdriven" JSON. */
extern const struct nsid_core_ops nsid_vgg16_core_ops;

/* The paper's configuration: grey input, BN momentum 0.1, eps 1e-5. */
void nsid_vgg16_config_default(struct nsid_vgg16_config *cfg);

/*
 * Validate cfg and the image size (at least 2x2) and register, under "<prefix>.", the
 * tensors of neuralpredictors' TransferLearningCore state_dict:
 *     features.TransferLearning.{0,2,5,7}.{weight,bias}     weights (frozen)
 *     features.OutBatchNorm.{weight,bias}                     weights (frozen)
 *     features.OutBatchNorm.{running_mean,running_var}        buffers
 * (num_batches_tracked is v->num_batches_tracked). v must not move after init.
 */
int nsid_vgg16_init(struct nsid_vgg16 *v, const struct nsid_vgg16_config *cfg, int in_h, int in_w,
                    struct nsid_params *ps, const char *prefix, struct nsid_err *err);

/*
 * torchvision's random initialisation: each conv weight w = std * N(0,1) with std =
 * sqrt(2 / (Cout*9)) drawn in row-major order, conv0, conv2, conv5, conv7; biases 0;
 * BN weight 1, bias 0, running mean 0, var 1, num_batches_tracked 0.
 */
void nsid_vgg16_reset_parameters(struct nsid_vgg16 *v, struct nsid_rng *rng);

/*
 * Load the four convolutions from an HDF5 weight file in either layout (see the top);
 * *layout (may be NULL) receives which one was found. All or nothing: every shape is
 * checked and every value read before anything changes. Errors name the file and the
 * dataset (NSID_ENOTFOUND for a missing file or entry, NSID_ESHAPE for a wrong shape,
 * NSID_EFORMAT for a file that is neither layout or holds NaN/Inf).
 */
int nsid_vgg16_load(struct nsid_vgg16 *v, const char *path, int *layout, struct nsid_err *err);

/* Take activations and workspace for batches up to B from the arena (measuring mode works). */
int nsid_vgg16_bind_state(struct nsid_vgg16 *v, struct nsid_arena *a, int B, struct nsid_err *err);

/*
 * v->out (N,128,H/2,W/2) = core(x (N,in_c,H,W)), N <= B. training: the BatchNorm uses batch
 * statistics and updates its running statistics and num_batches_tracked; otherwise it uses
 * the running statistics.
 */
void nsid_vgg16_forward(struct nsid_vgg16 *v, const float *x, int N, bool training);

/*
 * The frozen part only: conv2_2 outputs (N,128,H/2,W/2) of x into out (pre-BatchNorm),
 * using the bound state. nsid_vgg16_forward_bn finishes from there: with it, a caller may
 * keep the conv features of every image and skip recomputing the convolutions.
 */
void nsid_vgg16_forward_convs(struct nsid_vgg16 *v, float *out, const float *x, int N);
void nsid_vgg16_forward_bn(struct nsid_vgg16 *v, const float *conv_out, int N, bool training);

/* Floats of one image's output (128 * H/2 * W/2). */
size_t nsid_vgg16_out_floats(const struct nsid_vgg16 *v);

/* Release the feature cache and forget the views (the table and arena own the rest); safe on a
   zeroed struct. */
void nsid_vgg16_free(struct nsid_vgg16 *v);

#endif
