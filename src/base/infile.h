/*
 * infile.h - opening an input file: only a regular file, and never blocking (issue 17, class 4).
 *
 * Every file a stage reads (a spec, --config, a manifest, a checkpoint, a weights file, an .npy
 * file of a tree, a run.db given to merge or select) goes through one of these two. A FIFO, a
 * socket, a device or a folder where a file is expected is refused from stat() alone, so
 * nothing blocks on a FIFO without a writer, with one message naming the file and the option:
 *
 *     FILE *f = nsid_infile_fopen(path, "--config", &err);
 *     // "x.yaml: --config: a FIFO, not a regular file"
 *
 * For files that a library opens itself (HDF5, SQLite), call nsid_infile_check first.
 */
#ifndef NSID_INFILE_H
#define NSID_INFILE_H

#include <stdio.h>

#include "base/err.h"

/*
 * 0 if path is a regular file (following symbolic links); NSID_ENOTFOUND if it does not exist,
 * NSID_EFORMAT "a FIFO, not a regular file" (or a socket, a device, a folder) otherwise, with
 * err->file = path and err->key = what (the option or key that named it; may be NULL).
 */
int nsid_infile_check(const char *path, const char *what, struct nsid_err *err);

/*
 * Open path for reading ("rb") after nsid_infile_check; the file is opened with O_NONBLOCK
 * and checked again on the descriptor (a file replaced by a FIFO in between is refused too).
 * NULL with err set on failure.
 */
FILE *nsid_infile_fopen(const char *path, const char *what, struct nsid_err *err);

/* Same, returning a read-only descriptor (blocking mode restored), or < 0 with err set. */
int nsid_infile_open(const char *path, const char *what, struct nsid_err *err);

#endif
