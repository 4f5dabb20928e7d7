/*
 * spec.c - reading experiment specs: YAML documents (libyaml's document API, which keeps
 * every node's line) into struct nsid_spec_experiment, checking every key and value where
 * it stands so errors name file:line: key.
 */
#include "exp/spec.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "exp/config.h"
#include "base/infile.h"

/* ---- arena ----------------------------------------------------------------------------------- */

struct nsid_spec_arena_block {
    struct nsid_spec_arena_block *next;  /* older block */
    size_t cap, used;              /* bytes in data, bytes handed out */
    unsigned char *data;           /* the block's memory (follows the header) */
};

#define POOL_BLOCK (64u << 10)

void *nsid_spec_arena_alloc(struct nsid_spec_arena *p, size_t n, struct nsid_err *err)
{
    n = (n + 7) & ~(size_t)7;
    struct nsid_spec_arena_block *b = p->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > POOL_BLOCK ? n : POOL_BLOCK;
        size_t head = (sizeof *b + 63) & ~(size_t)63;
        b = NSID_CALLOC(head + cap, err);
        if (!b) return NULL;
        b->data = (unsigned char *)b + head;
        b->cap = cap;
        b->next = p->head;
        p->head = b;
    }
    void *out = b->data + b->used;
    b->used += n;
    return out;
}

char *nsid_spec_arena_strdup(struct nsid_spec_arena *p, const char *s, struct nsid_err *err)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = nsid_spec_arena_alloc(p, n, err);
    if (d) memcpy(d, s, n);
    return d;
}

char *nsid_spec_arena_printf(struct nsid_spec_arena *p, struct nsid_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *d = nsid_spec_arena_alloc(p, (size_t)n + 1, err);
    if (!d) return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

int nsid_spec_arena_grow(struct nsid_spec_arena *p, void *arrp, int n, int *cap, int first, size_t size,
                         struct nsid_err *err)
{
    if (n < *cap) return 0;
    if (*cap > INT_MAX / 2) return nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "array of %d items overflows", n);
    int ncap = *cap ? 2 * *cap : first;
    size_t bytes = nsid_alloc_mul_size((size_t)ncap, size, err);
    void *old, *grown = bytes ? nsid_spec_arena_alloc(p, bytes, err) : NULL;
    if (!grown) return NSID_ENOMEM;
    memcpy(&old, arrp, sizeof old); /* arrp points to a T *: read and write it as bytes, no aliasing */
    if (n) memcpy(grown, old, (size_t)n * size);
    memcpy(arrp, &grown, sizeof grown);
    *cap = ncap;
    return 0;
}

void nsid_spec_arena_free(struct nsid_spec_arena *p)
{
    struct nsid_spec_arena_block *b = p ? p->head : NULL;
    while (b) {
        struct nsid_spec_arena_block *next = b->next;
        nsid_alloc_free(b);
        b = next;
    }
    if (p) p->head = NULL;
}

/* ---- parse context ------------------------------------------------------------------------- */

struct ctx {
    struct nsid_spec_set *set;
    yaml_document_t *doc;
    const char *file;          /* pool copy of the file name */
    struct nsid_err *err;
    struct nsid_config scratch; /* values are checked by setting them here */
};

static yaml_node_t *node(const struct ctx *c, int idx)
{
    return yaml_document_get_node(c->doc, idx);
}

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a single value";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static int fail(struct ctx *c, int line, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct ctx *c, int line, const char *key, const char *fmt, ...)
{
    char msg[NSID_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nsid_err_set(c->err, NSID_EINVAL, c->file, line, key, "%s", msg);
}

static void *alloc(struct ctx *c, size_t n)
{
    return nsid_spec_arena_alloc(&c->set->pool, n, c->err);
}

static char *dup(struct ctx *c, const char *s)
{
    return nsid_spec_arena_strdup(&c->set->pool, s, c->err);
}

static const char *scalar_text(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
    const char *v = scalar_text(n);
    if (!v) return false;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int expect(struct ctx *c, const yaml_node_t *n, yaml_node_type_t type, const char *key)
{
    if (n->type == type && !(type == YAML_SCALAR_NODE && is_null(n))) return 0;
    const char *want = type == YAML_SCALAR_NODE ? "a single value" : type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    if (is_null(n)) return fail(c, line_of(n), key, "no value: expected %s", want);
    return fail(c, line_of(n), key, "expected %s, found %s", want, kind_name(n));
}

static int n_pairs(const yaml_node_t *n)
{
    return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static int n_items(const yaml_node_t *n)
{
    return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/*
 * Check a mapping's keys: plain scalars, no duplicates, and (if allowed is not NULL) each
 * one of allowed. where names the mapping in messages.
 */
static int check_keys(struct ctx *c, const yaml_node_t *m, const char *const *allowed, const char *where)
{
    for (int i = 0; i < n_pairs(m); i++) {
        const yaml_node_t *k = node(c, m->data.mapping.pairs.start[i].key);
        const char *kt = scalar_text(k);
        if (!kt || !kt[0]) return fail(c, line_of(k), where, "a key must be a non-empty single value");
        for (int j = 0; j < i; j++) {
            const char *o = scalar_text(node(c, m->data.mapping.pairs.start[j].key));
            if (o && strcmp(o, kt) == 0)
                return fail(c, line_of(k), kt, "duplicate key (first at line %d)",
                            line_of(node(c, m->data.mapping.pairs.start[j].key)));
        }
        if (!allowed) continue;
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) ok = ok || strcmp(*a, kt) == 0;
        if (!ok) {
            char known[512] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", a == allowed ? "" : ", ", *a);
            return fail(c, line_of(k), kt, "unknown key in %s (known: %s)", where, known);
        }
    }
    return 0;
}

/* The value node of key in mapping m, or NULL. */
static yaml_node_t *get(const struct ctx *c, const yaml_node_t *m, const char *key)
{
    for (int i = 0; i < n_pairs(m); i++) {
        const char *kt = scalar_text(node(c, m->data.mapping.pairs.start[i].key));
        if (kt && strcmp(kt, key) == 0) return node(c, m->data.mapping.pairs.start[i].value);
    }
    return NULL;
}

/* ---- value lists ------------------------------------------------------------------------------ */

struct vlist {
    struct nsid_spec_value *v;
    int n, cap;
};

static int vlist_push(struct ctx *c, struct vlist *l, const struct nsid_spec_value *v)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, v->key) == 0)
            return fail(c, v->line, v->key, "duplicate key (first at line %d)", l->v[i].line);
    if (NSID_SPEC_ARENA_GROW(&c->set->pool, l->v, l->n, l->cap, 8, c->err) < 0) return NSID_ENOMEM;
    l->v[l->n++] = *v;
    return 0;
}

/* Which keys a list of settings accepts. */
enum key_kind {
    KEYS_SETTINGS = 0, /* config keys and var.NAME */
    KEYS_WHERE = 1,    /* ... plus "variant" and "data", values may be $refs */
};

static bool var_name_ok(const char *key)
{
    if (strncmp(key, "var.", 4) != 0 || !key[4]) return false;
    for (const char *p = key + 4; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* An error for a key that is neither a config key nor var.NAME (nor variant/data in WHERE). */
static int check_key(struct ctx *c, const char *key, int line, enum key_kind kind)
{
    if (nsid_config_find(key)) return 0;
    if (strncmp(key, "var.", 4) == 0) {
        if (var_name_ok(key)) return 0;
        return fail(c, line, key, "a label is var.NAME with NAME of [A-Za-z0-9_]");
    }
    if (kind == KEYS_WHERE && (strcmp(key, "variant") == 0 || strcmp(key, "data") == 0)) return 0;
    return fail(c, line, key, "unknown key: not a run configuration key (nsid-train --help-config lists them)%s",
                kind == KEYS_WHERE ? ", var.NAME, variant or data" : " nor var.NAME");
}

/* Check a literal value of a config key by setting it on the scratch config. */
static int check_value(struct ctx *c, const struct nsid_spec_value *v)
{
    if (v->ref || !nsid_config_find(v->key)) return 0;
    return nsid_config_set_value(&c->scratch, v->key, v->text, v->quoted, c->file, v->line, c->err);
}

/* A scalar node as a value of key. */
static int make_value(struct ctx *c, const yaml_node_t *n, const char *key, enum key_kind kind,
                      struct nsid_spec_value *v)
{
    int rc = expect(c, n, YAML_SCALAR_NODE, key);
    if (rc < 0) return rc;
    const char *t = scalar_text(n);
    if (strlen(t) != n->data.scalar.length) return fail(c, line_of(n), key, "a value must not contain NUL bytes");
    v->key = dup(c, key);
    v->text = dup(c, t);
    v->quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    v->ref = !v->quoted && t[0] == '$';
    v->line = line_of(n);
    if (!v->key || !v->text) return NSID_ENOMEM;
    if (v->ref && kind != KEYS_WHERE)
        return fail(c, v->line, key, "a $reference ('%.60s') is allowed only in core.where and plot", t);
    if (v->ref) {
        v->text = dup(c, t + 1);
        if (!v->text) return NSID_ENOMEM;
        if (strcmp(v->text, "variant") && strcmp(v->text, "data") && !nsid_config_find(v->text) &&
            !var_name_ok(v->text))
            return fail(c, v->line, key, "$%s: not a configuration key, var.NAME, variant or data", v->text);
    }
    return check_value(c, v);
}

/* Join prefix and key into buf. */
static int join_key(struct ctx *c, char *buf, size_t n, const char *prefix, const char *key, int line)
{
    int k = prefix && prefix[0] ? snprintf(buf, n, "%s.%s", prefix, key) : snprintf(buf, n, "%s", key);
    if (k < 0 || (size_t)k >= n) return fail(c, line, key, "key too long");
    return 0;
}

/*
 * Flatten a mapping of settings (nested or dotted) into l. skip lists keys of m handled by
 * the caller (variant fields); they count only at the top level.
 */
static int flatten(struct ctx *c, const yaml_node_t *m, const char *prefix, enum key_kind kind,
                   const char *const *skip, struct vlist *l, int depth)
{
    if (depth > 16) return fail(c, line_of(m), prefix, "nested too deeply");
    for (int i = 0; i < n_pairs(m); i++) {
        const yaml_node_t *k = node(c, m->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(c, m->data.mapping.pairs.start[i].value);
        const char *kt = scalar_text(k);
        bool skipped = false;
        for (const char *const *s = skip; s && *s && depth == 0; s++) skipped = skipped || strcmp(*s, kt) == 0;
        if (skipped) continue;
        char full[NSID_ERR_KEY_MAX];
        int rc = join_key(c, full, sizeof full, prefix, kt, line_of(k));
        if (rc < 0) return rc;
        if (v->type == YAML_MAPPING_NODE) {
            rc = check_keys(c, v, NULL, full);
            if (rc == 0) rc = flatten(c, v, full, kind, NULL, l, depth + 1);
        } else if (v->type == YAML_SEQUENCE_NODE) {
            rc = fail(c, line_of(v), full, "a list is not a value here (lists of values go under grid:)");
        } else {
            struct nsid_spec_value val;
            rc = check_key(c, full, line_of(k), kind);
            if (rc == 0) rc = make_value(c, v, full, kind, &val);
            if (rc == 0) rc = vlist_push(c, l, &val);
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* A settings mapping (defaults:, where:) into (*out, *n). */
static int settings(struct ctx *c, const yaml_node_t *m, const char *what, enum key_kind kind,
                    struct nsid_spec_value **out, int *n)
{
    int rc = expect(c, m, YAML_MAPPING_NODE, what);
    if (rc == 0) rc = check_keys(c, m, NULL, what);
    struct vlist l = {0};
    if (rc == 0) rc = flatten(c, m, "", kind, NULL, &l, 0);
    *out = l.v;
    *n = l.n;
    return rc;
}

/* ---- grids and searches ------------------------------------------------------------------------ */

struct alist {
    struct nsid_spec_axis *a;
    int n, cap;
};

static int alist_push(struct ctx *c, struct alist *l, const struct nsid_spec_axis *a)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->a[i].key, a->key) == 0)
            return fail(c, a->line, a->key, "duplicate key (first at line %d)", l->a[i].line);
    if (NSID_SPEC_ARENA_GROW(&c->set->pool, l->a, l->n, l->cap, 8, c->err) < 0) return NSID_ENOMEM;
    l->a[l->n++] = *a;
    return 0;
}

/* One grid axis: a non-empty list of values. */
static int grid_axis(struct ctx *c, const yaml_node_t *seq, const char *key, int line, struct nsid_spec_axis *a)
{
    int rc = check_key(c, key, line, KEYS_SETTINGS);
    if (rc < 0) return rc;
    int n = n_items(seq);
    if (n == 0) return fail(c, line_of(seq), key, "empty grid axis: give at least one value");
    a->key = dup(c, key);
    a->values = alloc(c, (size_t)n * sizeof *a->values);
    a->n = n;
    a->line = line;
    if (!a->key || !a->values) return NSID_ENOMEM;
    for (int i = 0; i < n; i++) {
        const yaml_node_t *v = node(c, seq->data.sequence.items.start[i]);
        rc = make_value(c, v, key, KEYS_SETTINGS, &a->values[i]);
        if (rc < 0) return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(a->values[j].text, a->values[i].text) == 0)
                return fail(c, a->values[i].line, key, "value '%s' appears twice in the grid axis", a->values[i].text);
    }
    return 0;
}

static int grid_walk(struct ctx *c, const yaml_node_t *m, const char *prefix, struct alist *l, int depth)
{
    if (depth > 16) return fail(c, line_of(m), prefix, "nested too deeply");
    int rc = check_keys(c, m, NULL, prefix[0] ? prefix : "grid");
    for (int i = 0; rc == 0 && i < n_pairs(m); i++) {
        const yaml_node_t *k = node(c, m->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(c, m->data.mapping.pairs.start[i].value);
        char full[NSID_ERR_KEY_MAX];
        rc = join_key(c, full, sizeof full, prefix, scalar_text(k), line_of(k));
        if (rc < 0) return rc;
        if (v->type == YAML_MAPPING_NODE) {
            rc = grid_walk(c, v, full, l, depth + 1);
        } else if (v->type == YAML_SEQUENCE_NODE) {
            struct nsid_spec_axis a;
            rc = grid_axis(c, v, full, line_of(k), &a);
            if (rc == 0) rc = alist_push(c, l, &a);
        } else {
            rc = fail(c, line_of(v), full, "a grid axis is a list of values, found %s", kind_name(v));
        }
    }
    return rc;
}

static int grid(struct ctx *c, const yaml_node_t *m, struct nsid_spec_axis **out, int *n)
{
    int rc = expect(c, m, YAML_MAPPING_NODE, "grid");
    if (rc < 0) return rc;
    if (n_pairs(m) == 0) return fail(c, line_of(m), "grid", "empty grid: give at least one axis (or leave grid out)");
    struct alist l = {0};
    rc = grid_walk(c, m, "", &l, 0);
    *out = l.a;
    *n = l.n;
    return rc;
}

/* A number of a search definition. */
static int search_number(struct ctx *c, const yaml_node_t *n, const char *key, double *x)
{
    int rc = expect(c, n, YAML_SCALAR_NODE, key);
    if (rc < 0) return rc;
    char *end = NULL;
    errno = 0;
    *x = strtod(scalar_text(n), &end);
    if (end == scalar_text(n) || *end || errno || !isfinite(*x))
        return fail(c, line_of(n), key, "expected a number, got '%.60s'", scalar_text(n));
    return 0;
}

/* [lo, hi] of a log search, both > 0 and lo <= hi. */
static int search_range(struct ctx *c, const yaml_node_t *r, const char *key, double *lo, double *hi)
{
    int rc = expect(c, r, YAML_SEQUENCE_NODE, key);
    if (rc < 0) return rc;
    if (n_items(r) != 2) return fail(c, line_of(r), key, "expected [low, high], found %d values", n_items(r));
    rc = search_number(c, node(c, r->data.sequence.items.start[0]), key, lo);
    if (rc == 0) rc = search_number(c, node(c, r->data.sequence.items.start[1]), key, hi);
    if (rc == 0 && !(*lo > 0 && *hi >= *lo))
        rc = fail(c, line_of(r), key, "a log range needs 0 < low <= high, got [%g, %g]", *lo, *hi);
    return rc;
}

int nsid_spec_search_values(struct nsid_spec_arena *pool, const char *key, int kind, double lo, double hi, uint64_t seed,
                            int n, int line, struct nsid_spec_value **out, struct nsid_err *err)
{
    const struct nsid_key *k = nsid_config_find(key);
    if (!k || n < 1 || !(lo > 0 && hi >= lo) || (kind != NSID_SEARCH_LOG && kind != NSID_SEARCH_RANDOM_LOG))
        return nsid_err_set(err, NSID_EINVAL, NULL, line, key, "not a log search");
    struct nsid_spec_value *v = nsid_spec_arena_alloc(pool, (size_t)n * sizeof *v, err);
    if (!v) return NSID_ENOMEM;
    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, 0);
    for (int i = 0; i < n; i++) {
        double t = kind == NSID_SEARCH_RANDOM_LOG ? nsid_rng_uniform(&rng) : (n == 1 ? 0.5 : (double)i / (n - 1));
        double x = exp(log(lo) + t * (log(hi) - log(lo)));
        v[i].key = nsid_spec_arena_strdup(pool, key, err);
        v[i].text = k->type == NSID_KEY_INT ? nsid_spec_arena_printf(pool, err, "%lld", llround(x))
                                            : nsid_spec_arena_printf(pool, err, "%.6g", x);
        v[i].line = line;
        if (!v[i].key || !v[i].text) return NSID_ENOMEM;
    }
    *out = v;
    return 0;
}

static int search_generated(struct ctx *c, const yaml_node_t *m, const char *key, bool profile, struct nsid_spec_axis *a)
{
    bool random = get(c, m, "random_log") != NULL;
    const yaml_node_t *range = get(c, m, random ? "random_log" : "log"), *nn = get(c, m, "n");
    const yaml_node_t *seed_n = get(c, m, "seed");
    if (!nn) return fail(c, line_of(m), key, "a log search needs n: the number of values");
    double lo = 0, hi = 0, n = 0, seed = 0;
    int rc = search_number(c, nn, key, &n);
    if (rc == 0 && (n < 1 || n > 1000 || n != floor(n)))
        rc = fail(c, line_of(nn), key, "n must be an integer in [1, 1000], got %g", n);
    if (rc < 0) return rc;
    a->n = (int)n;
    if (!range) {
        if (!profile || seed_n)
            return fail(c, line_of(m), key, profile ? "{n: N} resizes a search; seed: belongs to random_log"
                                                    : "a search needs values:, log: or random_log:");
        a->kind = NSID_SEARCH_COUNT;
        return 0;
    }
    if (random != (seed_n != NULL))
        return fail(c, line_of(m), key, random ? "random_log needs seed:" : "seed: belongs to random_log only");
    rc = search_range(c, range, key, &lo, &hi);
    if (rc == 0 && random) rc = search_number(c, seed_n, key, &seed);
    if (rc == 0 && random && (seed < 0 || seed != floor(seed) || seed > 4294967295.0))
        rc = fail(c, line_of(seed_n), key, "seed must be an integer in [0, 2^32-1], got %g", seed);
    if (rc < 0) return rc;
    a->kind = random ? NSID_SEARCH_RANDOM_LOG : NSID_SEARCH_LOG;
    a->lo = lo;
    a->hi = hi;
    a->seed = (uint64_t)seed;
    rc = nsid_spec_search_values(&c->set->pool, key, a->kind, lo, hi, a->seed, a->n, line_of(m), &a->values, c->err);
    for (int i = 0; rc == 0 && i < a->n; i++) {
        a->values[i].line = line_of(m);
        rc = check_value(c, &a->values[i]);
    }
    return rc;
}

static const char *const SEARCH_KEYS[] = {"values", "log", "random_log", "n", "seed", NULL};

/* One search definition at key (profile: {n: N} alone is allowed). */
static int search_def(struct ctx *c, const yaml_node_t *m, const char *key, int line, bool profile,
                      struct nsid_spec_axis *a)
{
    const struct nsid_key *k = nsid_config_find(key);
    if (!k) return fail(c, line, key, "unknown key: a search runs over a run configuration key");
    if (k->type != NSID_KEY_INT && k->type != NSID_KEY_DOUBLE)
        return fail(c, line, key, "a search needs a numeric key");
    int rc = check_keys(c, m, SEARCH_KEYS, "search");
    if (rc < 0) return rc;
    int kinds = (get(c, m, "values") != NULL) + (get(c, m, "log") != NULL) + (get(c, m, "random_log") != NULL);
    bool count_only = kinds == 0 && profile && get(c, m, "n") && n_pairs(m) == 1;
    if (kinds != 1 && !count_only)
        return fail(c, line_of(m), key, "a search is one of {values: [...]}, {log: [lo, hi], n: N} or "
                    "{random_log: [lo, hi], n: N, seed: S}%s", profile ? " (or {n: N} in a profile)" : "");
    a->key = dup(c, key);
    a->line = line;
    if (!a->key) return NSID_ENOMEM;
    const yaml_node_t *vals = get(c, m, "values");
    if (vals) {
        if (get(c, m, "n") || get(c, m, "seed")) return fail(c, line_of(m), key, "values: takes no n: or seed:");
        rc = expect(c, vals, YAML_SEQUENCE_NODE, key);
        if (rc == 0) rc = grid_axis(c, vals, key, line, a);
        return rc;
    }
    return search_generated(c, m, key, profile, a);
}

static int search_walk(struct ctx *c, const yaml_node_t *m, const char *prefix, bool profile, struct alist *l,
                       int depth)
{
    if (depth > 16) return fail(c, line_of(m), prefix, "nested too deeply");
    int rc = check_keys(c, m, NULL, prefix[0] ? prefix : "search");
    for (int i = 0; rc == 0 && i < n_pairs(m); i++) {
        const yaml_node_t *k = node(c, m->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(c, m->data.mapping.pairs.start[i].value);
        char full[NSID_ERR_KEY_MAX];
        rc = join_key(c, full, sizeof full, prefix, scalar_text(k), line_of(k));
        if (rc < 0) return rc;
        if (v->type != YAML_MAPPING_NODE) {
            rc = fail(c, line_of(v), full, "a search is a mapping ({values: [...]} or {log: [lo, hi], n: N}), found %s",
                      kind_name(v));
        } else if (get(c, v, "values") || get(c, v, "log") || get(c, v, "random_log") || get(c, v, "n")) {
            struct nsid_spec_axis a = {0};
            rc = search_def(c, v, full, line_of(k), profile, &a);
            if (rc == 0) rc = alist_push(c, l, &a);
        } else {
            rc = search_walk(c, v, full, profile, l, depth + 1);
        }
    }
    return rc;
}

static int search(struct ctx *c, const yaml_node_t *m, bool profile, struct nsid_spec_axis **out, int *n)
{
    int rc = expect(c, m, YAML_MAPPING_NODE, "search");
    if (rc < 0) return rc;
    struct alist l = {0};
    rc = search_walk(c, m, "", profile, &l, 0);
    *out = l.a;
    *n = l.n;
    return rc;
}

/* ---- data, core, plot, select ---------------------------------------------------------------- */

static const char *const DATA_KEYS[] = {"group", "files", NULL};

static int data_spec(struct ctx *c, const yaml_node_t *n, struct nsid_spec_data *d)
{
    d->line = line_of(n);
    if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
        d->group = dup(c, scalar_text(n));
        return d->group ? 0 : NSID_ENOMEM;
    }
    int rc = expect(c, n, YAML_MAPPING_NODE, "data");
    if (rc == 0) rc = check_keys(c, n, DATA_KEYS, "data");
    if (rc < 0) return rc;
    const yaml_node_t *g = get(c, n, "group"), *f = get(c, n, "files");
    if ((g != NULL) == (f != NULL)) return fail(c, d->line, "data", "give exactly one of group: or files:");
    if (g) {
        rc = expect(c, g, YAML_SCALAR_NODE, "data.group");
        d->group = rc == 0 ? dup(c, scalar_text(g)) : NULL;
        return rc < 0 ? rc : d->group ? 0 : NSID_ENOMEM;
    }
    rc = expect(c, f, YAML_SEQUENCE_NODE, "data.files");
    if (rc < 0) return rc;
    if (n_items(f) == 0) return fail(c, line_of(f), "data.files", "empty list: give at least one data file");
    d->n_files = n_items(f);
    d->files = alloc(c, (size_t)d->n_files * sizeof *d->files);
    if (!d->files) return NSID_ENOMEM;
    for (int i = 0; i < d->n_files; i++) {
        const yaml_node_t *p = node(c, f->data.sequence.items.start[i]);
        rc = expect(c, p, YAML_SCALAR_NODE, "data.files");
        if (rc < 0) return rc;
        if (!(d->files[i] = dup(c, scalar_text(p)))) return NSID_ENOMEM;
    }
    return 0;
}

static const char *const CORE_KEYS[] = {"experiment", "where", "rule", NULL};

static int core_spec(struct ctx *c, const yaml_node_t *n, struct nsid_spec_ref *r)
{
    int rc = expect(c, n, YAML_MAPPING_NODE, "core");
    if (rc == 0) rc = check_keys(c, n, CORE_KEYS, "core");
    if (rc < 0) return rc;
    r->line = line_of(n);
    const yaml_node_t *e = get(c, n, "experiment"), *w = get(c, n, "where"), *ru = get(c, n, "rule");
    if (!e) return fail(c, r->line, "core", "a reference names its experiment: core: {experiment: NAME, ...}");
    rc = expect(c, e, YAML_SCALAR_NODE, "core.experiment");
    if (rc < 0) return rc;
    r->experiment = dup(c, scalar_text(e));
    r->rule = "best_validation";
    if (ru) {
        rc = expect(c, ru, YAML_SCALAR_NODE, "core.rule");
        if (rc < 0) return rc;
        if (strcmp(scalar_text(ru), "best_validation") != 0)
            return fail(c, line_of(ru), "core.rule", "unknown rule '%.60s' (known: best_validation)", scalar_text(ru));
    }
    if (w) rc = settings(c, w, "core.where", KEYS_WHERE, &r->where, &r->n_where);
    if (rc == 0) r->line = line_of(e);
    return rc < 0 ? rc : r->experiment ? 0 : NSID_ENOMEM;
}

static const char *const PLOT_KEYS[] = {"figure", "panel", "curve", "style", "x", "y", NULL};

/* The scores plot.y may name (columns of the store's run_scores view; docs/figures.md). */
static const char *const PLOT_METRICS[] = {"fraction_oracle", "test_corr", "val_corr", "oracle",
                                           "feve",            "gt_corr",   NULL};

bool nsid_spec_plot_metric_known(const char *name)
{
    for (int i = 0; name && PLOT_METRICS[i]; i++)
        if (strcmp(name, PLOT_METRICS[i]) == 0) return true;
    return false;
}

/* plot.y: a literal metric name (one metric per figure, so no $reference). */
static int plot_metric(struct ctx *c, const struct nsid_spec_value *v)
{
    if (v->ref)
        return fail(c, v->line, "plot.y", "names a metric, not a $reference ('$%.60s'): one of %s", v->text,
                    NSID_SPEC_PLOT_METRICS);
    if (!nsid_spec_plot_metric_known(v->text))
        return fail(c, v->line, "plot.y", "unknown metric '%.60s' (known: %s)", v->text, NSID_SPEC_PLOT_METRICS);
    return 0;
}

static int plot_spec(struct ctx *c, const yaml_node_t *n, struct nsid_spec_value **out, int *count)
{
    int rc = expect(c, n, YAML_MAPPING_NODE, "plot");
    if (rc == 0) rc = check_keys(c, n, PLOT_KEYS, "plot");
    if (rc < 0) return rc;
    *count = n_pairs(n);
    *out = alloc(c, (size_t)(*count ? *count : 1) * sizeof **out);
    if (!*out) return NSID_ENOMEM;
    for (int i = 0; rc == 0 && i < *count; i++) {
        const char *k = scalar_text(node(c, n->data.mapping.pairs.start[i].key));
        char full[64];
        snprintf(full, sizeof full, "plot.%s", k);
        rc = make_value(c, node(c, n->data.mapping.pairs.start[i].value), full, KEYS_WHERE, &(*out)[i]);
        if (rc == 0 && !((*out)[i].key = dup(c, k))) rc = NSID_ENOMEM; /* stored without "plot." */
        if (rc == 0 && strcmp(k, "y") == 0) rc = plot_metric(c, &(*out)[i]);
    }
    return rc;
}

static int select_spec(struct ctx *c, const yaml_node_t *n, struct nsid_spec_value **out, int *count)
{
    int rc = expect(c, n, YAML_SEQUENCE_NODE, "select");
    if (rc < 0) return rc;
    *count = n_items(n);
    if (*count == 0) return fail(c, line_of(n), "select", "empty list: name the axes whose runs compete");
    *out = alloc(c, (size_t)*count * sizeof **out);
    if (!*out) return NSID_ENOMEM;
    for (int i = 0; i < *count; i++) {
        const yaml_node_t *k = node(c, n->data.sequence.items.start[i]);
        rc = expect(c, k, YAML_SCALAR_NODE, "select");
        if (rc == 0) rc = check_key(c, scalar_text(k), line_of(k), KEYS_SETTINGS);
        if (rc < 0) return rc;
        for (int j = 0; j < i; j++)
            if (strcmp((*out)[j].key, scalar_text(k)) == 0)
                return fail(c, line_of(k), scalar_text(k), "listed twice in select");
        (*out)[i].key = dup(c, scalar_text(k));
        (*out)[i].text = "";
        (*out)[i].line = line_of(k);
    }
    return 0;
}

static bool name_ok(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

/* ---- variants, profiles ------------------------------------------------------------------------ */

static const char *const VARIANT_SPECIAL[] = {"name", "data", "core", "plot", "search", "optional", NULL};

static int variant_spec(struct ctx *c, const yaml_node_t *n, struct nsid_spec_variant *v)
{
    int rc = expect(c, n, YAML_MAPPING_NODE, "variants");
    if (rc == 0) rc = check_keys(c, n, NULL, "variant");
    if (rc < 0) return rc;
    v->line = line_of(n);
    const yaml_node_t *name = get(c, n, "name");
    if (!name) return fail(c, v->line, "variants", "every variant needs a name:");
    rc = expect(c, name, YAML_SCALAR_NODE, "name");
    if (rc < 0) return rc;
    if (!name_ok(scalar_text(name)))
        return fail(c, line_of(name), "name", "'%.60s' is not a name: use [A-Za-z0-9_.-]", scalar_text(name));
    v->name = dup(c, scalar_text(name));
    const yaml_node_t *x;
    if (rc == 0 && (x = get(c, n, "data"))) rc = data_spec(c, x, &v->data);
    if (rc == 0 && (x = get(c, n, "core"))) rc = core_spec(c, x, &v->core);
    if (rc == 0 && (x = get(c, n, "plot"))) rc = plot_spec(c, x, &v->plot, &v->n_plot);
    if (rc == 0 && (x = get(c, n, "search"))) rc = search(c, x, false, &v->search, &v->n_search);
    if (rc == 0 && (x = get(c, n, "optional"))) {
        rc = expect(c, x, YAML_SCALAR_NODE, "optional");
        if (rc == 0 && strcmp(scalar_text(x), "true") && strcmp(scalar_text(x), "false"))
            rc = fail(c, line_of(x), "optional", "expected true or false, got '%.40s'", scalar_text(x));
        v->optional = rc == 0 && strcmp(scalar_text(x), "true") == 0;
    }
    struct vlist l = {0};
    if (rc == 0) rc = flatten(c, n, "", KEYS_SETTINGS, VARIANT_SPECIAL, &l, 0);
    v->set = l.v;
    v->n_set = l.n;
    return rc;
}

static int variants_spec(struct ctx *c, const yaml_node_t *n, struct nsid_spec_experiment *e)
{
    int rc = expect(c, n, YAML_SEQUENCE_NODE, "variants");
    if (rc < 0) return rc;
    if (n_items(n) == 0) return fail(c, line_of(n), "variants", "empty list: give variants or leave the key out");
    e->n_variants = n_items(n);
    e->variants = alloc(c, (size_t)e->n_variants * sizeof *e->variants);
    if (!e->variants) return NSID_ENOMEM;
    for (int i = 0; i < e->n_variants; i++) {
        rc = variant_spec(c, node(c, n->data.sequence.items.start[i]), &e->variants[i]);
        if (rc < 0) return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(e->variants[j].name, e->variants[i].name) == 0)
                return fail(c, e->variants[i].line, "name", "variant '%s' defined twice (first at line %d)",
                            e->variants[i].name, e->variants[j].line);
    }
    e->explicit_variants = true;
    return 0;
}

static const char *const PROFILE_KEYS[] = {"defaults", "grid", "search", "variants", NULL};
static const char *const GLOBAL_PROFILE_KEYS[] = {"defaults", NULL};
static const char *const PROFILE_NAMES[] = {"smoke", "quick", "paper", NULL};

bool nsid_spec_profile_known(const char *name)
{
    for (const char *const *p = PROFILE_NAMES; *p; p++)
        if (name && strcmp(*p, name) == 0) return true;
    return false;
}

static int profile_variants(struct ctx *c, const yaml_node_t *n, struct nsid_spec_profile *p)
{
    int rc = expect(c, n, YAML_SEQUENCE_NODE, "variants");
    if (rc < 0) return rc;
    p->n_variants = n_items(n);
    if (p->n_variants == 0) return fail(c, line_of(n), "variants", "empty list: name the variants to run");
    p->variants = alloc(c, (size_t)p->n_variants * sizeof *p->variants);
    if (!p->variants) return NSID_ENOMEM;
    for (int i = 0; i < p->n_variants; i++) {
        const yaml_node_t *v = node(c, n->data.sequence.items.start[i]);
        rc = expect(c, v, YAML_SCALAR_NODE, "variants");
        if (rc < 0) return rc;
        p->variants[i] = dup(c, scalar_text(v));
    }
    return 0;
}

static int profile_spec(struct ctx *c, const char *name, const yaml_node_t *n, bool global,
                        struct nsid_spec_profile *p)
{
    int rc = expect(c, n, YAML_MAPPING_NODE, name);
    if (rc == 0) rc = check_keys(c, n, global ? GLOBAL_PROFILE_KEYS : PROFILE_KEYS, global ? "global profiles" : "profile");
    if (rc < 0) return rc;
    p->name = dup(c, name);
    p->line = line_of(n);
    const yaml_node_t *x;
    if ((x = get(c, n, "defaults"))) rc = settings(c, x, "defaults", KEYS_SETTINGS, &p->defaults, &p->n_defaults);
    if (rc == 0 && (x = get(c, n, "grid"))) rc = grid(c, x, &p->grid, &p->n_grid);
    if (rc == 0 && (x = get(c, n, "search"))) rc = search(c, x, true, &p->search, &p->n_search);
    if (rc == 0 && (x = get(c, n, "variants"))) rc = profile_variants(c, x, p);
    return rc;
}

static int profiles_spec(struct ctx *c, const yaml_node_t *n, bool global, struct nsid_spec_profile **out, int *count)
{
    int rc = expect(c, n, YAML_MAPPING_NODE, "profiles");
    if (rc == 0) rc = check_keys(c, n, PROFILE_NAMES, "profiles");
    if (rc < 0) return rc;
    *count = n_pairs(n);
    *out = alloc(c, (size_t)(*count ? *count : 1) * sizeof **out);
    if (!*out) return NSID_ENOMEM;
    for (int i = 0; rc == 0 && i < *count; i++) {
        const char *name = scalar_text(node(c, n->data.mapping.pairs.start[i].key));
        rc = profile_spec(c, name, node(c, n->data.mapping.pairs.start[i].value), global, &(*out)[i]);
    }
    return rc;
}

/* ---- documents ------------------------------------------------------------------------------ */

static const char *const EXPERIMENT_KEYS[] = {"experiment", "description", "data",   "defaults", "grid",    "variants",
                                              "search",     "select",      "plot",   "core",     "profiles", NULL};

/*
 * Append item to the array (arr, n, *cap) in the pool. The capacity doubles: a pool never frees,
 * so growing by one (a copy per item) would hold n^2/2 items for a file of n experiments.
 */
static void *append(struct ctx *c, void *arr, int n, int *cap, size_t size, const void *item)
{
    if (!arr) *cap = 0;
    if (nsid_spec_arena_grow(&c->set->pool, &arr, n, cap, 8, size, c->err) < 0) return NULL;
    memcpy((unsigned char *)arr + (size_t)n * size, item, size);
    return arr;
}

static int experiment_body(struct ctx *c, const yaml_node_t *root, struct nsid_spec_experiment *e)
{
    const yaml_node_t *x = get(c, root, "experiment");
    int rc = expect(c, x, YAML_SCALAR_NODE, "experiment");
    if (rc < 0) return rc;
    if (!name_ok(scalar_text(x)))
        return fail(c, line_of(x), "experiment", "'%.60s' is not a name: use [A-Za-z0-9_.-]", scalar_text(x));
    e->name = dup(c, scalar_text(x));
    e->file = c->file;
    e->line = line_of(x);
    if ((x = get(c, root, "description"))) {
        rc = expect(c, x, YAML_SCALAR_NODE, "description");
        e->description = rc == 0 ? dup(c, scalar_text(x)) : NULL;
    }
    if (rc == 0 && (x = get(c, root, "data"))) rc = data_spec(c, x, &e->data);
    if (rc == 0 && (x = get(c, root, "defaults"))) rc = settings(c, x, "defaults", KEYS_SETTINGS, &e->defaults, &e->n_defaults);
    if (rc == 0 && (x = get(c, root, "grid"))) rc = grid(c, x, &e->grid, &e->n_grid);
    if (rc == 0 && (x = get(c, root, "variants"))) rc = variants_spec(c, x, e);
    if (rc == 0 && (x = get(c, root, "search"))) rc = search(c, x, false, &e->search, &e->n_search);
    if (rc == 0 && (x = get(c, root, "select"))) rc = select_spec(c, x, &e->select, &e->n_select);
    if (rc == 0 && (x = get(c, root, "plot"))) rc = plot_spec(c, x, &e->plot, &e->n_plot);
    if (rc == 0 && (x = get(c, root, "core"))) rc = core_spec(c, x, &e->core);
    if (rc == 0 && (x = get(c, root, "profiles"))) rc = profiles_spec(c, x, false, &e->profiles, &e->n_profiles);
    if (rc == 0 && !e->explicit_variants) {
        e->variants = alloc(c, sizeof *e->variants);
        if (!e->variants) return NSID_ENOMEM;
        e->variants[0].name = "";
        e->variants[0].line = e->line;
        e->n_variants = 1;
    }
    return rc;
}

/* One document: an experiment or global profiles. *added counts what it contributed. */
static int document(struct ctx *c, const yaml_node_t *root, int *added)
{
    if (!root) return 0;
    if (is_null(root)) return 0;
    if (root->type != YAML_MAPPING_NODE)
        return fail(c, line_of(root), "", "a spec document is a mapping (experiment: NAME, ...), found %s",
                    kind_name(root));
    int rc;
    struct nsid_spec_set *s = c->set;
    if (!get(c, root, "experiment")) {
        if (n_pairs(root) != 1 || !get(c, root, "profiles"))
            return fail(c, line_of(root), "experiment", "missing: a document is an experiment (experiment: NAME) or "
                        "global profiles (only profiles:)");
        struct nsid_spec_profile *p = NULL;
        int n = 0;
        rc = profiles_spec(c, get(c, root, "profiles"), true, &p, &n);
        for (int i = 0; rc == 0 && i < n; i++) {
            struct nsid_spec_profile *g = append(c, s->global, s->n_global, &s->cap_global, sizeof *g, &p[i]);
            if (!g) return NSID_ENOMEM;
            s->global = g;
            s->n_global++;
        }
        *added += rc == 0;
        return rc;
    }
    rc = check_keys(c, root, EXPERIMENT_KEYS, "an experiment");
    struct nsid_spec_experiment e = {0};
    if (rc == 0) rc = experiment_body(c, root, &e);
    if (rc < 0) return rc;
    struct nsid_spec_experiment *ne = append(c, s->experiments, s->n_experiments, &s->cap_experiments, sizeof e, &e);
    if (!ne) return NSID_ENOMEM;
    s->experiments = ne;
    s->n_experiments++;
    (*added)++;
    return 0;
}

void nsid_spec_set_init(struct nsid_spec_set *s)
{
    memset(s, 0, sizeof *s);
}

void nsid_spec_set_free(struct nsid_spec_set *s)
{
    if (!s) return;
    nsid_spec_arena_free(&s->pool);
    memset(s, 0, sizeof *s);
}

static int yaml_error(struct ctx *c, const yaml_parser_t *p)
{
    int line = (int)(p->problem_mark.line) + 1;
    if (p->error == YAML_READER_ERROR) line = 0;
    const char *prob = p->problem ? p->problem : "malformed YAML";
    if (p->context)
        return nsid_err_set(c->err, NSID_EFORMAT, c->file, line, NULL, "YAML syntax: %s %s", p->context, prob);
    return nsid_err_set(c->err, NSID_EFORMAT, c->file, line, NULL, "YAML syntax: %s", prob);
}

#define MAX_YAML_DEPTH 64
#define MAX_COLLECTION_ANCHORS 64

/*
 * Bound the document before it is loaded: libyaml's loader builds the whole tree first, so a flow
 * mapping nested 200,000 deep took minutes before the walkers' depth checks saw it. The event
 * parser stops at the first collection deeper than MAX_YAML_DEPTH. An alias of a mapping or a
 * list is refused as well: nested aliases multiply what the walkers visit (a "billion laughs").
 * Syntax errors are left to the loader, which reports them.
 */
int nsid_spec_yaml_bound(struct yaml_parser_s *parser, const char *file, struct nsid_err *err)
{
    yaml_parser_t p = *parser;
    struct {
        const char *file;
        struct nsid_err *err;
    } cc = {file, err}, *c = &cc;
    char anchors[MAX_COLLECTION_ANCHORS][64];
    int n_anchors = 0, depth = 0, rc = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) break;
        int line = (int)ev.start_mark.line + 1;
        const char *anchor = NULL;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            anchor = (const char *)(ev.type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.anchor
                                                                        : ev.data.sequence_start.anchor);
            if (++depth > MAX_YAML_DEPTH)
                rc = nsid_err_set(c->err, NSID_EINVAL, c->file, line, NULL,
                                  "nested deeper than %d levels", MAX_YAML_DEPTH);
            else if (anchor && n_anchors == MAX_COLLECTION_ANCHORS)
                rc = nsid_err_set(c->err, NSID_EINVAL, c->file, line, NULL,
                                  "more than %d anchored mappings or lists", MAX_COLLECTION_ANCHORS);
            else if (anchor)
                snprintf(anchors[n_anchors++], sizeof anchors[0], "%s", anchor);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_ALIAS_EVENT:
            for (int i = 0; i < n_anchors && rc == 0; i++)
                if (strncmp(anchors[i], (const char *)ev.data.alias.anchor, sizeof anchors[0] - 1) == 0)
                    rc = nsid_err_set(c->err, NSID_EINVAL, c->file, line, NULL,
                                      "*%.60s: an alias of a mapping or list is not supported in specs (write it out)",
                                      (const char *)ev.data.alias.anchor);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    *parser = p;
    return rc;
}

static int bound_events(struct ctx *c, const char *text, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return nsid_err_set(c->err, NSID_ENOMEM, c->file, 0, NULL, "libyaml: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = nsid_spec_yaml_bound(&p, c->file, c->err);
    yaml_parser_delete(&p);
    return rc;
}

int nsid_spec_load_string(struct nsid_spec_set *s, const char *text, size_t len, const char *name,
                          struct nsid_err *err)
{
    struct ctx c = {.set = s, .err = err};
    c.file = nsid_spec_arena_strdup(&s->pool, name, err);
    if (!c.file) return NSID_ENOMEM;
    nsid_config_init(&c.scratch);
    if (memchr(text, '\0', len))
        return nsid_err_set(err, NSID_EFORMAT, name, 0, NULL, "a NUL byte: this is not a YAML text file");
    if (bound_events(&c, text, len) < 0) return err->code;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return nsid_err_set(err, NSID_ENOMEM, name, 0, NULL, "libyaml: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0, added = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&p, &doc)) {
            rc = yaml_error(&c, &p);
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        bool end = root == NULL; /* libyaml: a document without a root ends the stream */
        c.doc = &doc;
        if (!end) rc = document(&c, root, &added);
        yaml_document_delete(&doc);
        if (rc < 0 || end) break;
    }
    yaml_parser_delete(&p);
    if (rc == 0 && added == 0)
        rc = nsid_err_set(err, NSID_EINVAL, name, 0, "experiment", "no experiment in this file (empty spec)");
    return rc;
}

#define MAX_SPEC_BYTES (16u << 20)

int nsid_spec_load(struct nsid_spec_set *s, const char *path, struct nsid_err *err)
{
    FILE *f = nsid_infile_fopen(path, NULL, err);
    if (!f) return err->code;
    char *buf = NSID_ALLOC(MAX_SPEC_BYTES + 1, err);
    if (!buf) {
        fclose(f);
        return NSID_ENOMEM;
    }
    size_t n = fread(buf, 1, MAX_SPEC_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc = 0;
    if (bad) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "read failed");
    else if (n > MAX_SPEC_BYTES) rc = nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "larger than 16 MiB: not a spec");
    else rc = nsid_spec_load_string(s, buf, n, path, err);
    nsid_alloc_free(buf);
    return rc;
}

/* ---- checks across documents ---------------------------------------------------------------------- */

const struct nsid_spec_experiment *nsid_spec_find(const struct nsid_spec_set *s, const char *name)
{
    for (int i = 0; name && i < s->n_experiments; i++)
        if (strcmp(s->experiments[i].name, name) == 0) return &s->experiments[i];
    return NULL;
}

static int check_ref(const struct nsid_spec_set *s, const struct nsid_spec_experiment *e,
                     const struct nsid_spec_ref *r, struct nsid_err *err)
{
    if (!r->experiment || nsid_spec_find(s, r->experiment)) return 0;
    char known[512] = "";
    for (int i = 0; i < s->n_experiments && strlen(known) < 400; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", s->experiments[i].name);
    return nsid_err_set(err, NSID_EINVAL, e->file, r->line, "core.experiment",
                        "dangling reference: no experiment '%s' (known: %s)", r->experiment, known);
}

/* Depth-first search for a cycle through core references; state 0 new, 1 on stack, 2 done. */
static int visit(const struct nsid_spec_set *s, int i, int *state, struct nsid_err *err)
{
    if (state[i] == 2) return 0;
    const struct nsid_spec_experiment *e = &s->experiments[i];
    if (state[i] == 1)
        return nsid_err_set(err, NSID_EINVAL, e->file, e->line, e->name,
                            "cyclic reference: this experiment's core depends on itself");
    state[i] = 1;
    for (int v = -1; v < e->n_variants; v++) {
        const struct nsid_spec_ref *r = v < 0 ? &e->core : &e->variants[v].core;
        const struct nsid_spec_experiment *t = r->experiment ? nsid_spec_find(s, r->experiment) : NULL;
        int rc = t ? visit(s, (int)(t - s->experiments), state, err) : 0;
        if (rc < 0) return rc;
    }
    state[i] = 2;
    return 0;
}

static bool is_axis(const struct nsid_spec_experiment *e, const char *key)
{
    for (int i = 0; i < e->n_grid; i++)
        if (strcmp(e->grid[i].key, key) == 0) return true;
    for (int i = 0; i < e->n_search; i++)
        if (strcmp(e->search[i].key, key) == 0) return true;
    for (int v = 0; v < e->n_variants; v++)
        for (int i = 0; i < e->variants[v].n_search; i++)
            if (strcmp(e->variants[v].search[i].key, key) == 0) return true;
    for (int p = 0; p < e->n_profiles; p++) {
        for (int i = 0; i < e->profiles[p].n_grid; i++)
            if (strcmp(e->profiles[p].grid[i].key, key) == 0) return true;
        for (int i = 0; i < e->profiles[p].n_search; i++)
            if (strcmp(e->profiles[p].search[i].key, key) == 0) return true;
    }
    return false;
}

static int check_experiment(const struct nsid_spec_set *s, const struct nsid_spec_experiment *e,
                            struct nsid_err *err)
{
    for (const struct nsid_spec_experiment *o = s->experiments; o < e; o++)
        if (strcmp(o->name, e->name) == 0)
            return nsid_err_set(err, NSID_EINVAL, e->file, e->line, "experiment",
                                "'%s' is defined twice (first at %s:%d)", e->name, o->file, o->line);
    int rc = check_ref(s, e, &e->core, err);
    for (int v = 0; rc == 0 && v < e->n_variants; v++) rc = check_ref(s, e, &e->variants[v].core, err);
    for (int i = 0; rc == 0 && i < e->n_select; i++)
        if (!is_axis(e, e->select[i].key))
            rc = nsid_err_set(err, NSID_EINVAL, e->file, e->select[i].line, e->select[i].key,
                              "select: not a grid or search axis of experiment '%s'", e->name);
    for (int p = 0; rc == 0 && p < e->n_profiles; p++)
        for (int i = 0; rc == 0 && i < e->profiles[p].n_search; i++) {
            const struct nsid_spec_axis *a = &e->profiles[p].search[i];
            bool base = false;
            for (int j = 0; j < e->n_search; j++) base = base || strcmp(e->search[j].key, a->key) == 0;
            for (int v = 0; v < e->n_variants; v++)
                for (int j = 0; j < e->variants[v].n_search; j++)
                    base = base || strcmp(e->variants[v].search[j].key, a->key) == 0;
            if (a->kind == NSID_SEARCH_COUNT && !base)
                rc = nsid_err_set(err, NSID_EINVAL, e->file, a->line, a->key,
                                  "{n: %d} resizes a search, but experiment '%s' has no search of this key", a->n,
                                  e->name);
        }
    for (int p = 0; rc == 0 && p < e->n_profiles; p++)
        for (int i = 0; rc == 0 && i < e->profiles[p].n_variants; i++) {
            bool found = false;
            for (int v = 0; v < e->n_variants; v++) found = found || strcmp(e->variants[v].name, e->profiles[p].variants[i]) == 0;
            if (!found)
                rc = nsid_err_set(err, NSID_EINVAL, e->file, e->profiles[p].line, "variants",
                                  "profile %s names variant '%s', which experiment '%s' does not have",
                                  e->profiles[p].name, e->profiles[p].variants[i], e->name);
        }
    return rc;
}

int nsid_spec_check(const struct nsid_spec_set *s, struct nsid_err *err)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < s->n_experiments; i++) rc = check_experiment(s, &s->experiments[i], err);
    if (rc < 0 || s->n_experiments == 0) return rc;
    int *state = NSID_CALLOC((size_t)s->n_experiments * sizeof *state, err);
    if (!state) return NSID_ENOMEM;
    for (int i = 0; rc == 0 && i < s->n_experiments; i++) rc = visit(s, i, state, err);
    nsid_alloc_free(state);
    return rc;
}
