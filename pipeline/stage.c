/* stage.c - the edge of every stage binary (see stage.h). */
#include "stage.h"

#include <cblas.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "base/version.h"

/*
 * OpenBLAS (Debian's DYNAMIC_ARCH build) picks its kernels when it loads, for the CPU it
 * recognises. A CPU newer than the build (an AMD Zen 5, say) is not recognised and gets the
 * Prescott kernels (SSE3): sgemm, which the factorized readout and the VGG16 core run on, is then
 * 4-8 times slower than the CPU allows. Only OPENBLAS_CORETYPE, read at load time, changes that
 * choice; so a stage that finds Prescott on a CPU with AVX2 and FMA sets it (SkylakeX with
 * AVX-512, else Haswell) and executes itself again, once. An OPENBLAS_CORETYPE of the user's is
 * left alone, and so is everything when the exec fails (the stage goes on with Prescott).
 */
static void blas_kernels(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");
}

bool nsid_stage_begin(const char *prog, int argc, char **argv)
{
    if (nsid_version_option(argc, argv, prog)) return true;
    blas_kernels(argv);
    H5dont_atexit();
    return false;
}

int nsid_stage_parse(const struct nsid_opt_cmd *cmd, const char *about, const bool *help, int argc, char **argv)
{
    struct nsid_err err = {0};
    int rc = nsid_opt_parse(cmd, argc - 1, argv + 1, &err);
    if (rc < 0) return nsid_opt_usage_error(cmd, &err);
    if (*help) {
        fputs(about, stdout);
        nsid_opt_help(cmd->opts, stdout);
    }
    return rc;
}

const char *nsid_stage_env(const char *name)
{
    return getenv(name);
}
