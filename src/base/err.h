/*
 * err.h - errors with context.
 *
 * Every library action returns int (0 ok, <0 error) and fills a caller-owned
 * struct nsid_err naming the thing that failed: the file (path, HDF5 dataset,
 * spec), the line where one applies, the key (tensor name, config key, field)
 * and a message saying what was expected and what was found.
 *
 *     struct nsid_err err = {0};
 *     if (nsid_scan_load(&scan, path, &opt, &err) < 0) {
 *         nsid_err_print(&err, stderr);        // "data/x.h5: responses: ..."
 *         return 1;                             // only pipeline/ exits
 *     }
 *
 * The library never calls exit(); NSID_ASSERT is for programmer errors only.
 */
#ifndef NSID_ERR_H
#define NSID_ERR_H

#include <stdio.h>

#define NSID_ERR_FILE_MAX 512
#define NSID_ERR_KEY_MAX 256
#define NSID_ERR_MSG_MAX 1024

struct nsid_err {
    char file[NSID_ERR_FILE_MAX]; /* path or source of the bad thing, "" if none */
    int line;                     /* 1-based line in file, 0 if none */
    char key[NSID_ERR_KEY_MAX];   /* key, dataset or tensor name, "" if none */
    char msg[NSID_ERR_MSG_MAX];   /* what was expected versus found */
    int code;                     /* <0 once set; 0 means no error */
};

/* Error codes: coarse classes, the message carries the detail. */
enum nsid_errcode {
    NSID_OK = 0,
    NSID_EINVAL = -1, /* bad argument, configuration or value */
    NSID_EIO = -2,    /* open/read/write failed */
    NSID_EFORMAT = -3,/* file content malformed, truncated, wrong dtype/shape */
    NSID_ENOMEM = -4, /* allocation failed */
    NSID_ESHAPE = -5, /* shapes that must agree do not */
    NSID_ENOTFOUND = -6, /* missing file, key or dataset */
    NSID_EINTERNAL = -7,
};

/*
 * The discipline (SQLite's parser keeps its first error the same way):
 *
 * - err is required: every function taking a struct nsid_err * gets a real one, never NULL
 *   (a NULL err is a programmer error and aborts through NSID_ASSERT). A caller that does not
 *   want the message still passes a local struct and ignores it.
 * - The first error wins: nsid_err_set on an err that already holds an error (code < 0)
 *   changes nothing and returns the code already there. The first cause found is the one
 *   reported, so a cleanup path or an outer check cannot hide it, and code that continues
 *   after a failure (closing, removing a half-written file) may report freely.
 * - Return codes and chains: a function returns the code of the error it set, or the code an
 *   inner call returned. `if (rc == 0) rc = step(...)` and `for (...; rc == 0 && ...; ...)`
 *   are control flow (the next step must not run after a failure) and stay. A step that runs
 *   whatever happened before it (closing a file, a cleanup) reports without a guard:
 *       if (close(fd) != 0) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "close failed");
 *   gives rc the first error's code, since nsid_err_set returns the code already in err: no
 *   `&& rc == 0`, no second local err to keep the first message. Where every step runs and
 *   err was clear on entry, `return err->code;` at the end is the result (err is clear on
 *   entry to every public action: a caller never passes an err still holding an error into
 *   a new action; it clears it first or uses another).
 * - Ignoring an error on purpose (a best-effort cache save, a warning check skipped without
 *   memory): pass a local struct nsid_err and do not read it.
 * - Adding context to an inner error: nsid_err_context fills the file, line and key only
 *   where the inner error left them empty and may put a prefix before its message; the inner
 *   cause stays.
 * - Replacing an error on purpose: an intentional retry, a probe whose failure is expected
 *   (does this path hold an HDF5 file?), or a caller that knows a better message for the same
 *   fault (the spec line that named a missing file) calls nsid_err_clear first, then sets.
 *   Clearing is the only way to overwrite, so every overwrite is visible at its call site.
 */

/*
 * Record an error in err (required) unless it already holds one; returns err->code (code
 * when this call set it). file/key may be NULL.
 */
int nsid_err_set(struct nsid_err *err, int code, const char *file, int line,
                 const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * Add context to the error in err: file, line and key are written only where they are empty
 * (NULL or 0 adds nothing) and prefix, if not NULL, goes before the message ("prefix: msg").
 * A clear err stays clear. Returns err->code.
 */
int nsid_err_context(struct nsid_err *err, const char *file, int line, const char *key,
                     const char *prefix);

/* Format "file:line: key: msg" (omitting empty parts) into buf. */
const char *nsid_err_str(const struct nsid_err *err, char *buf, size_t n);

/* Print the formatted error and a newline to f. */
void nsid_err_print(const struct nsid_err *err, FILE *f);

/* Clear to "no error": before an intentional retry or a deliberate replacement. */
void nsid_err_clear(struct nsid_err *err);

/* Abort with file:line on a violated programmer invariant (never for bad input). */
_Noreturn void nsid__err_abort(const char *file, int line, const char *expr);
#define NSID_ASSERT(x) do { if (!(x)) nsid__err_abort(__FILE__, __LINE__, #x); } while (0)

#endif
