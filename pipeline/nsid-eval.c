/*
 * nsid-eval - evaluate a trained model as the paper (docs/paper.md §6) and finish its run record.
 *
 *     nsid-eval --checkpoint DIR/checkpoint.h5 --data scan.h5 --db DIR/run.db
 *     nsid-eval --checkpoint CKPT --data a.h5 --data b.h5 --db DIR/run.db --predictions DIR/pred.h5
 *
 * Exit status: 0 evaluated (or the run was already done), 1 failed (the message names the
 * key, file or tensor), 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opt.h"
#include "base/path.h"
#include "exp/eval.h"
#include "stage.h"

static const char ABOUT[] =
    "usage: nsid-eval --checkpoint CKPT --data PATH [--data PATH ...] --db RUN.db\n"
    "                 [--predictions FILE.h5] [--config RUN.json] [--run-id ID] [--quiet]\n"
    "\n"
    "Predicts the validation and test tiers in evaluation mode and records, per neuron and per scan,\n"
    "the single-trial correlation (validation, test), the correlation with the repeat average, the\n"
    "leave-one-out oracle, the fraction oracle (slope through the origin), FEV and FEVE, and on\n"
    "simulated data the correlation with the true rates and the receptive-field distance after an\n"
    "affine fit. The run is marked done in the same, final transaction.\n"
    "\n";

struct args {
    struct nsid_eval_opts o;
    struct nsid_opt_list data;
    long long threads;
    bool quiet, help, version;
};

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    struct nsid_eval_opts *o = &a->o;
    const struct nsid_opt opts[] = {
        {"checkpoint", 0, NSID_OPT_STRING, &o->checkpoint, "CKPT", .help = "a checkpoint written by nsid-train",
         .flags = NSID_OPT_REQUIRED},
        {"data", 0, NSID_OPT_LIST, &a->data, "PATH", .help = "the scans of its readouts (repeatable, any order)",
         .flags = NSID_OPT_REQUIRED},
        {"db", 0, NSID_OPT_STRING, &o->db, "FILE", .flags = NSID_OPT_REQUIRED,
         .help = "the run's SQLite store (usually the run.db beside the checkpoint); its\n"
                 "folder is locked while evaluating, and a run it holds must be the\n"
                 "checkpoint's (same configuration and scans), else nothing is recorded"},
        {"predictions", 0, NSID_OPT_STRING, &o->predictions, "FILE",
         .help = "also write the test predictions and per-neuron metrics (HDF5); never\n"
                 "one of the inputs or --db"},
        {"config", 0, NSID_OPT_STRING, &o->config, "FILE", .help = "the run configuration (default: the one stored in the checkpoint)"},
        {"run-id", 0, NSID_OPT_STRING, &o->run_id, "ID", .help = "record under this id (default: the only run of --db, else the config's id)"},
        {"threads", 0, NSID_OPT_INT, &a->threads, "N", .min = 1, .max = 1024, .env = "NSID_THREADS",
         .help = "compute threads (default: env NSID_THREADS, else the CPUs; results do not depend on it)"},
        {"quiet", 0, NSID_OPT_FLAG, &a->quiet, NULL, .help = "no summary on stdout"},
        NSID_STAGE_OPTS_END(&a->version, &a->help)};
    struct nsid_opt_cmd cmd = {"nsid-eval", opts, NULL, 0, nsid_stage_env};
    int rc = nsid_stage_parse(&cmd, ABOUT, &a->help, argc, argv);
    o->data = nsid_opt_list_strs(&a->data);
    o->n_data = a->data.n;
    o->threads = (int)a->threads;
    o->isa = nsid_stage_env("NSID_ISA");
    o->summary = a->quiet ? NULL : stdout;
    return rc;
}

/* Evaluate as the parsed command line says; the exit status. */
static int eval(const struct nsid_eval_opts *op)
{
    struct nsid_eval_opts o = *op;
    struct nsid_err err = {0};
    struct nsid_eval_outcome r;
    /* Outputs: their folders must exist, and no output is an input (checked before anything
     * is written); then the run folder (--db's) is ours alone until we exit. */
    struct nsid_path_use *in = calloc((size_t)o.n_data + 2, sizeof *in);
    if (!in) {
        fputs("nsid-eval: out of memory\n", stderr);
        return 1;
    }
    in[0] = (struct nsid_path_use){o.checkpoint, "--checkpoint", false};
    in[1] = (struct nsid_path_use){o.config, "--config", false};
    for (int i = 0; i < o.n_data; i++) in[2 + i] = (struct nsid_path_use){o.data[i], "--data", false};
    struct nsid_path_use out[2] = {{o.db, "--db", false}, {o.predictions, "--predictions", false}};
    char db_dir[4096];
    nsid_path_parent(o.db, db_dir, sizeof db_dir);
    int lock = -1;
    bool io_bad = nsid_path_check_parent(o.db, "--db", NULL, &err) < 0 ||
                  (o.predictions && nsid_path_check_parent(o.predictions, "--predictions", NULL, &err) < 0) ||
                  nsid_path_check_io(in, 2 + o.n_data, out, 2, &err) < 0;
    free(in);
    if (io_bad || nsid_path_lock(db_dir, "--db", &lock, &err) < 0 || nsid_eval_checkpoint(&o, &r, &err) < 0) {
        fputs("nsid-eval: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    if (r.already_done)
        printf("run %s is already done in %s: records unchanged\n", r.run_id, o.db);
    else if (o.summary)
        printf("run %s: done (fraction oracle %.4f, test correlation %.4f)\n", r.run_id, r.fraction_oracle,
               r.test_corr);
    return 0;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-eval", argc, argv)) return 0;
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == 0) rc = eval(&a.o);
    else if (rc == 1) rc = 0;
    nsid_opt_list_free(&a.data);
    return rc;
}
