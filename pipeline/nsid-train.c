/*
 * nsid-train - train one model exactly as the paper (docs/paper.md §4): direct training, transfer
 * of a frozen core, the VGG16 task-driven core and random cores.
 *
 *     nsid-train --config run.yaml --data scan.h5 --out results/runs/ab12
 *     nsid-train --config run.json --set train.seed=2 --data a.h5 --data b.h5 --out DIR --db DIR/run.db
 *
 * Exit status: 0 trained (or already trained), 1 failed (the message names the key, file or
 * tensor), 2 bad usage, 128+N interrupted by signal N (the state is saved: run the same
 * command again to resume).
 */
#include <cblas.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/opt.h"
#include "base/path.h"
#include "exp/config.h"
#include "exp/train.h"
#include "stage.h"

/* The signal that asked to stop (the library polls it between rounds). */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    if (g_stop) { /* a second signal: stop now, the last epoch's state is on disk */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop = sig;
}

static const char ABOUT[] =
    "usage: nsid-train [--config RUN.yaml|RUN.json] [--set key=value ...] --data PATH [--data PATH ...]\n"
    "                  --out DIR [--db DIR/run.db] [options]\n"
    "\n"
    "Trains one model as docs/paper.md §4: Poisson loss, Adam, batch 64, round robin over the scans with one\n"
    "accumulated step per round, early stopping on the mean validation correlation with ReduceLROnPlateau\n"
    "and three restore-best rounds. Every number is a configuration key (--help-config lists them).\n"
    "Writes DIR/checkpoint.h5 (the best model), DIR/run.db (the record; nsid-eval finishes it) and\n"
    "DIR/train.log (one line per epoch). SIGINT/SIGTERM save a resumable state and exit 128+signal:\n"
    "the same command resumes it, bit-identically; after a crash it restarts from the last epoch.\n"
    "\n";

struct args {
    const char *config, *out, *db, *run_id, *experiment, *parent;
    struct nsid_opt_list sets, data;
    long long threads, cache_mb;
    bool quiet, help, help_config, version;
};

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    const struct nsid_opt opts[] = {
        {"config", 0, NSID_OPT_STRING, &a->config, "FILE", .help = "run configuration (YAML or JSON); default: the paper's values"},
        {"set", 0, NSID_OPT_LIST, &a->sets, "key=value", .help = "override one key (repeatable, applied after the file)"},
        {"data", 0, NSID_OPT_LIST, &a->data, "PATH", .help = "a scan: HDF5 StaticImageSet file or file-tree folder (repeatable)",
         .flags = NSID_OPT_REQUIRED},
        {"out", 0, NSID_OPT_STRING, &a->out, "DIR", .flags = NSID_OPT_REQUIRED,
         .help = "output folder (created, with its parents; locked while training: a second\n"
                 "nsid-train or nsid-eval on it stops at once, naming this process)"},
        {"db", 0, NSID_OPT_STRING, &a->db, "FILE", .help = "the run's SQLite store (default DIR/run.db; its folder must exist)"},
        {"run-id", 0, NSID_OPT_STRING, &a->run_id, "ID", .help = "id to record the run under (default: sha256 of the resolved configuration)"},
        {"experiment", 0, NSID_OPT_STRING, &a->experiment, "NAME", .help = "experiment name for the record"},
        {"parent", 0, NSID_OPT_STRING, &a->parent, "ID", .help = "run id of the transferred core (default: read from the run.db beside it)"},
        {"threads", 0, NSID_OPT_INT, &a->threads, "N", .min = 1, .max = 1024, .env = "NSID_THREADS",
         .help = "compute threads (default: env NSID_THREADS, else the CPUs; results do not depend on it)"},
        {"cache-mb", 0, NSID_OPT_INT, &a->cache_mb, "N", .min = 0, .max = 1LL << 30,
         .help = "VGG16 core: keep every image's conv features if they fit in N MiB\n"
                 "(default 4096; 0 = off; results are identical either way)"},
        {"quiet", 0, NSID_OPT_FLAG, &a->quiet, NULL, .help = "no progress line"},
        {"help-config", 0, NSID_OPT_STOP, &a->help_config, NULL, .help = "list every configuration key with its default, range and source"},
        NSID_STAGE_OPTS_END(&a->version, &a->help)};
    struct nsid_opt_cmd cmd = {"nsid-train", opts, NULL, 0, nsid_stage_env};
    int rc = nsid_stage_parse(&cmd, ABOUT, &a->help, argc, argv);
    if (rc == 1 && !a->help && a->help_config) nsid_config_print_help(stdout);
    if (rc) return rc;
    /* the library's cache_mb: 0 its default, -1 off; here -1 is "not given" (min is 0) */
    a->cache_mb = a->cache_mb < 0 ? 0 : a->cache_mb == 0 ? -1 : a->cache_mb;
    return 0;
}

/* Train as the parsed command line says; the exit status. */
static int train(const struct args *ap)
{
    const struct args a = *ap;
    const char *const *data = nsid_opt_list_strs(&a.data);
    struct nsid_err err = {0};
    struct nsid_config c;
    if (nsid_config_load(&c, a.config, nsid_opt_list_strs(&a.sets), a.sets.n, &err) < 0) {
        fputs("nsid-train: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    /* Outputs: --db's folder must exist (or be --out); --out is ours, created; no output is,
     * holds or lies inside an input. Nothing before. Then the run folder (and --db's, if
     * elsewhere) is ours alone until we exit: a second nsid-train or nsid-eval on it stops. */
    struct nsid_path_use *in = calloc((size_t)a.data.n + 2, sizeof *in);
    if (!in) {
        fputs("nsid-train: out of memory\n", stderr);
        return 1;
    }
    in[0] = (struct nsid_path_use){a.config, "--config", true}; /* the plan's DIR/run.json */
    in[1] = (struct nsid_path_use){c.model.core.checkpoint[0] ? c.model.core.checkpoint : NULL, "model.core.checkpoint",
                                   false};
    for (int i = 0; i < a.data.n; i++) in[2 + i] = (struct nsid_path_use){data[i], "--data", false};
    struct nsid_path_use out[2] = {{a.out, "--out", false}, {a.db, "--db", false}};
    char db_dir[4096] = "";
    if (a.db) nsid_path_parent(a.db, db_dir, sizeof db_dir);
    int lock_out = -1, lock_db = -1;
    /* --db's folder, when it is not --out, exists already: locked before --out is created */
    bool db_elsewhere = a.db && !nsid_path_same(db_dir, a.out) && !nsid_path_same_dir(db_dir, a.out);
    bool io_bad = (a.db && nsid_path_check_parent(a.db, "--db", a.out, &err) < 0) ||
                  nsid_path_check_io(in, 2 + a.data.n, out, 2, &err) < 0;
    free(in);
    if (io_bad ||
        (db_elsewhere && nsid_path_lock(db_dir, "--db", &lock_db, &err) < 0) ||
        nsid_path_mkdirs(a.out, "--out", &err) < 0 ||
        (!(db_elsewhere && nsid_path_same_dir(db_dir, a.out)) && /* one lock per folder */
         nsid_path_lock(a.out, "--out", &lock_out, &err) < 0)) {
        fputs("nsid-train: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    if (a.threads) openblas_set_num_threads((int)a.threads);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct nsid_train_opts o = {.data = data, .n_data = a.data.n, .out_dir = a.out, .db_path = a.db,
                                .run_id = a.run_id, .experiment = a.experiment, .parent = a.parent,
                                .stop = &g_stop, .progress = !a.quiet && isatty(2) ? stderr : NULL,
                                .threads = (int)a.threads, .cache_mb = a.cache_mb,
                                .isa = nsid_stage_env("NSID_ISA")};
    struct nsid_train_result r;
    if (nsid_train_run(&c, &o, &r, &err) < 0) {
        fputs("nsid-train: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    if (r.interrupted) {
        fprintf(stderr, "nsid-train: interrupted (signal %d) at epoch %lld; state saved in %s: run the same command "
                "to resume\n", r.signal, (long long)r.epochs, a.out);
        return 128 + r.signal;
    }
    if (r.already_done)
        printf("run %s already trained (%lld epochs, best epoch %lld, validation correlation %.4f): nothing to do\n",
               r.run_id, (long long)r.epochs, (long long)r.best_epoch, r.best_score);
    else
        printf("run %s (core: %s): %lld epochs%s, best epoch %lld, validation correlation %.4f -> %s/checkpoint.h5\n",
               r.run_id, r.core, (long long)r.epochs, r.resumed ? " (resumed)" : "", (long long)r.best_epoch,
               r.best_score, a.out);
    return 0;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-train", argc, argv)) return 0;
    struct args a = {.cache_mb = -1};
    int rc = parse_args(argc, argv, &a);
    if (rc == 0) rc = train(&a);
    else if (rc == 1) rc = 0;
    nsid_opt_list_free(&a.sets);
    nsid_opt_list_free(&a.data);
    return rc;
}
