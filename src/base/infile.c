/* infile.c - opening an input file: only a regular file, and never blocking (see infile.h). */
#include "infile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : "not a regular file";
}

static int refuse(const char *path, const char *what, mode_t m, struct nsid_err *err)
{
    return nsid_err_set(err, NSID_EFORMAT, path, 0, what, "%s, not a regular file", kind_of(m));
}

int nsid_infile_check(const char *path, const char *what, struct nsid_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nsid_err_set(err, errno == ENOENT ? NSID_ENOTFOUND : NSID_EIO, path, 0, what, "cannot open: %s",
                            strerror(errno));
    if (!S_ISREG(sb.st_mode)) return refuse(path, what, sb.st_mode, err);
    return 0;
}

int nsid_infile_open(const char *path, const char *what, struct nsid_err *err)
{
    int rc = nsid_infile_check(path, what, err);
    if (rc < 0) return rc;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return nsid_err_set(err, errno == ENOENT ? NSID_ENOTFOUND : NSID_EIO, path, 0, what, "cannot open: %s",
                            strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        mode_t m = sb.st_mode;
        close(fd);
        return refuse(path, what, m, err);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

FILE *nsid_infile_fopen(const char *path, const char *what, struct nsid_err *err)
{
    int fd = nsid_infile_open(path, what, err);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        nsid_err_set(err, NSID_EIO, path, 0, what, "cannot open: %s", strerror(errno));
        close(fd);
    }
    return f;
}
