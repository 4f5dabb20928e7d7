/*
 * h5util.h - the HDF5 idioms every nsid reader and writer needs.
 *
 * Quiet errors with a reason, and files whose bytes depend on their content only:
 *     struct nsid_h5_quiet q;
 *     nsid_h5util_quiet_begin(&q);                      // HDF5 prints nothing to stderr
 *     hid_t f = nsid_h5util_create(tmp, H5P_DEFAULT);   // root group without a timestamp
 *     hid_t dcpl = nsid_h5util_plist(H5P_DATASET_CREATE), gcpl = nsid_h5util_plist(H5P_GROUP_CREATE);
 *     if (nsid_h5util_parents(f, "a/b/x", gcpl) < 0 ||  // groups a and a/b, no timestamps
 *         nsid_h5util_put(f, "a/b/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){n}, dcpl, x) < 0) {
 *         char why[NSID_H5_REASON_MAX];
 *         nsid_err_set(err, NSID_EIO, tmp, 0, "a/b/x", "cannot write: %s", nsid_h5util_reason(why));
 *     }
 *     ... close dcpl, gcpl and f ...
 *     nsid_h5util_quiet_end(&q);                        // HDF5's own printing as it was
 *
 * HDF5 stamps every object with its creation second unless told not to; run ids hash data
 * files by content, so everything nsid writes goes through nsid_h5util_create/nsid_h5util_plist and
 * the same content gives the same bytes on any day. No global state: the quiet scope is a
 * caller-owned struct (HDF5's own error settings are per thread).
 */
#ifndef NSID_H5UTIL_H
#define NSID_H5UTIL_H

#include <hdf5.h>
#include <stdbool.h>

#include "base/err.h"

#define NSID_H5_REASON_MAX 256 /* a reason with its NUL */
#define NSID_H5_NAME_MAX 1024  /* longest object path nsid_h5util_parents takes, with its NUL */

/* HDF5's automatic error printing, saved while a scope runs quiet. */
struct nsid_h5_quiet {
    H5E_auto2_t fn;
    void *data;
};

/* Save HDF5's error printing into q and switch it off. */
void nsid_h5util_quiet_begin(struct nsid_h5_quiet *q);
/* Clear the error stack and restore the printing saved in q. */
void nsid_h5util_quiet_end(const struct nsid_h5_quiet *q);

/*
 * Begin a quiet scope in q and open path read-only in it: the file id, or <0 with err set to
 * NSID_EFORMAT, path, key and "msg: HDF5's reason" (msg alone when with_reason is false). Either
 * way the caller ends the scope with nsid_h5util_quiet_end(q) after its last HDF5 call.
 */
hid_t nsid_h5util_open_quiet(const char *path, struct nsid_h5_quiet *q, const char *key, const char *msg, bool with_reason,
                         struct nsid_err *err);

/* The innermost message of HDF5's error stack and its minor class, "desc (minor)", into buf;
 * "" when the stack is empty. Returns buf. Read it before the next HDF5 call clears the stack. */
const char *nsid_h5util_reason(char buf[NSID_H5_REASON_MAX]);

/* Every HDF5 call clears the error stack: a failure's stack held across the cleanup calls after
 * it, so that nsid_h5util_reason still reads it. hold moves the current stack out (<0: nothing to
 * hold); restore puts it back and frees the held copy (a no-op for <0). */
hid_t nsid_h5util_errors_hold(void);
void nsid_h5util_errors_restore(hid_t held);

/* H5Fcreate(path, H5F_ACC_TRUNC) with a root group without a timestamp; fapl may be H5P_DEFAULT.
 * The file id, or <0 with errno and HDF5's error stack as H5Fcreate left them. */
hid_t nsid_h5util_create(const char *path, hid_t fapl);
/* A new creation property list of class cls (H5P_DATASET_CREATE, H5P_GROUP_CREATE) with object
 * timestamps off; <0 on failure. The caller adds its own settings and closes it. */
hid_t nsid_h5util_plist(hid_t cls);
/* Create the groups on the path to name ("a/b/x": a, a/b) that do not exist yet, with gcpl
 * (nsid_h5util_plist(H5P_GROUP_CREATE)). 0, or -1 (name too long, or a group not created). */
int nsid_h5util_parents(hid_t loc, const char *name, hid_t gcpl);
/* Create dataset name under loc (its groups must exist) of file type ftype with dims (ndim 0: a
 * scalar) and dcpl, write buf of memory type mtype, close it. 0; -1 if the dataset could not be
 * created; -2 if it was created but the write or close failed. On failure HDF5's error stack is
 * that of the failing call (nsid_h5util_reason reads it). */
int nsid_h5util_put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims, hid_t dcpl,
                const void *buf);

#endif
