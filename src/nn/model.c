/* model.c - core + per-scan readouts, loss, backward, Adam, checkpoints (see model.h). */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "data/scan.h"
#include "nn/act.h"
#include "nn/loss.h"

/* ------------------------------------------------------------- configuration */

void nsid_model_config_default(struct nsid_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    nsid_core_config_default(&cfg->core);
    nsid_readout_config_default(&cfg->readout, NSID_READOUT_GAUSSIAN);
    nsid_shifter_config_default(&cfg->shifter_cfg);
    nsid_modulator_config_default(&cfg->modulator_cfg);
    cfg->shifter = false;
    cfg->modulator = false;
    cfg->seed = 1;
}

void nsid_model_scan_from(struct nsid_model_scan *sc, const struct nsid_scan *s)
{
    memset(sc, 0, sizeof *sc);
    sc->data_key = s->data_key;
    sc->n_neurons = (int)s->n_neurons;
    sc->n_trials = s->n_trials;
    sc->channels = s->channels;
    sc->height = s->height;
    sc->width = s->width;
    sc->coords = s->cell_motor_coordinates;
    sc->match_ids = s->multi_match_id;
    sc->unit_ids = s->unit_ids;
}

int nsid_model_scan_rec_init(struct nsid_model_scan_rec *r, const struct nsid_model_scan *sc,
                             struct nsid_checkpoint_ids *ck, struct nsid_err *err)
{
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", sc->data_key);
    r->N = sc->n_neurons;
    r->n_trials = sc->n_trials;
    r->ids_by_index = !sc->unit_ids;
    if (!(r->ids = NSID_ALLOC((size_t)(r->N > 0 ? r->N : 1) * sizeof *r->ids, err))) return NSID_ENOMEM;
    for (int j = 0; j < r->N; j++)
        r->ids[j] = sc->unit_ids ? sc->unit_ids[j] : sc->neuron_index ? sc->neuron_index[j] : j;
    if (ck) {
        memset(ck, 0, sizeof *ck);
        snprintf(ck->key, sizeof ck->key, "%s", r->key);
        ck->ids = r->ids;
        ck->n = r->N;
        ck->by_index = r->ids_by_index;
    }
    return 0;
}

void nsid_model_scan_rec_free(struct nsid_model_scan_rec *r)
{
    if (!r) return;
    nsid_alloc_free(r->ids);
    r->ids = NULL;
}

/* ----------------------------------------------------------------- building */

/* Scans must have usable keys, sizes and one image shape. */
static int check_scans(const struct nsid_model_config *cfg, const struct nsid_model_scan *sc, int n,
                       struct nsid_err *err)
{
    if (n < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "scans", "a model needs at least one scan, got %d", n);
    for (int s = 0; s < n; s++) {
        const char *k = sc[s].data_key;
        char where[32];
        snprintf(where, sizeof where, "scan %d", s);
        bool printable = k != NULL;
        for (const char *c = k; printable && *c; c++) printable = (unsigned char)*c >= 0x20;
        if (!printable || !k[0] || strlen(k) >= NSID_MODEL_KEY_MAX || strpbrk(k, "./\"\\"))
            return nsid_err_set(err, NSID_EINVAL, where, 0, "data_key",
                                "'%s' must be 1..%d characters without '.', '/', '\"' or '\\\\'",
                                k ? k : "(null)", NSID_MODEL_KEY_MAX - 1);
        for (int t = 0; t < s; t++)
            if (strcmp(sc[t].data_key, k) == 0)
                return nsid_err_set(err, NSID_EINVAL, where, 0, "data_key", "'%s' is also scan %d's key", k, t);
        if (sc[s].n_neurons < 1)
            return nsid_err_set(err, NSID_EINVAL, k, 0, "n_neurons", "%d, must be >= 1", sc[s].n_neurons);
        if (sc[s].n_trials < 1)
            return nsid_err_set(err, NSID_EINVAL, k, 0, "n_trials", "%lld, must be >= 1", (long long)sc[s].n_trials);
        if (sc[s].channels != cfg->core.input_channels)
            return nsid_err_set(err, NSID_ESHAPE, k, 0, "channels", "images have %d channels, the core takes %d",
                                sc[s].channels, cfg->core.input_channels);
        if (sc[s].height != sc[0].height || sc[s].width != sc[0].width)
            return nsid_err_set(err, NSID_ESHAPE, k, 0, "images", "%dx%d, but scan '%s' has %dx%d: one core, one size",
                                sc[s].height, sc[s].width, sc[0].data_key, sc[0].height, sc[0].width);
    }
    return 0;
}

/* Register every module's tensors: core first (so it is the weight range [0, core_end)). */
static int register_modules(struct nsid_model *m, const struct nsid_model_scan *sc, struct nsid_err *err)
{
    const struct nsid_model_config *cfg = &m->cfg;
    char prefix[NSID_MODEL_KEY_MAX + 16];
    int out[3] = {0, 0, 0};
    int rc = m->core_ops->init(m->core, &cfg->core, m->in_h, m->in_w, &m->ps, "core", out, err);
    if (rc < 0) return rc;
    m->feat_c = out[0];
    m->feat_h = out[1];
    m->feat_w = out[2];
    m->core_end = m->ps.n_weights;
    for (int s = 0; s < m->n_scans; s++) {
        snprintf(prefix, sizeof prefix, "readout.%s", sc[s].data_key);
        struct nsid_readout *owner = cfg->readout.share_features && s > 0 ? &m->ro[0] : NULL;
        rc = nsid_readout_init(&m->ro[s], &cfg->readout, m->feat_c, m->feat_h, m->feat_w, sc[s].n_neurons, sc[s].coords, sc[s].match_ids, owner, &m->ps, prefix, err);
        if (rc < 0) return rc;
    }
    for (int s = 0; m->sh && s < m->n_scans; s++) {
        snprintf(prefix, sizeof prefix, "shifter.%s", sc[s].data_key);
        rc = nsid_shifter_init(&m->sh[s], &cfg->shifter_cfg, &m->ps, prefix, err);
        if (rc < 0) return rc;
    }
    for (int s = 0; m->mod && s < m->n_scans; s++) {
        snprintf(prefix, sizeof prefix, "modulator.%s", sc[s].data_key);
        rc = nsid_modulator_init(&m->mod[s], &cfg->modulator_cfg, sc[s].n_neurons, &m->ps, prefix, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/*
 * The checkpoint entries the table cannot describe: BN num_batches_tracked
 * (int64 per core layer), a sharing readout's feature_sharing_index (int64,
 * derived from the match ids, so checked rather than loaded), the owner's
 * _features under each non-owner's name (PyTorch lists a shared Parameter
 * under every module holding it), and the float buffers derived from
 * metadata (checked, not overwritten, on load).
 */
static int describe_checkpoint(struct nsid_model *m, struct nsid_err *err)
{
    int L = m->core_ops->ints(m->core, "core", NULL), S = m->n_scans;
    m->ck_ints = NSID_CALLOC(sizeof *m->ck_ints * (size_t)(L + S), err);
    m->ck_aliases = NSID_CALLOC(sizeof *m->ck_aliases * (size_t)S, err);
    m->ck_fixed_names = NSID_CALLOC(sizeof *m->ck_fixed_names * (size_t)(2 * S), err);
    m->ck_fixed = NSID_CALLOC(sizeof *m->ck_fixed * (size_t)(2 * S), err);
    if (!m->ck_ints || !m->ck_aliases || !m->ck_fixed_names || !m->ck_fixed) return NSID_ENOMEM;
    m->n_ck_ints = m->core_ops->ints(m->core, "core", m->ck_ints);
    char name[NSID_PARAM_NAME_MAX];
    for (int s = 0; s < S; s++) {
        snprintf(name, sizeof name, "readout.%s.feature_sharing_index", m->scan[s].key);
        if (m->ro[s].shared && m->ro[s].share_idx) {
            struct nsid_checkpoint_i64 *e = &m->ck_ints[m->n_ck_ints++];
            snprintf(e->name, sizeof e->name, "%s", name);
            e->ndim = 1;
            e->len = m->scan[s].N;
            e->data = m->ro[s].share_idx; /* derived from the match ids: checked, not loaded */
            e->fixed = true;
        }
        snprintf(name, sizeof name, "readout.%s._features", m->scan[s].key);
        if (s > 0 && m->cfg.readout.share_features && !nsid_params_find(&m->ps, name)) {
            struct nsid_checkpoint_alias *a = &m->ck_aliases[m->n_ck_aliases++];
            snprintf(a->name, sizeof a->name, "%s", name);
            snprintf(a->target, sizeof a->target, "readout.%s._features", m->scan[0].key);
        }
        static const char *const derived[] = {"source_grid"};
        for (int i = 0; i < 1; i++) {
            snprintf(name, sizeof name, "readout.%s.%s", m->scan[s].key, derived[i]);
            if (!nsid_params_find(&m->ps, name)) continue;
            snprintf(m->ck_fixed_names[m->n_ck_fixed], NSID_PARAM_NAME_MAX, "%s", name);
            m->ck_fixed[m->n_ck_fixed] = m->ck_fixed_names[m->n_ck_fixed];
            m->n_ck_fixed++;
        }
    }
    return 0;
}

/*
 * Kernels, threads and the core -> readout layout: one kernel set for core and
 * readouts; if every readout is Gaussian they exchange the feature map in the
 * core's channel-blocked layout (no transposition); the pool is lent to both.
 */
static int setup_compute(struct nsid_model *m, struct nsid_err *err)
{
    const struct nsid_kern *k = m->kern = nsid_kern_select(m->cfg.isa, err);
    if (!k) return err->code;
    int n = m->cfg.threads > 0 ? m->cfg.threads : nsid_pool_default_threads();
    int rc = nsid_pool_init(&m->pool, n, err);
    if (rc < 0) return rc;
    m->blocked_feat = m->cfg.readout.kind == NSID_READOUT_GAUSSIAN && m->core_ops->blocked_output;
    if ((rc = m->core_ops->set_compute(m->core, k, &m->pool, m->blocked_feat ? k->vb : 1, err)) < 0) return rc;
    for (int s = 0; s < m->n_scans; s++) {
        if ((rc = nsid_readout_set_kernels(&m->ro[s], k->name, err)) < 0) return rc;
        if (m->blocked_feat && (rc = nsid_readout_set_input_layout(&m->ro[s], k->vb, err)) < 0) return rc;
        nsid_readout_set_pool(&m->ro[s], &m->pool);
    }
    return 0;
}

int nsid_model_init(struct nsid_model *m, const struct nsid_model_config *cfg,
                    const struct nsid_model_scan *scans, int n_scans, struct nsid_err *err)
{
    memset(m, 0, sizeof *m);
    int rc = check_scans(cfg, scans, n_scans, err);
    if (rc < 0) return rc;
    m->cfg = *cfg;
    m->cfg.isa[sizeof m->cfg.isa - 1] = '\0';
    m->core_ops = cfg->core_ops ? cfg->core_ops : &nsid_core_se2d_ops;
    m->frozen_core = !m->core_ops->trainable;
    m->n_scans = n_scans;
    m->in_c = scans[0].channels;
    m->in_h = scans[0].height;
    m->in_w = scans[0].width;
    m->scan = NSID_CALLOC(sizeof *m->scan * (size_t)n_scans, err);
    m->ro = NSID_CALLOC(sizeof *m->ro * (size_t)n_scans, err);
    m->ck_ids = NSID_CALLOC(sizeof *m->ck_ids * (size_t)n_scans, err);
    if (cfg->shifter) m->sh = NSID_CALLOC(sizeof *m->sh * (size_t)n_scans, err);
    if (cfg->modulator) m->mod = NSID_CALLOC(sizeof *m->mod * (size_t)n_scans, err);
    m->core = NSID_CALLOC(m->core_ops->size, err);
    if (!m->core || !m->scan || !m->ro || !m->ck_ids || (cfg->shifter && !m->sh) || (cfg->modulator && !m->mod)) {
        rc = NSID_ENOMEM;
        goto fail;
    }
    for (int s = 0; s < n_scans; s++) {
        if ((rc = nsid_model_scan_rec_init(&m->scan[s], &scans[s], &m->ck_ids[s], err)) < 0) goto fail;
        if (scans[s].n_neurons > m->N_max) m->N_max = scans[s].n_neurons;
    }
    nsid_params_init(&m->ps);
    if ((rc = register_modules(m, scans, err)) < 0 || (rc = nsid_params_alloc(&m->ps, err)) < 0 ||
        (rc = describe_checkpoint(m, err)) < 0 || (rc = setup_compute(m, err)) < 0)
        goto fail;
    nsid_model_reset_parameters(m, cfg->seed);
    return 0;
fail:
    nsid_model_free(m);
    return rc;
}

void nsid_model_reset_parameters(struct nsid_model *m, uint64_t seed)
{
    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, NSID_STREAM_INIT);
    m->core_ops->reset(m->core, &rng);
    for (int s = 0; s < m->n_scans; s++) nsid_readout_reset_parameters(&m->ro[s], &rng);
    for (int s = 0; m->sh && s < m->n_scans; s++) nsid_shifter_reset_parameters(&m->sh[s], &rng);
    for (int s = 0; m->mod && s < m->n_scans; s++) nsid_modulator_reset_parameters(&m->mod[s], &rng);
    memset(m->ps.g, 0, m->ps.n_weights * sizeof(float));
    memset(m->ps.m, 0, m->ps.n_weights * sizeof(float));
    memset(m->ps.v, 0, m->ps.n_weights * sizeof(float));
    m->ps.adam_t = 0;
}

void nsid_model_set_bias(struct nsid_model *m, int scan, const float *mean)
{
    NSID_ASSERT(scan >= 0 && scan < m->n_scans);
    nsid_readout_set_bias(&m->ro[scan], mean);
}

int nsid_model_scan_index(const struct nsid_model *m, const char *data_key)
{
    for (int s = 0; s < m->n_scans; s++)
        if (strcmp(m->scan[s].key, data_key) == 0) return s;
    return -1;
}

/* ------------------------------------------------------------------- state */

/* Every module's state and the model's own buffers from one arena (measuring or real). */
static int bind_all(struct nsid_model *m, struct nsid_arena *a, int B, struct nsid_err *err)
{
    size_t bn = (size_t)B * (size_t)m->N_max;
    size_t feat = m->core_ops->trainable ? (size_t)B * m->core_ops->out_floats(m->core) : 0;
    int rc = m->core_ops->bind_state(m->core, a, B, err);
    for (int s = 0; rc == 0 && s < m->n_scans; s++) rc = nsid_readout_bind_state(&m->ro[s], a, B, err);
    for (int s = 0; rc == 0 && m->sh && s < m->n_scans; s++) rc = nsid_shifter_bind_state(&m->sh[s], a, B, err);
    for (int s = 0; rc == 0 && m->mod && s < m->n_scans; s++)
        rc = nsid_modulator_bind_state(&m->mod[s], a, B, err);
    if (rc < 0) return rc;
    m->act = nsid_alloc_arena_floats(a, bn, err);
    m->dout = nsid_alloc_arena_floats(a, bn, err);
    m->dy = nsid_alloc_arena_floats(a, bn, err);
    m->dfeat = feat ? nsid_alloc_arena_floats(a, feat, err) : NULL;
    m->row_loss = nsid_alloc_arena_bytes(a, sizeof(double) * (size_t)B, err);
    if (!m->act || !m->dout || !m->dy || (feat && !m->dfeat) || !m->row_loss) return NSID_ENOMEM;
    /* Without a modulator the output is the activation and its gradient is dout. */
    m->out = m->act;
    m->dact = m->dout;
    m->dgain = NULL;
    m->dshift = NULL;
    if (m->mod) {
        m->out = nsid_alloc_arena_floats(a, bn, err);
        m->dact = nsid_alloc_arena_floats(a, bn, err);
        m->dgain = nsid_alloc_arena_floats(a, bn, err);
        if (!m->out || !m->dact || !m->dgain) return NSID_ENOMEM;
    }
    if (m->sh) {
        m->dshift = nsid_alloc_arena_floats(a, (size_t)B * 2, err);
        if (!m->dshift) return NSID_ENOMEM;
    }
    return 0;
}

int nsid_model_alloc_state(struct nsid_model *m, int B_max, struct nsid_err *err)
{
    if (B_max < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "batch", "B_max %d, must be >= 1", B_max);
    nsid_alloc_arena_free(&m->arena);
    m->B_max = 0;
    struct nsid_arena measure;
    nsid_alloc_arena_measure(&measure);
    int rc;
    if ((rc = bind_all(m, &measure, B_max, err)) < 0 || (rc = nsid_alloc_arena_init(&m->arena, measure.used, err)) < 0 ||
        (rc = bind_all(m, &m->arena, B_max, err)) < 0) {
        nsid_alloc_arena_free(&m->arena);
        return rc;
    }
    m->B_max = B_max;
    return 0;
}

int nsid_model_set_threads(struct nsid_model *m, int n, struct nsid_err *err)
{
    if (n <= 0) n = nsid_pool_default_threads();
    if (n > NSID_POOL_MAX_THREADS)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "threads", "%d not in [1, %d]", n, NSID_POOL_MAX_THREADS);
    nsid_pool_free(&m->pool);
    m->cfg.threads = n;
    int rc = nsid_pool_init(&m->pool, n, err);
    /* the same kernels and layout (so this cannot fail), the new pool or none if it failed */
    int vb = m->blocked_feat ? m->kern->vb : 1;
    if (rc == 0) rc = m->core_ops->set_compute(m->core, m->kern, &m->pool, vb, err);
    else m->core_ops->set_compute(m->core, m->kern, NULL, vb, err);
    for (int s = 0; s < m->n_scans; s++) nsid_readout_set_pool(&m->ro[s], rc == 0 ? &m->pool : NULL);
    if (rc < 0 || m->B_max == 0) {
        if (rc < 0) {  /* the state was sized for the old pool: drop it */
            nsid_alloc_arena_free(&m->arena);
            m->B_max = 0;
        }
        return rc;
    }
    return nsid_model_alloc_state(m, m->B_max, err);
}

void nsid_model_set_frozen_core(struct nsid_model *m, bool frozen)
{
    m->frozen_core = frozen || !m->core_ops->trainable;
}

int nsid_model_set_cache(struct nsid_model *m, size_t max_bytes, size_t *bytes, struct nsid_err *err)
{
    *bytes = 0;
    if (!m->core_ops->set_cache || !m->frozen_core) return 0;
    int64_t *n = NSID_ALLOC(sizeof *n * (size_t)m->n_scans, err);
    if (!n) return NSID_ENOMEM;
    for (int s = 0; s < m->n_scans; s++) n[s] = m->scan[s].n_trials;
    int rc = m->core_ops->set_cache(m->core, m->n_scans, n, max_bytes, bytes, err);
    nsid_alloc_free(n);
    return rc;
}

void nsid_model_set_trials(struct nsid_model *m, const int64_t *trials)
{
    m->trials = trials;
}

bool nsid_model_per_trial(const struct nsid_model *m)
{
    return m->sh || m->mod;
}

double nsid_model_readout_params_per_neuron(const struct nsid_model *m)
{
    size_t w = 0;
    int64_t neurons = 0;
    for (int i = 0; i < m->ps.n; i++)
        if (m->ps.p[i].kind == NSID_PARAM_WEIGHT && strncmp(m->ps.p[i].name, "readout.", 8) == 0)
            w += m->ps.p[i].numel;
    for (int s = 0; s < m->n_scans; s++) neurons += m->scan[s].N;
    return neurons ? (double)w / (double)neurons : 0.0;
}

/* ------------------------------------------------------------ forward/backward */

/*
 * The model's per-element work on (B, N) arrays, split by images over the pool
 * (each element's result, and each image's loss sum, do not depend on the split).
 */
struct rows_call {
    struct nsid_model *m;
    const struct nsid_model_batch *b;
    int B, N;
    int what;                    /* enum below */
    double scale;                /* loss scale (backward) */
};

enum { ROWS_ELU1, ROWS_LOSS, ROWS_LOSS_BACKWARD };

/* Thread tid's images of one rows_call. */
static void rows_task(void *arg, int tid, int nt)
{
    const struct rows_call *k = arg;
    struct nsid_model *m = k->m;
    int lo, hi;
    nsid_pool_range(k->B, tid, nt, &lo, &hi);
    size_t o = (size_t)lo * k->N, n = (size_t)(hi - lo) * k->N;
    if (n == 0) return;
    switch (k->what) {
    case ROWS_ELU1:
        nsid_act_elu1_forward(m->act + o, m->ro[m->last_scan].out + o, n);
        break;
    case ROWS_LOSS:
        for (int b = lo; b < hi; b++)
            m->row_loss[b] = nsid_loss_poisson_forward(m->out + (size_t)b * k->N, k->b->responses + (size_t)b * k->N,
                                                       (size_t)k->N, 1.0);
        break;
    default:
        /* poisson(out): dout = scale * (1 - r / (out + eps)); the modulator part (dact) stays serial */
        memset(m->dout + o, 0, n * sizeof(float));
        nsid_loss_poisson_backward(m->dout + o, m->out + o, k->b->responses + o, n, k->scale);
        if (!m->mod) {  /* act = ELU(y) + 1 */
            memset(m->dy + o, 0, n * sizeof(float));
            nsid_act_elu1_backward(m->dy + o, m->dact + o, m->act + o, n);
        }
        break;
    }
}

/* Run one kind of per-element work over the latest batch on the pool. */
static void run_rows(struct nsid_model *m, const struct nsid_model_batch *b, int what, double scale)
{
    struct rows_call k = {.m = m, .b = b, .B = m->last_B, .N = m->scan[m->last_scan].N, .what = what,
                          .scale = scale};
    nsid_pool_run(&m->pool, rows_task, &k);
}

void nsid_model_forward(struct nsid_model *m, const struct nsid_model_batch *b, bool training,
                        struct nsid_rng *rng)
{
    int s = b->scan, B = b->B;
    size_t n = (size_t)B * (size_t)m->scan[s].N;
    NSID_ASSERT(m->B_max > 0 && B >= 1 && B <= m->B_max && s >= 0 && s < m->n_scans && b->images);
    NSID_ASSERT((!m->sh || b->pupil) && (!m->mod || b->behavior));
    /* A frozen core still normalises with batch statistics in training (docs/paper.md §1.5); without a core
     * backward to come (evaluation, frozen core) the core keeps no state for one. */
    const int64_t *trials = m->trials;
    m->trials = NULL;
    m->feat = m->core_ops->forward(m->core, b->images, B, training, training && !m->frozen_core, s, trials);
    const float *shift = NULL;
    if (m->sh) {
        nsid_shifter_forward(&m->sh[s], b->pupil, B);
        shift = m->sh[s].out;
    }
    nsid_readout_forward(&m->ro[s], m->feat, B, training, rng, b->z, shift);
    m->last_scan = s;
    m->last_B = B;
    run_rows(m, b, ROWS_ELU1, 0.0);  /* act = ELU(y) + 1 */
    if (m->mod) {
        nsid_modulator_forward(&m->mod[s], b->behavior, B);
        for (size_t i = 0; i < n; i++) m->out[i] = m->act[i] * m->mod[s].gain[i];
    }
    m->last_training = training;
}

void nsid_model_predict(struct nsid_model *m, const struct nsid_model_batch *b)
{
    nsid_model_forward(m, b, false, NULL);
}

double nsid_model_loss(struct nsid_model *m, const struct nsid_model_batch *b)
{
    int s = m->last_scan, B = m->last_B;
    NSID_ASSERT(b->scan == s && b->B == B && b->responses);
    struct nsid_model_loss_parts *L = &m->loss;
    L->scale = sqrt((double)m->scan[s].n_trials / (double)B);
    if (m->core_ops->serial_loss) {
        L->poisson = nsid_loss_poisson_forward(m->out, b->responses, (size_t)B * (size_t)m->scan[s].N, 1.0);
    } else {
        run_rows(m, b, ROWS_LOSS, 0.0);  /* per-image sums, added in image order */
        L->poisson = 0.0;
        for (int i = 0; i < B; i++) L->poisson += m->row_loss[i];
    }
    L->core_reg = m->frozen_core || !m->core_ops->regularizer ? 0.0 : m->core_ops->regularizer(m->core);
    L->readout_reg = nsid_readout_regularizer(&m->ro[s]);
    L->total = L->scale * L->poisson + L->core_reg + L->readout_reg;
    return L->total;
}

void nsid_model_backward(struct nsid_model *m, const struct nsid_model_batch *b)
{
    int s = m->last_scan, B = m->last_B;
    size_t n = (size_t)B * (size_t)m->scan[s].N;
    size_t nfeat = (size_t)B * m->core_ops->out_floats(m->core);
    NSID_ASSERT(b->scan == s && b->B == B && b->responses && m->last_training);
    double scale = sqrt((double)m->scan[s].n_trials / (double)B);
    /* loss = scale * poisson + core_reg + readout_reg: the regularisers first (last terms) */
    nsid_readout_regularizer_backward(&m->ro[s], 1.0);
    if (!m->frozen_core && m->core_ops->regularizer_backward) m->core_ops->regularizer_backward(m->core, 1.0);
    /* poisson(out): dout = scale * (1 - r / (out + eps)) */
    run_rows(m, b, ROWS_LOSS_BACKWARD, scale);  /* dout, and dy when there is no modulator */
    /* out = act * gain */
    if (m->mod) {
        const float *gain = m->mod[s].gain;
        for (size_t i = 0; i < n; i++) {
            m->dact[i] = m->dout[i] * gain[i];
            m->dgain[i] = m->dout[i] * m->act[i];
        }
        nsid_modulator_backward(&m->mod[s], NULL, m->dgain, b->behavior, B);
    }
    /* act = ELU(y) + 1 */
    if (m->mod) {
        memset(m->dy, 0, n * sizeof(float));
        nsid_act_elu1_backward(m->dy, m->dact, m->act, n);
    }
    /* y = readout(feat, shift) */
    float *dfeat = m->frozen_core ? NULL : m->dfeat;
    if (dfeat) memset(dfeat, 0, nfeat * sizeof(float));
    if (m->sh) memset(m->dshift, 0, (size_t)B * 2 * sizeof(float));
    nsid_readout_backward(&m->ro[s], dfeat, m->sh ? m->dshift : NULL, m->dy, m->feat, B);
    /* shift = shifter(pupil) */
    if (m->sh) nsid_shifter_backward(&m->sh[s], NULL, m->dshift, b->pupil, B);
    /* feat = core(images) */
    if (dfeat) m->core_ops->backward(m->core, dfeat, B);
}

double nsid_model_train_batch(struct nsid_model *m, const struct nsid_model_batch *b,
                              struct nsid_rng *rng)
{
    nsid_model_forward(m, b, true, rng);
    double loss = nsid_model_loss(m, b);
    nsid_model_backward(m, b);
    return loss;
}

void nsid_model_zero_grad(struct nsid_model *m)
{
    nsid_params_zero_grad(&m->ps);
}

struct adam_call {
    struct nsid_params *ps;
    size_t lo;                   /* first element (core_end when frozen) */
    const struct nsid_adam_config *c;
};

/* Adam is elementwise: any split of the range gives the same result. */
static void adam_task(void *arg, int tid, int nt)
{
    const struct adam_call *k = arg;
    struct nsid_params *ps = k->ps;
    size_t n = ps->n_weights - k->lo;
    size_t a = k->lo + n * (size_t)tid / (size_t)nt, e = k->lo + n * (size_t)(tid + 1) / (size_t)nt;
    if (e > a) nsid_adam_step(ps->w + a, ps->m + a, ps->v + a, ps->g + a, e - a, ps->adam_t, k->c);
}

void nsid_model_adam_step(struct nsid_model *m, const struct nsid_adam_config *c)
{
    struct adam_call k = {.ps = &m->ps, .lo = m->frozen_core ? m->core_end : 0, .c = c};
    m->ps.adam_t++;
    nsid_pool_run(&m->pool, adam_task, &k);
}

/* -------------------------------------------------------------- checkpoints */

void nsid_model_checkpoint(struct nsid_model *m, struct nsid_checkpoint *ck, const char *arch)
{
    memset(ck, 0, sizeof *ck);
    ck->ps = &m->ps;
    ck->ints = m->ck_ints;
    ck->n_ints = m->n_ck_ints;
    ck->aliases = m->ck_aliases;
    ck->n_aliases = m->n_ck_aliases;
    ck->fixed = m->ck_fixed;
    ck->n_fixed = m->n_ck_fixed;
    ck->ids = m->ck_ids;
    ck->n_ids = m->ck_ids ? m->n_scans : 0;
    ck->arch = arch;
}

int nsid_model_arch_json(const struct nsid_model *m, char *buf, size_t n)
{
    const struct nsid_readout_config *r = &m->cfg.readout;
    const struct nsid_core_ops *ops = m->core_ops;
    size_t k = 0;
#define PUT(...) k += (size_t)snprintf(k < n ? buf + k : NULL, k < n ? n - k : 0, __VA_ARGS__)
    PUT("{\"format\":\"%s\",", ops->arch_format);
    if (ops->arch_model_parts) PUT("\"image\":[%d,%d,%d],", m->in_c, m->in_h, m->in_w);
    PUT("\"core\":");
    k += (size_t)ops->arch_json(m->core, k < n ? buf + k : NULL, k < n ? n - k : 0);
    PUT(",");
    if (ops->arch_model_parts) {
    PUT("\"readout\":{\"kind\":\"%s\",\"gamma_readout\":%.17g,\"share_features\":%s,"
        "\"grid_mean_predictor\":%s,\"gmp_hidden_layers\":%d,\"gmp_hidden_features\":%d,\"gmp_final_tanh\":%s,"
        "\"normalize\":%s,\"pool_steps\":%d,\"pool_kern\":%d},",
        nsid_readout_kind_name(r->kind), r->gamma_readout, r->share_features ? "true" : "false",
        r->grid_mean_predictor ? "true" : "false", r->gmp_hidden_layers, r->gmp_hidden_features,
        r->gmp_final_tanh ? "true" : "false", r->normalize ? "true" : "false", r->pool_steps, r->pool_kern);
    PUT("\"shifter\":%s,\"modulator\":%s,\"seed\":%llu,", m->sh ? "true" : "false", m->mod ? "true" : "false",
        (unsigned long long)m->cfg.seed);
    }
    PUT("\"scans\":[");
    for (int s = 0; s < m->n_scans; s++) {
        PUT("%s{\"data_key\":", s ? "," : ""); /* the key is the data's text: quoted by the one escaper */
        k += nsid_json_quote(m->scan[s].key, k < n ? buf + k : NULL, k < n ? n - k : 0);
        PUT(",\"neurons\":%d,\"n_trials\":%lld}", m->scan[s].N, (long long)m->scan[s].n_trials);
    }
    PUT("]}");
#undef PUT
    return (int)k;
}

/* The architecture JSON in a new buffer (NULL on allocation failure). */
static char *arch_alloc(const struct nsid_model *m, struct nsid_err *err)
{
    size_t n = (size_t)nsid_model_arch_json(m, NULL, 0) + 1;
    char *buf = NSID_ALLOC(n, err);
    if (buf) nsid_model_arch_json(m, buf, n);
    return buf;
}

int nsid_model_save(struct nsid_model *m, const char *path, bool with_optimizer, struct nsid_err *err)
{
    char *arch = arch_alloc(m, err);
    if (!arch) return NSID_ENOMEM;
    struct nsid_checkpoint ck;
    nsid_model_checkpoint(m, &ck, arch);
    int rc = nsid_checkpoint_save(&ck, path, with_optimizer, err);
    nsid_alloc_free(arch);
    return rc;
}

int nsid_model_load(struct nsid_model *m, const char *path, const struct nsid_checkpoint_load_opts *opts,
                    struct nsid_err *err)
{
    struct nsid_checkpoint ck;
    nsid_model_checkpoint(m, &ck, NULL);
    return nsid_checkpoint_load(&ck, path, opts, err);
}

void nsid_model_free(struct nsid_model *m)
{
    if (!m) return;
    if (m->core_ops && m->core) m->core_ops->free(m->core);
    nsid_alloc_free(m->core);
    for (int s = 0; m->ro && s < m->n_scans; s++) nsid_readout_free(&m->ro[s]);
    for (int s = 0; m->sh && s < m->n_scans; s++) nsid_shifter_free(&m->sh[s]);
    for (int s = 0; m->mod && s < m->n_scans; s++) nsid_modulator_free(&m->mod[s]);
    nsid_params_free(&m->ps);
    nsid_alloc_arena_free(&m->arena);
    nsid_pool_free(&m->pool);
    for (int s = 0; m->scan && s < m->n_scans; s++) nsid_model_scan_rec_free(&m->scan[s]);
    nsid_alloc_free(m->scan);
    nsid_alloc_free(m->ck_ids);
    nsid_alloc_free(m->ro);
    nsid_alloc_free(m->sh);
    nsid_alloc_free(m->mod);
    nsid_alloc_free(m->ck_ints);
    nsid_alloc_free(m->ck_aliases);
    nsid_alloc_free(m->ck_fixed_names);
    nsid_alloc_free(m->ck_fixed);
    memset(m, 0, sizeof *m);
}
