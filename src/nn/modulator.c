/* modulator.c - behaviour modulator (see modulator.h). */
#include "modulator.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void nsid_modulator_config_default(struct nsid_modulator_config *cfg)
{
    cfg->input_channels = 3;
    cfg->hidden_channels = 5;
    cfg->layers = 2;
    cfg->final_relu = true;
}

int nsid_modulator_init(struct nsid_modulator *m, const struct nsid_modulator_config *cfg, int N,
                        struct nsid_params *ps, const char *prefix, struct nsid_err *err)
{
    memset(m, 0, sizeof *m);
    if (cfg->input_channels < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "input_channels", "%d, expected >= 1",
                            cfg->input_channels);
    if (cfg->layers < 1 || cfg->layers > NSID_MLP_MAX_LAYERS)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "layers", "%d, expected 1..%d",
                            cfg->layers, NSID_MLP_MAX_LAYERS);
    if (cfg->layers > 1 && cfg->hidden_channels < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "hidden_channels", "%d, expected >= 1",
                            cfg->hidden_channels);
    if (N < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, prefix, "%d neurons, expected >= 1", N);
    m->cfg = *cfg;
    m->N = N;
    int widths[NSID_MLP_MAX_LAYERS + 1], acts[NSID_MLP_MAX_LAYERS];
    widths[0] = cfg->input_channels;
    for (int i = 0; i < cfg->layers; i++) {
        bool last = i == cfg->layers - 1;
        widths[i + 1] = last ? N : cfg->hidden_channels;
        acts[i] = last && !cfg->final_relu ? NSID_MLP_ACT_NONE : NSID_MLP_ACT_RELU;
    }
    char name[NSID_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.modulator_networks.0", prefix);
    return nsid_shifter_mlp_init(&m->net, cfg->layers, widths, acts, ps, name, err);
}

void nsid_modulator_reset_parameters(struct nsid_modulator *m, struct nsid_rng *rng)
{
    nsid_shifter_mlp_reset_default(&m->net, rng);
}

int nsid_modulator_bind_state(struct nsid_modulator *m, struct nsid_arena *a, int B,
                              struct nsid_err *err)
{
    int rc = nsid_shifter_mlp_bind_state(&m->net, a, B, err);
    if (rc < 0) return rc;
    m->gain = nsid_alloc_arena_floats(a, (size_t)B * m->N, err);
    m->dh = nsid_alloc_arena_floats(a, (size_t)B * m->N, err);
    if (!m->gain || !m->dh) return NSID_ENOMEM;
    m->max_batch = B;
    return 0;
}

void nsid_modulator_forward(struct nsid_modulator *m, const float *behavior, int B)
{
    nsid_shifter_mlp_forward(&m->net, behavior, B);
    const float *h = nsid_shifter_mlp_output(&m->net);
    for (size_t i = 0; i < (size_t)B * m->N; i++)
        m->gain[i] = (h[i] > 0.0f ? h[i] : expm1f(h[i])) + 1.0f;
}

void nsid_modulator_backward(struct nsid_modulator *m, float *dbehavior, const float *dgain,
                             const float *behavior, int B)
{
    const float *h = nsid_shifter_mlp_output(&m->net);
    /* forward: gain = ELU(h) + 1, so d gain / d h = 1 (h > 0) or exp(h) = gain */
    for (size_t i = 0; i < (size_t)B * m->N; i++)
        m->dh[i] = dgain[i] * (h[i] > 0.0f ? 1.0f : m->gain[i]);
    nsid_shifter_mlp_backward(&m->net, dbehavior, m->dh, behavior, B);
}

void nsid_modulator_free(struct nsid_modulator *m)
{
    if (m) memset(m, 0, sizeof *m);
}
