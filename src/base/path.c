/* path.c - output folders of the stages (see path.h). */
#include "base/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096

bool nsid_path_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

void nsid_path_parent(const char *path, char *buf, size_t n)
{
    if (n == 0) return;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--; /* "a/b/" is "a/b" */
    size_t slash = len;
    while (slash > 0 && path[slash - 1] != '/') slash--;
    if (slash == 0) {
        snprintf(buf, n, ".");
        return;
    }
    size_t end = slash - 1; /* the slash before the last part */
    while (end > 0 && path[end - 1] == '/') end--;
    if (end == 0) {
        snprintf(buf, n, "/");
        return;
    }
    snprintf(buf, n, "%.*s", (int)end, path);
}

/* path without "./" parts, repeated and trailing slashes, into buf. */
static void normalize(const char *path, char *buf, size_t n)
{
    size_t k = 0;
    const char *p = path;
    bool abs = *p == '/';
    if (abs && k + 1 < n) buf[k++] = '/';
    while (*p) {
        while (*p == '/') p++;
        const char *q = p;
        while (*q && *q != '/') q++;
        size_t len = (size_t)(q - p);
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (k > (size_t)abs && k + 1 < n) buf[k++] = '/';
            for (size_t i = 0; i < len && k + 1 < n; i++) buf[k++] = p[i];
        }
        p = q;
    }
    if (k == 0 && n > 1) buf[k++] = '.';
    buf[k < n ? k : n - 1] = '\0';
}

bool nsid_path_same(const char *a, const char *b)
{
    char na[PATH_MAX_LEN], nb[PATH_MAX_LEN];
    normalize(a, na, sizeof na);
    normalize(b, nb, sizeof nb);
    return strcmp(na, nb) == 0;
}

int nsid_path_check_parent(const char *path, const char *option, const char *created, struct nsid_err *err)
{
    char dir[PATH_MAX_LEN];
    nsid_path_parent(path, dir, sizeof dir);
    if (created && nsid_path_same(dir, created)) return 0;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return nsid_err_set(err, NSID_ENOTFOUND, path, 0, option, "folder %s does not exist (create it first)", dir);
    if (!S_ISDIR(sb.st_mode)) return nsid_err_set(err, NSID_EINVAL, path, 0, option, "%s is not a folder", dir);
    return 0;
}

int nsid_path_mkdirs(const char *dir, const char *option, struct nsid_err *err)
{
    char buf[PATH_MAX_LEN];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return nsid_err_set(err, NSID_EINVAL, dir, 0, option, "path longer than %d bytes", PATH_MAX_LEN - 1);
    size_t len = strlen(buf);
    /* every prefix ending before a '/', then the whole path */
    for (size_t i = 1; i <= len; i++) {
        if (i < len && buf[i] != '/') continue;
        if (i < len && buf[i - 1] == '/') continue; /* "a//b" */
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            return nsid_err_set(err, NSID_EIO, dir, 0, option, "cannot create folder %s: %s", buf, strerror(e));
        }
        if (!nsid_path_is_dir(buf)) return nsid_err_set(err, NSID_EINVAL, dir, 0, option, "%s is not a folder", buf);
        buf[i] = c;
    }
    return 0;
}

/* ---------------------------------------------------------------- outputs are never inputs */

/*
 * The absolute, resolved form of path into buf: realpath() of its nearest existing ancestor
 * followed by the parts that do not exist yet. False if it cannot be resolved (too long).
 */
static bool resolve(const char *path, char *buf, size_t n)
{
    char head[PATH_MAX_LEN], tail[PATH_MAX_LEN] = "", real[PATH_MAX_LEN];
    normalize(path, head, sizeof head);
    while (!realpath(head, real)) {
        if (!strcmp(head, ".") || !strcmp(head, "/")) return false;
        char *slash = strrchr(head, '/');
        const char *part = slash ? slash + 1 : head;
        char t[PATH_MAX_LEN];
        if (snprintf(t, sizeof t, "%s%s%s", part, tail[0] ? "/" : "", tail) >= (int)sizeof t) return false;
        memcpy(tail, t, sizeof tail);
        if (!slash) snprintf(head, sizeof head, ".");
        else if (slash == head) head[1] = '\0'; /* "/x" -> "/" */
        else *slash = '\0';
    }
    if (!tail[0]) return snprintf(buf, n, "%s", real) < (int)n;
    return snprintf(buf, n, "%s%s%s", real, strcmp(real, "/") ? "/" : "", tail) < (int)n;
}

/* True if resolved path child lies strictly below resolved folder parent. */
static bool is_below(const char *child, const char *parent)
{
    if (!strcmp(parent, "/")) return strcmp(child, "/") != 0;
    size_t n = strlen(parent);
    return strncmp(child, parent, n) == 0 && child[n] == '/';
}

/* 0 if out and in are unrelated; else the refusal (both named). in_is_output: two outputs. */
static int check_pair(const struct nsid_path_use *out, const char *rout, const struct nsid_path_use *in,
                      const char *rin, bool in_is_output, struct nsid_err *err)
{
    struct stat so, si;
    bool so_ok = stat(out->path, &so) == 0, si_ok = stat(in->path, &si) == 0;
    bool same = (so_ok && si_ok && so.st_dev == si.st_dev && so.st_ino == si.st_ino) || !strcmp(rout, rin);
    if (same && in_is_output)
        return nsid_err_set(err, NSID_EINVAL, out->path, 0, out->option,
                            "is also the output %s %s (the same file): one would overwrite the other; "
                            "choose another path", in->option, in->path);
    if (same)
        return nsid_err_set(err, NSID_EINVAL, out->path, 0, out->option,
                            "is the input %s %s (the same file): an output may never be an input of the same "
                            "command; choose another path", in->option, in->path);
    if (in_is_output) return 0; /* a file inside an output folder is the usual layout */
    if (si_ok && S_ISDIR(si.st_mode) && is_below(rout, rin))
        return nsid_err_set(err, NSID_EINVAL, out->path, 0, out->option,
                            "lies inside the input %s %s: writing there would change what is being read; "
                            "choose a path outside it", in->option, in->path);
    if (is_below(rin, rout) && !in->in_output_ok)
        return nsid_err_set(err, NSID_EINVAL, out->path, 0, out->option,
                            "holds the input %s %s: writing there could replace it; choose a folder that does "
                            "not contain the inputs", in->option, in->path);
    return 0;
}

int nsid_path_check_io(const struct nsid_path_use *in, int n_in, const struct nsid_path_use *out, int n_out,
                       struct nsid_err *err)
{
    char rout[PATH_MAX_LEN], rin[PATH_MAX_LEN];
    for (int i = 0; i < n_out; i++) {
        if (!out[i].path) continue;
        if (!resolve(out[i].path, rout, sizeof rout))
            return nsid_err_set(err, NSID_EINVAL, out[i].path, 0, out[i].option, "path cannot be resolved");
        for (int j = 0; j < n_in + i; j++) {
            const struct nsid_path_use *p = j < n_in ? &in[j] : &out[j - n_in];
            if (!p->path || !resolve(p->path, rin, sizeof rin)) continue;
            int rc = check_pair(&out[i], rout, p, rin, j >= n_in, err);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- run folder lock */

bool nsid_path_same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISDIR(sa.st_mode) && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int nsid_path_lock(const char *dir, const char *option, int *fd, struct nsid_err *err)
{
    *fd = -1;
    char path[PATH_MAX_LEN];
    if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path)
        return nsid_err_set(err, NSID_EINVAL, dir, 0, option, "path longer than %d bytes", PATH_MAX_LEN - 8);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0) {
        int e = errno;
        return nsid_err_set(err, NSID_EIO, dir, 0, option, "cannot create the lock %s: %s", path, strerror(e));
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t k = e == EWOULDBLOCK ? pread(f, pid, sizeof pid - 1, 0) : -1;
        close(f);
        if (e != EWOULDBLOCK)
            return nsid_err_set(err, NSID_EIO, dir, 0, option, "cannot lock %s: %s", path, strerror(e));
        pid[k > 0 ? k : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return nsid_err_set(err, NSID_EINVAL, dir, 0, option,
                            "folder %s is in use by process %s (%s): wait for it to end, or use another folder",
                            dir, pid[0] ? pid : "(starting)", path);
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)len, 0) != len) {
        /* the lock holds without the pid: only the message of a second process is poorer */
    }
    *fd = f;
    return 0;
}
