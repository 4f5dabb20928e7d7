/*
 * nsid-plan - experiment specs -> runs with content-hashed ids: results/runs/<id>/run.json,
 * the make fragment results/plan.mk and the plan tables of results/results.db.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opt.h"
#include "base/path.h"
#include "exp/plan.h"
#include "exp/spec.h"
#include "exp/store.h"
#include "stage.h"

static const char ABOUT[] =
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
    "\n";

static const char TAIL[] = "\nSpec format: docs/spec.md. Exit status: 0 ok, 1 error, 2 usage.\n";

struct opts {
    const char *profile, *data, *groups, *results, *out, *db, *explain, *diff[2];
    bool check, list, help, version;
    long long max_runs;
    struct nsid_opt_list specs;
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "nsid-plan: %s (see --help)\n", msg);
    return 2;
}

static int fail(const struct nsid_err *err)
{
    fprintf(stderr, "nsid-plan: ");
    nsid_err_print(err, stderr);
    return 1;
}

/* 0 ok, 1 help printed, 2 usage error. */
static int parse(struct opts *o, int argc, char **argv)
{
    const struct nsid_opt opts[] = {
        {"profile", 0, NSID_OPT_STRING, &o->profile, "NAME", .help = "smoke, quick (default) or paper"},
        {"manifest", 0, NSID_OPT_STRING, &o->groups, "FILE", .flags = NSID_OPT_ONCE,
         .help = "the data manifest: YAML or JSON naming the dataset groups (docs/data.md)"},
        {"groups", 0, NSID_OPT_STRING, &o->groups, "FILE", .help = "the same as --manifest", .flags = NSID_OPT_ONCE},
        {"data", 0, NSID_OPT_STRING, &o->data, "DIR", .help = "the manifest DIR/groups.json (what nsid-simulate writes)"},
        {"results", 0, NSID_OPT_STRING, &o->results, "DIR", .help = "results folder (default results; created, with its parents)"},
        {"out", 0, NSID_OPT_STRING, &o->out, "FILE", .help = "the make fragment (default RESULTS/plan.mk; its folder must exist)"},
        {"db", 0, NSID_OPT_STRING, &o->db, "FILE", .help = "the store (default RESULTS/results.db; its folder must exist)"},
        {"check", 0, NSID_OPT_FLAG, &o->check, NULL, .help = "read, check and expand the specs; write nothing"},
        {"max-runs", 0, NSID_OPT_INT, &o->max_runs, "N", .min = 1, .max = LLONG_MAX,
         .help = "refuse a plan of more than N runs, counted before expansion (default 100000)"},
        {"list", 0, NSID_OPT_FLAG, &o->list, NULL, .help = "print every run: id, experiment, variant, grid point"},
        {"explain", 0, NSID_OPT_STRING, &o->explain, "ID", .help = "a planned run's data, core and configuration (ID may be a prefix)"},
        {"diff", 0, NSID_OPT_PAIR, o->diff, "A B", .help = "why two runs' ids differ"},
        NSID_STAGE_OPTS_END(&o->version, &o->help)};
    struct nsid_opt_cmd cmd = {"nsid-plan", opts, &o->specs, 0, nsid_stage_env};
    int rc = nsid_stage_parse(&cmd, ABOUT, &o->help, argc, argv);
    if (rc == 1 && o->help) fputs(TAIL, stdout);
    if (rc) return rc;
    if (o->data && o->groups) return usage_error("give --data or --manifest, not both");
    return 0;
}

/* --explain / --diff: read the recorded plan. */
static int read_back(const struct opts *o, const char *db)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    if (nsid_store_open_readonly(&st, db, &err) < 0) return fail(&err);
    int rc = o->explain ? nsid_plan_explain(&st, o->explain, stdout, &err)
                        : nsid_plan_diff(&st, o->diff[0], o->diff[1], stdout, &err);
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
    int rc = nsid_plan_record(p, &st, nsid_opt_list_strs(&o->specs), o->specs.n, &err);
    int64_t c[NSID_RUN_N_STATUS] = {0};
    if (rc == 0) rc = nsid_store_status(&st, NULL, c, &err);
    nsid_store_close(&st);
    if (rc == 0) rc = nsid_plan_write_make(p, o->out ? o->out : out, nsid_opt_list_strs(&o->specs), o->specs.n, &err);
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
    for (int i = 0; rc == 0 && i < o->specs.n; i++) rc = nsid_spec_load(&specs, o->specs.v[i], &err);
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
        fprintf(stderr, "nsid-plan: %d specs ok: %d runs (%d distinct), %d core selections\n", o->specs.n, p.n_runs,
                p.n_unique, p.n_selections);
    if (status == 0 && !o->check) status = write_all(o, &p, results);
    nsid_plan_free(&p);
    nsid_spec_set_free(&specs);
    return status;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-plan", argc, argv)) return 0;
    struct opts o = {0};
    int rc = parse(&o, argc, argv);
    if (rc == 0) {
        char db[4096];
        snprintf(db, sizeof db, "%s/results.db", o.results ? o.results : "results");
        if (o.explain || o.diff[0]) rc = o.specs.n ? usage_error("--explain/--diff read the store, not specs")
                                                   : read_back(&o, o.db ? o.db : db);
        else if (o.specs.n == 0) rc = usage_error("no spec files given");
        else rc = plan(&o);
    } else if (rc == 1) rc = 0;
    nsid_opt_list_free(&o.specs);
    return rc;
}
