/* h5util.c - the HDF5 idioms every nsid reader and writer needs (see h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void nsid_h5util_quiet_begin(struct nsid_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void nsid_h5util_quiet_end(const struct nsid_h5_quiet *q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

hid_t nsid_h5util_open_quiet(const char *path, struct nsid_h5_quiet *q, const char *key, const char *msg, bool with_reason,
                         struct nsid_err *err)
{
    nsid_h5util_quiet_begin(q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) return f;
    char why[NSID_H5_REASON_MAX];
    if (with_reason) nsid_err_set(err, NSID_EFORMAT, path, 0, key, "%s: %s", msg, nsid_h5util_reason(why));
    else nsid_err_set(err, NSID_EFORMAT, path, 0, key, "%s", msg);
    return f;
}

/* Walked from the API call down: the last entry with a description is the innermost. */
static herr_t reason_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    char *buf = data, minor[128] = "";
    if (!e->desc || !e->desc[0]) return 0;
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) > 0)
        snprintf(buf, NSID_H5_REASON_MAX, "%.160s (%.80s)", e->desc, minor);
    else
        snprintf(buf, NSID_H5_REASON_MAX, "%s", e->desc);
    return 0;
}

const char *nsid_h5util_reason(char buf[NSID_H5_REASON_MAX])
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, reason_cb, buf);
    return buf;
}

hid_t nsid_h5util_errors_hold(void)
{
    return H5Eget_current_stack();
}

void nsid_h5util_errors_restore(hid_t held)
{
    if (held >= 0) H5Eset_current_stack(held); /* closes held */
}

hid_t nsid_h5util_create(const char *path, hid_t fapl)
{
    hid_t fcpl = nsid_h5util_plist(H5P_FILE_CREATE); /* the root group */
    if (fcpl < 0) return H5I_INVALID_HID;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    int saved = errno;
    hid_t held = f < 0 ? nsid_h5util_errors_hold() : H5I_INVALID_HID;
    H5Pclose(fcpl);
    nsid_h5util_errors_restore(held);
    errno = saved;
    return f;
}

hid_t nsid_h5util_plist(hid_t cls)
{
    hid_t p = H5Pcreate(cls);
    if (p >= 0 && H5Pset_obj_track_times(p, 0) < 0) {
        H5Pclose(p);
        return H5I_INVALID_HID;
    }
    return p;
}

int nsid_h5util_parents(hid_t loc, const char *name, hid_t gcpl)
{
    char path[NSID_H5_NAME_MAX];
    size_t n = strlen(name);
    if (n >= sizeof path) return -1;
    memcpy(path, name, n + 1);
    int rc = 0;
    for (char *p = strchr(path + 1, '/'); p && !rc; p = strchr(p + 1, '/')) {
        *p = '\0';
        htri_t ex = H5Lexists(loc, path, H5P_DEFAULT);
        if (ex < 0) {
            rc = -1;
        } else if (ex == 0) {
            hid_t g = H5Gcreate2(loc, path, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            if (g < 0) rc = -1;
            else H5Gclose(g);
        }
        *p = '/';
    }
    return rc;
}

int nsid_h5util_put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims, hid_t dcpl,
                const void *buf)
{
    hid_t sp = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    if (sp < 0) return -1;
    hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = d < 0 ? -1 : 0;
    if (!rc && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) rc = -2;
    hid_t held = rc ? nsid_h5util_errors_hold() : H5I_INVALID_HID; /* the failure's reason, past the closes */
    if (d >= 0 && H5Dclose(d) < 0 && !rc) rc = -2;
    H5Sclose(sp);
    nsid_h5util_errors_restore(held);
    return rc;
}
