/* net.c - the network of a run: the paper's model or the task-driven VGG16 model (see net.h). */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/act.h"
#include "nn/loss.h"

/* ------------------------------------------------------------ configuration */

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

/* The SE2d model configuration of run config c for images of `channels` channels. */
static void model_config(struct nsid_model_config *m, const struct nsid_config *c, int channels)
{
    nsid_model_config_default(m);
    const struct nsid_cfg_core *k = &c->model.core;
    m->core.input_channels = channels;
    m->core.layers = (int)k->layers;
    m->core.hidden_channels = (int)k->hidden_channels;
    m->core.input_kern = (int)k->input_kern;
    m->core.hidden_kern = (int)k->hidden_kern;
    m->core.pad_input = k->pad_input;
    m->core.depth_separable = k->depth_separable;
    m->core.bn_momentum = k->bn_momentum;
    m->core.bn_eps = k->bn_eps;
    m->core.gamma_input = k->gamma_input;
    readout_config(&m->readout, c);
    m->shifter = c->model.shifter;
    m->modulator = c->model.modulator;
    m->seed = (uint64_t)c->train.seed;
}

/* ------------------------------------------------------------ the VGG16 model */

static void vgg_free(struct nsid_net_vgg *v, int n_scans)
{
    nsid_vgg16_free(&v->core);
    for (int s = 0; s < n_scans; s++) {
        if (v->cache) nsid_free(v->cache[s]);
        if (v->cached) nsid_free(v->cached[s]);
    }
    nsid_free(v->cache);
    nsid_free(v->cached);
    for (int s = 0; v->ro && s < n_scans; s++) nsid_readout_free(&v->ro[s]);
    nsid_free(v->ro);
    for (int s = 0; v->scan && s < n_scans; s++) nsid_model_scan_rec_free(&v->scan[s]);
    nsid_free(v->scan);
    nsid_free(v->ck_ids);
    nsid_params_free(&v->ps);
    nsid_arena_free(&v->arena);
    nsid_free(v->fixed_names);
    nsid_free(v->fixed);
}

/* Register core and readouts, allocate, initialise (core first: the range [0, core_end)). */
static int vgg_init(struct nsid_net *net, const struct nsid_config *c, const struct nsid_model_scan *sc, int n,
                    struct nsid_err *err)
{
    struct nsid_net_vgg *v = &net->vgg;
    if (c->model.readout.share_features)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "model.readout.share_features",
                            "true is not supported with model.core.type vgg16 (the paper's VGG16 runs share none)");
    if (c->model.shifter || c->model.modulator)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, c->model.shifter ? "model.shifter.enabled" : "model.modulator.enabled",
                            "not supported with model.core.type vgg16");
    struct nsid_vgg16_config vc;
    nsid_vgg16_config_default(&vc);
    vc.input_channels = sc[0].channels;
    vc.bn_momentum = c->model.core.vgg_bn_momentum;
    vc.bn_eps = c->model.core.bn_eps;
    v->ro = NSID_CALLOC(sizeof *v->ro * (size_t)n, err);
    v->scan = NSID_CALLOC(sizeof *v->scan * (size_t)n, err);
    v->ck_ids = NSID_CALLOC(sizeof *v->ck_ids * (size_t)n, err);
    v->fixed_names = NSID_CALLOC(sizeof *v->fixed_names * (size_t)n, err);
    v->fixed = NSID_CALLOC(sizeof *v->fixed * (size_t)n, err);
    if (!v->ro || !v->scan || !v->ck_ids || !v->fixed_names || !v->fixed) return NSID_ENOMEM;
    nsid_params_init(&v->ps);
    int rc = nsid_vgg16_init(&v->core, &vc, sc[0].height, sc[0].width, &v->ps, "core", err);
    struct nsid_readout_config rcfg;
    readout_config(&rcfg, c);
    char prefix[NSID_MODEL_KEY_MAX + 16];
    for (int s = 0; rc == 0 && s < n; s++) {
        if (sc[s].height != sc[0].height || sc[s].width != sc[0].width || sc[s].channels != sc[0].channels)
            return nsid_err_set(err, NSID_ESHAPE, sc[s].data_key, 0, "images", "%dx%dx%d, but scan '%s' has %dx%dx%d",
                                sc[s].channels, sc[s].height, sc[s].width, sc[0].data_key, sc[0].channels,
                                sc[0].height, sc[0].width);
        if ((rc = nsid_model_scan_rec_init(&v->scan[s], &sc[s], &v->ck_ids[s], err)) < 0) return rc;
        if (sc[s].n_neurons > v->N_max) v->N_max = sc[s].n_neurons;
        snprintf(prefix, sizeof prefix, "readout.%s", sc[s].data_key);
        rc = nsid_readout_init(&v->ro[s], &rcfg, v->core.out_c, v->core.out_h, v->core.out_w, sc[s].n_neurons,
                               sc[s].coords, sc[s].match_ids, NULL, &v->ps, prefix, err);
        snprintf(v->fixed_names[s], NSID_PARAM_NAME_MAX, "%s.source_grid", prefix);
        if (rc == 0 && nsid_params_find(&v->ps, v->fixed_names[s])) v->fixed[v->n_fixed++] = v->fixed_names[s];
    }
    if (rc == 0) rc = nsid_params_alloc(&v->ps, err);
    if (rc < 0) return rc;
    snprintf(v->ck_int.name, sizeof v->ck_int.name, "core.features.OutBatchNorm.num_batches_tracked");
    v->ck_int.ndim = 0;
    v->ck_int.len = 1;
    v->ck_int.data = &v->core.num_batches_tracked;
    struct nsid_rng rng;
    nsid_rng_init(&rng, (uint64_t)c->train.seed, NSID_STREAM_INIT);
    nsid_vgg16_reset_parameters(&v->core, &rng);
    for (int s = 0; s < n; s++) nsid_readout_reset_parameters(&v->ro[s], &rng);
    return 0;
}

static int vgg_bind(struct nsid_net_vgg *v, int n_scans, struct nsid_arena *a, int B, struct nsid_err *err)
{
    int rc = nsid_vgg16_bind_state(&v->core, a, B, err);
    for (int s = 0; rc == 0 && s < n_scans; s++) rc = nsid_readout_bind_state(&v->ro[s], a, B, err);
    if (rc < 0) return rc;
    size_t bn = (size_t)B * (size_t)v->N_max;
    if (!(v->act = nsid_arena_floats(a, bn, err)) || !(v->dout = nsid_arena_floats(a, bn, err)) ||
        !(v->dy = nsid_arena_floats(a, bn, err)))
        return NSID_ENOMEM;
    return 0;
}

static int vgg_alloc_state(struct nsid_net *net, int B, struct nsid_err *err)
{
    struct nsid_net_vgg *v = &net->vgg;
    if (B < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "train.batch_size", "%d, must be >= 1", B);
    nsid_arena_free(&v->arena);
    v->B_max = 0;
    struct nsid_arena measure;
    nsid_arena_measure(&measure);
    int rc = vgg_bind(v, net->n_scans, &measure, B, err);
    if (rc == 0) rc = nsid_arena_init(&v->arena, measure.used, err);
    if (rc == 0) rc = vgg_bind(v, net->n_scans, &v->arena, B, err);
    if (rc < 0) {
        nsid_arena_free(&v->arena);
        return rc;
    }
    v->B_max = B;
    return 0;
}

/* The core's output for batch b, from the cache where possible (then consumes v->trials). */
static void vgg_core(struct nsid_net_vgg *v, const struct nsid_model_batch *b, bool training)
{
    int s = b->scan, B = b->B;
    const int64_t *tr = v->trials;
    v->trials = NULL;
    if (!v->cache || !v->cache[s] || !tr) {
        nsid_vgg16_forward(&v->core, b->images, B, training);
        return;
    }
    size_t F = nsid_vgg16_out_floats(&v->core), P = (size_t)v->core.cfg.input_channels * (size_t)v->core.in_h *
                                                     (size_t)v->core.in_w;
    for (int i = 0; i < B; i++) /* per image: conv2d runs image by image, so this is bit-identical */
        if (!v->cached[s][tr[i]]) {
            nsid_vgg16_forward_convs(&v->core, v->cache[s] + (size_t)tr[i] * F, b->images + (size_t)i * P, 1);
            v->cached[s][tr[i]] = 1;
        }
    float *conv = v->core.buf[0];
    for (int i = 0; i < B; i++) memcpy(conv + (size_t)i * F, v->cache[s] + (size_t)tr[i] * F, F * sizeof(float));
    nsid_vgg16_forward_bn(&v->core, conv, B, training);
}

static void vgg_forward(struct nsid_net_vgg *v, const struct nsid_model_batch *b, bool training, struct nsid_rng *rng)
{
    int s = b->scan, B = b->B;
    NSID_ASSERT(v->B_max > 0 && B >= 1 && B <= v->B_max && b->images);
    vgg_core(v, b, training);
    nsid_readout_forward(&v->ro[s], v->core.out, B, training, rng, b->z, NULL);
    nsid_elu1_forward(v->act, v->ro[s].out, (size_t)B * (size_t)v->scan[s].N);
    v->last_scan = s;
    v->last_B = B;
}

/* forward, the paper's loss without a core term (the core is frozen), readout backward. */
static double vgg_train_batch(struct nsid_net_vgg *v, const struct nsid_model_batch *b, struct nsid_rng *rng)
{
    vgg_forward(v, b, true, rng);
    int s = b->scan, B = b->B;
    size_t n = (size_t)B * (size_t)v->scan[s].N;
    struct nsid_model_loss_parts *L = &v->loss;
    L->scale = sqrt((double)v->scan[s].n_trials / (double)B);
    L->poisson = nsid_poisson_loss_forward(v->act, b->responses, n, 1.0);
    L->core_reg = 0.0;
    L->readout_reg = nsid_readout_regularizer(&v->ro[s]);
    L->total = L->scale * L->poisson + L->readout_reg;
    nsid_readout_regularizer_backward(&v->ro[s], 1.0);
    memset(v->dout, 0, n * sizeof(float));
    nsid_poisson_loss_backward(v->dout, v->act, b->responses, n, L->scale);
    memset(v->dy, 0, n * sizeof(float));
    nsid_elu1_backward(v->dy, v->dout, v->act, n);
    nsid_readout_backward(&v->ro[s], NULL, NULL, v->dy, v->core.out, B);
    return L->total;
}

static int vgg_arch_json(const struct nsid_net *net, char *buf, size_t n)
{
    const struct nsid_net_vgg *v = &net->vgg;
    size_t k = 0;
#define PUT(...) k += (size_t)snprintf(k < n ? buf + k : NULL, k < n ? n - k : 0, __VA_ARGS__)
    PUT("{\"format\":\"nsid-taskdriven\",\"core\":{\"type\":\"vgg16\",\"layers\":8,\"bn_momentum\":%.17g,"
        "\"bn_eps\":%.17g,\"image\":[%d,%d,%d]},\"scans\":[",
        v->core.cfg.bn_momentum, v->core.cfg.bn_eps, v->core.cfg.input_channels, v->core.in_h, v->core.in_w);
    for (int s = 0; s < net->n_scans; s++)
        PUT("%s{\"data_key\":\"%s\",\"neurons\":%d,\"n_trials\":%lld}", s ? "," : "", v->scan[s].key, v->scan[s].N,
            (long long)v->scan[s].n_trials);
    PUT("]}");
#undef PUT
    return (int)k;
}

/* ------------------------------------------------------------ the interface */

int nsid_net_init(struct nsid_net *net, const struct nsid_config *c, const struct nsid_model_scan *scans,
                  int n_scans, struct nsid_err *err)
{
    memset(net, 0, sizeof *net);
    if (n_scans < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "--data", "a run needs at least one scan");
    net->n_scans = n_scans;
    int rc;
    if (c->model.core.type == NSID_CFG_CORE_VGG16) {
        net->kind = NSID_NET_VGG16;
        rc = vgg_init(net, c, scans, n_scans, err);
    } else {
        net->kind = NSID_NET_SE2D;
        struct nsid_model_config mc;
        model_config(&mc, c, scans[0].channels);
        rc = nsid_model_init(&net->model, &mc, scans, n_scans, err);
    }
    if (rc < 0) nsid_net_free(net);
    return rc;
}

int nsid_net_prepare_core(struct nsid_net *net, const struct nsid_config *c, struct nsid_err *err)
{
    const char *ck = c->model.core.checkpoint;
    bool vgg = net->kind == NSID_NET_VGG16;
    int rc = 0;
    net->frozen_core = vgg || c->train.detach_core;
    if (c->model.core.random) {
        if (vgg)
            snprintf(net->core_desc, sizeof net->core_desc,
                     "vgg16 RANDOM (torchvision initialisation, seed %lld), frozen", (long long)c->train.seed);
        else
            snprintf(net->core_desc, sizeof net->core_desc, "se2d RANDOM (%lld channels, seed %lld), frozen",
                     (long long)c->model.core.hidden_channels, (long long)c->train.seed);
    } else if (vgg) {
        int layout = -1;
        rc = nsid_vgg16_load(&net->vgg.core, ck, &layout, err);
        if (rc == 0)
            snprintf(net->core_desc, sizeof net->core_desc, "vgg16 from %.400s (%s layout), frozen", ck,
                     layout == NSID_VGG16_LAYOUT_KERAS ? "keras" : "torchvision");
    } else if (ck[0]) {
        struct nsid_checkpoint_load_opts o = {.prefix = "core."};
        rc = nsid_model_load(&net->model, ck, &o, err);
        if (rc == 0)
            snprintf(net->core_desc, sizeof net->core_desc, "se2d from %.400s%s", ck,
                     net->frozen_core ? ", frozen" : ", fine-tuned");
    } else {
        snprintf(net->core_desc, sizeof net->core_desc, "se2d trained (%lld channels)",
                 (long long)c->model.core.hidden_channels);
    }
    if (rc == 0 && !vgg) nsid_model_set_frozen_core(&net->model, net->frozen_core);
    return rc;
}

struct nsid_params *nsid_net_params(struct nsid_net *net)
{
    return net->kind == NSID_NET_VGG16 ? &net->vgg.ps : &net->model.ps;
}

size_t nsid_net_core_end(const struct nsid_net *net)
{
    if (net->kind == NSID_NET_SE2D) return net->model.core_end;
    const struct nsid_params *ps = &net->vgg.ps;
    const struct nsid_param *p = nsid_params_find(ps, "core.features.OutBatchNorm.bias");
    return p ? p->offset + p->numel : 0;
}

struct nsid_checkpoint_i64 *nsid_net_ints(struct nsid_net *net, int *n)
{
    if (net->kind == NSID_NET_VGG16) {
        *n = 1;
        return &net->vgg.ck_int;
    }
    *n = net->model.n_ck_ints;
    return net->model.ck_ints;
}

struct nsid_readout *nsid_net_readout(struct nsid_net *net, int s)
{
    NSID_ASSERT(s >= 0 && s < net->n_scans);
    return net->kind == NSID_NET_VGG16 ? &net->vgg.ro[s] : &net->model.ro[s];
}

const char *nsid_net_scan_key(const struct nsid_net *net, int s)
{
    return net->kind == NSID_NET_VGG16 ? net->vgg.scan[s].key : net->model.scan[s].key;
}

int nsid_net_scan_neurons(const struct nsid_net *net, int s)
{
    return net->kind == NSID_NET_VGG16 ? net->vgg.scan[s].N : net->model.scan[s].N;
}

int nsid_net_scan_index(const struct nsid_net *net, const char *data_key)
{
    for (int s = 0; s < net->n_scans; s++)
        if (strcmp(nsid_net_scan_key(net, s), data_key) == 0) return s;
    return -1;
}

int nsid_net_alloc_state(struct nsid_net *net, int B_max, struct nsid_err *err)
{
    if (net->kind == NSID_NET_VGG16) return vgg_alloc_state(net, B_max, err);
    return nsid_model_alloc_state(&net->model, B_max, err);
}

int nsid_net_set_cache(struct nsid_net *net, size_t max_bytes, size_t *bytes, struct nsid_err *err)
{
    *bytes = 0;
    if (net->kind != NSID_NET_VGG16 || net->vgg.cache) return 0;
    struct nsid_net_vgg *v = &net->vgg;
    size_t F = nsid_vgg16_out_floats(&v->core) * sizeof(float), need = 0;
    for (int s = 0; s < net->n_scans; s++) need += (size_t)v->scan[s].n_trials * (F + 1);
    if (need > max_bytes) return 0;
    v->cache = NSID_CALLOC((size_t)net->n_scans * sizeof *v->cache, err);
    v->cached = NSID_CALLOC((size_t)net->n_scans * sizeof *v->cached, err);
    if (!v->cache || !v->cached) return NSID_ENOMEM;
    for (int s = 0; s < net->n_scans; s++) {
        v->cache[s] = NSID_ALLOC((size_t)v->scan[s].n_trials * F, err);
        v->cached[s] = NSID_CALLOC((size_t)v->scan[s].n_trials, err);
        if (!v->cache[s] || !v->cached[s]) return NSID_ENOMEM;
    }
    *bytes = need;
    return 0;
}

void nsid_net_set_trials(struct nsid_net *net, const int64_t *trials)
{
    if (net->kind == NSID_NET_VGG16) net->vgg.trials = trials;
}

bool nsid_net_per_trial(const struct nsid_net *net)
{
    return net->kind == NSID_NET_SE2D && (net->model.sh || net->model.mod);
}

void nsid_net_set_bias(struct nsid_net *net, int s, const float *mean)
{
    nsid_readout_set_bias(nsid_net_readout(net, s), mean);
}

void nsid_net_zero_grad(struct nsid_net *net)
{
    nsid_params_zero_grad(nsid_net_params(net));
}

double nsid_net_train_batch(struct nsid_net *net, const struct nsid_model_batch *b, struct nsid_rng *rng,
                            struct nsid_model_loss_parts *parts)
{
    double loss;
    if (net->kind == NSID_NET_VGG16) {
        loss = vgg_train_batch(&net->vgg, b, rng);
        if (parts) *parts = net->vgg.loss;
    } else {
        loss = nsid_model_train_batch(&net->model, b, rng);
        if (parts) *parts = net->model.loss;
    }
    return loss;
}

void nsid_net_adam_step(struct nsid_net *net, const struct nsid_adam_config *c)
{
    if (net->kind == NSID_NET_SE2D) {
        nsid_model_adam_step(&net->model, c);
        return;
    }
    struct nsid_params *ps = &net->vgg.ps;
    size_t lo = nsid_net_core_end(net);
    ps->adam_t++;
    nsid_adam_step(ps->w + lo, ps->m + lo, ps->v + lo, ps->g + lo, ps->n_weights - lo, ps->adam_t, c);
}

const float *nsid_net_predict(struct nsid_net *net, const struct nsid_model_batch *b)
{
    if (net->kind == NSID_NET_VGG16) {
        vgg_forward(&net->vgg, b, false, NULL);
        return net->vgg.act;
    }
    nsid_model_predict(&net->model, b);
    return net->model.out;
}

void nsid_net_checkpoint(struct nsid_net *net, struct nsid_checkpoint *ck, const char *arch)
{
    if (net->kind == NSID_NET_SE2D) {
        nsid_model_checkpoint(&net->model, ck, arch);
        return;
    }
    memset(ck, 0, sizeof *ck);
    ck->ps = &net->vgg.ps;
    ck->ints = &net->vgg.ck_int;
    ck->n_ints = 1;
    ck->fixed = net->vgg.fixed;
    ck->n_fixed = net->vgg.n_fixed;
    ck->ids = net->vgg.ck_ids;
    ck->n_ids = net->vgg.ck_ids ? net->n_scans : 0;
    ck->arch = arch;
}

int nsid_net_save(struct nsid_net *net, const char *path, const char *arch, bool with_optimizer,
                  struct nsid_err *err)
{
    struct nsid_checkpoint ck;
    nsid_net_checkpoint(net, &ck, arch);
    return nsid_checkpoint_save(&ck, path, with_optimizer, err);
}

int nsid_net_load(struct nsid_net *net, const char *path, const struct nsid_checkpoint_load_opts *opts,
                  struct nsid_err *err)
{
    struct nsid_checkpoint ck;
    nsid_net_checkpoint(net, &ck, NULL);
    return nsid_checkpoint_load(&ck, path, opts, err);
}

int nsid_net_arch_json(const struct nsid_net *net, char *buf, size_t n)
{
    if (net->kind == NSID_NET_VGG16) return vgg_arch_json(net, buf, n);
    return nsid_model_arch_json(&net->model, buf, n);
}

size_t nsid_net_core_params(const struct nsid_net *net)
{
    return nsid_net_core_end(net);
}

double nsid_net_readout_params_per_neuron(struct nsid_net *net)
{
    struct nsid_params *ps = nsid_net_params(net);
    size_t w = 0;
    int64_t neurons = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].kind == NSID_PARAM_WEIGHT && strncmp(ps->p[i].name, "readout.", 8) == 0) w += ps->p[i].numel;
    for (int s = 0; s < net->n_scans; s++) neurons += nsid_net_scan_neurons(net, s);
    return neurons ? (double)w / (double)neurons : 0.0;
}

void nsid_net_free(struct nsid_net *net)
{
    if (!net) return;
    if (net->kind == NSID_NET_VGG16) {
        vgg_free(&net->vgg, net->n_scans);
    } else {
        nsid_model_free(&net->model);
    }
    memset(net, 0, sizeof *net);
}
