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

/*
 * Outputs are never inputs of the same command (issue 17, class 2). Every stage lists what it
 * reads and what it writes, each with the option that named it, and calls this before it
 * writes anything:
 *
 *     struct nsid_path_use in[] = {{o.checkpoint, "--checkpoint"}, {o.data[0], "--data"}};
 *     struct nsid_path_use out[] = {{o.db, "--db"}, {o.predictions, "--predictions"}};
 *     if (nsid_path_check_io(in, 2, out, 2, &err) < 0) ...
 *     // "run/checkpoint.h5: --predictions: is the input --checkpoint run/checkpoint.h5 (the same file)"
 *
 * An output is refused (NSID_EINVAL, err->file = the output, err->key = its option, the
 * message naming the input's option and path) when it
 *   - IS an input: the same device and inode (through symbolic links, hard links, "./a//b"
 *     or "../x/a" spellings), or the same resolved path;
 *   - lies INSIDE an input folder (nsid-convert SRC SRC/inside);
 *   - CONTAINS an input (an output folder holding an input: nsid-train --out over its --data);
 * and two outputs that are the same file are refused too. Paths that do not exist yet are
 * resolved through their nearest existing folder. NULL paths (options not given) are skipped.
 */
struct nsid_path_use {
    const char *path;   /* may be NULL: skipped */
    const char *option; /* the option or argument that named it */
    bool in_output_ok;  /* an input an output folder may hold (its fixed files never are it):
                           nsid-plan's DIR/run.json given to nsid-train --out DIR --config */
};

int nsid_path_check_io(const struct nsid_path_use *in, int n_in, const struct nsid_path_use *out, int n_out,
                       struct nsid_err *err);

/*
 * An exclusive lock on folder dir (flock on dir/.lock, created if missing), held until *fd is
 * closed or the process ends (the kernel releases it on exit or kill: no stale locks). The
 * holder's pid is written into the file. Taken by the stages that write a run folder
 * (nsid-train --out and its --db's folder, nsid-eval --db's folder, nsid-simulate --out): a
 * second one exits at once with NSID_EINVAL "folder DIR is in use by process PID (DIR/.lock)",
 * err->file = dir, err->key = option. Locking the same folder twice in one process fails like
 * a second process (flock is per open file): lock each folder once (see nsid_path_same_dir).
 */
int nsid_path_lock(const char *dir, const char *option, int *fd, struct nsid_err *err);

/* True if folders a and b both exist and are the same folder (device and inode). */
bool nsid_path_same_dir(const char *a, const char *b);

#endif
