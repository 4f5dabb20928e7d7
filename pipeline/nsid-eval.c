/*
 * nsid-eval - evaluate a trained model as the paper (docs/paper.md §6) and finish its run record.
 *
 *     nsid-eval --checkpoint DIR/checkpoint.h5 --data scan.h5 --db DIR/run.db
 *     nsid-eval --checkpoint CKPT --data a.h5 --data b.h5 --db DIR/run.db --predictions DIR/pred.h5
 *
 * Exit status: 0 evaluated (or the run was already done), 1 failed (the message names the
 * key, file or tensor), 2 bad usage.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "base/version.h"
#include "exp/eval.h"

#define MAX_ARGS 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nsid-eval --checkpoint CKPT --data PATH [--data PATH ...] --db RUN.db\n"
            "                 [--predictions FILE.h5] [--config RUN.json] [--run-id ID] [--quiet]\n"
            "\n"
            "Predicts the validation and test tiers in evaluation mode and records, per neuron and per scan,\n"
            "the single-trial correlation (validation, test), the correlation with the repeat average, the\n"
            "leave-one-out oracle, the fraction oracle (slope through the origin), FEV and FEVE, and on\n"
            "simulated data the correlation with the true rates and the receptive-field distance after an\n"
            "affine fit. The run is marked done in the same, final transaction.\n"
            "\n"
            "  --checkpoint CKPT   a checkpoint written by nsid-train\n"
            "  --data PATH         the scans of its readouts (repeatable, any order)\n"
            "  --db FILE           the run's SQLite store (usually the run.db beside the checkpoint); its\n"
            "                      folder is locked while evaluating, and a run it holds must be the\n"
            "                      checkpoint's (same configuration and scans), else nothing is recorded\n"
            "  --predictions FILE  also write the test predictions and per-neuron metrics (HDF5); never\n"
            "                      one of the inputs or --db\n"
            "  --config FILE       the run configuration (default: the one stored in the checkpoint)\n"
            "  --run-id ID         record under this id (default: the only run of --db, else the config's id)\n"
            "  --quiet             no summary on stdout\n"
            "  --version           the release and the git commit this build was made from\n"
            "  -h, --help          this text\n");
}

int main(int argc, char **argv)
{
    if (nsid_version_option(argc, argv, "nsid-eval")) return 0;
    /* HDF5 1.10 leaves a file whose close failed (a full disk) half-open and crashes on it
     * in its atexit cleanup: skip that cleanup; every file is closed explicitly. */
    H5dont_atexit();
    const char *data[MAX_ARGS];
    struct nsid_eval_opts o = {.data = data, .summary = stdout, .isa = getenv("NSID_ISA")};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(s, "--quiet")) {
            o.summary = NULL;
            continue;
        }
        const char **dst = !strcmp(s, "--checkpoint")  ? &o.checkpoint
                           : !strcmp(s, "--db")          ? &o.db
                           : !strcmp(s, "--predictions") ? &o.predictions
                           : !strcmp(s, "--config")      ? &o.config
                           : !strcmp(s, "--run-id")      ? &o.run_id
                           : !strcmp(s, "--data")        ? (o.n_data < MAX_ARGS ? &data[o.n_data] : NULL)
                                                         : NULL;
        if (!dst) {
            fprintf(stderr, "nsid-eval: %s '%s' (see --help)\n",
                    !strcmp(s, "--data") ? "too many --data options at" : "unknown option", s);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nsid-eval: %s needs a value (see --help)\n", s);
            return 2;
        }
        *dst = argv[++i];
        if (dst == &data[o.n_data]) o.n_data++;
    }
    if (!o.checkpoint || !o.db || o.n_data == 0) {
        fprintf(stderr, "nsid-eval: %s is required (see --help)\n",
                !o.checkpoint ? "--checkpoint CKPT" : !o.db ? "--db FILE" : "--data PATH");
        return 2;
    }
    struct nsid_err err = {0};
    struct nsid_eval_outcome r;
    /* Outputs: their folders must exist, and no output is an input (checked before anything
     * is written); then the run folder (--db's) is ours alone until we exit. */
    struct nsid_path_use in[MAX_ARGS + 2] = {{o.checkpoint, "--checkpoint", false}, {o.config, "--config", false}};
    for (int i = 0; i < o.n_data; i++) in[2 + i] = (struct nsid_path_use){o.data[i], "--data", false};
    struct nsid_path_use out[2] = {{o.db, "--db", false}, {o.predictions, "--predictions", false}};
    char db_dir[4096];
    nsid_path_parent(o.db, db_dir, sizeof db_dir);
    int lock = -1;
    if (nsid_path_check_parent(o.db, "--db", NULL, &err) < 0 ||
        (o.predictions && nsid_path_check_parent(o.predictions, "--predictions", NULL, &err) < 0) ||
        nsid_path_check_io(in, 2 + o.n_data, out, 2, &err) < 0 || nsid_path_lock(db_dir, "--db", &lock, &err) < 0 ||
        nsid_eval_checkpoint(&o, &r, &err) < 0) {
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
