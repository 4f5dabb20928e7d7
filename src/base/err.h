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
 * Fill err (if not NULL) and return code. file/key may be NULL. Later calls
 * overwrite earlier ones unless nsid_err_keep is used.
 */
int nsid_err_set(struct nsid_err *err, int code, const char *file, int line,
                 const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Format "file:line: key: msg" (omitting empty parts) into buf. */
const char *nsid_err_str(const struct nsid_err *err, char *buf, size_t n);

/* Print the formatted error and a newline to f. */
void nsid_err_print(const struct nsid_err *err, FILE *f);

/* Clear to "no error". */
void nsid_err_clear(struct nsid_err *err);

/* Abort with file:line on a violated programmer invariant (never for bad input). */
_Noreturn void nsid__abort(const char *file, int line, const char *expr);
#define NSID_ASSERT(x) do { if (!(x)) nsid__abort(__FILE__, __LINE__, #x); } while (0)

#endif
