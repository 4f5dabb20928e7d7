/* path.c - output folders of the stages (see path.h). */
#include "base/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
