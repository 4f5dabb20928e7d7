/* shifter.c - the small MLP and the eye-position shifter (see shifter.h). */
#include "shifter.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* -------------------------------------------------------------------- MLP */

int nsid_shifter_mlp_init(struct nsid_mlp *m, int n_layers, const int *widths, const int *acts,
                  struct nsid_params *ps, const char *prefix, struct nsid_err *err)
{
    memset(m, 0, sizeof *m);
    if (n_layers < 1 || n_layers > NSID_MLP_MAX_LAYERS)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, prefix, "%d Linear layers, expected 1..%d",
                            n_layers, NSID_MLP_MAX_LAYERS);
    for (int i = 0; i <= n_layers; i++)
        if (widths[i] < 1)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, prefix, "layer width %d is %d, must be >= 1",
                                i, widths[i]);
    m->n_layers = n_layers;
    m->in = widths[0];
    m->out = widths[n_layers];
    int module = 0; /* index in the torch Sequential */
    for (int i = 0; i < n_layers; i++) {
        struct nsid_mlp_layer *l = &m->layer[i];
        l->in = widths[i];
        l->out = widths[i + 1];
        l->act = acts[i];
        if (l->out > m->max_width) m->max_width = l->out;
        if (l->in > m->max_width) m->max_width = l->in;
        char name[NSID_PARAM_NAME_MAX];
        int rc;
        snprintf(name, sizeof name, "%s.%d.weight", prefix, module);
        rc = nsid_params_add(ps, name, NSID_PARAM_WEIGHT, 2, (int[]){l->out, l->in}, &l->w, &l->dw, err);
        if (rc < 0) return rc;
        snprintf(name, sizeof name, "%s.%d.bias", prefix, module);
        rc = nsid_params_add(ps, name, NSID_PARAM_WEIGHT, 1, (int[]){l->out}, &l->b, &l->db, err);
        if (rc < 0) return rc;
        module += l->act == NSID_MLP_ACT_NONE ? 1 : 2;
    }
    return 0;
}

void nsid_shifter_mlp_reset_default(struct nsid_mlp *m, struct nsid_rng *rng)
{
    for (int i = 0; i < m->n_layers; i++) {
        struct nsid_mlp_layer *l = &m->layer[i];
        double bound = 1.0 / sqrt((double)l->in);
        for (int k = 0; k < l->out * l->in; k++)
            l->w[k] = (float)nsid_rng_uniform_range(rng, -bound, bound);
        for (int k = 0; k < l->out; k++)
            l->b[k] = (float)nsid_rng_uniform_range(rng, -bound, bound);
    }
}

int nsid_shifter_mlp_bind_state(struct nsid_mlp *m, struct nsid_arena *a, int R, struct nsid_err *err)
{
    for (int i = 0; i < m->n_layers; i++) {
        m->layer[i].y = nsid_alloc_arena_floats(a, (size_t)R * m->layer[i].out, err);
        if (!m->layer[i].y) return NSID_ENOMEM;
    }
    m->dcur = nsid_alloc_arena_floats(a, (size_t)R * m->max_width, err);
    m->dnext = nsid_alloc_arena_floats(a, (size_t)R * m->max_width, err);
    if (!m->dcur || !m->dnext) return NSID_ENOMEM;
    m->max_rows = R;
    return 0;
}

static float act_forward(int act, float z)
{
    switch (act) {
    case NSID_MLP_ACT_ELU: return z > 0.0f ? z : expm1f(z);
    case NSID_MLP_ACT_TANH: return tanhf(z);
    case NSID_MLP_ACT_RELU: return z > 0.0f ? z : 0.0f;
    default: return z;
    }
}

/* d act / d z written through the output y = act(z). */
static float act_grad(int act, float y)
{
    switch (act) {
    case NSID_MLP_ACT_ELU: return y > 0.0f ? 1.0f : y + 1.0f;
    case NSID_MLP_ACT_TANH: return 1.0f - y * y;
    case NSID_MLP_ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

void nsid_shifter_mlp_forward(struct nsid_mlp *m, const float *x, int R)
{
    const float *in = x;
    for (int i = 0; i < m->n_layers; i++) {
        const struct nsid_mlp_layer *l = &m->layer[i];
        for (int r = 0; r < R; r++) {
            const float *xr = in + (size_t)r * l->in;
            float *yr = l->y + (size_t)r * l->out;
            for (int o = 0; o < l->out; o++) {
                const float *wo = l->w + (size_t)o * l->in;
                float z = l->b[o];
                for (int k = 0; k < l->in; k++) z += wo[k] * xr[k];
                yr[o] = act_forward(l->act, z);
            }
        }
        in = l->y;
    }
}

void nsid_shifter_mlp_forward_row(const struct nsid_mlp *m, const float *x, float *y, float *work)
{
    const float *in = x;
    for (int i = 0; i < m->n_layers; i++) {
        const struct nsid_mlp_layer *l = &m->layer[i];
        float *o = i == m->n_layers - 1 ? y : work + (i % 2) * m->max_width;
        for (int j = 0; j < l->out; j++) {
            const float *wj = l->w + (size_t)j * l->in;
            float z = l->b[j];
            for (int k = 0; k < l->in; k++) z += wj[k] * in[k];
            o[j] = act_forward(l->act, z);
        }
        in = o;
    }
}

const float *nsid_shifter_mlp_output(const struct nsid_mlp *m)
{
    return m->layer[m->n_layers - 1].y;
}

void nsid_shifter_mlp_backward(struct nsid_mlp *m, float *dx, const float *dy, const float *x, int R)
{
    const float *dout = dy;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const struct nsid_mlp_layer *l = &m->layer[i];
        const float *in = i > 0 ? m->layer[i - 1].y : x;
        float *dz = m->dcur;
        /* forward: y = act(z), z = W in + b */
        for (size_t k = 0; k < (size_t)R * l->out; k++)
            dz[k] = dout[k] * act_grad(l->act, l->y[k]);
        for (int r = 0; r < R; r++) {
            const float *dzr = dz + (size_t)r * l->out, *inr = in + (size_t)r * l->in;
            for (int o = 0; o < l->out; o++) {
                l->db[o] += dzr[o];
                float *dwo = l->dw + (size_t)o * l->in;
                for (int k = 0; k < l->in; k++) dwo[k] += dzr[o] * inr[k];
            }
        }
        float *din = i > 0 ? m->dnext : dx;
        if (din) {
            for (int r = 0; r < R; r++) {
                const float *dzr = dz + (size_t)r * l->out;
                float *dr = din + (size_t)r * l->in;
                if (i > 0) memset(dr, 0, sizeof(float) * (size_t)l->in);
                for (int o = 0; o < l->out; o++) {
                    const float *wo = l->w + (size_t)o * l->in;
                    for (int k = 0; k < l->in; k++) dr[k] += dzr[o] * wo[k];
                }
            }
        }
        if (i > 0) {
            /* the gradient of this layer's input becomes the next dout */
            float *t = m->dcur; m->dcur = m->dnext; m->dnext = t;
            dout = m->dcur;
        }
    }
}

/* ---------------------------------------------------------------- shifter */

void nsid_shifter_config_default(struct nsid_shifter_config *cfg)
{
    cfg->input_channels = 2;
    cfg->hidden_channels = 2;
    cfg->shift_layers = 1;
}

int nsid_shifter_init(struct nsid_shifter *s, const struct nsid_shifter_config *cfg,
                      struct nsid_params *ps, const char *prefix, struct nsid_err *err)
{
    memset(s, 0, sizeof *s);
    if (cfg->input_channels < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "input_channels", "%d, expected >= 1",
                            cfg->input_channels);
    if (cfg->shift_layers < 1 || cfg->shift_layers > NSID_MLP_MAX_LAYERS)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "shift_layers", "%d, expected 1..%d",
                            cfg->shift_layers, NSID_MLP_MAX_LAYERS);
    if (cfg->shift_layers > 1 && cfg->hidden_channels < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "hidden_channels", "%d, expected >= 1",
                            cfg->hidden_channels);
    s->cfg = *cfg;
    int widths[NSID_MLP_MAX_LAYERS + 1], acts[NSID_MLP_MAX_LAYERS];
    widths[0] = cfg->input_channels;
    for (int i = 0; i < cfg->shift_layers; i++) {
        widths[i + 1] = i == cfg->shift_layers - 1 ? 2 : cfg->hidden_channels;
        acts[i] = NSID_MLP_ACT_TANH;
    }
    char name[NSID_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.mlp", prefix);
    return nsid_shifter_mlp_init(&s->mlp, cfg->shift_layers, widths, acts, ps, name, err);
}

void nsid_shifter_reset_parameters(struct nsid_shifter *s, struct nsid_rng *rng)
{
    nsid_shifter_mlp_reset_default(&s->mlp, rng);
}

int nsid_shifter_bind_state(struct nsid_shifter *s, struct nsid_arena *a, int B, struct nsid_err *err)
{
    int rc = nsid_shifter_mlp_bind_state(&s->mlp, a, B, err);
    if (rc < 0) return rc;
    s->out = nsid_shifter_mlp_output(&s->mlp);
    return 0;
}

void nsid_shifter_forward(struct nsid_shifter *s, const float *pupil, int B)
{
    nsid_shifter_mlp_forward(&s->mlp, pupil, B);
}

void nsid_shifter_backward(struct nsid_shifter *s, float *dpupil, const float *dshift,
                           const float *pupil, int B)
{
    nsid_shifter_mlp_backward(&s->mlp, dpupil, dshift, pupil, B);
}

void nsid_shifter_free(struct nsid_shifter *s)
{
    if (s) memset(s, 0, sizeof *s);
}
