/*
 * db_runs.c - nsid-db runs / compare / tag / note / gc: parse the verb's arguments, open the
 * store (read-only unless the verb writes), call src/exp/store_runs.h, exit status.
 */
#include "db_runs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exp/store.h"
#include "exp/store_runs.h"

#define DEFAULT_DB "results/results.db"

const char NSID_DB_RUNS_USAGE[] =
    "  runs [--db DB] [--experiment E] [--status S] [--tag KEY[=VALUE]] [--where SQL]\n"
    "       [--sort KEY[,-KEY...]] [--format table|csv|json] [--limit N] [KEY=VALUE...]\n"
    "        one row per run: experiment, variant, the configuration keys that differ across\n"
    "        the rows shown, tags, status, epochs, validation and test correlation, wall time;\n"
    "        KEY=VALUE filters by a configuration key or a tag (docs/results.md)\n"
    "  compare [--db DB] RUN RUN [RUN...]\n"
    "        configuration and data that differ, scores side by side, tags, notes, and the\n"
    "        per-neuron test correlation of each run against the first\n"
    "  tag [--db DB] RUN KEY=VALUE... | tag [--db DB] RUN --rm KEY...\n"
    "        set (or remove) tags of a run\n"
    "  note [--db DB] RUN TEXT  add a note to a run\n"
    "  gc [--db DB] [--runs DIR] [--yes]\n"
    "        list (with --yes: remove) the runs and run folders DIR/<id> (default: the runs\n"
    "        folder beside DB) the current plan no longer holds, except a core a kept run uses\n"
    "  RUN is a run id or a prefix of one that only one run has.\n";

static int usage(const char *verb, const char *what)
{
    fprintf(stderr, "nsid-db %s: %s\n(nsid-db --help for usage)\n", verb, what);
    return 2;
}

static int fail(const struct nsid_err *err)
{
    fprintf(stderr, "nsid-db: ");
    nsid_err_print(err, stderr);
    return 1;
}

/* The arguments of a verb: the options every verb may take and the positional ones. */
struct args {
    const char *db;               /* --db */
    const char *runs;             /* --runs (gc) */
    const char *experiment, *status, *where, *sort, *format, *limit;
    const char **tags;            /* --tag (runs) */
    int n_tags;
    const char **rm;              /* --rm KEY (tag) */
    int n_rm;
    bool yes;                     /* --yes (gc) */
    const char **pos;             /* positional */
    int n_pos;
};

/* The options each verb takes (space-separated, with a leading and trailing space). */
static const struct {
    const char *verb;
    const char *options;
} VERBS[] = {
    {"runs", " --db --experiment --status --tag --where --sort --format --limit "},
    {"compare", " --db "},
    {"tag", " --db --rm "},
    {"note", " --db "},
    {"gc", " --db --runs --yes "},
};

static bool takes(const char *options, const char *opt)
{
    char probe[64];
    snprintf(probe, sizeof probe, " %s ", opt);
    return strstr(options, probe) != NULL;
}

/* The slot of a valued option, NULL for a flag or an unknown one. */
static const char **slot(struct args *a, const char *opt)
{
    if (strcmp(opt, "--db") == 0) return &a->db;
    if (strcmp(opt, "--runs") == 0) return &a->runs;
    if (strcmp(opt, "--experiment") == 0) return &a->experiment;
    if (strcmp(opt, "--status") == 0) return &a->status;
    if (strcmp(opt, "--where") == 0) return &a->where;
    if (strcmp(opt, "--sort") == 0) return &a->sort;
    if (strcmp(opt, "--format") == 0) return &a->format;
    if (strcmp(opt, "--limit") == 0) return &a->limit;
    if (strcmp(opt, "--tag") == 0) return &a->tags[a->n_tags++];
    if (strcmp(opt, "--rm") == 0) return &a->rm[a->n_rm++];
    return NULL;
}

static int parse(struct args *a, const char *verb, const char *options, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->pos = calloc((size_t)argc, sizeof *a->pos);
    a->tags = calloc((size_t)argc, sizeof *a->tags);
    a->rm = calloc((size_t)argc, sizeof *a->rm);
    if (!a->pos || !a->tags || !a->rm) return usage(verb, "out of memory");
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (o[0] != '-' || o[1] != '-') {
            a->pos[a->n_pos++] = o;
            continue;
        }
        if (!takes(options, o)) {
            fprintf(stderr, "nsid-db %s: unknown option '%s'\n(nsid-db --help for usage)\n", verb, o);
            return 2;
        }
        if (strcmp(o, "--yes") == 0) {
            a->yes = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nsid-db %s: option '%s' needs a value\n(nsid-db --help for usage)\n", verb, o);
            return 2;
        }
        *slot(a, o) = argv[++i];
    }
    return 0;
}

static void args_free(struct args *a)
{
    free(a->pos);
    free(a->tags);
    free(a->rm);
}

/* Open the store (it must exist: a verb never creates one). */
static int open_store(struct nsid_store *st, const char *db, bool write)
{
    struct stat sb;
    struct nsid_err err = {0};
    if (stat(db, &sb) != 0) {
        nsid_err_set(&err, NSID_ENOTFOUND, db, 0, NULL, "no results store (run the plan and merge first)");
        return fail(&err);
    }
    int rc = write ? nsid_store_open(st, db, &err) : nsid_store_open_readonly(st, db, &err);
    return rc < 0 ? fail(&err) : 0;
}

/* ---- the verbs ------------------------------------------------------------------------------- */

static int cmd_runs(const struct args *a)
{
    struct nsid_store_runs_query q = {.experiment = a->experiment, .status = a->status, .where = a->where,
                                      .sort = a->sort, .match = a->pos, .n_match = a->n_pos, .tags = a->tags,
                                      .n_tags = a->n_tags};
    enum nsid_store_format format = NSID_STORE_TABLE;
    if (a->format && strcmp(a->format, "csv") == 0) format = NSID_STORE_CSV;
    else if (a->format && strcmp(a->format, "json") == 0) format = NSID_STORE_JSON;
    else if (a->format && strcmp(a->format, "table") != 0) return usage("runs", "--format is table, csv or json");
    if (a->limit) {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(a->limit, &end, 10);
        if (!a->limit[0] || *end || errno || n < 1) return usage("runs", "--limit needs a positive whole number");
        q.limit = n;
    }
    struct nsid_store st;
    if (open_store(&st, a->db, false)) return 1;
    struct nsid_err err = {0};
    int rc = nsid_store_runs(&st, &q, format, stdout, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

static int cmd_compare(const struct args *a)
{
    if (a->n_pos < 2) return usage("compare", "needs two or more runs");
    struct nsid_store st;
    if (open_store(&st, a->db, false)) return 1;
    struct nsid_err err = {0};
    char (*ids)[NSID_STORE_ID_MAX] = calloc((size_t)a->n_pos, sizeof *ids);
    const char **list = calloc((size_t)a->n_pos, sizeof *list);
    int rc = ids && list ? 0 : nsid_err_set(&err, NSID_ENOMEM, NULL, 0, "compare", "out of memory");
    for (int i = 0; rc == 0 && i < a->n_pos; i++) {
        rc = nsid_store_resolve_id(&st, a->pos[i], ids[i], &err);
        list[i] = ids[i];
    }
    if (rc == 0) rc = nsid_store_compare(&st, list, a->n_pos, stdout, &err);
    nsid_store_close(&st);
    free(ids);
    free(list);
    return rc < 0 ? fail(&err) : 0;
}

/* Every tag of the command in one transaction: all set, or the store as it was. */
static int tag_all(struct nsid_store *st, const char *id, const struct args *a, struct nsid_err *err)
{
    int rc = nsid_store_begin(st, err);
    for (int i = 1; rc == 0 && i < a->n_pos; i++) {
        const char *eq = strchr(a->pos[i], '=');
        char key[128];
        if (!eq || eq == a->pos[i] || (size_t)(eq - a->pos[i]) >= sizeof key) {
            rc = nsid_err_set(err, NSID_EINVAL, st->path, 0, a->pos[i], "a tag is KEY=VALUE");
            break;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->pos[i]), a->pos[i]);
        rc = nsid_store_tag(st, id, key, eq + 1, err);
    }
    for (int i = 0; rc == 0 && i < a->n_rm; i++) rc = nsid_store_tag(st, id, a->rm[i], NULL, err);
    if (rc == 0) return nsid_store_commit(st, err);
    nsid_store_rollback(st);
    return rc;
}

static int cmd_tag(const struct args *a)
{
    if (a->n_pos < 1 || (a->n_pos < 2 && a->n_rm == 0)) return usage("tag", "needs RUN and KEY=VALUE (or --rm KEY)");
    struct nsid_store st;
    if (open_store(&st, a->db, true)) return 1;
    struct nsid_err err = {0};
    char id[NSID_STORE_ID_MAX];
    int rc = nsid_store_resolve_id(&st, a->pos[0], id, &err);
    if (rc == 0) rc = tag_all(&st, id, a, &err);
    nsid_store_close(&st);
    if (rc < 0) return fail(&err);
    fprintf(stderr, "nsid-db: tag: run %s: %d set, %d removed\n", id, a->n_pos - 1, a->n_rm);
    return 0;
}

static int cmd_note(const struct args *a)
{
    if (a->n_pos != 2) return usage("note", "needs RUN and one TEXT (quote it)");
    struct nsid_store st;
    if (open_store(&st, a->db, true)) return 1;
    struct nsid_err err = {0};
    char id[NSID_STORE_ID_MAX];
    int rc = nsid_store_resolve_id(&st, a->pos[0], id, &err);
    if (rc == 0) rc = nsid_store_note(&st, id, a->pos[1], &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

static int cmd_gc(const struct args *a)
{
    if (a->n_pos) return usage("gc", "takes no positional arguments");
    char runs[4096];
    if (a->runs) snprintf(runs, sizeof runs, "%s", a->runs);
    else {
        const char *slash = strrchr(a->db, '/');
        snprintf(runs, sizeof runs, "%.*s%sruns", slash ? (int)(slash - a->db) : 0, a->db, slash ? "/" : "");
    }
    struct nsid_store st;
    if (open_store(&st, a->db, a->yes)) return 1;
    struct nsid_err err = {0};
    int rc = nsid_store_gc(&st, runs, a->yes, stdout, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

int nsid_db_runs_command(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    size_t v = 0;
    while (v < sizeof VERBS / sizeof VERBS[0] && strcmp(VERBS[v].verb, verb) != 0) v++;
    if (v == sizeof VERBS / sizeof VERBS[0]) return -1;
    struct args a;
    int rc = parse(&a, verb, VERBS[v].options, argc, argv);
    if (!a.db) a.db = DEFAULT_DB;
    if (rc == 0) {
        if (v == 0) rc = cmd_runs(&a);
        else if (v == 1) rc = cmd_compare(&a);
        else if (v == 2) rc = cmd_tag(&a);
        else if (v == 3) rc = cmd_note(&a);
        else rc = cmd_gc(&a);
    }
    args_free(&a);
    return rc;
}
