/*
 * stage.h - the edge every stage binary (pipeline/nsid-*.c) passes first: --version, HDF5's
 * exit-time cleanup, and the process environment, read here and nowhere in the library.
 *
 *     int main(int argc, char **argv)
 *     {
 *         if (nsid_stage_begin("nsid-eval", argc, argv)) return 0;   // --version printed
 *         struct nsid_opt_cmd cmd = {"nsid-eval", opts, .getenv = nsid_stage_env};
 *         ...
 */
#ifndef NSID_STAGE_H
#define NSID_STAGE_H

#include <stdbool.h>

#include "base/opt.h"

/* The rows every stage's table ends with: --version, -h/--help and the end marker. */
#define NSID_STAGE_OPTS_END(version_flag, help_flag)                                                          \
    {"version", 0, NSID_OPT_STOP, (version_flag), NULL, .help = "the release and the git commit this build was made from"}, \
        {"help", 'h', NSID_OPT_STOP, (help_flag), NULL, .help = "this text"}, { 0 }

/*
 * Begin a stage: if argv holds --version, print prog's version to stdout and return true (the
 * caller exits 0). Otherwise, when OpenBLAS fell back to its Prescott kernels on a CPU with AVX2
 * (it did not recognise the CPU), execute the stage again with OPENBLAS_CORETYPE set to the
 * kernels the CPU runs (stage.c); then turn off HDF5's atexit cleanup and return false: HDF5
 * 1.10 leaves a file whose close failed (a full disk) half-open and crashes on it in that
 * cleanup, and every stage closes its files explicitly.
 */
bool nsid_stage_begin(const char *prog, int argc, char **argv);

/*
 * Parse argv[1..] by cmd (whose getenv the caller sets, usually nsid_stage_env). A usage error
 * is printed in one line and gives 2; when *help was set, about (the prose above the option
 * list) and the generated option list go to stdout and the result is 1; otherwise
 * nsid_opt_parse's result (0, or 1 for another stop option such as --version).
 */
int nsid_stage_parse(const struct nsid_opt_cmd *cmd, const char *about, const bool *help, int argc, char **argv);

/* The environment variable name, or NULL: the option tables' env defaults (base/opt.h). */
const char *nsid_stage_env(const char *name);

#endif
