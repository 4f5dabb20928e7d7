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

/*
 * Begin a stage: if argv holds --version, print prog's version to stdout and return true (the
 * caller exits 0). Otherwise turn off HDF5's atexit cleanup and return false: HDF5 1.10 leaves a
 * file whose close failed (a full disk) half-open and crashes on it in that cleanup, and every
 * stage closes its files explicitly.
 */
bool nsid_stage_begin(const char *prog, int argc, char **argv);

/* The environment variable name, or NULL: the option tables' env defaults (base/opt.h). */
const char *nsid_stage_env(const char *name);

#endif
