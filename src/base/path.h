/*
 * path.h - output paths of the stages: a folder the stage owns is created, a file's folder
 * must exist.
 *
 * Every output a stage writes goes through one of two rules, checked before anything is
 * written (so a refused command leaves nothing behind):
 *   - a folder the stage owns (nsid-train --out DIR, nsid-simulate --out DIR, nsid-plan
 *     --results DIR, nsid-db export --dir DIR) is created with its missing parents;
 *   - a file (nsid-eval --predictions, nsid-db merge --into, nsid-convert's DST, ...) is
 *     refused when its folder does not exist, with one message naming the option:
 *
 *     if (nsid_path_check_parent(o.predictions, "--predictions", NULL, &err) < 0) ...
 *     // "runs/x/pred.h5: --predictions: folder runs/x does not exist"
 *
 * A file inside a folder the same command creates (nsid-train --db DIR/run.db with --out
 * DIR) passes: give that folder as `created`.
 */
#ifndef NSID_PATH_H
#define NSID_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* True if path names an existing folder (following symbolic links). */
bool nsid_path_is_dir(const char *path);

/*
 * The folder part of path into buf (n bytes): "a/b/c.h5" -> "a/b", "c.h5" -> ".",
 * "/c" -> "/", "a/b/" -> "a"; trailing slashes of path are ignored.
 */
void nsid_path_parent(const char *path, char *buf, size_t n);

/* True if a and b name the same folder as text ("a/b/", "./a//b" and "a/b" are one). */
bool nsid_path_same(const char *a, const char *b);

/*
 * 0 if path's folder exists (or is `created`, a folder this command makes; may be NULL);
 * else NSID_ENOTFOUND "folder F does not exist", or NSID_EINVAL "F is not a folder", with
 * err->file = path and err->key = option (the command-line option or argument that named it).
 */
int nsid_path_check_parent(const char *path, const char *option, const char *created, struct nsid_err *err);

/*
 * Create folder dir and its missing parents (mode 0777 before the umask), like mkdir -p;
 * an existing folder is fine. On failure NSID_EIO naming the part that could not be created,
 * with err->file = dir and err->key = option.
 */
int nsid_path_mkdirs(const char *dir, const char *option, struct nsid_err *err);

#endif
