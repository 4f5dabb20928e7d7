/*
 * nsid-plan - experiment specs -> runs with content-hashed ids: results/runs/<id>/run.json,
 * the make fragment results/plan.mk and the plan tables of results/results.db.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "base/version.h"
#include "exp/plan.h"
#include "exp/spec.h"
#include "exp/store.h"

static const char USAGE[] =
    "usage: nsid-plan [OPTIONS] SPEC.yaml...\n"
    "       nsid-plan --explain ID [--db DB]\n"
    "       nsid-plan --diff ID ID [--db DB]\n"
    "\n"
    "Expands experiment specs into runs (one per experiment, variant, grid and search point),\n"
    "each with a resolved configuration and an id = sha256 of it (data and input files by\n"
    "content hash), and writes RESULTS/runs/<id>/run.json, the make fragment and the plan\n"
    "tables of the store. Data are HDF5 files or file-tree folders, named by a spec's\n"
    "data: {files: [...]} (relative to the spec's folder) or by a group of the manifest.\n"
    "Nothing is written when any spec, the manifest or a scan has an error.\n"
    "\n"
    "  --profile NAME   smoke, quick (default) or paper\n"
    "  --manifest FILE  the data manifest: YAML or JSON naming the dataset groups (docs/data.md)\n"
    "  --groups FILE    the same as --manifest\n"
    "  --data DIR       the manifest DIR/groups.json (what nsid-simulate writes)\n"
    "  --results DIR    results folder (default results; created, with its parents)\n"
    "  --out FILE       the make fragment (default RESULTS/plan.mk; its folder must exist)\n"
    "  --db FILE        the store (default RESULTS/results.db; its folder must exist)\n"
    "  --check          read, check and expand the specs; write nothing\n"
    "  --max-runs N     refuse a plan of more than N runs, counted before expansion (default 100000)\n"
    "  --list           print every run: id, experiment, variant, grid point\n"
    "  --explain ID     a planned run's data, core and configuration (ID may be a prefix)\n"
    "  --diff A B       why two runs' ids differ\n"
    "  --version        the release and the git commit this build was made from\n"
    "\n"
    "Spec format: docs/spec.md. Exit status: 0 ok, 1 error, 2 usage.\n";

struct opts {
    const char *profile, *data, *groups, *results, *out, *db, *explain, *diff_a, *diff_b;
    bool check, list;
    long long max_runs;
    const char **specs;
    int n_specs;
};

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "nsid-plan: %s%s%s\n(nsid-plan --help for usage)\n", msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

static int fail(const struct nsid_err *err)
{
    fprintf(stderr, "nsid-plan: ");
    nsid_err_print(err, stderr);
    return 1;
}

static int parse(struct opts *o, int argc, char **argv)
{
    o->specs = calloc((size_t)argc, sizeof *o->specs);
    if (!o->specs) return usage_error("out of memory", NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "--profile")) slot = &o->profile;
        else if (!strcmp(a, "--data")) slot = &o->data;
        else if (!strcmp(a, "--groups") || !strcmp(a, "--manifest")) {
            if (o->groups) return usage_error("give one --manifest (or --groups)", NULL);
            slot = &o->groups;
        }
        else if (!strcmp(a, "--results")) slot = &o->results;
        else if (!strcmp(a, "--out")) slot = &o->out;
        else if (!strcmp(a, "--db")) slot = &o->db;
        else if (!strcmp(a, "--explain")) slot = &o->explain;
        else if (!strcmp(a, "--check")) o->check = true;
        else if (!strcmp(a, "--list")) o->list = true;
        else if (!strcmp(a, "--max-runs")) {
            char *end = NULL;
            if (i + 1 >= argc) return usage_error("option needs a value:", a);
            o->max_runs = strtoll(argv[++i], &end, 10);
            if (!*argv[i] || *end || o->max_runs < 1) return usage_error("--max-runs needs a count >= 1, not", argv[i]);
        }
        else if (!strcmp(a, "--diff")) {
            if (i + 2 >= argc) return usage_error("--diff needs two run ids", NULL);
            o->diff_a = argv[++i];
            o->diff_b = argv[++i];
        } else if (a[0] == '-' && a[1] == '-') return usage_error("unknown option", a);
        else o->specs[o->n_specs++] = a;
        if (slot) {
            if (i + 1 >= argc) return usage_error("option needs a value:", a);
            *slot = argv[++i];
        }
    }
    if (o->data && o->groups) return usage_error("give --data or --manifest, not both", NULL);
    return 0;
}

/* --explain / --diff: read the recorded plan. */
static int read_back(const struct opts *o, const char *db)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    if (nsid_store_open_readonly(&st, db, &err) < 0) return fail(&err);
    int rc = o->explain ? nsid_plan_explain(&st, o->explain, stdout, &err)
                        : nsid_plan_diff(&st, o->diff_a, o->diff_b, stdout, &err);
    nsid_store_close(&st);
    return rc < 0 ? fail(&err) : 0;
}

static void list_runs(const struct nsid_plan *p)
{
    for (int i = 0; i < p->n_runs; i++) {
        const struct nsid_plan_run *r = &p->runs[i];
        printf("%s  %s  %s  {%s}%s\n", r->id, r->exp->name, r->variant->name[0] ? r->variant->name : "-", r->point,
               r->first >= 0 ? "  (shared)" : "");
    }
}

/* Write run.json files, the store's plan tables, then plan.mk (make's target: last). */
static int write_all(const struct opts *o, const struct nsid_plan *p, const char *results)
{
    struct nsid_err err = {0};
    char db[4096], out[4096];
    snprintf(db, sizeof db, "%s/results.db", results);
    snprintf(out, sizeof out, "%s/plan.mk", results);
    if (nsid_path_mkdirs(results, "--results", &err) < 0) return fail(&err);
    int written = nsid_plan_write_configs(p, &err);
    if (written < 0) return fail(&err);
    struct nsid_store st;
    if (nsid_store_open(&st, o->db ? o->db : db, &err) < 0) return fail(&err);
    int rc = nsid_plan_record(p, &st, o->specs, o->n_specs, &err);
    int64_t c[NSID_RUN_N_STATUS] = {0};
    if (rc == 0) rc = nsid_store_status(&st, NULL, c, &err);
    nsid_store_close(&st);
    if (rc == 0) rc = nsid_plan_write_make(p, o->out ? o->out : out, o->specs, o->n_specs, &err);
    if (rc < 0) return fail(&err);
    fprintf(stderr,
            "nsid-plan: profile %s: %d runs (%d distinct: %lld done, %lld to run), %d core selections; "
            "%d run.json written; %s\n",
            p->profile, p->n_runs, p->n_unique, (long long)c[NSID_RUN_DONE],
            (long long)(p->n_unique - c[NSID_RUN_DONE]), p->n_selections, written, o->out ? o->out : out);
    return 0;
}

static int plan(const struct opts *o)
{
    const char *results = o->results ? o->results : "results";
    char groups[4096], cache[4096];
    const char *gpath = o->groups;
    if (o->data) {
        snprintf(groups, sizeof groups, "%s/groups.json", o->data);
        gpath = groups;
    }
    snprintf(cache, sizeof cache, "%s/.hashes", results);
    struct nsid_err err = {0};
    /* Output files' folders must exist (or be RESULTS, created): checked before anything. */
    if (!o->check && ((o->out && nsid_path_check_parent(o->out, "--out", results, &err) < 0) ||
                      (o->db && nsid_path_check_parent(o->db, "--db", results, &err) < 0)))
        return fail(&err);
    struct nsid_spec_set specs;
    nsid_spec_set_init(&specs);
    int rc = 0;
    for (int i = 0; rc == 0 && i < o->n_specs; i++) rc = nsid_spec_load(&specs, o->specs[i], &err);
    if (rc == 0) rc = nsid_spec_check(&specs, &err);
    struct nsid_plan p;
    memset(&p, 0, sizeof p);
    struct nsid_plan_opts po = {.profile = o->profile ? o->profile : "quick", .groups = gpath, .results = results,
                                .hash_cache = cache, .cache_readonly = o->check, .log = stderr,
                                .max_runs = o->max_runs};
    if (rc == 0) rc = nsid_plan_build(&p, &specs, &po, &err);
    int status = rc < 0 ? fail(&err) : 0;
    if (status == 0 && o->list) list_runs(&p);
    if (status == 0 && o->check)
        fprintf(stderr, "nsid-plan: %d specs ok: %d runs (%d distinct), %d core selections\n", o->n_specs, p.n_runs,
                p.n_unique, p.n_selections);
    if (status == 0 && !o->check) status = write_all(o, &p, results);
    nsid_plan_free(&p);
    nsid_spec_set_free(&specs);
    return status;
}

int main(int argc, char **argv)
{
    if (nsid_version_option(argc, argv, "nsid-plan")) return 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
    struct opts o = {0};
    int rc = parse(&o, argc, argv);
    if (rc == 0) {
        char db[4096];
        snprintf(db, sizeof db, "%s/results.db", o.results ? o.results : "results");
        if (o.explain || o.diff_a) rc = o.n_specs ? usage_error("--explain/--diff read the store, not specs", NULL)
                                                  : read_back(&o, o.db ? o.db : db);
        else if (o.n_specs == 0) rc = usage_error("no spec files given", NULL);
        else rc = plan(&o);
    }
    free(o.specs);
    return rc;
}
