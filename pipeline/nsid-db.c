/*
 * nsid-db - the results store from the command line: merge run databases, query, export
 * views as CSV, count run states, and pick the best core of a set of runs for make.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/opt.h"
#include "base/path.h"
#include "stage.h"
#include "exp/store.h"
#include "base/infile.h"
#include "db_runs.h"

#define DEFAULT_DB "results/results.db"

/* The options of every command; each command takes those of its mask (db_table). */
enum db_opt { O_INTO, O_MERGE_DB, O_LIST, O_RUNS, O_DB, O_CSV_FILE, O_CSV_FLAG, O_ALL, O_DIR, O_OUT, O_HELP, O_N };
#define M(o) (1u << (o))

/* What the command line gave. */
struct db_args {
    const char *db;        /* --db / --into */
    const char *csv;       /* --csv FILE (export) */
    bool csv_flag;         /* --csv (query) */
    const char *dir;       /* --dir */
    const char *runs;      /* --runs */
    const char *out;       /* --out */
    const char *list;      /* --list */
    bool all;              /* --all */
    bool help;             /* --help */
    struct nsid_opt_list pos; /* positional arguments */
};

struct db_command {
    const char *name;
    const char *args;      /* its positional arguments in the synopsis ("" if none) */
    unsigned opts;         /* mask of enum db_opt */
    int (*run)(const struct db_args *a);
    const char *about;     /* the prose under the synopsis; each line indented 8 */
};

/* The option table of c writing into a: t gets its rows and the ending row. */
static void db_table(const struct db_command *c, struct db_args *a, struct nsid_opt t[O_N + 1])
{
    const struct nsid_opt all[O_N] = {
        [O_INTO] = {"into", 0, NSID_OPT_STRING, &a->db, "DB", "the store to merge into", .flags = NSID_OPT_REQUIRED},
        [O_MERGE_DB] = {"db", 0, NSID_OPT_STRING, &a->db, "DB", "the same as --into", .flags = NSID_OPT_HIDDEN},
        [O_LIST] = {"list", 0, NSID_OPT_STRING, &a->list, "FILE", "more run databases, one path per line"},
        [O_RUNS] = {"runs", 0, NSID_OPT_STRING, &a->runs, "DIR", "the run folders DIR/<id>/run.db"},
        [O_DB] = {"db", 0, NSID_OPT_STRING, &a->db, "DB", "the store (default " DEFAULT_DB ")"},
        [O_CSV_FILE] = {"csv", 0, NSID_OPT_STRING, &a->csv, "FILE", "the CSV file to write"},
        [O_CSV_FLAG] = {"csv", 0, NSID_OPT_FLAG, &a->csv_flag, NULL, "print CSV instead of tab-separated text"},
        [O_ALL] = {"all", 0, NSID_OPT_FLAG, &a->all, NULL, "every view, as DIR/<view>.csv"},
        [O_DIR] = {"dir", 0, NSID_OPT_STRING, &a->dir, "DIR", "the folder of --all (created)"},
        [O_OUT] = {"out", 0, NSID_OPT_STRING, &a->out, "FILE", "the file to write", .flags = NSID_OPT_REQUIRED},
        [O_HELP] = {"help", 'h', NSID_OPT_STOP, &a->help, NULL, "this command's help"},
    };
    int n = 0;
    for (int i = 0; i < O_N; i++)
        if ((c->opts | M(O_HELP)) & M(i)) t[n++] = all[i];
    t[n] = (struct nsid_opt){0};
}

static int cmd_merge(const struct db_args *a);
static int cmd_query(const struct db_args *a);
static int cmd_export(const struct db_args *a);
static int cmd_views(const struct db_args *a);
static int cmd_status(const struct db_args *a);
static int cmd_select(const struct db_args *a);
static int cmd_init(const struct db_args *a);
static int cmd_check(const struct db_args *a);

static const struct db_command commands[] = {
    {"merge", "RUN_DB...", M(O_INTO) | M(O_MERGE_DB) | M(O_LIST) | M(O_RUNS), cmd_merge,
     "fold the finished runs of each run database into DB (idempotent: a run merged\n"
     "twice appears once; running or failed runs only record their status). A run id\n"
     "DB already holds finished with other content (configuration, data, numbers) is\n"
     "refused, naming both files; the same run with more rows (a later evaluation)\n"
     "gains them. FILE lists more run databases, one path per line; --runs DIR adds\n"
     "DIR/<id>/run.db of every run of DB's current plan that has one."},
    {"query", "SQL", M(O_DB) | M(O_CSV_FLAG), cmd_query,
     "run one SQL statement that reads (SELECT, WITH, a reading PRAGMA; anything that\n"
     "writes, ATTACH and VACUUM INTO are refused) and print a header and the rows\n"
     "(tab-separated, or CSV)"},
    {"export", "[VIEW]", M(O_CSV_FILE) | M(O_ALL) | M(O_DIR) | M(O_DB), cmd_export,
     "VIEW --csv FILE: write a view (or table) as CSV with a header row;\n"
     "--all --dir DIR: write every view as DIR/<view>.csv"},
    {"views", "", M(O_DB), cmd_views, "list the views"},
    {"status", "", M(O_DB) | M(O_RUNS), cmd_status,
     "planned/running/done/failed counts of the current plan (live run databases\n"
     "under DIR/<id>/run.db override the merged state)"},
    {"select", "RUN_DB...", M(O_OUT), cmd_select,
     "of the runs (each must be done), the one with the best validation score\n"
     "(metric all/validation/corr; ties: smallest id) wins; FILE gets the path of its\n"
     "checkpoint (dirname(RUN_DB)/checkpoint.h5) and a newline"},
    {"init", "DB", 0, cmd_init, "create an empty store"},
    {"check", "DB", 0, cmd_check, "PRAGMA integrity_check"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

/* "  NAME ARGS [OPTIONS]" then the prose, indented. */
static void command_usage(const struct db_command *c, FILE *f)
{
    struct db_args a = {0};
    struct nsid_opt t[O_N + 1];
    db_table(c, &a, t);
    fprintf(f, "  %s%s%s", c->name, c->args[0] ? " " : "", c->args);
    nsid_opt_synopsis(t, f);
    fputs("\n        ", f);
    for (const char *s = c->about; *s; s++) {
        fputc(*s, f);
        if (*s == '\n') fputs("        ", f);
    }
    fputc('\n', f);
}

static void usage(FILE *f)
{
    fputs("usage: nsid-db COMMAND [ARGS]\n\n", f);
    for (int i = 0; i < N_COMMANDS; i++) command_usage(&commands[i], f);
    nsid_db_runs_usage(f); /* runs, compare, tag, note, gc: pipeline/db_runs.c */
    fputs("\n"
          "  --version                the release and the git commit this build was made from\n"
          "  COMMAND --help           one command's synopsis and options\n"
          "\n"
          "DB defaults to " DEFAULT_DB ". What only reads (query, export, status, select, check,\n"
          "merge's run databases) works on a read-only mount. An output file's folder must exist\n"
          "(--into, --csv, --out, init's DB); export's --dir is created. No output may be, hold or\n"
          "lie inside one of the command's inputs. Exit status: 0 ok, 1 failure, 2 usage.\n",
          f);
}

/* A usage error found after parsing: one line, exit 2. */
static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "nsid-db: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

static int fail(const struct nsid_err *err)
{
    fprintf(stderr, "nsid-db: ");
    nsid_err_print(err, stderr);
    return 1;
}

/* The folder of an output file named by option must exist (one message, exit 1). */
static int check_parent(const char *path, const char *option)
{
    struct nsid_err err = {0};
    return nsid_path_check_parent(path, option, NULL, &err) < 0 ? fail(&err) : 0;
}

/* No output is, holds or lies inside an input (one message, exit 1); see path.h. */
static int check_io(const struct nsid_path_use *in, int n_in, const struct nsid_path_use *out, int n_out)
{
    struct nsid_err err = {0};
    return nsid_path_check_io(in, n_in, out, n_out, &err) < 0 ? fail(&err) : 0;
}

/* The positional run databases as inputs, plus up to two more; NULL when out of memory. */
static struct nsid_path_use *inputs(char *const *pos, int n_pos, struct nsid_path_use a, struct nsid_path_use b)
{
    struct nsid_path_use *in = calloc((size_t)n_pos + 2, sizeof *in);
    if (!in) return NULL;
    for (int i = 0; i < n_pos; i++) in[i] = (struct nsid_path_use){pos[i], "RUN_DB", false};
    in[n_pos] = a;
    in[n_pos + 1] = b;
    return in;
}

/* ---- merge ---------------------------------------------------------------------------- */

static int merge_one(struct nsid_store *st, const char *path, struct nsid_store_merge_stats *ms)
{
    struct nsid_err err = {0};
    if (nsid_store_merge(st, path, ms, &err) < 0) return fail(&err);
    return 0;
}

static int merge_list(struct nsid_store *st, const char *list, struct nsid_store_merge_stats *ms)
{
    struct nsid_err err = {0};
    FILE *f = nsid_infile_fopen(list, "--list", &err);
    if (!f) return fail(&err);
    char line[4096];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != '#') rc = merge_one(st, line, ms);
    }
    fclose(f);
    return rc;
}

static int merge_plan(struct nsid_store *st, const char *runs_dir, struct nsid_store_merge_stats *ms)
{
    struct nsid_err err = {0};
    return nsid_store_merge_plan(st, runs_dir, ms, &err) < 0 ? fail(&err) : 0;
}

static int cmd_merge(const struct db_args *o)
{
    if (o->pos.n == 0 && !o->list && !o->runs) return usage_error("%s", "merge needs run databases");
    if (check_parent(o->db, "--into")) return 1;
    struct nsid_path_use *in = inputs(o->pos.v, o->pos.n, (struct nsid_path_use){o->list, "--list", false},
                                      (struct nsid_path_use){o->runs, "--runs", false});
    struct nsid_path_use out = {o->db, "--into", false};
    int bad = in ? check_io(in, o->pos.n + 2, &out, 1) : usage_error("%s", "out of memory");
    free(in);
    if (bad) return bad;
    struct nsid_err err = {0};
    struct nsid_store st;
    if (nsid_store_open(&st, o->db, &err) < 0) return fail(&err);
    struct nsid_store_merge_stats ms = {0};
    int rc = 0;
    for (int i = 0; rc == 0 && i < o->pos.n; i++) rc = merge_one(&st, o->pos.v[i], &ms);
    if (rc == 0 && o->list) rc = merge_list(&st, o->list, &ms);
    if (rc == 0 && o->runs) rc = merge_plan(&st, o->runs, &ms);
    nsid_store_close(&st);
    if (rc == 0) /* after a failure the error is the one message */
        fprintf(stderr, "nsid-db: merge into %s: %lld merged, %lld unchanged, %lld extended, %lld unfinished\n",
                o->db, (long long)ms.merged, (long long)ms.unchanged, (long long)ms.extended,
                (long long)ms.unfinished);
    return rc;
}

/* ---- query, export, views ---------------------------------------------------------------- */

static int open_db(struct nsid_store *st, const struct db_args *o, bool readonly)
{
    struct nsid_err err = {0};
    const char *db = o->db ? o->db : DEFAULT_DB;
    int rc = readonly ? nsid_store_open_readonly(st, db, &err) : nsid_store_open(st, db, &err);
    return rc < 0 ? fail(&err) : 0;
}

static int cmd_query(const struct db_args *o)
{
    if (o->pos.n != 1) return usage_error("%s", "query needs exactly one SQL argument");
    struct nsid_store st;
    if (open_db(&st, o, true)) return 1;
    struct nsid_err err = {0};
    int rc = nsid_store_query(&st, o->pos.v[0], stdout, o->csv_flag, NULL, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

/* export --all: no DIR/<view>.csv may be the store it reads (checked before it is opened). */
static int export_all_check(const char *dir, const char *db)
{
    struct nsid_path_use in = {db, "--db", false};
    for (size_t i = 0; nsid_store_view_name(i); i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.csv", dir, nsid_store_view_name(i));
        struct nsid_path_use out = {path, "--dir", false};
        if (check_io(&in, 1, &out, 1)) return 1;
    }
    return 0;
}

static int export_all(struct nsid_store *st, const char *dir)
{
    struct nsid_err err = {0};
    if (nsid_path_mkdirs(dir, "--dir", &err) < 0) return fail(&err);
    for (size_t i = 0; nsid_store_view_name(i); i++) {
        const char *v = nsid_store_view_name(i);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.csv", dir, v);
        int64_t rows = 0;
        if (nsid_store_export_csv(st, v, path, &rows, &err) < 0) return fail(&err);
        fprintf(stderr, "nsid-db: %s: %lld rows\n", path, (long long)rows);
    }
    return 0;
}

static int cmd_export(const struct db_args *o)
{
    struct nsid_store st;
    if (o->all) {
        if (!o->dir || o->pos.n) return usage_error("%s", "export --all needs --dir DIR and no view name");
        if (export_all_check(o->dir, o->db ? o->db : DEFAULT_DB) || open_db(&st, o, true)) return 1;
        int rc = export_all(&st, o->dir);
        nsid_store_close(&st);
        return rc;
    }
    if (o->pos.n != 1 || !o->csv) return usage_error("%s", "export needs VIEW and --csv FILE");
    struct nsid_path_use in = {o->db ? o->db : DEFAULT_DB, "--db", false}, out = {o->csv, "--csv", false};
    if (check_parent(o->csv, "--csv") || check_io(&in, 1, &out, 1) || open_db(&st, o, true)) return 1;
    struct nsid_err err = {0};
    int64_t rows = 0;
    int rc = nsid_store_export_csv(&st, o->pos.v[0], o->csv, &rows, &err);
    nsid_store_close(&st);
    if (rc < 0) return fail(&err);
    fprintf(stderr, "nsid-db: %s: %lld rows\n", o->csv, (long long)rows);
    return 0;
}

static int cmd_views(const struct db_args *o)
{
    (void)o;
    for (size_t i = 0; nsid_store_view_name(i); i++) printf("%s\n", nsid_store_view_name(i));
    return 0;
}

/* ---- status --------------------------------------------------------------------------------- */

static int cmd_status(const struct db_args *o)
{
    struct nsid_store st;
    struct stat sb;
    const char *db = o->db ? o->db : DEFAULT_DB;
    if (stat(db, &sb) != 0) {
        fprintf(stderr, "nsid-db: %s: no results store yet (run the plan first)\n", db);
        return 1;
    }
    if (open_db(&st, o, true)) return 1;
    int64_t c[NSID_RUN_N_STATUS];
    struct nsid_err err = {0};
    int rc = nsid_store_status(&st, o->runs, c, &err);
    nsid_store_close(&st);
    if (rc < 0) return fail(&err);
    int64_t total = 0;
    for (int i = 0; i < NSID_RUN_N_STATUS; i++) total += c[i];
    printf("planned %lld  running %lld  done %lld  failed %lld  (of %lld runs)\n", (long long)c[NSID_RUN_PLANNED],
           (long long)c[NSID_RUN_RUNNING], (long long)c[NSID_RUN_DONE], (long long)c[NSID_RUN_FAILED],
           (long long)total);
    return 0;
}

/* ---- select --------------------------------------------------------------------------------- */

/* Score of the only run of path; must be done. */
static int candidate(const char *path, char id[NSID_STORE_ID_MAX], double *score)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    int status = -1;
    int rc = nsid_store_open_readonly(&st, path, &err);
    if (rc == 0) rc = nsid_store_only_run(&st, id, &status, &err);
    if (rc == 0 && status != NSID_RUN_DONE)
        rc = nsid_err_set(&err, NSID_EINVAL, path, 0, id, "run is %s, not done: it cannot be selected",
                          nsid_store_run_status_name(status));
    if (rc == 0) rc = nsid_store_score(&st, id, score, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

static int write_atomic(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "nsid-db: %s: cannot write: %s\n", path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

static int cmd_select(const struct db_args *o)
{
    if (!o->out || o->pos.n == 0) return usage_error("%s", "select needs --out FILE and run databases");
    if (check_parent(o->out, "--out")) return 1;
    struct nsid_path_use *in = inputs(o->pos.v, o->pos.n, (struct nsid_path_use){NULL, NULL, false},
                                      (struct nsid_path_use){NULL, NULL, false});
    struct nsid_path_use out = {o->out, "--out", false};
    int bad = in ? check_io(in, o->pos.n, &out, 1) : usage_error("%s", "out of memory");
    free(in);
    if (bad) return bad;
    int best = -1;
    double best_score = -INFINITY;
    char best_id[NSID_STORE_ID_MAX] = "";
    for (int i = 0; i < o->pos.n; i++) {
        char id[NSID_STORE_ID_MAX];
        double score = 0;
        if (candidate(o->pos.v[i], id, &score)) return 1;
        if (isnan(score)) { /* undefined (NULL): never selected, and said (docs/reliability.md) */
            fprintf(stderr, "nsid-db: select: %s: run %s ignored: its validation score is undefined\n", o->pos.v[i], id);
            continue;
        }
        if (best < 0 || score > best_score || (score == best_score && strcmp(id, best_id) < 0)) {
            best = i;
            best_score = score;
            snprintf(best_id, sizeof best_id, "%s", id);
        }
    }
    if (best < 0) {
        fprintf(stderr, "nsid-db: select: none of the %d candidates has a defined validation score:", o->pos.n);
        for (int i = 0; i < o->pos.n; i++) fprintf(stderr, " %s", o->pos.v[i]);
        fputc('\n', stderr);
        return 1;
    }
    char dir[4096], text[4200];
    snprintf(dir, sizeof dir, "%s", o->pos.v[best]);
    snprintf(text, sizeof text, "%s/checkpoint.h5\n", dirname(dir));
    fprintf(stderr, "nsid-db: select: run %s (validation %.6f) of %d\n", best_id, best_score, o->pos.n);
    return write_atomic(o->out, text);
}

/* ---- init, check ------------------------------------------------------------------------------- */

static int cmd_init(const struct db_args *o)
{
    if (o->pos.n != 1) return usage_error("%s", "init needs DB");
    if (check_parent(o->pos.v[0], "DB")) return 1;
    struct nsid_err err = {0};
    struct nsid_store st;
    if (nsid_store_open(&st, o->pos.v[0], &err) < 0) return fail(&err);
    nsid_store_close(&st);
    return 0;
}

static int cmd_check(const struct db_args *o)
{
    if (o->pos.n != 1) return usage_error("%s", "check needs DB");
    struct nsid_err err = {0};
    struct nsid_store st;
    if (nsid_store_open_readonly(&st, o->pos.v[0], &err) < 0) return fail(&err);
    int rc = nsid_store_query(&st, "PRAGMA integrity_check", stdout, false, NULL, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

/* Parse the command's arguments (argv after its name) and run it. */
static int run_command(const struct db_command *c, int argc, char **argv)
{
    char prog[64];
    snprintf(prog, sizeof prog, "nsid-db %s", c->name);
    struct db_args a = {0};
    struct nsid_opt t[O_N + 1];
    db_table(c, &a, t);
    struct nsid_opt_cmd cmd = {prog, t, &a.pos, 0, NULL};
    struct nsid_err err = {0};
    int rc = nsid_opt_parse(&cmd, argc, argv, &err);
    if (rc < 0) rc = nsid_opt_usage_error(&cmd, &err);
    else if (rc == 1) { /* COMMAND --help */
        printf("usage: nsid-db %s%s%s", c->name, c->args[0] ? " " : "", c->args);
        nsid_opt_synopsis(t, stdout);
        printf("\n\n%s\n\n", c->about);
        nsid_opt_help(t, stdout);
        rc = 0;
    } else rc = c->run(&a);
    nsid_opt_list_free(&a.pos);
    return rc;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-db", argc, argv)) return 0;
    if (argc < 2) return usage_error("%s", "missing command");
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) return run_command(&commands[i], argc - 2, argv + 2);
    int rc = nsid_db_runs_command(name, argc - 2, argv + 2); /* runs, compare, tag, note, gc */
    if (rc >= 0) return rc;
    return usage_error("unknown command '%s'", name);
}
