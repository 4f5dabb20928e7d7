/* net.c - a run's model from its configuration (see net.h). */
#include "net.h"

#include <stdio.h>
#include <string.h>

#include "nn/vgg16.h"

/* The readout configuration of run config c. */
static void readout_config(struct nsid_readout_config *r, const struct nsid_config *c)
{
    const struct nsid_cfg_readout *x = &c->model.readout;
    int kind = x->type == NSID_CFG_READOUT_FACTORIZED    ? NSID_READOUT_FACTORIZED
               : x->type == NSID_CFG_READOUT_POINTPOOLED ? NSID_READOUT_POINTPOOLED
                                                         : NSID_READOUT_GAUSSIAN;
    nsid_readout_config_default(r, kind);
    r->gamma_readout = x->gamma;
    r->init_noise = kind == NSID_READOUT_FACTORIZED ? x->factorized_init_noise : x->init_noise;
    r->share_features = x->share_features;
    r->init_mu_range = x->init_mu_range;
    r->init_sigma = x->init_sigma;
    r->grid_mean_predictor = x->grid_mean_predictor == NSID_CFG_GRID_CORTEX;
    r->gmp_hidden_layers = (int)x->grid_hidden_layers;
    r->gmp_hidden_features = (int)x->grid_hidden_features;
    r->gmp_final_tanh = x->grid_final_tanh;
    r->init_transform_scale = x->init_transform_scale;
    r->normalize = x->normalize;
    r->pool_steps = (int)x->pool_steps;
    r->pool_kern = (int)x->pool_kern;
    r->init_range = x->init_range;
}

void nsid_net_model_config(struct nsid_model_config *m, const struct nsid_config *c, int channels, const char *isa)
{
    nsid_model_config_default(m);
    const struct nsid_cfg_core *k = &c->model.core;
    bool vgg = k->type == NSID_CFG_CORE_VGG16;
    m->core_ops = vgg ? &nsid_vgg16_core_ops : &nsid_core_se2d_ops;
    m->core.input_channels = channels;
    m->core.layers = (int)k->layers;
    m->core.hidden_channels = (int)k->hidden_channels;
    m->core.input_kern = (int)k->input_kern;
    m->core.hidden_kern = (int)k->hidden_kern;
    m->core.pad_input = k->pad_input;
    m->core.depth_separable = k->depth_separable;
    m->core.bn_momentum = vgg ? k->vgg_bn_momentum : k->bn_momentum;
    m->core.bn_eps = k->bn_eps;
    m->core.gamma_input = k->gamma_input;
    readout_config(&m->readout, c);
    m->shifter = c->model.shifter;
    m->modulator = c->model.modulator;
    m->seed = (uint64_t)c->train.seed;
    snprintf(m->isa, sizeof m->isa, "%s", isa ? isa : "");
}

int nsid_net_init(struct nsid_model *m, const struct nsid_config *c, const struct nsid_model_scan *scans,
                  int n_scans, const char *isa, struct nsid_err *err)
{
    memset(m, 0, sizeof *m);
    if (n_scans < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "--data", "a run needs at least one scan");
    if (c->model.core.type == NSID_CFG_CORE_VGG16) {
        if (c->model.readout.share_features)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, "model.readout.share_features",
                                "true is not supported with model.core.type vgg16 (the paper's VGG16 runs share none)");
        if (c->model.shifter || c->model.modulator)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0,
                                c->model.shifter ? "model.shifter.enabled" : "model.modulator.enabled",
                                "not supported with model.core.type vgg16");
    }
    struct nsid_model_config mc;
    nsid_net_model_config(&mc, c, scans[0].channels, isa);
    return nsid_model_init(m, &mc, scans, n_scans, err);
}

int nsid_net_prepare_core(struct nsid_model *m, const struct nsid_config *c, char *desc, size_t n,
                          struct nsid_err *err)
{
    const char *ck = c->model.core.checkpoint, *name = m->core_ops->name;
    nsid_model_set_frozen_core(m, c->train.detach_core);
    if (c->model.core.random) {
        if (m->core_ops->load) /* a core of its own weights format: torchvision's initialisation */
            snprintf(desc, n, "%s RANDOM (torchvision initialisation, seed %lld), frozen", name,
                     (long long)c->train.seed);
        else
            snprintf(desc, n, "%s RANDOM (%lld channels, seed %lld), frozen", name,
                     (long long)c->model.core.hidden_channels, (long long)c->train.seed);
        return 0;
    }
    if (m->core_ops->load) {
        char what[64] = "";
        int rc = m->core_ops->load(m->core, ck, what, sizeof what, err);
        if (rc == 0) snprintf(desc, n, "%s from %.400s (%s), frozen", name, ck, what);
        return rc;
    }
    if (!ck[0]) {
        snprintf(desc, n, "%s trained (%lld channels)", name, (long long)c->model.core.hidden_channels);
        return 0;
    }
    struct nsid_checkpoint_load_opts o = {.prefix = "core."};
    int rc = nsid_model_load(m, ck, &o, err);
    if (rc == 0) snprintf(desc, n, "%s from %.400s%s", name, ck, m->frozen_core ? ", frozen" : ", fine-tuned");
    return rc;
}
