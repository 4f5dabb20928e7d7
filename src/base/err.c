/* err.c - errors with context (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t n, const char *src)
{
    if (!src) src = "";
    size_t len = strlen(src);
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Append src to dst (n bytes, *k used), truncating. */
static void append(char *dst, size_t n, size_t *k, const char *src)
{
    while (*src && *k + 1 < n) dst[(*k)++] = *src++;
    dst[*k] = '\0';
}

/*
 * One message, one line: text quoted from inputs or libraries may hold line breaks (a
 * YAML key in quotes, HDF5's ctime() text in its write errors); they become spaces.
 */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t' || *s == '\v' || *s == '\f') *s = ' ';
}

int nsid_err_set(struct nsid_err *err, int code, const char *file, int line,
                 const char *key, const char *fmt, ...)
{
    NSID_ASSERT(err);
    if (err->code < 0) return err->code;
    copy_str(err->file, sizeof err->file, file);
    copy_str(err->key, sizeof err->key, key);
    err->line = line;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    one_line(err->file);
    one_line(err->key);
    one_line(err->msg);
    return code;
}

int nsid_err_context(struct nsid_err *err, const char *file, int line, const char *key,
                     const char *prefix)
{
    NSID_ASSERT(err);
    if (err->code >= 0) return err->code;
    if (!err->file[0] && file) copy_str(err->file, sizeof err->file, file);
    if (err->line <= 0 && line > 0) err->line = line;
    if (!err->key[0] && key) copy_str(err->key, sizeof err->key, key);
    if (prefix) {
        char inner[NSID_ERR_MSG_MAX];
        memcpy(inner, err->msg, sizeof inner);
        size_t k = 0;
        append(err->msg, sizeof err->msg, &k, prefix);
        append(err->msg, sizeof err->msg, &k, ": ");
        append(err->msg, sizeof err->msg, &k, inner);
    }
    one_line(err->file);
    one_line(err->key);
    one_line(err->msg);
    return err->code;
}

const char *nsid_err_str(const struct nsid_err *err, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    if (err->file[0]) {
        if (err->line > 0)
            k += (size_t)snprintf(buf + k, n - k, "%s:%d: ", err->file, err->line);
        else
            k += (size_t)snprintf(buf + k, n - k, "%s: ", err->file);
    }
    if (k < n && err->key[0]) k += (size_t)snprintf(buf + k, n - k, "%s: ", err->key);
    if (k < n) snprintf(buf + k, n - k, "%s", err->msg[0] ? err->msg : "unknown error");
    return buf;
}

void nsid_err_print(const struct nsid_err *err, FILE *f)
{
    char buf[NSID_ERR_FILE_MAX + NSID_ERR_KEY_MAX + NSID_ERR_MSG_MAX + 32];
    fprintf(f, "%s\n", nsid_err_str(err, buf, sizeof buf));
}

void nsid_err_clear(struct nsid_err *err)
{
    memset(err, 0, sizeof *err);
}

_Noreturn void nsid__err_abort(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: internal error: assertion '%s' failed\n", file, line, expr);
    abort();
}
