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
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "base/version.h"
#include "exp/config.h"
#include "exp/train.h"

#define MAX_ARGS 256

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

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nsid-train [--config RUN.yaml|RUN.json] [--set key=value ...] --data PATH [--data PATH ...]\n"
            "                  --out DIR [--db DIR/run.db] [options]\n"
            "\n"
            "Trains one model as docs/paper.md §4: Poisson loss, Adam, batch 64, round robin over the scans with one\n"
            "accumulated step per round, early stopping on the mean validation correlation with ReduceLROnPlateau\n"
            "and three restore-best rounds. Every number is a configuration key (--help-config lists them).\n"
            "Writes DIR/checkpoint.h5 (the best model), DIR/run.db (the record; nsid-eval finishes it) and\n"
            "DIR/train.log (one line per epoch). SIGINT/SIGTERM save a resumable state and exit 128+signal:\n"
            "the same command resumes it, bit-identically; after a crash it restarts from the last epoch.\n"
            "\n"
            "  --config FILE     run configuration (YAML or JSON); default: the paper's values\n"
            "  --set key=value   override one key (repeatable, applied after the file)\n"
            "  --data PATH       a scan: HDF5 StaticImageSet file or file-tree folder (repeatable)\n"
            "  --out DIR         output folder (created, with its parents; locked while training: a second\n"
            "                    nsid-train or nsid-eval on it stops at once, naming this process)\n"
            "  --db FILE         the run's SQLite store (default DIR/run.db; its folder must exist)\n"
            "  --run-id ID       id to record the run under (default: sha256 of the resolved configuration)\n"
            "  --experiment NAME experiment name for the record\n"
            "  --parent ID       run id of the transferred core (default: read from the run.db beside it)\n"
            "  --threads N       compute threads (default: env NSID_THREADS, else the CPUs; results do not depend on it)\n"
            "  --cache-mb N      VGG16 core: keep every image's conv features if they fit in N MiB\n"
            "                    (default 4096; 0 = off; results are identical either way)\n"
            "  --quiet           no progress line\n"
            "  --help-config     list every configuration key with its default, range and source\n"
            "  --version         the release and the git commit this build was made from\n"
            "  -h, --help        this text\n");
}

struct args {
    const char *config, *out, *db, *run_id, *experiment, *parent;
    const char *sets[MAX_ARGS], *data[MAX_ARGS];
    int n_sets, n_data, threads;
    long long cache_mb;
    bool quiet;
};

/* The value of option argv[*i] (advancing *i), or NULL with a message. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "nsid-train: %s needs a value (see --help)\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = NULL;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(s, "--help-config")) {
            nsid_config_print_help(stdout);
            return 1;
        }
        if (!strcmp(s, "--quiet")) {
            a->quiet = true;
            continue;
        }
        static const char *const opts[] = {"--config", "--set", "--data", "--out", "--db", "--run-id",
                                           "--experiment", "--parent", "--threads", "--cache-mb"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof opts / sizeof opts[0]); j++)
            if (!strcmp(s, opts[j])) k = j;
        if (k < 0) {
            fprintf(stderr, "nsid-train: unknown option '%s' (see --help)\n", s);
            return 2;
        }
        if (!(v = value(argc, argv, &i))) return 2;
        if ((k == 1 && a->n_sets >= MAX_ARGS) || (k == 2 && a->n_data >= MAX_ARGS)) {
            fprintf(stderr, "nsid-train: more than %d %s options\n", MAX_ARGS, s);
            return 2;
        }
        switch (k) {
        case 0: a->config = v; break;
        case 1: a->sets[a->n_sets++] = v; break;
        case 2: a->data[a->n_data++] = v; break;
        case 3: a->out = v; break;
        case 4: a->db = v; break;
        case 5: a->run_id = v; break;
        case 6: a->experiment = v; break;
        case 7: a->parent = v; break;
        case 9: {
            char *end;
            long long mb = strtoll(v, &end, 10);
            if (*end || mb < 0 || mb > (1LL << 30)) {
                fprintf(stderr, "nsid-train: --cache-mb: '%s' is not a size in MiB\n", v);
                return 2;
            }
            a->cache_mb = mb ? mb : -1;
            break;
        }
        default: {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 1024) {
                fprintf(stderr, "nsid-train: --threads: '%s' is not a thread count 1..1024\n", v);
                return 2;
            }
            a->threads = (int)t;
        }
        }
    }
    if (!a->out || a->n_data == 0) {
        fprintf(stderr, "nsid-train: %s is required (see --help)\n", !a->out ? "--out DIR" : "--data PATH");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (nsid_version_option(argc, argv, "nsid-train")) return 0;
    /* HDF5 1.10 leaves a file whose close failed (a full disk) half-open and crashes on it
     * in its atexit cleanup: skip that cleanup; every file is closed explicitly. */
    H5dont_atexit();
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : 2;
    struct nsid_err err = {0};
    struct nsid_config c;
    if (nsid_config_load(&c, a.config, a.sets, a.n_sets, &err) < 0) {
        fputs("nsid-train: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    /* Outputs: --db's folder must exist (or be --out); --out is ours, created; no output is,
     * holds or lies inside an input. Nothing before. Then the run folder (and --db's, if
     * elsewhere) is ours alone until we exit: a second nsid-train or nsid-eval on it stops. */
    struct nsid_path_use in[MAX_ARGS + 2] = {{a.config, "--config", true}, /* the plan's DIR/run.json */
                                             {c.model.core.checkpoint[0] ? c.model.core.checkpoint : NULL,
                                              "model.core.checkpoint", false}};
    for (int i = 0; i < a.n_data; i++) in[2 + i] = (struct nsid_path_use){a.data[i], "--data", false};
    struct nsid_path_use out[2] = {{a.out, "--out", false}, {a.db, "--db", false}};
    char db_dir[4096] = "";
    if (a.db) nsid_path_parent(a.db, db_dir, sizeof db_dir);
    int lock_out = -1, lock_db = -1;
    /* --db's folder, when it is not --out, exists already: locked before --out is created */
    bool db_elsewhere = a.db && !nsid_path_same(db_dir, a.out) && !nsid_path_same_dir(db_dir, a.out);
    if ((a.db && nsid_path_check_parent(a.db, "--db", a.out, &err) < 0) ||
        nsid_path_check_io(in, 2 + a.n_data, out, 2, &err) < 0 ||
        (db_elsewhere && nsid_path_lock(db_dir, "--db", &lock_db, &err) < 0) ||
        nsid_path_mkdirs(a.out, "--out", &err) < 0 ||
        (!(db_elsewhere && nsid_path_same_dir(db_dir, a.out)) && /* one lock per folder */
         nsid_path_lock(a.out, "--out", &lock_out, &err) < 0)) {
        fputs("nsid-train: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    if (a.threads) openblas_set_num_threads(a.threads);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct nsid_train_opts o = {.data = a.data, .n_data = a.n_data, .out_dir = a.out, .db_path = a.db,
                                .run_id = a.run_id, .experiment = a.experiment, .parent = a.parent,
                                .stop = &g_stop, .progress = !a.quiet && isatty(2) ? stderr : NULL,
                                .threads = a.threads, .cache_mb = a.cache_mb, .isa = getenv("NSID_ISA")};
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
