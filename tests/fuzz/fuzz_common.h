/*
 * fuzz_common.h - shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c) and by the
 * regression test that replays their corpora in the normal build (tests/test_fuzz_regress.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput. Besides crashes and sanitizer reports, the
 * harnesses check the error contract of issue 9: a failure returns a code < 0 with one
 * non-empty message line; fuzz_require() aborts (a libFuzzer "crash") otherwise.
 */
#ifndef NSID_FUZZ_COMMON_H
#define NSID_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

/* Abort with a message when a property fails (libFuzzer saves the input). */
#define fuzz_require(cond, ...)                                                   \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fuzz property failed: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* A failed action: code < 0 in both places, a message of one non-empty line. */
static inline void fuzz_check_failure(int rc, const struct nsid_err *err)
{
    if (rc >= 0) return;
    fuzz_require(err->code < 0 && err->code == rc, "rc %d, err.code %d", rc, err->code);
    fuzz_require(err->msg[0] != '\0', "a failure without a message (rc %d)", rc);
    fuzz_require(!strchr(err->msg, '\n') && !strchr(err->file, '\n') && !strchr(err->key, '\n'),
                 "a message of more than one line: %s", err->msg);
}

/*
 * Write data to a per-process scratch file (in /dev/shm when it exists) named with the
 * given suffix; returns the path (static buffer), or NULL if it cannot be written.
 */
static inline const char *fuzz_scratch_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(path, sizeof path, "%s/nsid-fuzz-%ld%s", dir, (long)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t k = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || k != size) return NULL;
    return path;
}

#endif
