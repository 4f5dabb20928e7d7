/*
 * nsid-simulate - write simulated mouse V1 scans (HDF5, with ground truth)
 * and groups.json describing the paper's dataset groups.
 *
 *     nsid-simulate --profile quick --out data/sim [--seed N] [--threads N]
 *                   [--set key=value ...]
 *     nsid-simulate --keys [--profile P]      list the keys and their values
 *
 * Exit status: 0 on success, 1 on any error (message on stderr), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opt.h"
#include "base/path.h"
#include "data/simulate.h"
#include "stage.h"

static const char ABOUT[] =
    "usage: nsid-simulate --profile smoke|quick|paper --out DIR [--seed N] [--threads N]\n"
    "                     [--set key=value ...]\n"
    "       nsid-simulate --keys [--profile P] [--set key=value ...]\n"
    "\n"
    "Writes the scans of the configured groups (--set groups=...; default all) into DIR\n"
    "(created, with its parents) as\n"
    "DIR/static<animal>-<session>-<scan>-preproc0.h5 (HDF5 StaticImageSet plus a\n"
    "ground_truth/ group) and DIR/groups.json (group name -> files, sizes, profile,\n"
    "seed and every key's value). Groups: 4s_matched, 11s, 4s_diff_animals, 1s,\n"
    "evaluation. The output depends only on the configuration and the seed.\n"
    "\n";

struct args {
    const char *profile, *out;
    struct nsid_opt_list sets; /* --set, --seed and --threads, in their order */
    bool keys, help, version;
};

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    const struct nsid_opt opts[] = {
        {"profile", 0, NSID_OPT_STRING, &a->profile, "P", .help = "smoke, quick (default) or paper"},
        {"out", 0, NSID_OPT_STRING, &a->out, "DIR", .help = "output folder (created, with its parents)"},
        {"seed", 0, NSID_OPT_LIST, &a->sets, "N", .help = "the same as --set seed=N", .prefix = "seed="},
        {"threads", 0, NSID_OPT_LIST, &a->sets, "N", .help = "the same as --set threads=N", .prefix = "threads="},
        {"set", 0, NSID_OPT_LIST, &a->sets, "key=value", .help = "set one key (repeatable; --keys lists them)"},
        {"keys", 0, NSID_OPT_FLAG, &a->keys, NULL, .help = "list the keys and their values, write nothing"},
        NSID_STAGE_OPTS_END(&a->version, &a->help)};
    struct nsid_opt_cmd cmd = {"nsid-simulate", opts, NULL, 0, nsid_stage_env};
    return nsid_stage_parse(&cmd, ABOUT, &a->help, argc, argv);
}

/* Simulate as the parsed command line says; the exit status. */
static int simulate(const struct args *a)
{
    struct nsid_sim_config cfg;
    struct nsid_err err = {0};
    if (nsid_sim_config_init(&cfg, a->profile, &err) < 0) goto fail;
    for (int k = 0; k < a->sets.n; k++)
        if (nsid_sim_config_set(&cfg, a->sets.v[k], &err) < 0) goto fail;
    if (a->keys) {
        nsid_sim_config_print_keys(&cfg, stdout);
        return 0;
    }
    if (!a->out) {
        fprintf(stderr, "nsid-simulate: --out DIR is required (see --help)\n");
        return 2;
    }
    const char *out = a->out;
    int lock = -1; /* held until exit: two writers of one folder would mix their scans */
    if (nsid_sim_config_check(&cfg, &err) < 0 || nsid_path_mkdirs(out, "--out", &err) < 0 ||
        nsid_path_lock(out, "--out", &lock, &err) < 0 || nsid_simulate_write(&cfg, out, stderr, &err) < 0)
        goto fail;
    fprintf(stderr, "nsid-simulate: profile %s, seed %llu: wrote %s/groups.json\n", cfg.profile,
            (unsigned long long)cfg.seed, out);
    return 0;
fail:
    fprintf(stderr, "nsid-simulate: ");
    nsid_err_print(&err, stderr);
    return 1;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-simulate", argc, argv)) return 0;
    struct args a = {.profile = "quick"};
    int rc = parse_args(argc, argv, &a);
    if (rc == 0) rc = simulate(&a);
    else if (rc == 1) rc = 0;
    nsid_opt_list_free(&a.sets);
    return rc;
}
