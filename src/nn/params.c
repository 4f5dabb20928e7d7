/* params.c - the parameter table (see params.h). */
#include "params.h"

#include <string.h>

#include "base/alloc.h"

void nsid_params_init(struct nsid_params *ps)
{
    memset(ps, 0, sizeof *ps);
}

int nsid_params_add(struct nsid_params *ps, const char *name, int kind, int ndim,
                    const int *shape, float **view, float **gview, struct nsid_err *err)
{
    if (ps->w || ps->buf)
        return nsid_err_set(err, NSID_EINTERNAL, NULL, 0, name, "parameter registered after allocation");
    if (strlen(name) >= NSID_PARAM_NAME_MAX)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name, "parameter name longer than %d", NSID_PARAM_NAME_MAX - 1);
    if (ndim < 0 || ndim > NSID_PARAM_MAXDIM)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name, "rank %d not in [0, %d]", ndim, NSID_PARAM_MAXDIM);
    if (nsid_params_find(ps, name))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name, "parameter registered twice");
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, name, "dimension %d is %d, must be positive", i, shape[i]);
        numel *= (size_t)shape[i];
    }
    if (NSID_GROW(ps->p, ps->n, ps->cap, 32, err) < 0) return NSID_ENOMEM;
    struct nsid_param *p = &ps->p[ps->n++];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->kind = kind;
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
    p->numel = numel;
    p->view = view;
    p->gview = kind == NSID_PARAM_WEIGHT ? gview : NULL;
    /* Offsets rounded to 16 floats keep every tensor 64-byte aligned. */
    size_t *total = kind == NSID_PARAM_WEIGHT ? &ps->n_weights : &ps->n_buffers;
    p->offset = *total;
    *total += (numel + 15) / 16 * 16;
    return 0;
}

int nsid_params_alloc(struct nsid_params *ps, struct nsid_err *err)
{
    size_t nw = ps->n_weights ? ps->n_weights : 16, nb = ps->n_buffers ? ps->n_buffers : 16;
    ps->w = NSID_CALLOC(nw * sizeof(float), err);
    ps->g = NSID_CALLOC(nw * sizeof(float), err);
    ps->m = NSID_CALLOC(nw * sizeof(float), err);
    ps->v = NSID_CALLOC(nw * sizeof(float), err);
    ps->buf = NSID_CALLOC(nb * sizeof(float), err);
    if (!ps->w || !ps->g || !ps->m || !ps->v || !ps->buf) {
        nsid_params_free(ps);
        return NSID_ENOMEM;
    }
    for (int i = 0; i < ps->n; i++) {
        struct nsid_param *p = &ps->p[i];
        if (p->view) *p->view = nsid_params_data(ps, p);
        if (p->gview) *p->gview = ps->g + p->offset;
    }
    return 0;
}

struct nsid_param *nsid_params_find(const struct nsid_params *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0) return &ps->p[i];
    return NULL;
}

float *nsid_params_data(const struct nsid_params *ps, const struct nsid_param *p)
{
    return (p->kind == NSID_PARAM_WEIGHT ? ps->w : ps->buf) + p->offset;
}

void nsid_params_zero_grad(struct nsid_params *ps)
{
    if (ps->g) memset(ps->g, 0, ps->n_weights * sizeof(float));
}

void nsid_params_free(struct nsid_params *ps)
{
    if (!ps) return;
    nsid_alloc_free(ps->p);
    nsid_alloc_free(ps->w);
    nsid_alloc_free(ps->g);
    nsid_alloc_free(ps->m);
    nsid_alloc_free(ps->v);
    nsid_alloc_free(ps->buf);
    memset(ps, 0, sizeof *ps);
}
