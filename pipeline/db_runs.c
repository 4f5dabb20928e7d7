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
#include "base/opt.h"
#include "exp/store_runs.h"

#define DEFAULT_DB "results/results.db"

/* What a verb's command line gave. */
struct args {
    const char *db;               /* --db */
    const char *runs;             /* --runs (gc) */
    const char *experiment, *status, *where, *sort, *format; /* runs */
    long long limit;              /* --limit (runs), 0: all */
    struct nsid_opt_list tags;    /* --tag (runs) */
    struct nsid_opt_list rm;      /* --rm KEY (tag) */
    bool yes;                     /* --yes (gc) */
    bool help;                    /* --help */
    struct nsid_opt_list pos;     /* positional arguments */
};

static int cmd_runs(const struct args *a);
static int cmd_compare(const struct args *a);
static int cmd_tag(const struct args *a);
static int cmd_note(const struct args *a);
static int cmd_gc(const struct args *a);

/* The options of every verb; each verb takes those of its mask. */
enum runs_opt { O_DB, O_EXPERIMENT, O_STATUS, O_TAG, O_WHERE, O_SORT, O_FORMAT, O_LIMIT, O_RM, O_RUNS, O_YES,
                O_HELP, O_N };
#define M(o) (1u << (o))

static const struct {
    const char *name;
    const char *args;             /* positional arguments in the synopsis */
    unsigned opts;                /* mask of enum runs_opt */
    int max_pos;                  /* -1: none; 0: any number */
    int (*run)(const struct args *a);
    const char *about;            /* prose under the synopsis */
} VERBS[] = {
    {"runs", "[KEY=VALUE...]",
     M(O_DB) | M(O_EXPERIMENT) | M(O_STATUS) | M(O_TAG) | M(O_WHERE) | M(O_SORT) | M(O_FORMAT) | M(O_LIMIT), 0,
     cmd_runs,
     "one row per run: experiment, variant, the configuration keys that differ across\n"
     "the rows shown, tags, status, epochs, validation and test correlation, wall time;\n"
     "KEY=VALUE keeps the runs whose configuration key (or tag) KEY is VALUE (docs/results.md)"},
    {"compare", "RUN RUN [RUN...]", M(O_DB), 0, cmd_compare,
     "the configuration and data that differ, scores side by side, tags, notes, and the\n"
     "per-neuron test correlation of each run against the first; RUN: an id or a prefix\n"
     "only one run has"},
    {"tag", "RUN [KEY=VALUE...]", M(O_DB) | M(O_RM), 0, cmd_tag, "set (or, with --rm, remove) tags of a run"},
    {"note", "RUN TEXT", M(O_DB), 2, cmd_note, "add a note to a run"},
    {"gc", "", M(O_DB) | M(O_RUNS) | M(O_YES), -1, cmd_gc,
     "list (with --yes: remove) the runs and run folders DIR/<id> the current plan no\n"
     "longer holds, except a core a kept run uses (its parent, its core checkpoint, a\n"
     "selection's choice); store rows in one transaction, folders after it"},
};
#define N_VERBS ((int)(sizeof VERBS / sizeof VERBS[0]))

/* The option table of verb v writing into a: t gets its rows and the ending row. */
static void verb_table(int v, struct args *a, struct nsid_opt t[O_N + 1])
{
    const struct nsid_opt all[O_N] = {
        [O_DB] = {"db", 0, NSID_OPT_STRING, &a->db, "DB", "the store (default " DEFAULT_DB ")"},
        [O_EXPERIMENT] = {"experiment", 0, NSID_OPT_STRING, &a->experiment, "NAME", "runs of this experiment"},
        [O_STATUS] = {"status", 0, NSID_OPT_STRING, &a->status, "STATUS", "planned, running, done or failed"},
        [O_TAG] = {"tag", 0, NSID_OPT_LIST, &a->tags, "KEY[=VALUE]", "runs with this tag (repeatable)"},
        [O_WHERE] = {"where", 0, NSID_OPT_STRING, &a->where, "SQL", "an SQL expression over the columns of\n"
                                                                     "docs/results.md (read-only)"},
        [O_SORT] = {"sort", 0, NSID_OPT_STRING, &a->sort, "KEY[,-KEY...]", "sort by columns, configuration keys or\n"
                                                                           "tags; '-': descending"},
        [O_FORMAT] = {"format", 0, NSID_OPT_STRING, &a->format, "table|csv|json", "the output (default table)"},
        [O_LIMIT] = {"limit", 0, NSID_OPT_INT, &a->limit, "N", "at most N rows", .min = 1, .max = 1000000000},
        [O_RM] = {"rm", 0, NSID_OPT_LIST, &a->rm, "KEY", "remove this tag (repeatable)"},
        [O_RUNS] = {"runs", 0, NSID_OPT_STRING, &a->runs, "DIR", "the run folders (default: runs beside DB)"},
        [O_YES] = {"yes", 0, NSID_OPT_FLAG, &a->yes, NULL, "remove (without it: a dry run)"},
        [O_HELP] = {"help", 'h', NSID_OPT_STOP, &a->help, NULL, "this command's help"},
    };
    int n = 0;
    for (int i = 0; i < O_N; i++)
        if ((VERBS[v].opts | M(O_HELP)) & M(i)) t[n++] = all[i];
    t[n] = (struct nsid_opt){0};
}

static void verb_synopsis(int v, FILE *f)
{
    struct args a = {0};
    struct nsid_opt t[O_N + 1];
    verb_table(v, &a, t);
    fprintf(f, "%s%s%s", VERBS[v].name, VERBS[v].args[0] ? " " : "", VERBS[v].args);
    nsid_opt_synopsis(t, f);
}

void nsid_db_runs_usage(FILE *f)
{
    for (int v = 0; v < N_VERBS; v++) {
        fputs("  ", f);
        verb_synopsis(v, f);
        fputs("\n        ", f);
        for (const char *s = VERBS[v].about; *s; s++) {
            fputc(*s, f);
            if (*s == '\n') fputs("        ", f);
        }
        fputc('\n', f);
    }
}

/* A usage error found after parsing: one line, exit 2. */
static int usage(const char *verb, const char *what)
{
    fprintf(stderr, "nsid-db %s: %s (see --help)\n", verb, what);
    return 2;
}

static int fail(const struct nsid_err *err)
{
    fprintf(stderr, "nsid-db: ");
    nsid_err_print(err, stderr);
    return 1;
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
                                      .sort = a->sort, .match = nsid_opt_list_strs(&a->pos), .n_match = a->pos.n,
                                      .tags = nsid_opt_list_strs(&a->tags), .n_tags = a->tags.n, .limit = a->limit};
    enum nsid_store_format format = NSID_STORE_TABLE;
    if (a->format && strcmp(a->format, "csv") == 0) format = NSID_STORE_CSV;
    else if (a->format && strcmp(a->format, "json") == 0) format = NSID_STORE_JSON;
    else if (a->format && strcmp(a->format, "table") != 0) return usage("runs", "--format is table, csv or json");
    struct nsid_store st;
    if (open_store(&st, a->db, false)) return 1;
    struct nsid_err err = {0};
    int rc = nsid_store_runs(&st, &q, format, stdout, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

static int cmd_compare(const struct args *a)
{
    if (a->pos.n < 2) return usage("compare", "needs two or more runs");
    struct nsid_store st;
    if (open_store(&st, a->db, false)) return 1;
    struct nsid_err err = {0};
    char (*ids)[NSID_STORE_ID_MAX] = calloc((size_t)a->pos.n, sizeof *ids);
    const char **list = calloc((size_t)a->pos.n, sizeof *list);
    int rc = ids && list ? 0 : nsid_err_set(&err, NSID_ENOMEM, NULL, 0, "compare", "out of memory");
    for (int i = 0; rc == 0 && i < a->pos.n; i++) {
        rc = nsid_store_resolve_id(&st, a->pos.v[i], NSID_STORE_IDS_ALL, ids[i], &err);
        list[i] = ids[i];
    }
    if (rc == 0) rc = nsid_store_compare(&st, list, a->pos.n, stdout, &err);
    nsid_store_close(&st);
    free(ids);
    free(list);
    return rc < 0 ? fail(&err) : 0;
}

/* Every tag of the command in one transaction: all set, or the store as it was. */
static int tag_all(struct nsid_store *st, const char *id, const struct args *a, struct nsid_err *err)
{
    int rc = nsid_store_begin(st, err);
    for (int i = 1; rc == 0 && i < a->pos.n; i++) {
        const char *eq = strchr(a->pos.v[i], '=');
        char key[128];
        if (!eq || eq == a->pos.v[i] || (size_t)(eq - a->pos.v[i]) >= sizeof key) {
            rc = nsid_err_set(err, NSID_EINVAL, st->path, 0, a->pos.v[i], "a tag is KEY=VALUE");
            break;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->pos.v[i]), a->pos.v[i]);
        rc = nsid_store_tag(st, id, key, eq + 1, err);
    }
    for (int i = 0; rc == 0 && i < a->rm.n; i++) rc = nsid_store_tag(st, id, a->rm.v[i], NULL, err);
    if (rc == 0) return nsid_store_commit(st, err);
    nsid_store_rollback(st);
    return rc;
}

static int cmd_tag(const struct args *a)
{
    if (a->pos.n < 1 || (a->pos.n < 2 && a->rm.n == 0)) return usage("tag", "needs RUN and KEY=VALUE (or --rm KEY)");
    struct nsid_store st;
    if (open_store(&st, a->db, true)) return 1;
    struct nsid_err err = {0};
    char id[NSID_STORE_ID_MAX];
    int rc = nsid_store_resolve_id(&st, a->pos.v[0], NSID_STORE_IDS_ALL, id, &err);
    if (rc == 0) rc = tag_all(&st, id, a, &err);
    nsid_store_close(&st);
    if (rc < 0) return fail(&err);
    fprintf(stderr, "nsid-db: tag: run %s: %d set, %d removed\n", id, a->pos.n - 1, a->rm.n);
    return 0;
}

static int cmd_note(const struct args *a)
{
    if (a->pos.n != 2) return usage("note", "needs RUN and one TEXT (quote it)");
    struct nsid_store st;
    if (open_store(&st, a->db, true)) return 1;
    struct nsid_err err = {0};
    char id[NSID_STORE_ID_MAX];
    int rc = nsid_store_resolve_id(&st, a->pos.v[0], NSID_STORE_IDS_ALL, id, &err);
    if (rc == 0) rc = nsid_store_note(&st, id, a->pos.v[1], &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

static int cmd_gc(const struct args *a)
{
    if (a->pos.n) return usage("gc", "takes no positional arguments");
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

int nsid_db_runs_command(const char *verb, int argc, char **argv)
{
    int v = 0;
    while (v < N_VERBS && strcmp(VERBS[v].name, verb) != 0) v++;
    if (v == N_VERBS) return -1;
    char prog[64];
    snprintf(prog, sizeof prog, "nsid-db %s", verb);
    struct args a = {0};
    struct nsid_opt t[O_N + 1];
    verb_table(v, &a, t);
    struct nsid_opt_cmd cmd = {prog, t, VERBS[v].max_pos < 0 ? NULL : &a.pos, VERBS[v].max_pos > 0 ? VERBS[v].max_pos : 0,
                               NULL};
    struct nsid_err err = {0};
    int rc = nsid_opt_parse(&cmd, argc, argv, &err);
    if (!a.db) a.db = DEFAULT_DB;
    if (rc < 0) rc = nsid_opt_usage_error(&cmd, &err);
    else if (rc == 1) { /* VERB --help */
        fputs("usage: nsid-db ", stdout);
        verb_synopsis(v, stdout);
        printf("\n\n%s\n\n", VERBS[v].about);
        nsid_opt_help(t, stdout);
        rc = 0;
    } else rc = VERBS[v].run(&a);
    nsid_opt_list_free(&a.pos);
    nsid_opt_list_free(&a.tags);
    nsid_opt_list_free(&a.rm);
    return rc;
}
