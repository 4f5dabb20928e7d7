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
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "base/version.h"
#include "data/simulate.h"

static void usage(FILE *f)
{
    fprintf(f,
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
            "--version prints the release and the git commit this build was made from.\n");
}

/* Value of option argv[*i] (advancing *i), or NULL with a message. */
static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "nsid-simulate: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    if (nsid_version_option(argc, argv, "nsid-simulate")) return 0;
    /* HDF5 1.10 leaves a file whose close failed (a full disk) half-open and crashes on it
     * in its atexit cleanup: skip that cleanup; every file is closed explicitly. */
    H5dont_atexit();
    const char *profile = "quick", *out = NULL;
    const char *sets[256];
    int nset = 0, keys = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--keys")) {
            keys = 1;
        } else if (!strcmp(a, "--profile") || !strcmp(a, "--out") || !strcmp(a, "--seed") ||
                   !strcmp(a, "--threads") || !strcmp(a, "--set")) {
            if (!(v = option_value(argc, argv, &i))) return 2;
            if (!strcmp(a, "--profile")) profile = v;
            else if (!strcmp(a, "--out")) out = v;
            else if (nset >= (int)(sizeof sets / sizeof sets[0])) {
                fprintf(stderr, "nsid-simulate: too many --set options\n");
                return 2;
            } else {
                /* --seed N and --threads N are --set seed=N / threads=N. */
                static char buf[2][64];
                if (!strcmp(a, "--seed") || !strcmp(a, "--threads")) {
                    char *b = buf[!strcmp(a, "--threads")];
                    snprintf(b, sizeof buf[0], "%s=%s", a + 2, v);
                    v = b;
                }
                sets[nset++] = v;
            }
        } else {
            fprintf(stderr, "nsid-simulate: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    struct nsid_sim_config cfg;
    struct nsid_err err = {0};
    if (nsid_sim_config_init(&cfg, profile, &err) < 0) goto fail;
    for (int k = 0; k < nset; k++)
        if (nsid_sim_config_set(&cfg, sets[k], &err) < 0) goto fail;
    if (keys) {
        nsid_sim_config_print_keys(&cfg, stdout);
        return 0;
    }
    if (!out) {
        fprintf(stderr, "nsid-simulate: --out DIR is required (see --help)\n");
        return 2;
    }
    int lock = -1; /* held until exit: two writers of one folder would mix their scans */
    if (nsid_sim_config_check(&cfg, &err) < 0 || nsid_path_mkdirs(out, "--out", &err) < 0 ||
        nsid_path_lock(out, "--out", &lock, &err) < 0 || nsid_sim_write(&cfg, out, stderr, &err) < 0)
        goto fail;
    fprintf(stderr, "nsid-simulate: profile %s, seed %llu: wrote %s/groups.json\n", cfg.profile,
            (unsigned long long)cfg.seed, out);
    return 0;
fail:
    fprintf(stderr, "nsid-simulate: ");
    nsid_err_print(&err, stderr);
    return 1;
}
