/*
 * net.h - a run's model from its configuration: the configuration keys -> struct nsid_model
 * (nn/model.h) glue. One model serves every run: direct training, transfer, the VGG16 core
 * (docs/paper.md §7.5) and random cores differ only in the model's pluggable core
 * (nsid_core_se2d_ops, nsid_vgg16_core_ops) and in what nsid_net_prepare_core loads into it.
 *
 *     struct nsid_model m;
 *     nsid_net_init(&m, &config, scans, n_scans, isa, &err);     // initialised from train.seed
 *     nsid_net_prepare_core(&m, &config, desc, sizeof desc, &err); // transfer / VGG16 weights / random
 *     ... then nsid_model_* (model.h): alloc_state, train_batch, adam_step, predict, checkpoint
 *
 * The task-driven model (model.core.type vgg16) has core.features.TransferLearning.* and
 * core.features.OutBatchNorm.* (neuralpredictors' TransferLearningCore names), then
 * readout.<data_key>.* as the paper's model; its core is always frozen. Feature sharing,
 * shifters and modulators are refused with it (the paper's VGG16 runs use none).
 */
#ifndef NSID_NET_H
#define NSID_NET_H

#include <stddef.h>

#include "base/err.h"
#include "exp/config.h"
#include "nn/model.h"

/* The model configuration of run config c for images of `channels` channels; isa the kernel set
   (NULL or "": auto). */
void nsid_net_model_config(struct nsid_model_config *m, const struct nsid_config *c, int channels, const char *isa);

/*
 * Build the model of configuration c for n_scans scans (c validated; scans as nsid_model_init
 * wants them) and initialise every parameter from train.seed (stream NSID_STREAM_INIT). The core
 * is not yet loaded: see nsid_net_prepare_core. On failure m is zeroed and err names the key or scan.
 */
int nsid_net_init(struct nsid_model *m, const struct nsid_config *c, const struct nsid_model_scan *scans,
                  int n_scans, const char *isa, struct nsid_err *err);

/*
 * Give the core what the configuration asks for: with model.core.checkpoint, the SE2d core's
 * "core." entries from an nsid checkpoint (transfer: weights and BN statistics, strict within
 * the prefix) or the core's own weights file (VGG16); with model.core.random, nothing (the
 * initialisation stays). Sets the frozen flag from train.detach_core (a core that cannot train
 * stays frozen) and writes what the core is into desc ("se2d trained", "vgg16 RANDOM", ...).
 * Errors name the file and the tensor.
 */
int nsid_net_prepare_core(struct nsid_model *m, const struct nsid_config *c, char *desc, size_t n,
                          struct nsid_err *err);

#endif
