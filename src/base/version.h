/*
 * version.h - what build this is: the release (CMakeLists.txt's project VERSION) and the git
 * commit and dirty flag of the source tree, both compiled in at build time.
 *
 * The commit comes from a header the build regenerates before compiling (cmake/git_version.cmake):
 * it follows HEAD and the dirty state of the checkout the binaries were built from, whatever
 * the working directory of the process that runs them. Every stage prints it with --version and
 * the store records it in every run.
 *
 *     nsid_version_print(stdout, "nsid-train");
 *     // nsid-train 0.16.0 (commit 01b930b2f1..., clean)
 */
#ifndef NSID_VERSION_H
#define NSID_VERSION_H

#include <stdbool.h>
#include <stdio.h>

/* The release, "MAJOR.MINOR.PATCH". */
const char *nsid_version_release(void);

/* The 40 hex digits of the commit the build was made from, or "unknown" (not a git checkout). */
const char *nsid_version_commit(void);

/* 1: tracked files differed from that commit at build time; 0: they did not; -1: unknown. */
int nsid_version_dirty(void);

/* Print "<prog> <release> (commit <hex>|unknown, clean|dirty)" and a newline to f. */
void nsid_version_print(FILE *f, const char *prog);

/*
 * The stages' --version option: if argv[1..argc) holds "--version", print the version of prog
 * to stdout and return true (the caller exits 0).
 */
bool nsid_version_option(int argc, char *const *argv, const char *prog);

#endif
