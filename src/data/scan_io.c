/* scan_io.c - load or save a scan in either layout (see scan.h). */
#include "scan.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "data/h5scan.h"
#include "data/tree.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool nsid_scan_path_is_h5_name(const char *path)
{
    return ends_with(path, ".h5") || ends_with(path, ".hdf5") || ends_with(path, ".hdf");
}

/* "x.zip": read the folder x if it was unzipped beside it. */
static int load_zip(struct nsid_scan *s, const char *path, const struct nsid_scan_opts *opt, struct nsid_err *err)
{
    char dir[NSID_PATH_MAX];
    size_t n = strlen(path) - 4;
    if (n >= sizeof dir) return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "path too long");
    memcpy(dir, path, n);
    dir[n] = '\0';
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        nsid_scan_warn(opt, "%s: reading the unzipped folder %s beside it", path, dir);
        return nsid_tree_load(s, dir, opt, err);
    }
    nsid_scan_init(s);
    return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                        "a zipped file tree: nsid does not read .zip archives; unzip it first "
                        "(unzip '%s' -d <folder>) and pass the folder %s", path, dir);
}

int nsid_scan_load(struct nsid_scan *s, const char *path, const struct nsid_scan_opts *opt,
                   struct nsid_err *err)
{
    struct stat st;
    if (ends_with(path, ".zip")) return load_zip(s, path, opt, err);
    if (stat(path, &st) != 0) {
        nsid_scan_init(s);
        return nsid_err_set(err, NSID_ENOTFOUND, path, 0, NULL, "no such file or folder: %s", strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return nsid_tree_load(s, path, opt, err);
    if (!S_ISREG(st.st_mode)) { /* a FIFO would block the HDF5 signature check forever */
        nsid_scan_init(s);
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                            "not a scan: not a regular file or folder (a FIFO, socket or device)");
    }
    if (nsid_h5scan_is_h5(path)) return nsid_h5scan_load(s, path, opt, err);
    nsid_scan_init(s);
    return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                        "not a scan: neither an HDF5 file (no HDF5 signature; truncated or another format?) "
                        "nor a file-tree folder");
}

int nsid_scan_save(const struct nsid_scan *s, const char *path, const struct nsid_save_opts *opt,
                   struct nsid_err *err)
{
    struct nsid_save_opts o = {0};
    if (opt) o = *opt;
    if (nsid_scan_path_is_h5_name(path)) {
        struct stat st;
        if (!o.overwrite && stat(path, &st) == 0)
            return nsid_err_set(err, NSID_EINVAL, path, 0, NULL,
                                "exists; refusing to overwrite it (use the overwrite option, nsid-convert --force)");
        struct nsid_h5_save_opts h = {o.gzip};
        return nsid_h5scan_save(s, path, &h, err);
    }
    struct nsid_tree_save_opts t = {o.keep_bytes, o.overwrite};
    return nsid_tree_save(s, path, &t, err);
}
