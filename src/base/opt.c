/* opt.c - command lines from one option table (see opt.h). */
#include "base/opt.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The row named by long name (len bytes of s), or NULL. */
static const struct nsid_opt *opt_find_long(const struct nsid_opt *t, const char *s, size_t len)
{
    for (; t->name; t++)
        if (strlen(t->name) == len && strncmp(t->name, s, len) == 0) return t;
    return NULL;
}

static const struct nsid_opt *opt_find_short(const struct nsid_opt *t, char c)
{
    for (; t->name; t++)
        if (t->short_name && t->short_name == c) return t;
    return NULL;
}

static bool opt_takes_value(const struct nsid_opt *o)
{
    return o->kind != NSID_OPT_FLAG && o->kind != NSID_OPT_STOP;
}

/* Append a copy of prefix + s to l. */
static int opt_list_add(struct nsid_opt_list *l, const char *prefix, const char *s, struct nsid_err *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    size_t np = prefix ? strlen(prefix) : 0, ns = strlen(s);
    char *c = malloc(np + ns + 1);
    if (!c) return nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "out of memory");
    memcpy(c, prefix ? prefix : "", np);
    memcpy(c + np, s, ns + 1);
    l->v[l->n++] = c;
    return 0;
}

/* An INT value: decimal, the whole text, within the row's range; who names it in the message. */
static int opt_set_int(const struct nsid_opt *o, const char *who, const char *v, struct nsid_err *err)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno == ERANGE || x < o->min || x > o->max) {
        if (o->max == LLONG_MAX)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "%s: '%s' is not an integer >= %lld", who, v, o->min);
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "%s: '%s' is not an integer in %lld..%lld", who, v,
                            o->min, o->max);
    }
    *(long long *)o->dst = x;
    return 0;
}

/* Store one value of row o, given as `name` on the command line (for messages). */
static int opt_store(const struct nsid_opt *o, const char *name, const char *v, struct nsid_err *err)
{
    switch (o->kind) {
    case NSID_OPT_STRING: {
        const char **dst = o->dst;
        if ((o->flags & NSID_OPT_ONCE) && *dst)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "option given more than once: %s", name);
        *dst = v;
        return 0;
    }
    case NSID_OPT_INT: return opt_set_int(o, name, v, err);
    case NSID_OPT_LIST: return opt_list_add(o->dst, o->prefix, v, err);
    default: NSID_ASSERT(!"opt_store: not a one-value kind");
    }
}

/* Defaults from the environment, read once through cmd->getenv. */
static int opt_env_defaults(const struct nsid_opt_cmd *cmd, struct nsid_err *err)
{
    if (!cmd->getenv) return 0;
    for (const struct nsid_opt *o = cmd->opts; o->name; o++) {
        if (!o->env) continue;
        const char *v = cmd->getenv(o->env);
        if (!v || !*v) continue;
        NSID_ASSERT(o->kind == NSID_OPT_STRING || o->kind == NSID_OPT_INT);
        if (o->kind == NSID_OPT_STRING) *(const char **)o->dst = v;
        else if (opt_set_int(o, o->env, v, err) < 0) return err->code;
    }
    return 0;
}

/* Every REQUIRED row was given: a STRING, LIST or PAIR with a value (FLAG/INT rows cannot be). */
static int opt_check_required(const struct nsid_opt *o, struct nsid_err *err)
{
    for (; o->name; o++) {
        if (!(o->flags & NSID_OPT_REQUIRED)) continue;
        bool given = o->kind == NSID_OPT_STRING ? *(const char **)o->dst != NULL
                     : o->kind == NSID_OPT_LIST ? ((struct nsid_opt_list *)o->dst)->n > 0
                     : o->kind == NSID_OPT_PAIR ? ((const char **)o->dst)[0] != NULL
                                                : true;
        if (!given)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "--%s%s%s is required", o->name, o->value ? " " : "",
                                o->value ? o->value : "");
    }
    return 0;
}

/* A positional argument (or a non-option where none are taken). */
static int opt_positional(const struct nsid_opt_cmd *cmd, const char *a, struct nsid_err *err)
{
    if (!cmd->pos) return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "unknown argument %s", a);
    if (cmd->max_pos && cmd->pos->n >= cmd->max_pos)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "too many arguments");
    return opt_list_add(cmd->pos, NULL, a, err);
}

/*
 * The option argv[*i]: find its row, take its value(s) (inline after '=' or the next
 * arguments), store. Returns 0, 1 (a STOP row) or <0.
 */
static int opt_one(const struct nsid_opt_cmd *cmd, int argc, char *const *argv, int *i, struct nsid_err *err)
{
    const char *a = argv[*i], *inline_v = NULL;
    const struct nsid_opt *o;
    size_t name_len;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        name_len = eq ? (size_t)(eq - a) : strlen(a);
        o = opt_find_long(cmd->opts, a + 2, name_len - 2);
        inline_v = eq ? eq + 1 : NULL;
    } else {
        name_len = strlen(a);
        o = name_len == 2 ? opt_find_short(cmd->opts, a[1]) : NULL;
    }
    if (!o)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "unknown %s %.*s", cmd->pos ? "option" : "argument",
                            (int)name_len, a);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)name_len, a);
    if (!opt_takes_value(o)) {
        if (inline_v) return nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "option takes no value: %s", name);
        *(bool *)o->dst = true;
        return o->kind == NSID_OPT_STOP ? 1 : 0;
    }
    int need = o->kind == NSID_OPT_PAIR ? 2 : 1, have = (inline_v != NULL) + (argc - 1 - *i);
    if (have < need)
        return need == 1 ? nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "option needs a value: %s", name)
                         : nsid_err_set(err, NSID_EINVAL, NULL, 0, NULL, "option needs %d values: %s", need, name);
    const char *v = inline_v ? inline_v : argv[++*i];
    if (o->kind == NSID_OPT_PAIR) {
        const char **dst = o->dst;
        dst[0] = v;
        dst[1] = argv[++*i];
        return 0;
    }
    return opt_store(o, name, v, err);
}

int nsid_opt_parse(const struct nsid_opt_cmd *cmd, int argc, char *const *argv, struct nsid_err *err)
{
    if (opt_env_defaults(cmd, err) < 0) return err->code;
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int rc;
        if (options && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (options && a[0] == '-' && a[1]) rc = opt_one(cmd, argc, argv, &i, err);
        else rc = opt_positional(cmd, a, err);
        if (rc != 0) return rc;
    }
    return opt_check_required(cmd->opts, err);
}

/* "-h, --name VALUE" (or without the short name) of a row into buf; its length. */
static int opt_label(const struct nsid_opt *o, bool with_short, char *buf, size_t n)
{
    char s[8] = "";
    if (o->short_name && with_short) snprintf(s, sizeof s, "-%c, ", o->short_name);
    const char *v = o->value ? o->value : "";
    if (o->kind == NSID_OPT_PAIR) return snprintf(buf, n, "%s--%s %s", s, o->name, v);
    return snprintf(buf, n, "%s--%s%s%s", s, o->name, o->value ? " " : "", v);
}

void nsid_opt_help(const struct nsid_opt *opts, FILE *f)
{
    char label[256];
    int col = 0;
    for (const struct nsid_opt *o = opts; o->name; o++) {
        int w = opt_label(o, true, label, sizeof label);
        if (!(o->flags & NSID_OPT_HIDDEN) && w > col) col = w;
    }
    for (const struct nsid_opt *o = opts; o->name; o++) {
        if (o->flags & NSID_OPT_HIDDEN) continue;
        opt_label(o, true, label, sizeof label);
        fprintf(f, "  %-*s  ", col, label);
        for (const char *h = o->help ? o->help : ""; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "  %-*s  ", col, "");
        }
        fputc('\n', f);
    }
}

void nsid_opt_synopsis(const struct nsid_opt *opts, FILE *f)
{
    char label[256];
    for (const struct nsid_opt *o = opts; o->name; o++) {
        if ((o->flags & NSID_OPT_HIDDEN) || o->kind == NSID_OPT_STOP) continue;
        opt_label(o, false, label, sizeof label);
        bool req = o->flags & NSID_OPT_REQUIRED;
        fprintf(f, " %s%s%s%s", req ? "" : "[", label, req ? "" : "]", o->kind == NSID_OPT_LIST ? "..." : "");
    }
}

int nsid_opt_usage_error(const struct nsid_opt_cmd *cmd, const struct nsid_err *err)
{
    fprintf(stderr, "%s: %s (see --help)\n", cmd->prog, err->msg);
    return 2;
}

void nsid_opt_list_free(struct nsid_opt_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
